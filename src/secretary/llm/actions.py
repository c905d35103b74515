"""The gate between what a model proposes and what Secretary may do: an allowlist.

Email is untrusted, and a model that read it may have been talked into anything. So a
proposed action is (1) parsed into ``ProposedAction``, (2) dropped unless its kind is in
``ALLOWED_ACTIONS`` and its parameters pass that kind's check, and (3) always marked
``requires_approval=True``. Nothing here executes anything; executors call ``authorize``
with the user's approval, which refuses anything else. Forwarding, sending, deleting,
changing rules, accepting invites and revealing other mail are never on the list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from secretary.errors import SecretaryError
from secretary.llm.schemas import ProposedAction

EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_LABEL_RE = re.compile(r"^[\w .\-/&]{1,64}$")
_MAX_TEXT = 4000


class ActionNotAllowed(SecretaryError):
    status_code = 403
    code = "action_not_allowed"


class ActionNotApproved(SecretaryError):
    status_code = 403
    code = "action_not_approved"


class RejectedAction(BaseModel):
    kind: str
    reason: str


def _no_params(params: Mapping[str, Any]) -> str | None:
    return "takes no parameters" if params else None


def _label_params(params: Mapping[str, Any]) -> str | None:
    if set(params) != {"label"}:
        return "needs exactly one parameter: label"
    label = params["label"]
    if not isinstance(label, str) or not _LABEL_RE.match(label):
        return "label must be a short plain name"
    return None


def _draft_params(params: Mapping[str, Any]) -> str | None:
    # A draft always answers the thread it came from: no recipients, no other thread.
    extra = set(params) - {"body", "intent"}
    if extra:
        return f"unexpected parameters: {sorted(extra)}"
    body = params.get("body", "")
    if not isinstance(body, str) or len(body) > _MAX_TEXT:
        return "body must be text under 4000 characters"
    return None


def _times_params(params: Mapping[str, Any]) -> str | None:
    extra = set(params) - {"slots"}
    if extra:
        return f"unexpected parameters: {sorted(extra)}"
    slots = params.get("slots", [])
    if not isinstance(slots, list) or len(slots) > 10:
        return "slots must be a list of at most 10 times"
    for slot in slots:
        if not isinstance(slot, dict | str):
            return "each slot must be a time or a {start, end} object"
    return None


ParamCheck = Callable[[Mapping[str, Any]], str | None]

ALLOWED_ACTIONS: Mapping[str, ParamCheck] = {
    "label": _label_params,
    "archive": _no_params,
    "mark_read": _no_params,
    "star": _no_params,
    "create_draft": _draft_params,
    "propose_times": _times_params,
}

# Named for clearer rejections and for the red-team test; anything unknown is refused too.
FORBIDDEN_ACTIONS = frozenset(
    {
        "send",
        "reply",
        "forward",
        "delete",
        "trash",
        "change_rule",
        "create_filter",
        "accept_invite",
        "decline_invite",
        "reveal",
        "share",
        "pay",
        "unsubscribe",
    }
)


def _contains_address(value: Any) -> bool:
    if isinstance(value, str):
        return bool(EMAIL_RE.search(value))
    if isinstance(value, Mapping):
        return any(_contains_address(k) or _contains_address(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_address(v) for v in value)
    return False


def check_action(action: ProposedAction) -> str | None:
    """Why ``action`` may not even be proposed to the user, or None when it may."""
    kind = action.kind.strip().lower()
    if kind in FORBIDDEN_ACTIONS:
        return f"'{kind}' is never allowed from model output"
    check = ALLOWED_ACTIONS.get(kind)
    if check is None:
        return f"'{kind}' is not an allowed action"
    problem = check(action.params)
    if problem:
        return f"'{kind}' {problem}"
    # Addresses only reach an action through the user, never through model output:
    # that is how "reply to attacker@..." or "draft to outsider@..." gets in.
    if kind != "create_draft" and _contains_address(action.params):
        return f"'{kind}' parameters may not contain email addresses"
    return None


def parse_action(raw: Any) -> ProposedAction | RejectedAction:
    """Turn a model's loose action object (``kind``/``type``/``name`` + params) into data."""
    if isinstance(raw, ProposedAction):
        return raw
    if not isinstance(raw, Mapping):
        return RejectedAction(kind="?", reason="not an object")
    kind = raw.get("kind") or raw.get("type") or raw.get("name") or raw.get("action")
    params = raw.get("params", raw.get("parameters", raw.get("arguments", {})))
    if not isinstance(kind, str) or not isinstance(params, Mapping):
        return RejectedAction(kind=str(kind)[:40], reason="malformed action")
    try:
        return ProposedAction(kind=kind.strip().lower(), params=dict(params))
    except ValidationError:
        return RejectedAction(kind=kind[:40], reason="malformed action")


def filter_actions(
    actions: Iterable[ProposedAction | Mapping[str, Any]],
) -> tuple[list[ProposedAction], list[RejectedAction]]:
    """Split proposed actions into (allowed, each waiting for approval) and (rejected)."""
    allowed: list[ProposedAction] = []
    rejected: list[RejectedAction] = []
    for raw in actions:
        parsed = parse_action(raw)
        if isinstance(parsed, RejectedAction):
            rejected.append(parsed)
            continue
        reason = check_action(parsed)
        if reason is not None:
            rejected.append(RejectedAction(kind=parsed.kind[:40], reason=reason))
            continue
        # Whatever the model said, the user decides.
        allowed.append(parsed.model_copy(update={"requires_approval": True}))
    return allowed, rejected


def authorize(action: ProposedAction, *, approved_by_user: bool) -> ProposedAction:
    """The last check before an executor acts: allowed kind, valid params, user approval.

    Raises:
        ActionNotAllowed: the action is outside the allowlist.
        ActionNotApproved: the user has not approved it.
    """
    reason = check_action(action)
    if reason is not None:
        raise ActionNotAllowed(reason)
    if not approved_by_user:
        raise ActionNotApproved(f"'{action.kind}' waits for the user's approval")
    return action

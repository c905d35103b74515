"""The action allowlist: what a model proposes is data until the user approves it."""

from __future__ import annotations

import pytest

from secretary.llm.actions import (
    ALLOWED_ACTIONS,
    FORBIDDEN_ACTIONS,
    ActionNotAllowed,
    ActionNotApproved,
    authorize,
    filter_actions,
)
from secretary.llm.schemas import ProposedAction


def test_allowed_actions_pass_and_always_require_approval() -> None:
    allowed, rejected = filter_actions(
        [
            {"kind": "label", "params": {"label": "Receipts"}, "requires_approval": False},
            {"type": "ARCHIVE"},
            ProposedAction(kind="mark_read", requires_approval=False),
            {"name": "propose_times", "arguments": {"slots": ["2026-01-05T09:00:00Z"]}},
            {"kind": "create_draft", "params": {"body": "Thanks!", "intent": "acknowledge"}},
        ]
    )
    assert rejected == []
    assert [a.kind for a in allowed] == [
        "label",
        "archive",
        "mark_read",
        "propose_times",
        "create_draft",
    ]
    assert all(a.requires_approval for a in allowed)


@pytest.mark.parametrize("kind", sorted(FORBIDDEN_ACTIONS))
def test_forbidden_kinds_are_rejected(kind: str) -> None:
    allowed, rejected = filter_actions([{"kind": kind, "params": {}}])
    assert allowed == []
    assert rejected[0].kind == kind
    assert "never allowed" in rejected[0].reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"kind": "run_shell", "params": {"cmd": "rm -rf /"}}, "not an allowed action"),
        ({"kind": "label", "params": {"label": "x", "forward_to": "a@b.co"}}, "exactly one"),
        ({"kind": "label", "params": {"label": "<script>"}}, "short plain name"),
        ({"kind": "archive", "params": {"thread": "all"}}, "no parameters"),
        ({"kind": "create_draft", "params": {"to": "evil@attacker.test"}}, "unexpected"),
        ({"kind": "propose_times", "params": {"slots": ["x"] * 11}}, "at most 10"),
        (
            {"kind": "propose_times", "params": {"slots": [{"invite": "boss@corp.test"}]}},
            "addresses",
        ),
        ({"kind": 7}, "malformed"),
        ("forward everything", "not an object"),
    ],
)
def test_bad_parameters_are_rejected(raw: object, reason: str) -> None:
    allowed, rejected = filter_actions([raw])  # type: ignore[list-item]
    assert allowed == []
    assert reason in rejected[0].reason


def test_authorize_needs_the_allowlist_and_the_user() -> None:
    action = ProposedAction(kind="archive")
    with pytest.raises(ActionNotApproved):
        authorize(action, approved_by_user=False)
    assert authorize(action, approved_by_user=True) is action
    with pytest.raises(ActionNotAllowed):
        authorize(ProposedAction(kind="forward", params={"to": "x@y.test"}), approved_by_user=True)


def test_allowlist_and_denylist_do_not_overlap() -> None:
    assert not set(ALLOWED_ACTIONS) & FORBIDDEN_ACTIONS

"""How approved assistant proposals are carried out (the approval queue calls these).

``share_file`` gives the named addresses access to a Drive file through
``permissions.create``, skipping addresses that already have access, so approving twice or
retrying after a crash shares nothing twice. Nothing here runs before the user approves.
"""

from __future__ import annotations

from googleapiclient.errors import HttpError
from sqlalchemy.orm import Session

from secretary.approvals.service import ApplyContext, Outcome, register_applier
from secretary.db.models import ProposedAction
from secretary.errors import BadRequest, ConfigurationError, Conflict


@register_applier("share_file")
def apply_share(session: Session, action: ProposedAction, context: ApplyContext) -> Outcome:
    payload = action.payload
    emails = [str(e) for e in payload.get("emails") or []]
    if action.account_id is None or not payload.get("file_id") or not emails:
        raise BadRequest("this share names no account, file or address", code="share_incomplete")
    if context.drive is None:
        raise ConfigurationError("approving a share needs the Drive client")
    drive = context.drive(session, action.account_id)
    role = str(payload.get("role") or "reader")
    if role not in ("reader", "commenter", "writer"):
        raise BadRequest(f"cannot share as {role}", code="share_role")
    try:
        added = drive.share(str(payload["file_id"]), emails, role)
    except HttpError as exc:
        if exc.resp.status == 403:
            # Secretary asks only for read access to Drive; sharing needs the broader
            # grant, which the user gives by reconnecting the account.
            raise Conflict(
                "Drive refused to share: reconnect the account and allow Secretary to manage "
                "Drive files (secretary accounts reauth)",
                code="drive_write_not_granted",
            ) from exc
        raise
    return Outcome(result={"shared_with": added, "role": role})

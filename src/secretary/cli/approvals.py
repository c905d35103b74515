"""`secretary approvals list|show|approve|reject`: the proposed-action queue (ADR 0015).

Bookings and invitation answers wait here; a Calendar write or a confirmation mail happens
only on `approve`. Each command is one transaction, committed when it returns.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(
    help="Proposed actions (bookings, invitation answers): review, approve, reject.",
    no_args_is_help=True,
)
USER = typer.Option(None, "--user-id", help="Owner (optional on single-user installs).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="approvals")


def _table(items: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col in ("id", "kind", "status", "summary"):
        table.add_column(col, overflow="fold")
    for item in items:
        table.add_row(str(item["id"]), item["kind"], item["status"], item["summary"])
    return table


@app.command("list")
def list_(
    status: str = typer.Option(
        "pending_approval",
        "--status",
        help="pending_approval|applying|applied|rejected|superseded|failed|all",
    ),
    kind: str | None = typer.Option(None, "--kind", help="create_event, respond_to_invite, ..."),
    limit: int = typer.Option(50, "--limit", "-n"),
    user_id: int | None = USER,
    json_out: bool = JSON,
) -> None:
    """Proposed actions newest first; by default those waiting for approval."""
    from secretary.approvals import service
    from secretary.approvals.schemas import ProposedActionOut
    from secretary.db.session import unit_of_work
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        rows = service.list_actions(
            session,
            resolve_user_id(session, user_id),
            status=None if status == "all" else status,
            kind=kind,
            limit=limit,
        )
        items = [ProposedActionOut.model_validate(r).model_dump(mode="json") for r in rows]
    if json_out:
        emit_json(items)
    else:
        console.print(_table(items, f"Proposed actions: {status} ({len(items)})"))


def _one(action_id: int, user_id: int | None, verb: str, choice: str | None = None) -> Any:
    from secretary.approvals import service
    from secretary.approvals.schemas import ProposedActionOut
    from secretary.db.session import unit_of_work
    from secretary.scheduling.tasks import apply_context
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        uid = resolve_user_id(session, user_id)
        if verb == "show":
            row = service.get_action(session, uid, action_id)
        elif verb == "reject":
            row = service.reject_action(session, uid, action_id)
        else:
            context = apply_context(
                ctx.root.components.gmail,
                ctx.settings,
                ctx.sessions,
                drive=ctx.root.components.drive,
            )
            if choice:
                context.choices = {"response": choice}
            row = service.approve_action(session, uid, action_id, context=context)
        return ProposedActionOut.model_validate(row).model_dump(mode="json")


def _report(item: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(item)
        return
    console.print(_table([item], f"Action {item['id']}"))
    if item.get("result"):
        console.print(item["result"], markup=False, highlight=False)


@app.command("show")
def show(
    action_id: int = typer.Argument(...), user_id: int | None = USER, json_out: bool = JSON
) -> None:
    """One proposed action with its payload."""
    item = _one(action_id, user_id, "show")
    if json_out:
        emit_json(item)
    else:
        _report(item, False)
        console.print(item["payload"], markup=False, highlight=False)


@app.command("approve")
def approve(
    action_id: int = typer.Argument(...),
    response: str | None = typer.Option(
        None, "--response", help="For an invitation: accepted|declined|tentative instead."
    ),
    user_id: int | None = USER,
    json_out: bool = JSON,
) -> None:
    """Apply it: book and confirm, or answer the invitation (approving twice does nothing)."""
    if response is not None and response not in ("accepted", "declined", "tentative"):
        raise typer.BadParameter("use accepted, declined or tentative", param_hint="--response")
    _report(_one(action_id, user_id, "approve", response), json_out)


@app.command("reject")
def reject(
    action_id: int = typer.Argument(...), user_id: int | None = USER, json_out: bool = JSON
) -> None:
    """Drop it; nothing is booked or sent."""
    _report(_one(action_id, user_id, "reject"), json_out)

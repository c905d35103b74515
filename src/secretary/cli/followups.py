"""`secretary followups`: mail awaiting a reply, and mail you have not answered."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx


def register(root: typer.Typer) -> None:
    root.command("followups")(followups)


def followups(
    user_id: int = typer.Option(None, "--user-id", help="Only this user (default: every user)."),
    nudge: str = typer.Option(
        None, "--nudge", metavar="THREAD", help="Write a nudge draft for this thread."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show mail you sent that got no answer, and mail you have not answered, after N days."""
    from sqlalchemy import select

    from secretary.db.models import User
    from secretary.db.session import unit_of_work
    from secretary.drafting import followups as service

    ctx = get_ctx()
    ctx.migrated_engine()
    settings = ctx.settings.followups
    components = ctx.root.components
    out: dict[str, list[dict[str, Any]]] = {"awaiting_reply": [], "unanswered": []}
    with unit_of_work(ctx.sessions) as session:
        users = [user_id] if user_id is not None else list(session.scalars(select(User.id)))
        if nudge:
            if len(users) != 1:
                raise typer.BadParameter("--nudge needs --user-id", param_hint="--user-id")
            service.nudge(session, users[0], nudge, gmail_for=components.gmail)
        for uid in users:
            found = service.list_followups(session, uid, settings)
            if settings.auto_nudge:
                found = service.with_auto_nudges(session, uid, found, gmail_for=components.gmail)
            for key, items in found.to_json().items():
                out[key].extend({"user_id": uid, **item} for item in items)
    if json_out:
        emit_json(out)
        return
    for key, title in (("awaiting_reply", "Awaiting a reply"), ("unanswered", "Unanswered")):
        table = Table(title=f"{title} ({len(out[key])})")
        for col in ("thread", "days", "who", "subject", "draft"):
            table.add_column(col, overflow="fold")
        for it in out[key]:
            table.add_row(
                str(it["thread_id"]),
                f"{it['days_waiting']:.1f}",
                str(it["counterpart"]),
                str(it["subject"]),
                str(it["draft_id"] or ""),
            )
        console.print(table)

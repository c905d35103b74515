"""`secretary triage`: the latest triage verdicts as a table (or JSON)."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

COLOURS = {
    "needs_reply": "bold yellow",
    "fyi": "cyan",
    "newsletter": "blue",
    "notification": "dim",
    "spam": "red",
}


def register(root: typer.Typer) -> None:
    root.command("triage")(triage)


def triage(
    category: str = typer.Option(None, "--category", help="Only this category."),
    since: datetime = typer.Option(None, "--since", help="Only verdicts since (ISO 8601)."),
    user_id: int = typer.Option(None, "--user-id", help="Only this user's mail."),
    limit: int = typer.Option(50, "--limit", "-n", help="How many rows."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show how recent mail was triaged: category, priority, flags and why."""
    from secretary.db.session import unit_of_work
    from secretary.triage import repository
    from secretary.triage.schemas import TriageOut

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        rows = repository.list_results(
            session, user_id=user_id, category=category, since=since, limit=limit
        )
        items = [
            {
                **TriageOut.model_validate(r).model_dump(mode="json"),
                "subject": m.subject,
                "from_addr": m.from_addr,
                "received_at": m.internal_date.isoformat() if m.internal_date else None,
            }
            for r, m in rows
        ]
    if json_out:
        emit_json(items)
        return
    table = Table(title=f"Triage ({len(items)})")
    for col in ("msg", "received", "category", "prio", "flags", "from", "subject", "why"):
        table.add_column(col, overflow="fold")
    for it in items:
        flags = ",".join(f for f in ("meeting_request", "cold_outreach", "has_deadline") if it[f])
        colour = COLOURS.get(it["category"], "")
        table.add_row(
            str(it["message_id"]),
            (it["received_at"] or "")[:16],
            f"[{colour}]{it['category']}[/]",
            it["priority"],
            flags,
            it["from_addr"] or "",
            it["subject"] or "",
            f"{it['reason']} ({it['model']})",
        )
    console.print(table)

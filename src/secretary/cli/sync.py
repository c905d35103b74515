"""`secretary sync`: sync Gmail now (initial backfill or incremental), with a progress bar."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from secretary.cli.context import console, emit_json, get_ctx
from secretary.db.session import unit_of_work
from secretary.sync import repository as repo
from secretary.sync import service
from secretary.sync.errors import AccountNotFound
from secretary.sync.schemas import SyncReport


def register(root: typer.Typer) -> None:
    root.command("sync")(sync)


def _summary(report: SyncReport) -> dict[str, Any]:
    return {
        "account": report.account,
        "phase": report.phase,
        "listed": report.listed,
        "fetched": report.fetched,
        "deleted": report.deleted,
        "history_id": report.history_id,
        "seconds": report.seconds,
        "full_resync": report.full_resync,
        "units": report.units,
    }


def _account_ids(account: str | None) -> list[int]:
    ctx = get_ctx()
    with unit_of_work(ctx.sessions) as session:
        if account is None:
            return [a.id for a in repo.list_accounts(session, status="active")]
        if account.isdigit():
            found = repo.get_account(session, int(account))
        else:
            found = repo.find_account_by_email(session, account)
        if found is None:
            raise AccountNotFound("no such account (see `secretary accounts list`)")
        return [found.id]


def sync(
    full: bool = typer.Option(
        False, "--full", help="Re-list the whole window and reconcile deletions."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    account: str | None = typer.Option(
        None, "--account", help="Account id or address (default: every active account)."
    ),
) -> None:
    """Sync Gmail into the database now: the initial backfill, or the changes since last time."""
    ctx = get_ctx()
    ctx.migrated_engine()
    ids = _account_ids(account)
    if not ids:
        if as_json:
            emit_json([])
        else:
            console.print("No connected accounts. Run `secretary accounts connect` first.")
        return
    summaries: list[dict[str, Any]] = []
    for account_id in ids:
        if as_json:
            report = service.run_sync(ctx.sessions, account_id, ctx.settings, full=full)
        else:
            with Progress(
                TextColumn("[bold]account {task.fields[account]}[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as bar:
                task = bar.add_task("listing", total=None, account=account_id)

                def progress(stage: str, done: int, total: int, _task: Any = task) -> None:
                    bar.update(_task, description=stage, completed=done, total=total or None)

                report = service.run_sync(
                    ctx.sessions, account_id, ctx.settings, full=full, progress=progress
                )
            console.print(
                f"account {account_id}: {report.phase}, listed {report.listed}, "
                f"fetched {report.fetched}, deleted {report.deleted}, "
                f"history {report.history_id}, {report.seconds:.1f}s"
                + (" (full resync)" if report.full_resync else "")
            )
        summaries.append(_summary(report))
    if as_json:
        emit_json(summaries[0] if len(summaries) == 1 else summaries)

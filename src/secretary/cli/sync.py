"""`secretary sync`: sync Gmail, Calendar and Drive now (initial or incremental), with one
progress display (a bar per account and service)."""

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
from secretary.sync.workspace import SERVICES, WorkspaceSyncReport, granted_services


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


def _workspace_summary(report: WorkspaceSyncReport) -> dict[str, Any]:
    return report.model_dump(exclude={"account", "service"})


def _run_service(
    service_name: str,
    account_id: int,
    *,
    full: bool,
    progress: Any = None,
) -> SyncReport | WorkspaceSyncReport:
    ctx = get_ctx()
    if service_name == "gmail":
        return service.run_sync(
            ctx.sessions,
            account_id,
            ctx.settings,
            full=full,
            progress=progress,
            on_stored=ctx.root.components.on_messages_stored,  # new mail -> the pipeline
        )
    if service_name == "calendar":
        from secretary.sync.calendar import sync_calendar

        return sync_calendar(ctx.sessions, account_id, ctx.settings, progress=progress)
    from secretary.sync.drive import sync_drive

    return sync_drive(ctx.sessions, account_id, ctx.settings, progress=progress)


def _plan(ids: list[int], wanted: list[str]) -> list[tuple[int, str]]:
    """(account, service) pairs to sync: the wanted services each account's scopes allow."""
    ctx = get_ctx()
    pairs: list[tuple[int, str]] = []
    with unit_of_work(ctx.sessions) as session:
        for account_id in ids:
            found = repo.get_account(session, account_id)
            allowed = granted_services(list(found.scopes or [])) if found else []
            pairs.extend((account_id, s) for s in wanted if s in allowed)
    return pairs


def sync(
    full: bool = typer.Option(
        False, "--full", help="Gmail: re-list the whole window and reconcile deletions."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary."),
    account: str | None = typer.Option(
        None, "--account", help="Account id or address (default: every active account)."
    ),
    service_name: str = typer.Option(
        "all",
        "--service",
        help="gmail, calendar, drive or all (default: every service the account granted).",
    ),
) -> None:
    """Sync Gmail, Calendar and Drive into the database now: the first full sync, or the
    changes since last time."""
    if service_name != "all" and service_name not in SERVICES:
        raise typer.BadParameter("--service must be gmail, calendar, drive or all")
    ctx = get_ctx()
    ctx.migrated_engine()
    ids = _account_ids(account)
    if not ids:
        if as_json:
            emit_json([])
        else:
            console.print("No connected accounts. Run `secretary accounts connect` first.")
        return
    wanted = list(SERVICES) if service_name == "all" else [service_name]
    pairs = _plan(ids, wanted)
    results: dict[int, dict[str, SyncReport | WorkspaceSyncReport]] = {i: {} for i in ids}
    if as_json:
        for account_id, name in pairs:
            results[account_id][name] = _run_service(name, account_id, full=full)
    else:
        with Progress(
            TextColumn("[bold]account {task.fields[account]} {task.fields[service]}[/]"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            tasks = {
                pair: bar.add_task("waiting", total=None, account=pair[0], service=pair[1])
                for pair in pairs
            }
            for pair in pairs:
                task = tasks[pair]

                def progress(stage: str, done: int, total: int, _task: Any = task) -> None:
                    bar.update(_task, description=stage, completed=done, total=total or None)

                report = _run_service(pair[1], pair[0], full=full, progress=progress)
                results[pair[0]][pair[1]] = report
                bar.update(task, description="done", completed=1, total=1)
        for account_id in ids:
            for name, report in results[account_id].items():
                if isinstance(report, SyncReport):
                    console.print(
                        f"account {account_id} gmail: {report.phase}, listed {report.listed}, "
                        f"fetched {report.fetched}, deleted {report.deleted}, "
                        f"history {report.history_id}, {report.seconds:.1f}s"
                        + (" (full resync)" if report.full_resync else "")
                    )
                else:
                    console.print(
                        f"account {account_id} {name}: {report.phase}, {report.items} items, "
                        f"{report.changed} changed, {report.seconds:.1f}s"
                        + (f" ({report.full_syncs} full listings)" if report.full_syncs else "")
                    )
    if as_json:
        summaries: list[dict[str, Any]] = []
        for account_id in ids:
            per = results[account_id]
            gmail = per.get("gmail")
            # Gmail's summary stays at the top level (scripts read it); the other services
            # sit beside it under their names.
            out: dict[str, Any] = (
                _summary(gmail) if isinstance(gmail, SyncReport) else {"account": account_id}
            )
            for name in (CALENDAR_KEY, DRIVE_KEY):
                other = per.get(name)
                if isinstance(other, WorkspaceSyncReport):
                    out[name] = _workspace_summary(other)
            summaries.append(out)
        emit_json(summaries[0] if len(summaries) == 1 else summaries)


CALENDAR_KEY = "calendar"
DRIVE_KEY = "drive"

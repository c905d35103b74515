"""`secretary tasks list|dead|show|retry`: the durable task records and the dead letters."""

from __future__ import annotations

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(help="Inspect and retry background tasks.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tasks")


def _table(records: list[dict[str, object]], title: str) -> Table:
    table = Table(title=title)
    for col in ("id", "task", "status", "attempts", "message", "updated", "error"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(
            str(r["id"]),
            str(r["name"]),
            str(r["status"]),
            f"{r['attempts']}/{r['max_attempts']}",
            str(r["message_id"] or ""),
            str(r["updated_at"])[:19],
            str(r["last_error"] or "")[:120],
        )
    return table


def _list(status: str | None, name: str | None, limit: int) -> list[dict[str, object]]:
    from secretary.db.session import unit_of_work
    from secretary.worker import repository
    from secretary.worker.schemas import TaskOut

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        return [
            TaskOut.model_validate(r).model_dump(mode="json")
            for r in repository.list_records(session, status=status, name=name, limit=limit)
        ]


@app.command("list")
def list_(
    status: str = typer.Option(None, "--status", help="queued|running|retrying|succeeded|dead"),
    name: str = typer.Option(None, "--name", help="Task name, e.g. triage.classify."),
    limit: int = typer.Option(50, "--limit", "-n"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Task records, newest first."""
    records = _list(status, name, limit)
    if json_out:
        emit_json(records)
    else:
        console.print(_table(records, f"Tasks ({len(records)})"))


@app.command("dead")
def dead(
    limit: int = typer.Option(100, "--limit", "-n"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The dead-letter queue: tasks that ran out of attempts."""
    records = _list("dead", None, limit)
    if json_out:
        emit_json(records)
    else:
        console.print(_table(records, f"Dead tasks ({len(records)})"))


@app.command("show")
def show(
    task_id: int = typer.Argument(..., help="Task id."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One task with its last error and traceback."""
    from secretary.db.session import unit_of_work
    from secretary.worker import repository
    from secretary.worker.schemas import TaskDetail

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        detail = TaskDetail.model_validate(repository.get(session, task_id)).model_dump(mode="json")
    if json_out:
        emit_json(detail)
        return
    console.print(_table([detail], f"Task {task_id}"))
    if detail["last_traceback"]:
        console.print(detail["last_traceback"], markup=False, highlight=False)


@app.command("retry")
def retry(
    task_ids: list[int] = typer.Argument(None, help="Task ids (default: every dead task)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Give dead tasks a fresh set of attempts and dispatch them."""
    from secretary.db.session import unit_of_work
    from secretary.worker import repository

    ctx = get_ctx()
    ctx.migrated_engine()
    ctx.root.install_producer()
    with unit_of_work(ctx.sessions) as session:
        ids = task_ids or [
            r.id for r in repository.list_records(session, status="dead", limit=10000)
        ]
        retried = [repository.retry(session, tid, queue="priority").id for tid in ids]
    if json_out:
        emit_json({"retried": retried})
    else:
        console.print(f"retried {len(retried)} task(s): {', '.join(map(str, retried)) or '-'}")

"""`secretary demo`: try the whole product against the shipped Google Workspace emulator."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx
from secretary.kit.logging import configure_logging


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def _print_summary(summary: Any) -> None:
    table = Table(title="Secretary demo", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Account", f"{summary.account_email} (connected via OAuth)")
    table.add_row(
        "Synced",
        f"{summary.messages} messages in {summary.threads} threads, {summary.labels} labels "
        f"({summary.sync_seconds:.1f} s)",
    )
    triaged = ", ".join(f"{k}: {v}" for k, v in summary.triaged.items()) or "none"
    table.add_row("Triaged (recent mail)", triaged)
    table.add_row("Reply drafts in Gmail", str(summary.drafts))
    live = (
        f"drafted {summary.live_message_seconds:.2f} s after it arrived"
        if summary.live_message_drafted and summary.live_message_seconds is not None
        else f"triaged in {summary.live_message_seconds} s (no draft)"
        if summary.live_message_seconds is not None
        else "not processed in time"
    )
    table.add_row("Live message (push)", live)
    table.add_row("Open / dead tasks", f"{summary.tasks_open} / {summary.tasks_dead}")
    table.add_row("Web UI", f"{summary.api_url}/  (approve drafts at {summary.api_url}/drafts)")
    table.add_row("API", f"{summary.api_url}/docs")
    table.add_row("Google emulator", summary.emulator_url)
    console.print(table)


def demo(
    once: bool = typer.Option(False, "--once", help="Exit after printing the summary."),
    port: int = typer.Option(8000, help="API port (a free one is used if taken)."),
    emulator_port: int = typer.Option(0, help="Emulator port (0 = any free port)."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run Secretary end to end on embedded defaults against the Google Workspace emulator."""
    from secretary.demo.runner import run_demo

    ctx = get_ctx()
    if not ctx.verbose:
        # The demo talks through its progress bars and summary; logs only for problems.
        configure_logging("WARNING", json=ctx.settings.log_json)
    stop = threading.Event()

    def keep_serving() -> None:
        if once:
            return
        console.print("[green]Serving.[/] Press Ctrl-C to stop.")
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()

    def on_ready(summary: Any) -> None:
        bar.stop()
        if json_out:
            emit_json(summary.as_dict())
        else:
            _print_summary(summary)

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=json_out,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        run_demo(
            ctx.settings,
            port=port,
            emulator_port=emulator_port,
            progress=progress,
            on_ready=on_ready,
            keep_serving=keep_serving,
        )

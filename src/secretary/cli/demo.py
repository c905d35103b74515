"""`secretary demo`: try the whole product against the shipped Google Workspace emulator."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from secretary.cli.context import console, err_console, get_ctx
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
    table.add_row(
        "Calendar and Drive",
        f"{summary.calendars} calendars with {summary.events} events, {summary.files} files",
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
    table.add_row(
        "API token",
        f"{summary.api_token}  (curl -H 'Authorization: Bearer <token>' "
        f"{summary.api_url}/api/v1/drafts)",
    )
    table.add_row("CLI", "secretary drafts list, secretary triage ... use this demo while it runs")
    table.add_row("Google emulator", summary.emulator_url)
    console.print(table)


def demo(
    once: bool = typer.Option(False, "--once", help="Exit after printing the summary."),
    port: int = typer.Option(8000, help="API port (a free one is used if taken)."),
    emulator_port: int = typer.Option(0, help="Emulator port (0 = any free port)."),
    json_out: bool = typer.Option(
        False,
        "--json",
        help="Print one line of compact JSON (api_url, api_token, emulator_url, "
        "emulator_token, counts) once every service has synced, then keep serving.",
    ),
    workspace: Path | None = typer.Option(
        None,
        help="A workspace folder (workspace.toml, mail/, calendar/*.ics, drive/) instead of "
        "the shipped demo workspace.",
        exists=True,
        file_okay=False,
    ),
    quota: str = typer.Option(
        "default", help="The emulator's quota mode: default (Google's limits) or off."
    ),
) -> None:
    """Run Secretary end to end on embedded defaults against the Google Workspace emulator."""
    if quota not in ("default", "off"):
        raise typer.BadParameter("expected default or off", param_hint="--quota")
    from secretary.demo.runner import run_demo

    ctx = get_ctx()
    if not ctx.verbose:
        # The demo talks through its progress bars and summary; logs only for problems.
        configure_logging("WARNING", json=ctx.settings.log_json)
    stop = threading.Event()

    def keep_serving() -> None:
        if once:
            return
        # stdout carries only the --json line; the notice goes to stderr then.
        (err_console if json_out else console).print("[green]Serving.[/] Press Ctrl-C to stop.")
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()

    def on_ready(summary: Any) -> None:
        bar.stop()
        if not once:
            # While this demo serves, the CLI in another terminal works on its data.
            from secretary.db.engine import embedded_database_url
            from secretary.demo.profile import write_profile
            from secretary.demo.runner import DEMO_DATABASE

            settings = ctx.settings
            write_profile(
                settings,
                database_url=settings.database_url
                or embedded_database_url(settings.home_path, database=DEMO_DATABASE),
                emulator_url=summary.emulator_url,
                api_url=summary.api_url,
                api_token=getattr(summary, "api_token", None),
            )
        if json_out:
            # Exactly one compact line, flushed at once: scripts wait for it (issue 7).
            from secretary.demo.runner import json_line

            sys.stdout.write(json_line(summary) + "\n")
            sys.stdout.flush()
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

        try:
            run_demo(
                ctx.settings,
                port=port,
                emulator_port=emulator_port,
                progress=progress,
                on_ready=on_ready,
                keep_serving=keep_serving,
                workspace=workspace,
                quota=quota,
            )
        finally:
            from secretary.demo.profile import remove_profile

            remove_profile(ctx.settings)

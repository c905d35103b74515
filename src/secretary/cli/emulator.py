"""`secretary emulator serve`: run the Google Workspace emulator in the foreground."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from secretary.cli.context import console, err_console

app = typer.Typer(help="The Google Workspace emulator (Gmail, Calendar, Drive, OAuth, Pub/Sub).")


def _parse_fault(spec: str) -> tuple[str, dict[str, float]]:
    """``METHOD:key=value,key=value`` (METHOD is a discovery id, a glob or ``*``)."""
    method, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise typer.BadParameter(f"expected METHOD:key=value[,key=value], got {spec!r}")
    values: dict[str, float] = {}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        if not eq:
            raise typer.BadParameter(f"expected key=value in {spec!r}")
        try:
            values[key.strip()] = float(value)
        except ValueError as exc:
            raise typer.BadParameter(f"not a number in {spec!r}") from exc
    return method.strip(), values


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (keep it local)."),
    port: int = typer.Option(8765, help="Port to listen on."),
    seed: str | None = typer.Option(
        None, help="'demo' for the bundled demo workspace, or a folder/mbox of RFC 822 mail."
    ),
    workspace: Path | None = typer.Option(
        None,
        help="A workspace folder (workspace.toml, mail/, calendar/*.ics, drive/) to serve.",
        exists=True,
        file_okay=False,
    ),
    user: str = typer.Option("alex@example.test", help="Mailbox owner when --seed is a path."),
    recent_days: float | None = typer.Option(
        30.0, help="Spread seeded mail over the last N days (0 keeps the Date headers)."
    ),
    quota: str = typer.Option("default", help="Quota mode: default (Google's 2026), off, custom."),
    units_per_minute: int | None = typer.Option(None, help="Per-user units/minute (custom)."),
    max_concurrent: int | None = typer.Option(None, help="Per-user concurrent requests (custom)."),
    fault: list[str] = typer.Option(  # typer declares options this way
        [], help="Inject faults: METHOD:error_429=0.1,error_500=0.05,latency_ms=20 (repeatable)."
    ),
    push_drop: float = typer.Option(0.0, help="Share of push notifications dropped."),
    push_duplicate: float = typer.Option(0.0, help="Share of push notifications sent twice."),
    fault_seed: int | None = typer.Option(None, help="Seed for reproducible faults."),
    print_token: bool = typer.Option(
        False, "--print-token", help="Mint and print an access token for the seeded user."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the startup summary as JSON."),
) -> None:
    """Serve Gmail v1, Calendar v3, Drive v3, OAuth and the /emulator control API."""
    from workspace_emulator import server
    from workspace_emulator.control import mint_access_token
    from workspace_emulator.faults import FaultConfig, fault_injector
    from workspace_emulator.loader import load_path
    from workspace_emulator.quota import QuotaConfig, quota_book
    from workspace_emulator.state import EmulatorState

    state = EmulatorState()
    summary: dict[str, object] = {"base_url": f"http://{host}:{port}", "quota": quota}
    try:
        config = QuotaConfig(mode=quota)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if units_per_minute is not None:
        config.units_per_minute = units_per_minute
    if max_concurrent is not None:
        config.max_concurrent = max_concurrent
    quota_book(state).configure(config)
    endpoints = dict(_parse_fault(spec) for spec in fault)
    if endpoints or push_drop or push_duplicate:
        fault_injector(state).configure(
            FaultConfig.from_dict(
                {
                    "endpoints": endpoints,
                    "push_drop": push_drop,
                    "push_duplicate": push_duplicate,
                    "seed": fault_seed,
                }
            )
        )
        summary["faults"] = endpoints
    owner = user
    if workspace is not None:
        from workspace_emulator.workspace import WorkspaceError, load_workspace, read_config

        try:
            pinned = read_config(workspace).now
            if pinned is not None and not os.environ.get("SECRETARY_NOW"):
                # The folder is written around this instant: "now" in the emulator is it.
                os.environ["SECRETARY_NOW"] = pinned.isoformat().replace("+00:00", "Z")
            loaded, counts = load_workspace(state, workspace)
        except WorkspaceError as exc:
            raise typer.BadParameter(str(exc), param_hint="--workspace") from exc
        owner = loaded.email
        summary["workspace"] = counts.to_dict()
        summary["user"] = owner
    elif seed == "demo":
        try:
            from workspace_emulator.demo import seed_demo_workspace
        except ImportError as exc:
            err_console.print(f"[red]error:[/] the demo workspace is not available ({exc})")
            raise typer.Exit(1) from exc
        owner = seed_demo_workspace(state).email
        summary["seeded"] = "demo"
    elif seed:
        mailbox = state.add_user(owner).mailbox
        result = load_path(mailbox, Path(seed), recent_days=recent_days or None, warm=True)
        summary["seeded"] = result.to_dict()
    if seed:
        summary["user"] = owner
    if print_token and owner in state.users:
        summary["access_token"] = mint_access_token(state, owner, ttl=24 * 3600)
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        for key, value in summary.items():
            console.print(f"[bold]{key}[/]: {value}")
    server.serve(state, host=host, port=port)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="emulator")

"""`secretary serve`: the API, the web UI and the background services in one process."""

from __future__ import annotations

import ipaddress

import typer

from secretary.cli.context import console, get_ctx
from secretary.config import Settings
from secretary.errors import ConfigurationError


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)


def serve(
    host: str = typer.Option(
        "127.0.0.1",
        help="Interface to bind. Anything but loopback needs SECRETARY_ENV=prod with an HTTPS "
        "base URL, trusted hosts and the push audience and service account.",
    ),
    port: int = typer.Option(8000, help="Port to bind."),
    background: bool = typer.Option(
        True, "--background/--no-background", help="Run sync and task workers in-process."
    ),
) -> None:
    """Serve the API (with OpenAPI docs at /docs), the webhooks and the background workers."""
    import uvicorn

    from secretary.kit.heap import freeze_startup_heap
    from secretary.web.app import create_app
    from secretary.web.deps import AppState

    ctx = get_ctx()
    check_bind(host, ctx.settings)
    ctx.migrated_engine()
    state = AppState(root=ctx.root, run_background=background)
    app = create_app(ctx.settings, state=state)
    # Everything built so far (modules, the app, the composition) lives as long as the
    # process: out of the collector's full passes (issue 14).
    freeze_startup_heap()
    console.print(f"[green]Secretary[/] serving on http://{host}:{port} (docs at /docs)")
    # log_config=None: uvicorn's records go to the root logger and so through the redactor.
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Refuse to serve beyond this machine unless the deployment is configured for it:
    ``SECRETARY_ENV=prod`` with an HTTPS origin, trusted hosts and the push settings."""
    if is_loopback(host):
        return
    problems = settings.public_serving_problems()
    if problems:
        raise ConfigurationError(
            f"refusing to listen on {host}: this configuration is for localhost only ("
            + "; ".join(problems)
            + "). Bind 127.0.0.1 behind a proxy, or complete the prod settings.",
            code="unsafe_bind",
        )

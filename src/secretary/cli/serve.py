"""`secretary serve`: the API, the web UI and the background services in one process."""

from __future__ import annotations

import typer

from secretary.cli.context import console, get_ctx


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    background: bool = typer.Option(
        True, "--background/--no-background", help="Run sync and task workers in-process."
    ),
) -> None:
    """Serve the API (with OpenAPI docs at /docs), the webhooks and the background workers."""
    import uvicorn

    from secretary.web.app import create_app
    from secretary.web.deps import AppState

    ctx = get_ctx()
    ctx.migrated_engine()
    state = AppState(root=ctx.root, run_background=background)
    console.print(f"[green]Secretary[/] serving on http://{host}:{port} (docs at /docs)")
    uvicorn.run(create_app(ctx.settings, state=state), host=host, port=port, access_log=False)

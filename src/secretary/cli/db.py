"""`secretary db ...`: migrations and the embedded server."""

from __future__ import annotations

import typer

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(help="Database: migrations and the embedded PostgreSQL.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Apply all migrations (creates the embedded database on first use)."""
    from secretary.db import migrate

    ctx = get_ctx()
    before = migrate.current_revision(ctx.engine)
    migrate.upgrade(ctx.engine)
    after = migrate.current_revision(ctx.engine)
    if json_out:
        emit_json({"from": before, "to": after})
    else:
        console.print(f"[green]database at revision {after}[/] (was {before})")


@app.command("url")
def url() -> None:
    """Print the database URL in use (embedded or external)."""
    console.print(get_ctx().engine.url.render_as_string(hide_password=True))


@app.command("stop")
def stop() -> None:
    """Stop the embedded PostgreSQL server."""
    from secretary.db.engine import stop_embedded

    ctx = get_ctx()
    if ctx.settings.database_url:
        console.print("an external DATABASE_URL is configured; nothing to stop")
        return
    stopped = stop_embedded(ctx.settings.home_path)
    console.print("stopped" if stopped else "no embedded database here")

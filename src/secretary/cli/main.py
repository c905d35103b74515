"""Entry point: `secretary`. Sub-command groups live in sibling modules."""

from __future__ import annotations

import sys

import typer

from secretary.cli import db
from secretary.cli.context import err_console, get_ctx
from secretary.errors import SecretaryError
from secretary.kit.logging import configure_logging

app = typer.Typer(
    name="secretary",
    help="Secretary: a self-hostable AI secretary for Google Workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG to stderr."),
) -> None:
    ctx = get_ctx()
    ctx.verbose = verbose
    settings = ctx.settings
    configure_logging("DEBUG" if verbose else settings.log_level, json=settings.log_json)


def _register_optional() -> None:
    """Command groups added by domains register here; a missing one is a bug, so import eagerly."""
    import importlib
    import pkgutil

    import secretary.cli as cli_pkg

    for mod in pkgutil.iter_modules(cli_pkg.__path__):
        if mod.name in {"main", "context", "db"}:
            continue
        module = importlib.import_module(f"secretary.cli.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_optional()


def main() -> None:
    try:
        app()
    except SecretaryError as exc:
        err_console.print(f"[red]error:[/] {exc.message} [dim]({exc.code})[/]")
        sys.exit(1)

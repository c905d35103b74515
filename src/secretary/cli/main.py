"""Entry point: `secretary`. Sub-command groups live in sibling modules.

Fast to start: ``secretary --help`` imports no command module, and ``secretary drafts ...``
imports only ``cli/drafts.py`` (each module's imports are the slow part: SQLAlchemy, the
Google client, the local model). The command index is read from the modules' source
(``root.command("x")`` / ``add_typer(..., name="x")``), so a new command module needs no
edit here. ``from secretary.cli.main import app`` (tests, ``secretary docs``) gets every
command registered.

Errors are one line with what to do, never a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import typer

# Typer 0.29 runs on its own vendored Click: its usage errors are these classes, not the
# ``click`` package's (pinned by uv.lock; a Typer upgrade that moves them fails the tests).
from typer._click import Context
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

HELP = "Secretary: a self-hostable AI secretary for Google Workspace."
_CLI_DIR = Path(__file__).parent
_NOT_COMMANDS = {"__init__", "main", "context"}
_COMMAND_RE = re.compile(r"""\broot\.command\(\s*["']([a-z][a-z0-9-]*)["']\s*\)""")
_TYPER_RE = re.compile(r"""\broot\.add_typer\([^)]*name\s*=\s*["']([a-z][a-z0-9-]*)["']""")
_DOC_RE = re.compile(r'^"""(.*?)(?:"""|\n\n)', re.DOTALL)
_DEBUG = False  # ``--debug``: errors keep their traceback (set by ``main``)


class _OneLineUsageErrors(TyperGroup):
    """A wrong option or command is one line too (Click would draw a six-line box): the
    root group runs every sub-command, so catching here covers them all."""

    def make_context(self, *args: Any, **kwargs: Any) -> Context:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            _usage_error(exc)


def _usage_error(exc: UsageError) -> NoReturn:
    from typer._click import exceptions

    no_args_is_help = getattr(exceptions, "NoArgsIsHelpError", ())
    if _DEBUG or isinstance(exc, no_args_is_help):
        raise exc  # --debug, or Click's own way of printing help for a bare group
    from secretary.cli.context import err_console

    message = exc.format_message().rstrip()
    if message and message[-1] not in ".?!":
        message += "."
    where = f" See `{exc.ctx.command_path} --help`." if exc.ctx is not None else ""
    err_console.print(f"[red]error:[/] {message}{where}", highlight=False, soft_wrap=True)
    sys.exit(exc.exit_code)


def _new_app() -> typer.Typer:
    root = typer.Typer(
        name="secretary",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        cls=_OneLineUsageErrors,
    )
    root.callback()(_root)
    return root


def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG to stderr."),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback when a command fails."
    ),
) -> None:
    from secretary.cli.context import get_ctx
    from secretary.kit.logging import configure_logging

    ctx = get_ctx()
    ctx.verbose = verbose
    settings = ctx.settings
    configure_logging("DEBUG" if verbose else settings.log_level, json=settings.log_json)


@lru_cache(maxsize=1)
def command_index() -> dict[str, tuple[str, str]]:
    """``{command: (module, one-line help)}``, read from the modules' source, not imported."""
    index: dict[str, tuple[str, str]] = {
        "db": ("db", "Database: migrations and the embedded PostgreSQL.")
    }
    for path in sorted(_CLI_DIR.glob("*.py")):
        if path.stem in _NOT_COMMANDS or path.stem == "db":
            continue
        source = path.read_text(encoding="utf-8")
        doc = _DOC_RE.match(source.lstrip())
        summary = " ".join((doc.group(1) if doc else "").split())
        # "`secretary drafts list|show`: the approval queue." -> "The approval queue."
        summary = summary.split("`: ", 1)[-1].split(". ", 1)[0].rstrip(".")
        summary = (summary[:1].upper() + summary[1:] + ".") if summary else ""
        for name in [*_COMMAND_RE.findall(source), *_TYPER_RE.findall(source)]:
            index.setdefault(name, (path.stem, summary))
    return index


def _register(root: typer.Typer, module_name: str) -> None:
    import importlib

    module = importlib.import_module(f"secretary.cli.{module_name}")
    if module_name == "db":
        root.add_typer(module.app, name="db")
        return
    register = getattr(module, "register", None)
    if register is not None:
        register(root)


def _register_all(root: typer.Typer) -> None:
    for module_name in sorted({m for m, _ in command_index().values()}):
        _register(root, module_name)


def _help_app() -> typer.Typer:
    """The root with a placeholder per command: ``--help`` lists them all, imports none."""
    root = _new_app()
    for name, (_module, summary) in sorted(command_index().items()):

        def placeholder() -> None:  # never runs: a real command replaces it before use
            raise typer.Exit(2)

        root.command(name, help=summary, add_help_option=False)(placeholder)
    return root


def _first_command(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def build_app(argv: list[str]) -> typer.Typer:
    """The smallest app that can run ``argv``: one command's module, or none for help."""
    name = _first_command(argv)
    if name is None:
        return _help_app()
    root = _new_app()
    entry = command_index().get(name)
    if entry is None:
        _register_all(root)  # unknown: let Click suggest the closest real command
    else:
        _register(root, entry[0])
    return root


def __getattr__(name: str) -> Any:
    # ``from secretary.cli.main import app``: every command, registered once on first use.
    if name == "app":
        full = _new_app()
        _register_all(full)
        globals()["app"] = full
        return full
    raise AttributeError(name)


# --- one line per error ---------------------------------------------------------------------


def explain(exc: BaseException) -> str:
    """One line saying what went wrong and what to do about it."""
    from pydantic import ValidationError

    from secretary.errors import SecretaryError

    if isinstance(exc, SecretaryError):
        return f"{exc.message} ({exc.code})"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        return f"{where + ': ' if where else ''}{message}. Fix the value and run the command again."
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    module = type(exc).__module__
    if module.startswith("sqlalchemy") or module.startswith("psycopg"):
        return (
            f"the database refused or could not be reached ({name}: {text[:200]}). Check "
            "DATABASE_URL, or run `secretary db upgrade` to start and migrate the embedded one."
        )
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    if isinstance(status, int):
        url = getattr(getattr(exc, "request", None), "url", None) or getattr(exc, "uri", "")
        return (
            f"{url or 'a service'} answered HTTP {status} ({name}). Run again with --debug "
            "for the details."
        )
    if isinstance(exc, ConnectionError | TimeoutError) or module.startswith(("httplib2", "httpx")):
        return (
            f"a service could not be reached ({name}: {text[:200]}). Check the network and "
            "SECRETARY_GOOGLE__API_BASE_URL (a stopped `secretary demo` takes its emulator "
            "with it)."
        )
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted."
    return f"{name}: {text[:300]}. Run again with --debug for the traceback."


def main(argv: list[str] | None = None) -> None:
    global _DEBUG
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _DEBUG = "--debug" in args
    try:
        build_app(args)(args=args, prog_name="secretary")
    except SystemExit:
        raise
    except BaseException as exc:
        if debug:
            raise
        from secretary.cli.context import err_console

        err_console.print(f"[red]error:[/] {explain(exc)}", highlight=False, soft_wrap=True)
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 1)

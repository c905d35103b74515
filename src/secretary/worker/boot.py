"""Compose a worker process once: settings, engine, sessions, the tier and the Gmail factory.

Both runtimes (and ``secretary serve``) call ``build_runtime``; everything below receives
the result. The intelligence tier is the configured chain when the LLM layer provides one,
else the offline local tier, else none (rules still work; messages become ``fyi``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.kit.logging import get_logger
from secretary.worker import registry
from secretary.worker.runner import Runtime

log = get_logger(__name__)


def default_tier(settings: Settings) -> Any:
    """The configured intelligence tier, or None when the LLM layer is not installed."""
    try:
        from secretary.llm import registry as llm_registry
    except ModuleNotFoundError:
        return None
    build = getattr(llm_registry, "build_tier", None)
    try:
        if build is not None:
            return build(settings)
        # Until the chain builder exists, the offline tier by name.
        if "local" in llm_registry.provider_names():
            tier = llm_registry.create_provider("local", settings)
            return tier if hasattr(tier, "classify") else None
        return None
    except Exception:
        # A broken provider config must not stop the pipeline: rules still run.
        log.warning("intelligence_tier_unavailable", exc_info=True)
        return None


def build_runtime(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    tier: Any = None,
    gmail: Any = None,
) -> Runtime:
    from secretary.drafting.gmail import google_gmail_factory

    registry.load_all()
    return Runtime(
        settings=settings,
        sessions=sessions,
        deps={
            "tier": tier if tier is not None else default_tier(settings),
            "gmail": gmail if gmail is not None else google_gmail_factory(settings, sessions),
        },
    )


def load_tier(spec: str | None, settings: Settings) -> Any:
    """An intelligence tier from ``module:attr`` (a class or factory), else the default.

    Lets a deployment (or a benchmark) plug in its own tier the way ``celery -A`` plugs in
    an app, without a code change here.
    """
    if not spec:
        return default_tier(settings)
    import importlib

    module_name, _, attr = spec.partition(":")
    target = getattr(importlib.import_module(module_name), attr or "tier")
    return target() if callable(target) else target


async def run_inline_forever(runtime: Runtime, *, concurrency: int | None = None) -> None:
    """``secretary worker --runtime inline``: the in-process runtime as its own process.

    On start the sweeper runs at once, so work a killed predecessor left behind resumes.
    """
    import asyncio
    import signal

    from secretary.worker.backends.inline import InlineBackend
    from secretary.worker.dispatch import set_backend
    from secretary.worker.schedule import sweep

    backend = InlineBackend(runtime, concurrency=concurrency)
    await backend.start()
    set_backend(backend)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(sweep, runtime)
    try:
        await stop.wait()
    finally:
        set_backend(None)
        await backend.stop()


def install_dispatcher(settings: Settings) -> None:
    """Make a short-lived process (CLI, API) send its dispatches somewhere.

    Celery: to the broker. Inline: nowhere from here; the running server's sweeper (or the
    next ``secretary worker`` start) picks the queued records up from Postgres.
    """
    if settings.worker.runtime == "celery":
        from secretary.worker.backends.celery import install_producer

        install_producer(settings)

"""The one composition root: every edge (web, CLI, worker, demo, MCP) builds its process here.

``compose(settings)`` returns a frozen ``Secretary``: settings, the engine and sessions, the
``Components`` that tasks and request handlers receive (the intelligence tier and the
Google client factories), the task ``Runtime``, and ``start_background()`` for the task
backend with its periodic jobs (the scheduler). Nothing below this module builds clients,
tiers or engines of its own; they receive them (ADR 0008).

How another stream adds a component
-----------------------------------
- **A Google client factory** (Calendar, Drive): ``GoogleClients.calendar`` / ``.drive``
  are the typed hooks. Narrow ``CalendarClientFactory`` / ``DriveClientFactory`` below from
  ``object`` to your client type, build it in ``_google_clients`` (next to ``gmail``) and
  read it in tasks as ``ctx.deps.google.calendar``.
- **Another process-wide service** (a search index, a quota bucket): add a typed field to
  ``Components`` with a default (tests build ``Components()`` bare), build it in
  ``compose``, and accept an override keyword there if tests need to swap it.
- **Tasks**: ``@task("domain.verb")`` in ``domain/tasks.py`` and the module name in
  ``worker.registry.TASK_MODULES``; periodic jobs with ``@periodic`` beside them.
- **Pipeline stages**: a row in ``secretary.pipeline.STAGES`` (see that module).
- **Wiring between domains** ("messages stored" -> triage): in ``_wire`` below, explicitly,
  never as an import side effect.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings, get_settings
from secretary.errors import ConfigurationError
from secretary.kit.logging import get_logger

if TYPE_CHECKING:
    from secretary.drafting.gmail import GmailPort
    from secretary.google.calendar import CalendarClient
    from secretary.google.drive import DriveClient
    from secretary.llm.schemas import IntelligenceTier
    from secretary.sync.listeners import MessagesStoredListener
    from secretary.worker.backends.celery import CeleryBackend
    from secretary.worker.backends.inline import InlineBackend
    from secretary.worker.runner import Runtime

log = get_logger(__name__)

T = TypeVar("T")
C_co = TypeVar("C_co", covariant=True)


class Lazy(Generic[T]):
    """A value built on first use, once, thread-safely.

    The tier loads an ONNX model (seconds): a web process that never drafts, or a CLI
    command that never needs it, should not pay for it.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build: Callable[[], T] | None = build
        self._value: T | None = None
        self._lock = threading.Lock()

    @classmethod
    def ready(cls, value: T) -> Lazy[T]:
        lazy: Lazy[T] = cls(lambda: value)
        lazy.get()
        return lazy

    def get(self) -> T:
        if self._build is not None:
            with self._lock:
                if self._build is not None:
                    self._value = self._build()
                    self._build = None
        return self._value  # type: ignore[return-value]  # built above (T may be None)


class AccountClientFactory(Protocol[C_co]):
    """``factory(session, account_id)``: the account's client for one Google service.

    Factories cache one client per account; the token is read through ``session`` (the
    caller's transaction) and refreshed through the accounts service on a 401.
    """

    def __call__(self, session: Session, account_id: int, /) -> C_co: ...


GmailClientFactory = AccountClientFactory["GmailPort"]
CalendarClientFactory = AccountClientFactory["CalendarClient"]
DriveClientFactory = AccountClientFactory["DriveClient"]


@dataclass(frozen=True)
class GoogleClients:
    """Per-account client factories, one per Google service (None: not built here)."""

    gmail: GmailClientFactory | None = None
    calendar: CalendarClientFactory | None = None
    drive: DriveClientFactory | None = None


def _no_tier() -> Lazy[IntelligenceTier | None]:
    return Lazy.ready(None)


@dataclass(frozen=True)
class Components:
    """What tasks (``ctx.deps``) and request handlers receive, composed once per process."""

    tier: Lazy[IntelligenceTier | None] = field(default_factory=_no_tier)
    google: GoogleClients = field(default_factory=GoogleClients)
    # "Messages stored" -> the pipeline: the sync calls this with new message ids inside
    # the transaction that stores them. None: store only (a bare sync, some tests).
    on_messages_stored: MessagesStoredListener | None = None

    def require_tier(self) -> IntelligenceTier:
        tier = self.tier.get()
        if tier is None:
            raise ConfigurationError("no intelligence tier is configured to draft replies")
        return tier

    def gmail(self, session: Session, account_id: int) -> GmailPort:
        if self.google.gmail is None:
            raise ConfigurationError("this process was composed without a Gmail factory")
        return self.google.gmail(session, account_id)

    def calendar(self, session: Session, account_id: int) -> CalendarClient:
        if self.google.calendar is None:
            raise ConfigurationError("this process was composed without a Calendar factory")
        return self.google.calendar(session, account_id)

    def drive(self, session: Session, account_id: int) -> DriveClient:
        if self.google.drive is None:
            raise ConfigurationError("this process was composed without a Drive factory")
        return self.google.drive(session, account_id)


# -- the intelligence tier --------------------------------------------------------------


def default_tier(settings: Settings) -> IntelligenceTier | None:
    """The configured tier (the provider chain ending in ``local``), or None when it cannot
    be built: rules still run, and messages then become ``fyi``."""
    try:
        from secretary.llm.registry import build_tier

        return build_tier(settings)
    except Exception:
        # A broken provider config must not stop the pipeline: rules still work.
        log.warning("intelligence_tier_unavailable", exc_info=True)
        return None


def load_tier(spec: str | None, settings: Settings) -> IntelligenceTier | None:
    """A tier from ``module:attr`` (a class or a factory), else the configured one.

    Lets a deployment (or a benchmark) plug in its own tier the way ``celery -A`` plugs in
    an app, without a code change here.
    """
    if not spec:
        return default_tier(settings)
    module_name, _, attr = spec.partition(":")
    target = getattr(importlib.import_module(module_name), attr or "tier")
    tier: IntelligenceTier = target() if callable(target) else target
    return tier


# -- the root ---------------------------------------------------------------------------


@dataclass
class Background:
    """The started task backend of a long-running process (``secretary serve``, the demo).

    Inline: asyncio workers plus the periodic jobs (the scheduler) in this process.
    Celery: a producer; ``secretary worker`` processes execute and beat runs the jobs.
    """

    inline: InlineBackend | None
    celery: CeleryBackend | None

    async def stop(self) -> None:
        from secretary.worker.dispatch import set_backend

        set_backend(None)
        if self.inline is not None:
            await self.inline.stop()
        log.info("background_stopped")


@dataclass(frozen=True)
class Secretary:
    """One process's composition. Build it with ``compose``; pass its parts down."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    components: Components
    owns_engine: bool = False

    @property
    def runtime(self) -> Runtime:
        """The task runtime: what a worker (or the in-process backend) runs tasks with."""
        from secretary.worker.runner import Runtime

        return Runtime(settings=self.settings, sessions=self.sessions, deps=self.components)

    def with_components(
        self,
        *,
        tier: IntelligenceTier | None = None,
        gmail: GmailClientFactory | None = None,
    ) -> Secretary:
        """A copy with some components swapped (tests, a ``--tier`` option)."""
        components = self.components
        if tier is not None:
            components = replace(components, tier=Lazy.ready(tier))
        if gmail is not None:
            components = replace(components, google=replace(components.google, gmail=gmail))
        return replace(self, components=components, owns_engine=False)

    def install_producer(self) -> None:
        """Make a short-lived process (CLI, API without background) send dispatches.

        Celery: to the broker. Inline: nowhere from here; the running server's sweeper (or
        the next ``secretary worker`` start) picks the queued records up from Postgres.
        """
        if self.settings.worker.runtime == "celery":
            from secretary.worker.backends.celery import install_producer

            install_producer(self.settings)

    async def start_background(self, *, resume: bool = True) -> Background:
        """Start the task backend and the periodic jobs (``secretary serve``, the demo).

        The periodic jobs are the scheduler: the sweeper and ``sync.poll``, which requests
        each account's syncs as durable tasks (inline: on this process's event loop;
        Celery: beat in ``secretary worker``).

        ``resume``: run the sweeper at once, so work queued while no worker ran (a
        ``secretary sync`` from the CLI, a crash) resumes now rather than after the stuck
        threshold. Re-dispatching a record another worker holds is harmless: runs claim a
        lease.
        """
        import asyncio
        from functools import partial

        from secretary.worker.dispatch import set_backend
        from secretary.worker.schedule import sweep

        runtime = self.runtime
        if self.settings.worker.runtime == "celery":
            from secretary.worker.backends.celery import install_producer

            background = Background(inline=None, celery=install_producer(self.settings))
        else:
            from secretary.worker.backends.inline import InlineBackend

            inline = InlineBackend(runtime, concurrency=self.settings.worker.concurrency)
            await inline.start()
            set_backend(inline)
            background = Background(inline=inline, celery=None)
        if resume:
            resume_settings = self.settings.model_copy(
                update={
                    "worker": self.settings.worker.model_copy(update={"stuck_after_seconds": 0})
                }
            )
            await asyncio.to_thread(
                partial(sweep, replace(runtime, settings=resume_settings), resuming=True)
            )
        log.info("background_started", runtime=self.settings.worker.runtime)
        return background

    def close(self) -> None:
        if self.owns_engine:
            self.engine.dispose()


def _google_clients(settings: Settings, sessions: sessionmaker[Session]) -> GoogleClients:
    from secretary.drafting.gmail import google_gmail_factory
    from secretary.sync.workspace import calendar_client_factory, drive_client_factory

    return GoogleClients(
        gmail=google_gmail_factory(settings, sessions),
        calendar=calendar_client_factory(settings, sessions),
        drive=drive_client_factory(settings, sessions),
    )


def _wire(settings: Settings) -> MessagesStoredListener:
    """Load every task module (so this process knows each name a producer may enqueue, and
    every periodic job) and return the pipeline's entry, which the sync calls with the ids
    of newly stored messages ("messages stored" -> triage, search, ...)."""
    from secretary import pipeline
    from secretary.identity import audit
    from secretary.worker import registry

    audit.install()  # state changes write their audit entries, whichever edge made them
    registry.load_all()
    return pipeline.entry(settings)


def compose(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    tier: IntelligenceTier | None = None,
    tier_spec: str | None = None,
    gmail: GmailClientFactory | None = None,
    pool_size: int = 10,
) -> Secretary:
    """Compose one process. Everything not passed in is built from ``settings``.

    ``engine``/``sessions``: reuse a caller's (tests, the demo's own database); otherwise
    the engine is created here and ``close()`` disposes of it. ``tier``/``tier_spec``
    (``module:attr``) and ``gmail`` replace the configured tier and Gmail factory; the
    configured tier is built lazily, on first use.
    """
    from secretary.db.engine import make_engine
    from secretary.db.session import make_sessionmaker

    settings = settings or get_settings()
    if engine is None and sessions is not None:
        bind = sessions.kw.get("bind")
        engine = bind.engine if isinstance(bind, Engine | Connection) else None
    owns_engine = engine is None
    if engine is None:
        engine = make_engine(settings, pool_size=pool_size)
    sessions = sessions or make_sessionmaker(engine)
    chosen = settings

    def build_tier() -> IntelligenceTier | None:
        return load_tier(tier_spec, chosen)

    components = Components(
        tier=Lazy.ready(tier) if tier is not None else Lazy(build_tier),
        google=_google_clients(settings, sessions)
        if gmail is None
        else replace(_google_clients(settings, sessions), gmail=gmail),
        on_messages_stored=_wire(settings),
    )
    return Secretary(
        settings=settings,
        engine=engine,
        sessions=sessions,
        components=components,
        owns_engine=owns_engine,
    )

"""A fresh, migrated database for one benchmark run, dropped afterwards (benchmarks share it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import URL, Engine, create_engine, make_url, text

from secretary.config import Settings
from secretary.db import migrate
from secretary.db.engine import embedded_database_url, make_engine


def _server(settings: Settings) -> URL:
    """The configured server (the embedded one by default), at its ``postgres`` database."""
    server = settings.database_url or embedded_database_url(settings.home_path, database="postgres")
    return make_url(server).set(database="postgres")


@contextmanager
def fresh_database(settings: Settings, name: str, *, keep: bool = False) -> Iterator[Engine]:
    """``name`` on the configured server (the embedded one by default), migrated.

    ``keep`` leaves it in place afterwards, for ``kept_database`` to time a run again
    without rebuilding it."""
    admin_url = _server(settings)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}"'))
    engine = make_engine(settings, url=admin_url.set(database=name).render_as_string(False))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@contextmanager
def kept_database(settings: Settings, name: str) -> Iterator[Engine]:
    """``name`` as ``fresh_database(..., keep=True)`` left it: not migrated, not dropped."""
    engine = make_engine(settings, url=_server(settings).set(database=name).render_as_string(False))
    try:
        yield engine
    finally:
        engine.dispose()

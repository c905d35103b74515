"""A fresh, migrated database for one benchmark run, dropped afterwards (benchmarks share it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, make_url, text

from secretary.config import Settings
from secretary.db import migrate
from secretary.db.engine import embedded_database_url, make_engine


@contextmanager
def fresh_database(settings: Settings, name: str) -> Iterator[Engine]:
    """``name`` on the configured server (the embedded one by default), migrated."""
    server = settings.database_url or embedded_database_url(settings.home_path, database="postgres")
    admin_url = make_url(server).set(database="postgres")
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
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()

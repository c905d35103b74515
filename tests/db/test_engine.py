from __future__ import annotations

from sqlalchemy import Engine, text

from secretary.db import migrate


def test_embedded_postgres_has_pgvector(engine: Engine) -> None:
    with engine.connect() as conn:
        version = conn.execute(text("show server_version_num")).scalar()
        vector = conn.execute(
            text("select extversion from pg_extension where extname = 'vector'")
        ).scalar()
    assert version is not None
    assert int(version) >= 150000
    assert vector is not None


def test_migrations_are_current(engine: Engine) -> None:
    assert migrate.is_current(engine)
    assert migrate.head_revision() is not None

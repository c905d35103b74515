"""Shared fixtures: a real embedded PostgreSQL (pgvector), one database per xdist worker.

Migrations run once per worker database; each test runs inside a transaction that is rolled
back, with services' ``commit()``-free code joining it through savepoints.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from secretary.config import Settings
from secretary.db import migrate
from secretary.db.engine import embedded_database_url, make_engine, release_embedded

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# One embedded test server per installation (virtualenv): the server belongs to the
# installation that started it, so two checkouts testing at once on one machine would
# otherwise restart each other's server mid-run.
_INSTALLATION = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
TEST_HOME = Path(os.environ.get("SECRETARY_TEST_HOME", f"/tmp/secretary-test-home-{_INSTALLATION}"))


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; skips the test when the data is not present."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture(scope="session")
def worker_id_str(request: pytest.FixtureRequest) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def database_url(worker_id_str: str) -> Iterator[str]:
    """A freshly created, migrated database for this test worker."""
    external = os.environ.get("SECRETARY_TEST_DATABASE_URL")
    base_url = external or embedded_database_url(TEST_HOME, database="postgres")
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    # pid in the name: several developers' (and CI's) runs share one embedded server.
    name = f"secretary_test_{worker_id_str}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}"'))
    admin.dispose()
    url = base_url.replace("/postgres?", f"/{name}?")
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()
    if not external:
        # Stop what we started: the last test process out stops the shared embedded server
        # (one still used by another run, a developer's or CI's, keeps running).
        release_embedded(TEST_HOME)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        home=tmp_path_factory.mktemp("home"),
        database_url=database_url,
        log_json=True,
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, even if the code commits."""
    conn = engine.connect()
    trans = conn.begin()
    sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        trans.rollback()
        conn.close()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A real sessionmaker for tests that exercise commits across processes/threads.

    Tests using it must clean up after themselves (or use unique users/accounts).
    """
    return sessionmaker(engine, expire_on_commit=False)

"""`secretary search "QUERY"` and `secretary search reindex` on the test database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import structlog
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app
from secretary.config import Settings
from tests.search.conftest import Mailbox

runner = CliRunner()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ctx = context.CliContext(settings=settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    with structlog.testing.capture_logs():
        yield
    ctx.close()


def test_reindex_rebuilds_reusing_vectors_and_search_prints_json(
    cli: None, mailboxes: Callable[[], Mailbox]
) -> None:
    box = mailboxes()
    box.add("Harbour permit", "The harbour permit for the regatta was approved.")
    box.add("Dentist", "Your dentist appointment moved to Thursday.")
    user = str(box.user_id)

    first = runner.invoke(app, ["search", "reindex", "--user", user, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)["users"][user]
    assert report["indexed"] == 2
    assert report["vectors_computed"] >= 2

    again = runner.invoke(app, ["search", "reindex", "--user", user, "--json"])
    report = json.loads(again.stdout)["users"][user]
    assert report["indexed"] == 2  # rebuilt from Postgres
    assert report["vectors_computed"] == 0  # ... without embedding anything again
    assert report["vectors_reused"] >= 2

    found = runner.invoke(app, ["search", "regatta permit", "--user", user, "--json"])
    assert found.exit_code == 0, found.output
    results = json.loads(found.stdout)["results"]
    assert results[0]["title"] == "Harbour permit"
    assert set(results[0]) == {"kind", "id", "title", "snippet", "score"}

    shown = runner.invoke(app, ["search", "dentist", "--user", user, "--kind", "email"])
    assert shown.exit_code == 0, shown.output
    assert "Dentist" in shown.stdout

    bar = runner.invoke(app, ["search", "reindex", "--user", user])
    assert bar.exit_code == 0, bar.output
    assert f"user {user}: indexed 2" in bar.stdout

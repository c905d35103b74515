"""``SECRETARY_NOW`` pins the one clock of the product and the emulator's clock alike."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from secretary.kit import clock

SRC = Path(__file__).resolve().parents[2] / "src" / "secretary"
# Wall-clock reads that are about elapsed time on someone else's clock, not about "now".
ALLOWED = {
    "web/ratelimit.py": "the limits library keeps its windows on time.time()",
    # google-auth checks a push token's exp on the wall clock; its cache must agree.
    "web/api/webhooks.py": "verified push tokens expire on google-auth's clock",
}


def test_secretary_now_pins_both_clocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from workspace_emulator import _clock

    monkeypatch.setenv("SECRETARY_NOW", "2026-11-18T09:30:00-05:00")
    want = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
    first = clock.utcnow()
    assert want <= first < want + timedelta(seconds=1)
    assert first.tzinfo is UTC
    assert want <= _clock.utcnow() < want + timedelta(seconds=1)
    # It then advances in real time, so retries and leases still come due.
    assert clock.utcnow() >= first


def test_zone_less_value_is_utc_and_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRETARY_NOW", "2026-11-18T14:30:00")
    assert clock.utcnow().replace(microsecond=0) == datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
    monkeypatch.setenv("SECRETARY_NOW", "next tuesday")
    with pytest.raises(ValueError, match="SECRETARY_NOW"):
        clock.utcnow()


def test_unset_clock_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRETARY_NOW", raising=False)
    before = datetime.now(UTC)
    assert before <= clock.utcnow() <= datetime.now(UTC)


def _wall_clock_calls(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
        if (name, node.func.attr) in {
            ("datetime", "now"),
            ("datetime", "utcnow"),
            ("date", "today"),
            ("time", "time"),
        }:
            lines.append(node.lineno)
    return lines


def test_product_code_reads_the_one_clock() -> None:
    """No product module reads the wall clock except ``kit/clock.py`` (the LLM emulator
    stamps ``created`` like OpenAI does; it is test equipment, not the product)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel == "kit/clock.py" or rel.startswith("emulators/") or rel in ALLOWED:
            continue
        offenders += [f"{rel}:{n}" for n in _wall_clock_calls(ast.parse(path.read_text()))]
    assert offenders == []

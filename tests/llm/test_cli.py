"""`secretary llm test` against the emulator: an auth error is reported clearly, not retried."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app
from secretary.config import LLMSettings, Settings
from secretary.emulators.llm.script import Step
from secretary.emulators.llm.server import RunningEmulator


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI callback binds logging to CliRunner's stderr, which closes after invoke."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_llm_test_reports_ok_and_auth_errors(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        env="test",
        log_json=True,
        llm=LLMSettings(
            chain=["openai", "anthropic", "local"],
            openai_api_key=SecretStr("sk-test"),
            openai_base_url=emulator.openai_base_url,
            anthropic_api_key=SecretStr("wrong"),
            anthropic_base_url=emulator.anthropic_base_url,
        ),
    )
    monkeypatch.setattr(context, "_ctx", context.CliContext(settings=settings))
    emulator.script.enqueue("anthropic", Step(status=401, times=-1))

    result = CliRunner().invoke(
        app, ["llm", "test", "--provider", "openai", "--provider", "anthropic", "--json"]
    )

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    openai_check, anthropic_check = report["providers"]
    assert openai_check["status"] == "ok"
    assert openai_check["input_tokens"] > 0
    assert openai_check["cost_usd"] > 0
    assert anthropic_check["status"] == "auth_error"
    assert "SECRETARY_LLM__ANTHROPIC_API_KEY" in anthropic_check["message"]
    assert len(emulator.script.requests_for("anthropic")) == 1  # no retry


def test_llm_providers_lists_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "_ctx", context.CliContext(settings=Settings(env="test")))
    result = CliRunner().invoke(app, ["llm", "providers", "--json"])
    assert result.exit_code == 0
    assert {"openai", "anthropic", "gemini", "ollama", "local"} <= set(
        json.loads(result.stdout)["registered"]
    )

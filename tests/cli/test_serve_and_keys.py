"""``secretary serve`` binds to loopback unless prod settings are complete, and dev mode
keys come from a random per-home file (mode 0600), never from a constant in the source."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app as root_app
from secretary.cli.serve import check_bind, is_loopback
from secretary.config import DEV_ENCRYPTION_KEY, DEV_KEY_FILE, Settings
from secretary.errors import ConfigurationError

runner = CliRunner()


def test_serve_refuses_a_public_interface_without_prod_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context.CliContext(settings=Settings(env="dev", home=tmp_path))
    monkeypatch.setattr(context, "_ctx", ctx)
    result = runner.invoke(root_app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert result.exception.code == "unsafe_bind"
    assert "SECRETARY_ENV is not prod" in result.exception.message
    assert "https://" in result.exception.message


def test_loopback_is_always_allowed_and_complete_prod_may_bind_anywhere(tmp_path: Path) -> None:
    dev = Settings(env="dev", home=tmp_path)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, dev)
    assert not is_loopback("0.0.0.0")
    prod = Settings(
        env="prod",
        home=tmp_path,
        encryption_keys=["A" * 43 + "="],  # type: ignore[list-item]
        base_url="https://secretary.example.com",
        google={  # type: ignore[arg-type]
            "client_secret": "real",
            "pubsub_audience": "https://secretary.example.com/webhooks/google/pubsub",
            "pubsub_service_account": "push@proj.iam.gserviceaccount.com",
        },
        identity={"trusted_hosts": ["secretary.example.com"]},  # type: ignore[arg-type]
    )
    assert prod.public_serving_problems() == []
    check_bind("0.0.0.0", prod)
    no_hosts = prod.model_copy(
        update={"identity": prod.identity.model_copy(update={"trusted_hosts": []})}
    )
    with pytest.raises(ConfigurationError, match="TRUSTED_HOSTS"):
        check_bind("0.0.0.0", no_hosts)


def test_dev_mode_generates_a_private_random_key_once(tmp_path: Path) -> None:
    first = Settings(env="dev", home=tmp_path / "a")
    again = Settings(env="dev", home=tmp_path / "a")
    other = Settings(env="dev", home=tmp_path / "b")
    key = first.encryption_keys[0].get_secret_value()
    assert key != DEV_ENCRYPTION_KEY
    assert again.encryption_keys[0].get_secret_value() == key  # stable across runs
    assert other.encryption_keys[0].get_secret_value() != key  # random per install
    path = tmp_path / "a" / DEV_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Explicit keys win; prod never generates one.
    explicit = Settings(env="dev", home=tmp_path / "c", encryption_keys=["B" * 43 + "="])  # type: ignore[list-item]
    assert explicit.encryption_keys[0].get_secret_value() == "B" * 43 + "="
    assert not (tmp_path / "c" / DEV_KEY_FILE).exists()
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        Settings(env="prod", home=tmp_path / "d")

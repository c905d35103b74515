"""The running demo as a profile the CLI picks up (issue 12: "the demo and the CLI are one
product").

``secretary demo`` writes ``$SECRETARY_HOME/demo-profile.json`` once it is ready: its
process id, its database and the emulator's URLs. While that process is alive, a CLI
invocation with no database configured uses the demo's database and sends every Google
call to the demo's emulator, so ``secretary drafts list`` shows the demo's drafts and
``secretary sync`` never reaches real Google with the emulator's tokens. A profile whose
process is gone is ignored (its emulator went with it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from secretary.config import Settings

PROFILE_FILE = "demo-profile.json"
OPT_OUT = "SECRETARY_PROFILE"  # "default": ignore a running demo


def profile_path(settings: Settings) -> Path:
    return Path(settings.home_path) / PROFILE_FILE


def write_profile(
    settings: Settings, *, database_url: str, emulator_url: str, api_url: str, **extra: Any
) -> Path:
    """Record the running demo (called by ``secretary demo`` once it serves)."""
    path = profile_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "pid": os.getpid(),
        "database_url": database_url,
        "emulator_url": emulator_url,
        "api_url": api_url,
        **extra,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.chmod(0o600)  # it may hold the demo's API token
    tmp.replace(path)
    return path


def remove_profile(settings: Settings) -> None:
    path = profile_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if data.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def running_demo(settings: Settings) -> dict[str, Any] | None:
    """The running demo's profile, or None."""
    try:
        data: dict[str, Any] = json.loads(profile_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if _alive(data.get("pid")) and data.get("database_url") else None


def apply_running_demo(settings: Settings) -> Settings:
    """``settings`` aimed at the running demo, when one runs and nothing says otherwise."""
    if settings.database_url or os.environ.get(OPT_OUT, "").lower() == "default":
        return settings
    demo = running_demo(settings)
    if demo is None:
        return settings
    emulator = str(demo["emulator_url"])
    return settings.model_copy(
        update={
            "database_url": demo["database_url"],
            "base_url": demo.get("api_url") or settings.base_url,
            "google": settings.google.model_copy(
                update={"api_base_url": emulator, "oauth_base_url": emulator}
            ),
        }
    )

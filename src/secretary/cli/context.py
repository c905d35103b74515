"""Per-invocation composition: ``bootstrap.compose`` once, lazily, on first use.

Commands that never touch the database (``--help``, ``docs``) build nothing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

from secretary.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from secretary.bootstrap import Secretary

console = Console()
err_console = Console(stderr=True)


def cli_settings() -> Settings:
    """The settings, pointed at a running ``secretary demo`` when there is one and no
    database is configured: the CLI then works on the demo's data and its emulator (never
    real Google). ``SECRETARY_PROFILE=default`` ignores the demo."""
    from secretary.config import get_settings
    from secretary.demo.profile import apply_running_demo

    return apply_running_demo(get_settings())


@dataclass
class CliContext:
    settings: Settings = field(default_factory=cli_settings)
    verbose: bool = False
    _root: Secretary | None = None

    @property
    def root(self) -> Secretary:
        """This invocation's composition (settings, engine, sessions, tier, Google)."""
        if self._root is None:
            from secretary.bootstrap import compose

            self._root = compose(self.settings)
        return self._root

    @property
    def engine(self) -> Engine:
        return self.root.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.root.sessions

    def close(self) -> None:
        if self._root is not None:
            self._root.close()
            self._root = None

    def migrated_engine(self) -> Engine:
        from secretary.db import migrate

        if not migrate.is_current(self.engine):
            migrate.upgrade(self.engine)
        return self.engine


_ctx: CliContext | None = None


def get_ctx() -> CliContext:
    global _ctx
    if _ctx is None:
        _ctx = CliContext()
    return _ctx


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str, indent=2) + "\n")

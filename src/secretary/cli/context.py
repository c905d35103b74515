"""Per-invocation composition: settings, engine and sessions built once, lazily."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings, get_settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliContext:
    settings: Settings = field(default_factory=get_settings)
    verbose: bool = False
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from secretary.db.engine import make_engine

            self._engine = make_engine(self.settings)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        from secretary.db.session import make_sessionmaker

        return make_sessionmaker(self.engine)

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

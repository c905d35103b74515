"""FastAPI dependencies: the process's composition (``bootstrap.Secretary``) and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import Components, Secretary
from secretary.config import Settings

if TYPE_CHECKING:
    from secretary.bootstrap import Background


@dataclass
class AppState:
    """What the lifespan holds: the composition root, and the background services when this
    process runs them (``secretary serve``, the demo; ``run_background``)."""

    root: Secretary
    run_background: bool = False
    background: Background | None = None

    @property
    def settings(self) -> Settings:
        return self.root.settings

    @property
    def engine(self) -> Engine:
        return self.root.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.root.sessions

    @property
    def components(self) -> Components:
        return self.root.components


async def get_state(request: Request) -> AppState:
    # async: FastAPI would run a plain ``def`` dependency in the thread pool, a thread hop
    # per request for an attribute read (issue 14).
    state: AppState = request.app.state.secretary
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One request, one transaction: commit if the handler returns, roll back if it raises."""
    with state.sessions() as session, session.begin():
        yield session
        # Work that must share the request's transaction once the handler succeeded (the
        # audit entry, handing the connection back as the system role): ``web/auth.py``.
        for hook in session.info.pop("before_commit", []):
            hook(session)


# scope="function": commit when the handler returns, before the response is sent. With the
# default ("request") FastAPI commits after sending, so a client's next request could race
# the commit (a sign-in redirect, then a 401 on the very next page: issue 12's browser walk).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

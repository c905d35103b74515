"""``GET /api/v1/search``: the signed-in user's mail (and, as they sync, events and files)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query

from secretary.search import service
from secretary.search.schemas import SearchResults
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1", tags=["search"], dependencies=[Depends(current_user)])


@router.get("/search")
def search(
    session: SessionDep,
    state: StateDep,
    user: CurrentUser,
    q: Annotated[str, Query(max_length=1000, description="Words, phrases and Gmail operators.")],
    kind: Literal["email", "event", "file"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SearchResults:
    """Hybrid (BM25 + vector) search over the signed-in user's items, best first.

    Spam and trash are left out unless ``q`` says ``in:spam`` / ``in:trash``; ``score`` is
    higher-is-better and comparable within one response.
    """
    hits = service.search(session, user.user_id, q, kind=kind, limit=limit, settings=state.settings)
    return SearchResults(results=hits)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)

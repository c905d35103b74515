"""``/api/v1/preferences/style``: what Secretary learned about how you write, editable.

Learned from your edits (``drafting.learning``); you can add a preference yourself or delete
one. A ``scope`` is ``all`` or ``to:<address>``; a ``key`` is ``greeting``, ``closing``,
``signature``, ``max_words`` or ``avoid:<phrase>``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from secretary.db.models import StylePreference
from secretary.errors import NotFound
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/preferences/style", tags=["style"])


class StylePreferenceOut(BaseModel):
    id: int
    scope: str
    key: str
    value: str
    evidence: int
    source: str


class StylePreferenceIn(BaseModel):
    scope: str = Field(default="all", max_length=330)
    key: str = Field(min_length=1, max_length=200)
    value: str = Field(default="", max_length=2000)

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if value != "all" and not value.startswith("to:"):
            raise ValueError("scope is 'all' or 'to:<address>'")
        return value.lower()

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value not in ("greeting", "closing", "signature", "max_words") and not value.startswith(
            "avoid:"
        ):
            raise ValueError("key is greeting, closing, signature, max_words or avoid:<phrase>")
        return value


class StylePreferences(BaseModel):
    preferences: list[StylePreferenceOut]


def _out(row: StylePreference) -> StylePreferenceOut:
    return StylePreferenceOut(
        id=row.id, scope=row.scope, key=row.key, value=row.value,
        evidence=row.evidence, source=row.source,
    )  # fmt: skip


@router.get("")
def list_style_preferences(user: CurrentUser, session: SessionDep) -> StylePreferences:
    """Everything learned from your edits (and added by you), by scope."""
    rows = session.scalars(
        select(StylePreference)
        .where(StylePreference.user_id == user.user_id)
        .order_by(StylePreference.scope, StylePreference.key)
    ).all()
    return StylePreferences(preferences=[_out(r) for r in rows])


@router.post("", status_code=201)
def add_style_preference(
    body: StylePreferenceIn, user: CurrentUser, session: SessionDep
) -> StylePreferenceOut:
    """Add or replace a preference of your own (it wins until an edit changes it)."""
    stmt = insert(StylePreference).values(
        user_id=user.user_id, scope=body.scope, key=body.key, value=body.value, evidence=1,
        source="user",
    )  # fmt: skip
    row_id = session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id", "scope", "key"],
            set_={"value": stmt.excluded.value, "source": "user"},
        ).returning(StylePreference.id)
    ).scalar_one()
    row = session.get(StylePreference, row_id)
    assert row is not None
    session.refresh(row)
    return _out(row)


@router.delete("/{preference_id}", status_code=204)
def delete_style_preference(preference_id: int, user: CurrentUser, session: SessionDep) -> None:
    """Forget a preference (another user's answers 404)."""
    deleted = session.execute(
        delete(StylePreference)
        .where(StylePreference.id == preference_id, StylePreference.user_id == user.user_id)
        .returning(StylePreference.id)
    ).first()
    if deleted is None:
        raise NotFound("style preference not found", code="style_preference_not_found")


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)

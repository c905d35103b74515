"""``/api/v1/rules``: CRUD for triage rules, and a preview against past mail."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI, Response
from pydantic import BaseModel, Field

from secretary.llm.schemas import IntelligenceTier
from secretary.triage import service
from secretary.triage.schemas import RuleConditions, RuleIn, RuleOut, RulePreview
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import AppState, SessionDep, StateDep

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], dependencies=[Depends(current_user)])


class PreviewIn(BaseModel):
    conditions: RuleConditions | None = None
    # Plain English, judged by the configured LLM; the answer says when there is none.
    instruction: str | None = Field(default=None, max_length=2000)
    since: datetime | None = None
    limit: int = Field(default=50, ge=0, le=1000)


def _tier(state: AppState) -> IntelligenceTier | None:
    """The process's tier (``bootstrap.Components``: composed once, its cache with it)."""
    return state.components.tier.get()


@router.get("")
def list_rules(session: SessionDep, user: CurrentUser) -> list[RuleOut]:
    uid = user.user_id
    return [RuleOut.model_validate(r) for r in service.list_rules(session, uid)]


@router.post("", status_code=201)
def create_rule(body: RuleIn, session: SessionDep, user: CurrentUser) -> RuleOut:
    uid = user.user_id
    return RuleOut.model_validate(service.create_rule(session, uid, body))


@router.post("/preview")
def preview_rule(
    body: PreviewIn, session: SessionDep, state: StateDep, user: CurrentUser
) -> RulePreview:
    """Which stored messages the rule matches ("would have matched these 23").

    ``instruction_evaluated`` is false (with a ``note``) when the rule's plain-English
    instruction could not be judged, e.g. no LLM is configured."""
    uid = user.user_id
    return service.preview_rule(
        session,
        uid,
        body.conditions,
        instruction=body.instruction,
        tier=_tier(state) if body.instruction else None,
        since=body.since,
        limit=body.limit,
    )


@router.get("/{rule_id}")
def get_rule(rule_id: int, session: SessionDep, user: CurrentUser) -> RuleOut:
    uid = user.user_id
    return RuleOut.model_validate(service.get_rule(session, uid, rule_id))


@router.put("/{rule_id}")
def update_rule(rule_id: int, body: RuleIn, session: SessionDep, user: CurrentUser) -> RuleOut:
    uid = user.user_id
    return RuleOut.model_validate(service.update_rule(session, uid, rule_id, body))


@router.delete("/{rule_id}", status_code=204)
def delete_rule(rule_id: int, session: SessionDep, user: CurrentUser) -> Response:
    uid = user.user_id
    service.delete_rule(session, uid, rule_id)
    return Response(status_code=204)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)

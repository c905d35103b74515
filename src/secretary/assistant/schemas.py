"""The ask pipeline's values: intent, plan, step results, citations, the answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

ItemKind = Literal["email", "event", "file"]
ActionKind = Literal[
    "draft_email", "send_email", "create_event", "update_event", "respond_to_invite", "share_file"
]


class Service(StrEnum):
    MAIL = "mail"
    CALENDAR = "calendar"
    DRIVE = "drive"


class Operation(StrEnum):
    FIND = "find"
    SUMMARIZE = "summarize"
    COUNT = "count"
    COMPARE = "compare"
    DRAFT = "draft"
    SCHEDULE = "schedule"
    UPDATE = "update"


class TimeRange(BaseModel):
    """A half-open interval ``[start, end)`` in UTC, and the words it came from."""

    start: datetime | None = None
    end: datetime | None = None
    text: str = ""


class Entities(BaseModel):
    people: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    amounts: list[str] = Field(default_factory=list)
    locators: list[str] = Field(default_factory=list)  # record locators, invoice numbers


class Intent(BaseModel):
    """What the question asks, structured. Built by the local parser or an LLM."""

    question: str
    services: list[Service]
    operation: Operation = Operation.FIND
    entities: Entities = Field(default_factory=Entities)
    time_range: TimeRange | None = None
    keywords: list[str] = Field(default_factory=list)  # content words for retrieval
    new_keywords: list[str] = Field(default_factory=list)  # this turn's own (not inherited)
    target: str | None = None  # what to count/find: "emails", "events", "files", "next event"
    same_day: bool = False  # "is anything on my calendar that day?"
    services_named: bool = True  # False when no service word was found and all are searched
    wants_latest: bool = False  # "the latest/current/final value"
    follow_up: bool = False  # resolved against the previous turn
    context: str = ""  # the earlier questions a follow-up resolves against ("to Chicago")
    confidence: float = Field(default=0.5, ge=0, le=1)
    source: str = "local"  # "local" or the provider that produced it


class Step(BaseModel):
    """One node of the plan's DAG."""

    id: str
    agent: str  # "mail" | "calendar" | "drive" | "compute" | "action"
    action: str  # "search" | "read" | "count" | "on_dates_of" | "next" | "propose_*"
    args: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    budget_ms: int = 8000  # bounds a hung step; cold starts (model, dateparser) fit
    max_rows: int = 10
    fallback: str | None = None  # what a failure means for the answer, in words


class Plan(BaseModel):
    steps: list[Step]


class Item(BaseModel):
    """A retrieved item, as the agents hand it to synthesis. Its text is untrusted."""

    kind: ItemKind
    id: str  # Gmail message id, Calendar event id, Drive file id
    title: str
    text: str = ""
    score: float = 0.0
    at: datetime | None = None  # sent at, event start, file modified
    end: datetime | None = None  # event end
    all_day: bool = False
    people: list[str] = Field(default_factory=list)
    thread_id: str | None = None
    location: str | None = None


class StepResult(BaseModel):
    step_id: str
    ok: bool
    items: list[Item] = Field(default_factory=list)
    value: Any = None  # computed facts (a count, a sum)
    error: str | None = None
    elapsed_ms: float = 0.0


class Citation(BaseModel):
    kind: ItemKind
    id: str
    title: str


class ProposedActionOut(BaseModel):
    id: str
    kind: ActionKind
    status: str = "pending_approval"
    summary: str
    payload: dict[str, Any] = Field(default_factory=dict)


class PlanStepOut(BaseModel):
    id: str
    agent: str
    depends_on: list[str] = Field(default_factory=list)


class PlanOut(BaseModel):
    steps: list[PlanStepOut]


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    conversation_id: str | None = None


class AskResponse(BaseModel):
    """The contract of ``POST /api/v1/ask`` (and the SSE ``done`` event)."""

    conversation_id: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    plan: PlanOut
    proposed_actions: list[ProposedActionOut] = Field(default_factory=list)
    partial_failures: list[str] = Field(default_factory=list)

"""Pydantic in and out of triage: rules, their preview, and triage results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import regex
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from secretary.llm.schemas import Category, Priority


class RuleConditions(BaseModel):
    """All given conditions must hold (``match="all"``) or any of them (``match="any"``).

    Address patterns are case-insensitive globs (``*@example.com``, ``boss@corp.com``);
    ``subject``/``body`` are case-insensitive regular expressions.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    match: Literal["all", "any"] = "all"
    from_: list[str] | None = Field(default=None, alias="from")
    to: list[str] | None = None  # any of To or Cc
    domain: list[str] | None = None  # sender's domain, subdomains included
    subject: str | None = None
    body: str | None = None
    is_list: bool | None = None  # List-Id / List-Unsubscribe / Precedence: bulk|list
    has_attachment: bool | None = None
    label: list[str] | None = None  # Gmail label ids or names

    @field_validator("subject", "body")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                regex.compile(value)
            except regex.error as exc:
                raise ValueError(f"invalid pattern: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> RuleConditions:
        fields = self.model_dump(exclude={"match"}, exclude_none=True)
        if not fields:
            raise ValueError("a rule needs at least one condition")
        return self


class RuleActions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category | None = None
    priority: Priority | None = None
    labels: list[str] = Field(default_factory=list)  # label names, created when missing
    archive: bool = False
    draft: Literal["never", "always"] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> RuleActions:
        if not (self.category or self.priority or self.labels or self.archive or self.draft):
            raise ValueError("a rule needs at least one action")
        return self


def _empty_as_none(value: object) -> object:
    # A plain-English-only rule is stored with ``conditions = {}``.
    return None if value == {} else value


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    conditions: RuleConditions | None = None  # None: the rule is plain English only
    actions: RuleActions
    position: int | None = None  # None = after the last rule
    enabled: bool = True
    stop: bool = False
    # Plain English ("mail from recruiters about jobs"), evaluated by an LLM tier when one
    # is configured; without one the rule is skipped, never guessed. With conditions, both
    # must match.
    instruction: str | None = Field(default=None, max_length=2000)

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions_empty(cls, value: object) -> object:
        return _empty_as_none(value)

    @field_validator("instruction")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @model_validator(mode="after")
    def _has_condition(self) -> RuleIn:
        if self.conditions is None and self.instruction is None:
            raise ValueError("a rule needs conditions, a plain-English instruction, or both")
        return self


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int
    enabled: bool
    stop: bool
    conditions: RuleConditions | None
    actions: RuleActions
    instruction: str | None = None

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions_empty(cls, value: object) -> object:
        return _empty_as_none(value)


class PreviewMessage(BaseModel):
    id: int
    gmail_id: str
    subject: str | None
    from_addr: str | None
    internal_date: datetime | None


class RulePreview(BaseModel):
    matched: int
    scanned: int
    messages: list[PreviewMessage]
    # Only present when the preview had a plain-English instruction: False when it could
    # not be evaluated (no LLM configured, or it failed), with ``note`` saying why; then
    # ``matched`` counts nothing it could not judge. Structured-only previews keep the
    # original three-field shape.
    instruction_evaluated: bool | None = None
    note: str | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_instruction_fields(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key in ("instruction_evaluated", "note"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data


class TriageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: int
    category: Category
    priority: Priority
    confidence: float
    meeting_request: bool
    cold_outreach: bool
    has_deadline: bool
    reason: str
    model: str
    matched_rule_ids: list[int]
    draft_decision: str
    labels_to_apply: list[str]
    classified_at: datetime
    labels_applied_at: datetime | None
    no_draft_reason: str | None = None  # e.g. cold outreach, newsletter (issue 13)

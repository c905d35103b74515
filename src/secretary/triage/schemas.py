"""Pydantic in and out of triage: rules, their preview, and triage results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    conditions: RuleConditions
    actions: RuleActions
    position: int | None = None  # None = after the last rule
    enabled: bool = True
    stop: bool = False
    instruction: str | None = None  # plain English, evaluated by an LLM tier when configured


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int
    enabled: bool
    stop: bool
    conditions: RuleConditions
    actions: RuleActions
    instruction: str | None = None


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

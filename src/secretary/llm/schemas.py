"""The contract between the pipeline and every intelligence tier (local or LLM)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field


class Category(StrEnum):
    NEEDS_REPLY = "needs_reply"
    FYI = "fyi"
    NEWSLETTER = "newsletter"
    NOTIFICATION = "notification"
    SPAM = "spam"  # phishing included


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


FLAG_NAMES = ("meeting_request", "cold_outreach", "has_deadline")


class SenderStats(BaseModel):
    """What the user's own mail says about the sender (computed from the store)."""

    user_wrote_to_sender: bool = False
    messages_from_sender: int = 0
    replies_to_sender: int = 0
    user_in_thread: bool = False  # the user has written in this message's thread

    @property
    def reply_ratio(self) -> float:
        return (
            self.replies_to_sender / self.messages_from_sender if self.messages_from_sender else 0.0
        )


class EmailInput(BaseModel):
    """One email as the intelligence layer sees it. All text fields are untrusted."""

    message_id: str | None = None  # our Gmail id, for tracing only
    subject: str = ""
    from_name: str | None = None
    from_addr: str | None = None
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    sent_at: datetime | None = None
    body_text: str = ""  # the newest reply (quoted history and signature removed)
    full_text: str | None = None  # the whole text body, when available
    headers: dict[str, str] = Field(default_factory=dict)  # List-Id, List-Unsubscribe, ...
    user_email: str | None = None  # the mailbox owner
    sender_stats: SenderStats | None = None
    has_attachments: bool = False
    has_calendar_invite: bool = False  # a text/calendar part (an invitation or an update)
    label_ids: list[str] = Field(default_factory=list)


class Usage(BaseModel):
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False


class Classification(BaseModel):
    category: Category
    category_confidence: float = Field(ge=0, le=1)
    meeting_request: bool = False
    cold_outreach: bool = False
    has_deadline: bool = False
    flag_confidences: dict[str, float] = Field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    reason: str = ""  # which rule matched or which model decided, in words
    model: str = ""  # e.g. "local:clf-2026.11", "rule:12", "openai:gpt-4o-mini"
    scores: dict[str, float] = Field(default_factory=dict)  # per-category probabilities
    usage: Usage | None = None


class ExtractedTime(BaseModel):
    text: str  # the span it came from
    start: datetime | None = None
    end: datetime | None = None
    duration_minutes: int | None = None
    timezone: str | None = None


class Extraction(BaseModel):
    meeting_request: bool = False
    proposed_times: list[ExtractedTime] = Field(default_factory=list)
    dates: list[ExtractedTime] = Field(default_factory=list)
    deadlines: list[ExtractedTime] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)  # questions addressed to the user
    asks: list[str] = Field(default_factory=list)  # requests/asks addressed to the user
    people: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)


class StyleProfile(BaseModel):
    """The user's writing habits, learned from their sent mail and their edits."""

    greeting: str | None = None  # e.g. "Hi {first_name},"
    closing: str | None = None  # e.g. "Best,"
    signature: str | None = None  # e.g. "Dana"
    typical_words: int = 60
    uses_first_names: bool = True
    samples: list[str] = Field(default_factory=list)  # short excerpts of the user's own replies
    # Learned from the user's edits (issue 13): phrases the user always removes, and a cap
    # on length for this recipient.
    avoid_phrases: list[str] = Field(default_factory=list)
    max_words: int | None = None


class TimeSlot(BaseModel):
    start: datetime
    end: datetime


class DraftRequest(BaseModel):
    email: EmailInput  # the message being answered
    thread: list[EmailInput] = Field(default_factory=list)  # earlier messages, oldest first
    style: StyleProfile = Field(default_factory=StyleProfile)
    user_name: str | None = None
    user_timezone: str = "UTC"
    available_slots: list[TimeSlot] | None = None  # None = calendar not connected
    # The zone the sender named ("3pm ET"); offered times are shown in it, and in
    # ``user_timezone`` as well when the two differ (issue 10).
    requester_timezone: str | None = None
    # Regenerate from the approval queue: the user's instruction ("shorter", "decline
    # politely"; trusted, typed by the user) and the suggestion it replaces, which the new
    # one must not repeat word for word.
    instruction: str | None = Field(default=None, max_length=500)
    previous_body: str | None = None


class ProposedAction(BaseModel):
    """Something a model suggests doing. Never executed without the user's approval."""

    kind: str  # must be in llm.actions.ALLOWED_ACTIONS to even be shown
    params: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = True


class DraftResult(BaseModel):
    should_draft: bool
    body: str = ""
    intent: str = ""  # acknowledge | confirm | decline | propose_times | ask_detail | answer | ...
    confidence: float = Field(default=0.0, ge=0, le=1)
    reason: str = ""
    model: str = ""
    proposed_actions: list[ProposedAction] = Field(default_factory=list)
    usage: Usage | None = None


class IntelligenceTier(Protocol):
    """A tier that can think about mail. ``local`` and the LLM chain both implement it."""

    name: str

    def classify(self, email: EmailInput) -> Classification:
        """Category, flags and priority, with confidences and a reason."""
        ...

    def extract(self, email: EmailInput) -> Extraction:
        """Dates, meeting requests, asks, deadlines, people and organisations."""
        ...

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        """A grounded reply in the user's voice, or ``should_draft=False``."""
        ...

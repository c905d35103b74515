"""A small deterministic intelligence tier for tests (headers and keywords), standing in for
the local tier so the pipeline's tests do not depend on a trained model."""

from __future__ import annotations

from secretary.llm.schemas import (
    Category,
    Classification,
    DraftRequest,
    DraftResult,
    EmailInput,
    Extraction,
    Priority,
    Usage,
)


class KeywordTier:
    name = "keyword"

    def __init__(self) -> None:
        self.classified: list[str | None] = []

    def classify(self, email: EmailInput) -> Classification:
        self.classified.append(email.message_id)
        text = f"{email.subject}\n{email.body_text}".lower()
        if "List-Id" in email.headers or "List-Unsubscribe" in email.headers:
            category = Category.NEWSLETTER
        elif "verify your account" in text:
            category = Category.SPAM
        elif "?" in text or "please" in text:
            category = Category.NEEDS_REPLY
        else:
            category = Category.FYI
        return Classification(
            category=category,
            category_confidence=0.9,
            meeting_request="meet" in text,
            has_deadline="by friday" in text,
            priority=Priority.HIGH if "urgent" in text else Priority.NORMAL,
            reason="keywords",
            model="keyword:test",
        )

    def extract(self, email: EmailInput) -> Extraction:
        return Extraction()

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        return DraftResult(
            should_draft=True,
            body="Thanks for your note, I will get back to you shortly.\n\nAlex",
            intent="acknowledge",
            confidence=0.8,
            model="keyword:test",
            usage=Usage(provider="keyword", model="test", input_tokens=12, output_tokens=14),
        )

from __future__ import annotations

from secretary.llm.schemas import Category, Classification, Priority
from secretary.triage.rules import RuleOutcome
from secretary.triage.steps.decide import decide

LABELS = {"needs_reply": "Secretary/Needs reply", "spam": "Secretary/Spam"}


def model(category: Category, **kw: object) -> Classification:
    return Classification.model_validate(
        {"category": category, "category_confidence": 0.7, "model": "m", "reason": "r", **kw}
    )


def test_model_decides_when_no_rule_sets_the_category() -> None:
    d = decide(
        model(Category.NEEDS_REPLY, meeting_request=True), RuleOutcome(), category_labels=LABELS
    )
    assert d.category is Category.NEEDS_REPLY
    assert d.should_draft
    assert d.meeting_request
    assert d.labels == ["Secretary/Needs reply"]
    assert d.model == "m"


def test_rule_category_wins_with_full_confidence_and_names_the_rule() -> None:
    rules = RuleOutcome(matched_ids=[7], category=Category.FYI, labels=["Boss"])
    d = decide(model(Category.NEEDS_REPLY), rules, category_labels=LABELS)
    assert d.category is Category.FYI
    assert d.confidence == 1.0
    assert d.model == "rule:7"
    assert "rule 7" in d.reason
    assert not d.should_draft
    assert d.labels == ["Boss"]


def test_draft_overrides_and_spam_is_never_drafted() -> None:
    always = RuleOutcome(matched_ids=[1], draft="always")
    assert decide(model(Category.FYI), always, category_labels=LABELS).should_draft
    never = RuleOutcome(matched_ids=[1], draft="never", priority=Priority.URGENT)
    d = decide(model(Category.NEEDS_REPLY), never, category_labels=LABELS)
    assert not d.should_draft
    assert d.priority is Priority.URGENT
    assert not decide(model(Category.SPAM), always, category_labels=LABELS).should_draft


def test_without_any_classifier_nothing_is_drafted() -> None:
    d = decide(None, RuleOutcome(), category_labels=LABELS)
    assert d.category is Category.FYI
    assert not d.should_draft

"""Merge the user's rules with the model's classification into one triage decision.

Rules come first: a rule that sets the category decides it (confidence 1, reason names the
rule); the model fills in whatever the rules left open. Spam is never drafted for, even
when a rule says "always draft", because email content must not be able to earn a reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from secretary.llm.schemas import Category, Classification, Priority
from secretary.triage.rules import RuleOutcome


@dataclass(frozen=True)
class Decision:
    category: Category
    priority: Priority
    confidence: float
    meeting_request: bool
    cold_outreach: bool
    has_deadline: bool
    reason: str
    model: str
    matched_rule_ids: list[int]
    draft_decision: str  # auto | never | always
    should_draft: bool
    labels: list[str] = field(default_factory=list)
    archive: bool = False
    scores: dict[str, float] = field(default_factory=dict)


def decide(
    classification: Classification | None,
    rules: RuleOutcome,
    *,
    category_labels: dict[str, str],
) -> Decision:
    if rules.category is not None:
        category = rules.category
        confidence = 1.0
        reason = f"rule {rules.matched_ids[0]} set the category"
        model = f"rule:{rules.matched_ids[0]}"
    elif classification is not None:
        category = classification.category
        confidence = classification.category_confidence
        reason = classification.reason
        model = classification.model
    else:  # no tier configured and no rule decided: keep it visible, draft nothing
        category, confidence, reason, model = Category.FYI, 0.0, "no classifier available", ""
    if rules.matched_ids and rules.category is None:
        reason = f"{reason}; rules {', '.join(map(str, rules.matched_ids))} matched"
    priority = rules.priority or (classification.priority if classification else Priority.NORMAL)
    draft_decision = rules.draft or "auto"
    if category == Category.SPAM or draft_decision == "never":
        should_draft = False
    elif draft_decision == "always":
        should_draft = True
    else:
        should_draft = category == Category.NEEDS_REPLY
    labels: list[str] = []
    category_label = category_labels.get(category.value)
    if category_label:
        labels.append(category_label)
    labels += [label for label in rules.labels if label not in labels]
    return Decision(
        category=category,
        priority=priority,
        confidence=confidence,
        meeting_request=bool(classification and classification.meeting_request),
        cold_outreach=bool(classification and classification.cold_outreach),
        has_deadline=bool(classification and classification.has_deadline),
        reason=reason,
        model=model,
        matched_rule_ids=list(rules.matched_ids),
        draft_decision=draft_decision,
        should_draft=should_draft,
        labels=labels,
        archive=rules.archive,
        scores=dict(classification.scores) if classification else {},
    )

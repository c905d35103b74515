"""Pure rule matching: values in, values out. The preview and the pipeline share it, which is
what makes "this rule would have matched these 23 messages" exact.

User patterns run against untrusted mail, so regular expressions use the ``regex`` module
with a timeout: a catastrophic pattern fails that rule instead of hanging a worker.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import regex

from secretary.llm.schemas import Category, Priority
from secretary.triage.schemas import RuleActions, RuleConditions

PATTERN_TIMEOUT_SECONDS = 0.05
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})


@dataclass(frozen=True)
class MailFacts:
    """What rules can see of one message (already parsed; addresses lower-cased)."""

    from_addr: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    list_id: str | None = None
    list_unsubscribe: str | None = None
    precedence: str | None = None
    has_attachments: bool = False
    labels: frozenset[str] = frozenset()  # label ids and names, lower-cased

    @property
    def sender_domain(self) -> str:
        return self.from_addr.rpartition("@")[2]

    @property
    def is_list(self) -> bool:
        return bool(
            self.list_id
            or self.list_unsubscribe
            or (self.precedence or "").strip().lower() in BULK_PRECEDENCE
        )


@dataclass(frozen=True)
class RuleSpec:
    """``conditions`` may be None for a rule written only in plain English (``instruction``);
    a rule with both matches only when both do."""

    id: int
    conditions: RuleConditions | None
    actions: RuleActions
    stop: bool = False
    instruction: str | None = None


@dataclass
class RuleOutcome:
    matched_ids: list[int] = field(default_factory=list)
    category: Category | None = None
    priority: Priority | None = None
    labels: list[str] = field(default_factory=list)
    archive: bool = False
    draft: str | None = None  # "never" | "always" | None
    # Rules whose plain-English condition had no decision (no LLM, or the LLM failed): they
    # never match by guess. rule id -> why, for the stored reason and the logs.
    skipped: dict[int, str] = field(default_factory=dict)

    @property
    def decided_category(self) -> bool:
        return self.category is not None


def _glob_any(patterns: Iterable[str], values: Iterable[str]) -> bool:
    vals = [v.lower() for v in values if v]
    return any(fnmatch.fnmatchcase(v, p.strip().lower()) for p in patterns for v in vals)


def _search(pattern: str, text: str) -> bool:
    try:
        return (
            regex.search(pattern, text, flags=regex.IGNORECASE, timeout=PATTERN_TIMEOUT_SECONDS)
            is not None
        )
    except TimeoutError:
        return False


def _domain_matches(domains: Iterable[str], sender_domain: str) -> bool:
    sd = sender_domain.lower()
    for d in domains:
        d = d.strip().lower().lstrip("@")
        if d and (sd == d or sd.endswith("." + d)):
            return True
    return False


def condition_results(conditions: RuleConditions, facts: MailFacts) -> list[bool]:
    """One boolean per condition that is set, in a fixed order."""
    results: list[bool] = []
    if conditions.from_ is not None:
        results.append(_glob_any(conditions.from_, [facts.from_addr]))
    if conditions.to is not None:
        results.append(_glob_any(conditions.to, [*facts.to, *facts.cc]))
    if conditions.domain is not None:
        results.append(_domain_matches(conditions.domain, facts.sender_domain))
    if conditions.subject is not None:
        results.append(_search(conditions.subject, facts.subject))
    if conditions.body is not None:
        results.append(_search(conditions.body, facts.body))
    if conditions.is_list is not None:
        results.append(facts.is_list == conditions.is_list)
    if conditions.has_attachment is not None:
        results.append(facts.has_attachments == conditions.has_attachment)
    if conditions.label is not None:
        results.append(any(label.strip().lower() in facts.labels for label in conditions.label))
    return results


def matches(conditions: RuleConditions, facts: MailFacts) -> bool:
    results = condition_results(conditions, facts)
    if not results:
        return False
    return all(results) if conditions.match == "all" else any(results)


NO_DECISION = "plain-English condition not evaluated"


def structured_match(rule: RuleSpec, facts: MailFacts) -> bool:
    """The structured half of a rule; a plain-English-only rule has none and passes it."""
    if rule.conditions is None:
        return rule.instruction is not None
    return matches(rule.conditions, facts)


def evaluate(
    rules: Sequence[RuleSpec],
    facts: MailFacts,
    decisions: Mapping[int, bool | str] | None = None,
) -> RuleOutcome:
    """Apply rules in order. The first rule to set a field wins it; labels accumulate.

    ``decisions`` holds, per rule id, the verdict on its plain-English ``instruction``
    (computed by the caller, which may ask an LLM): True/False, or a string saying why no
    verdict exists. A rule with an instruction and no True verdict does not match.
    """
    outcome = RuleOutcome()
    decided = decisions or {}
    for rule in rules:
        if not structured_match(rule, facts):
            continue
        if rule.instruction is not None:
            verdict = decided.get(rule.id, NO_DECISION)
            if isinstance(verdict, str):
                outcome.skipped[rule.id] = verdict
                continue
            if not verdict:
                continue
        outcome.matched_ids.append(rule.id)
        a = rule.actions
        if a.category is not None and outcome.category is None:
            outcome.category = a.category
        if a.priority is not None and outcome.priority is None:
            outcome.priority = a.priority
        for label in a.labels:
            if label not in outcome.labels:
                outcome.labels.append(label)
        outcome.archive = outcome.archive or a.archive
        if a.draft is not None and outcome.draft is None:
            outcome.draft = a.draft
        if rule.stop:
            break
    return outcome

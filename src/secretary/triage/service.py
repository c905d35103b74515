"""Triage use cases: enqueue new mail, classify, label, manage and preview rules.

Services ``flush()`` and never commit; tasks and request handlers own the transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import String, cast, func, select, update
from sqlalchemy.orm import Session

from secretary.config import Settings
from secretary.db.models import Message, Rule, TaskRecord, TaskStatus, User
from secretary.errors import BadRequest, NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.llm.schemas import Classification, IntelligenceTier
from secretary.triage import plain_english
from secretary.triage import repository as repo
from secretary.triage.rules import RuleSpec, evaluate, structured_match
from secretary.triage.schemas import (
    PreviewMessage,
    RuleActions,
    RuleConditions,
    RuleIn,
    RulePreview,
)
from secretary.triage.steps import outreach
from secretary.triage.steps.decide import Decision, decide
from secretary.triage.steps.facts import email_input, mail_facts
from secretary.worker import repository as tasks_repo

log = get_logger(__name__)

CLASSIFY_TASK = "triage.classify"

PROCESSED = Counter(
    "secretary_triage_processed_total",
    "Messages triaged, by category and source",
    ["category", "source"],
)


# A preview of a plain-English rule costs one LLM call per candidate message: bounded.
PREVIEW_MAX_LLM_CALLS = 200


class MessageNotFound(NotFound):
    code = "message_not_found"


class RuleNotFound(NotFound):
    code = "rule_not_found"


def resolve_user_id(session: Session, user_id: int | None) -> int:
    """The given user, or the only user of a single-user install."""
    if user_id is not None:
        return user_id
    ids = session.scalars(select(User.id).limit(2)).all()
    if len(ids) != 1:
        raise BadRequest(
            "pass user_id: this install has several users (or none)", code="user_required"
        )
    return int(ids[0])


# -- entry: new mail ----------------------------------------------------------------------


def enqueue_new_messages(
    session: Session, account_id: int, message_ids: Sequence[int], *, settings: Settings
) -> list[int]:
    """Create ``triage.classify`` records for new, recent messages (same transaction).

    Only messages newer than ``triage.max_age_days`` enter the pipeline, so a backfill of
    old mail never drafts hundreds of replies. Dedupe keys make a replay a no-op.
    """
    if not message_ids:
        return []
    newer_than = utcnow() - timedelta(days=settings.triage.max_age_days)
    created: list[int] = []
    origin = utcnow()
    for message_id, user_id in repo.messages_recent(session, message_ids, newer_than=newer_than):
        rid = tasks_repo.enqueue(
            session,
            CLASSIFY_TASK,
            {"message_id": message_id},
            dedupe_key=f"{CLASSIFY_TASK}:{message_id}",
            user_id=user_id,
            message_id=message_id,
            origin_at=origin,
        )
        if rid is not None:
            created.append(rid)
    return created


def reprocess(session: Session, message_id: int) -> int:
    """Run the pipeline again for one message (user-triggered: the ``priority`` queue)."""
    message = session.get(Message, message_id)
    if message is None:
        raise MessageNotFound(f"message {message_id} not found")
    record_id = session.scalar(
        select(TaskRecord.id).where(TaskRecord.dedupe_key == f"{CLASSIFY_TASK}:{message_id}")
    )
    if record_id is not None:
        # Free the downstream stages' dedupe keys so that the new run can chain through
        # them; their old records stay for the history. Drafts stay idempotent on their own
        # (an existing suggestion is reused, and a human edit is never overwritten).
        session.execute(
            update(TaskRecord)
            .where(
                TaskRecord.message_id == message_id,
                TaskRecord.name != CLASSIFY_TASK,
                TaskRecord.status.in_([TaskStatus.SUCCEEDED, TaskStatus.DEAD]),
            )
            .values(dedupe_key=TaskRecord.dedupe_key + ":done:" + cast(TaskRecord.id, String))
        )
        tasks_repo.requeue(session, int(record_id))
        return int(record_id)
    rid = tasks_repo.enqueue(
        session,
        CLASSIFY_TASK,
        {"message_id": message_id},
        dedupe_key=f"{CLASSIFY_TASK}:{message_id}",
        user_id=message.user_id,
        message_id=message_id,
        origin_at=utcnow(),
        queue="priority",
    )
    assert rid is not None  # the dedupe key was just checked inside this transaction
    return rid


# -- classify -----------------------------------------------------------------------------


def rule_specs(rules: Sequence[Rule]) -> list[RuleSpec]:
    specs: list[RuleSpec] = []
    for rule in rules:
        try:
            specs.append(
                RuleSpec(
                    id=rule.id,
                    # ``{}``: a plain-English-only rule (never an always-matching one).
                    conditions=RuleConditions.model_validate(rule.conditions)
                    if rule.conditions or not rule.instruction
                    else None,
                    actions=RuleActions.model_validate(rule.actions),
                    stop=rule.stop,
                    instruction=(rule.instruction or "").strip() or None,
                )
            )
        except ValueError:
            log.warning("rule_invalid_skipped", rule_id=rule.id)
    return specs


def _share_vector(
    session: Session, message: Message, email: Any, tier: IntelligenceTier, *, before: bool
) -> None:
    """Compute each message's embedding once (issue 9): before classifying, hand the local
    tier the vector search already stored; after, store the one the tier computed."""
    local: Any = getattr(tier, "local", tier)  # a ProviderChain ends in the local tier
    if not hasattr(local, "vector_for"):
        return
    from secretary.search import indexer as search_index

    if before:
        stored = search_index.classification_vector(session, message)
        if stored is not None:
            local.remember_vector(email, stored)
        return
    vector = local.vector_for(email)
    if vector is not None:
        search_index.store_classification_vector(session, message, vector)


def classify_message(
    session: Session,
    message_id: int,
    *,
    tier: IntelligenceTier | None,
    settings: Settings,
) -> Decision:
    """Rules first, then the tier for whatever the rules left open; store the verdict."""
    message = session.get(Message, message_id)
    if message is None:
        raise MessageNotFound(f"message {message_id} not found")
    account = repo.account(session, message.account_id)
    user_email = account.email if account else None
    facts = mail_facts(message, label_names=repo.label_names(session, message.account_id))
    specs = rule_specs(repo.list_rules(session, message.user_id, enabled_only=True))
    history = outreach.sender_history(session, message)
    email = email_input(message, user_email=user_email, sender_stats=history.sender_stats())
    decisions = plain_english.decide_instructions(specs, facts, email, tier)
    outcome = evaluate(specs, facts, decisions)
    classification: Classification | None = None
    if outcome.category is None and tier is not None:
        _share_vector(session, message, email, tier, before=True)
        classification = tier.classify(email)
        _share_vector(session, message, email, tier, before=False)
    decision = decide(classification, outcome, category_labels=settings.triage.labels)
    if outcome.skipped:
        note = "; ".join(f"rule {rid} skipped: {why}" for rid, why in outcome.skipped.items())
        reason = f"{decision.reason} [{note}]" if decision.reason else note
        decision = dataclasses.replace(decision, reason=reason)
        log.info("rules_skipped", message_id=message.id, rule_ids=sorted(outcome.skipped))
    # Sender history (first contact, ever written to): cold outreach gets no draft (issue 13).
    decision, no_draft_reason = outreach.refine(session, message, decision, history=history)
    repo.upsert_result(
        session,
        {
            "user_id": message.user_id,
            "account_id": message.account_id,
            "message_id": message.id,
            "category": decision.category.value,
            "priority": decision.priority.value,
            "confidence": decision.confidence,
            "meeting_request": decision.meeting_request,
            "cold_outreach": decision.cold_outreach,
            "has_deadline": decision.has_deadline,
            "reason": decision.reason,
            "model": decision.model,
            "matched_rule_ids": decision.matched_rule_ids,
            "draft_decision": decision.draft_decision,
            "labels_to_apply": decision.labels,
            "archive": decision.archive,
            "scores": decision.scores,
            "no_draft_reason": no_draft_reason,
            "classified_at": utcnow(),
        },
    )
    PROCESSED.labels(decision.category.value, "rule" if outcome.category else "model").inc()
    log.info(
        "message_triaged",
        message_id=message.id,
        category=decision.category.value,
        priority=decision.priority.value,
        model=decision.model,
        should_draft=decision.should_draft,
    )
    return decision


def apply_labels(session: Session, message_id: int, *, gmail: Any) -> bool:
    """Label (and maybe archive) the message in Gmail once; False if already done.

    ``gmail`` is a ``drafting.gmail.GmailPort``. Adding a label Gmail already shows is a
    no-op there, so a crash between the call and our commit repeats nothing visible.
    """
    result = repo.result_for_message(session, message_id)
    message = session.get(Message, message_id)
    if result is None or message is None:
        raise MessageNotFound(f"no triage result for message {message_id}")
    if result.labels_applied_at is not None:
        return False
    add: list[str] = []
    if result.labels_to_apply:
        ids = gmail.ensure_labels(result.labels_to_apply)
        add = [ids[name] for name in result.labels_to_apply]
    remove = ["INBOX"] if result.archive else []
    if add or remove:
        gmail.modify_message(message.gmail_id, add=add, remove=remove)
    result.labels_applied_at = utcnow()
    session.flush()
    return True


# -- rules --------------------------------------------------------------------------------


def list_rules(session: Session, user_id: int) -> Sequence[Rule]:
    return repo.list_rules(session, user_id)


def _conditions_json(data: RuleIn) -> dict[str, Any]:
    if data.conditions is None:
        return {}  # plain English only
    return data.conditions.model_dump(mode="json", by_alias=True, exclude_none=True)


def create_rule(session: Session, user_id: int, data: RuleIn) -> Rule:
    rule = Rule(
        user_id=user_id,
        name=data.name,
        position=data.position
        if data.position is not None
        else repo.next_rule_position(session, user_id),
        enabled=data.enabled,
        stop=data.stop,
        conditions=_conditions_json(data),
        actions=data.actions.model_dump(mode="json", exclude_none=True),
        instruction=data.instruction,
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, user_id: int, rule_id: int, data: RuleIn) -> Rule:
    rule = repo.get_rule(session, user_id, rule_id)
    if rule is None:
        raise RuleNotFound(f"rule {rule_id} not found")
    rule.name = data.name
    if data.position is not None:
        rule.position = data.position
    rule.enabled = data.enabled
    rule.stop = data.stop
    rule.conditions = _conditions_json(data)
    rule.actions = data.actions.model_dump(mode="json", exclude_none=True)
    rule.instruction = data.instruction
    session.flush()
    return rule


def move_rule(session: Session, user_id: int, rule_id: int, *, offset: int) -> Sequence[Rule]:
    """Move a rule ``offset`` places up (negative) or down in evaluation order, renumbering
    every rule 0..n-1 so positions stay dense and unique. Returns the new order."""
    rules = list(repo.list_rules(session, user_id))
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        raise RuleNotFound(f"rule {rule_id} not found")
    target = max(0, min(len(rules) - 1, index + offset))
    rules.insert(target, rules.pop(index))
    for position, rule in enumerate(rules):
        rule.position = position
    session.flush()
    return rules


def get_rule(session: Session, user_id: int, rule_id: int) -> Rule:
    rule = repo.get_rule(session, user_id, rule_id)
    if rule is None:
        raise RuleNotFound(f"rule {rule_id} not found")
    return rule


def delete_rule(session: Session, user_id: int, rule_id: int) -> None:
    rule = repo.get_rule(session, user_id, rule_id)
    if rule is None:
        raise RuleNotFound(f"rule {rule_id} not found")
    session.delete(rule)
    session.flush()


def preview_rule(
    session: Session,
    user_id: int,
    conditions: RuleConditions | None,
    *,
    instruction: str | None = None,
    tier: IntelligenceTier | None = None,
    since: datetime | None = None,
    limit: int = 50,
    max_llm_calls: int = PREVIEW_MAX_LLM_CALLS,
) -> RulePreview:
    """Which past messages the rule matches: the same ``evaluate`` the pipeline runs, over
    every stored message of the user (newest first), so the count is exact, not estimated.

    A plain-English ``instruction`` is judged by the LLM tier for each message the
    conditions let through (one call each, cached); without an LLM the preview says it
    could not evaluate it instead of reporting zero matches as if it had. At most
    ``max_llm_calls`` messages are judged (newest first); the note says where it stopped.
    """
    instruction = (instruction or "").strip() or None
    if conditions is None and instruction is None:
        raise BadRequest("give conditions, a plain-English instruction, or both")
    if instruction is not None:
        why_not = plain_english.unavailable_reason(tier)
        if why_not is not None:
            return RulePreview(
                matched=0, scanned=0, messages=[], instruction_evaluated=False, note=why_not
            )
    # Any valid action: only whether the rule matches matters here.
    spec = RuleSpec(
        id=0, conditions=conditions, actions=RuleActions(archive=True), instruction=instruction
    )
    label_cache: dict[int, dict[str, str]] = {}
    matched = 0
    scanned = 0
    failed = 0
    judged = 0
    shown: list[PreviewMessage] = []
    account_emails: dict[int, str | None] = {}
    capped = False
    for message in repo.iter_user_messages(session, user_id, since=since):
        names = label_cache.get(message.account_id)
        if names is None:
            names = label_cache[message.account_id] = repo.label_names(session, message.account_id)
        facts = mail_facts(message, label_names=names)
        decisions: dict[int, bool | str] = {}
        if instruction is not None and structured_match(spec, facts):
            if judged >= max_llm_calls:
                capped = True
                break
            judged += 1
            if message.account_id not in account_emails:
                account = repo.account(session, message.account_id)
                account_emails[message.account_id] = account.email if account else None
            email = email_input(message, user_email=account_emails[message.account_id])
            decisions = plain_english.decide_instructions([spec], facts, email, tier)
        scanned += 1
        outcome = evaluate([spec], facts, decisions)
        failed += bool(outcome.skipped)
        if outcome.matched_ids:
            matched += 1
            if len(shown) < limit:
                shown.append(
                    PreviewMessage(
                        id=message.id,
                        gmail_id=message.gmail_id,
                        subject=message.subject,
                        from_addr=message.from_addr,
                        internal_date=message.internal_date,
                    )
                )
    notes = []
    if failed:
        notes.append(f"{plain_english.LLM_FAILED} for {failed} of {scanned} messages")
    if capped:
        notes.append(
            f"stopped after the LLM judged {judged} messages: counts cover the newest "
            f"{scanned} only"
        )
    return RulePreview(
        matched=matched,
        scanned=scanned,
        messages=shown,
        instruction_evaluated=(not failed) if instruction is not None else None,
        note="; ".join(notes) or None,
    )


def count_results(session: Session, user_id: int) -> dict[str, int]:
    from secretary.db.models import TriageResult

    rows = session.execute(
        select(TriageResult.category, func.count())
        .where(TriageResult.user_id == user_id)
        .group_by(TriageResult.category)
    ).all()
    return {str(c): int(n) for c, n in rows}

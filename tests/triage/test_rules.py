from __future__ import annotations

import pytest
from pydantic import ValidationError

from secretary.llm.schemas import Category, Priority
from secretary.triage.rules import MailFacts, RuleSpec, evaluate, matches
from secretary.triage.schemas import RuleActions, RuleConditions

FACTS = MailFacts(
    from_addr="billing@mail.vendor.com",
    to=("alex@example.com",),
    cc=("team@example.com",),
    subject="Your invoice #4411 is ready",
    body="Amount due: $120. Pay by Friday.",
    list_id=None,
    list_unsubscribe="<mailto:unsub@vendor.com>",
    has_attachments=True,
    labels=frozenset({"label_7", "finance", "inbox"}),
)


def cond(**kwargs: object) -> RuleConditions:
    return RuleConditions.model_validate(kwargs)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"from": ["billing@*"]}, True),
        ({"from": ["BILLING@MAIL.VENDOR.COM"]}, True),
        ({"from": ["*@other.com"]}, False),
        ({"to": ["team@example.com"]}, True),  # Cc counts as addressed
        ({"to": ["boss@example.com"]}, False),
        ({"domain": ["vendor.com"]}, True),  # subdomains included
        ({"domain": ["@mail.vendor.com"]}, True),
        ({"domain": ["endor.com"]}, False),  # not a suffix match on the label boundary
        ({"subject": r"invoice #\d+"}, True),
        ({"subject": "receipt"}, False),
        ({"body": "pay by friday"}, True),
        ({"is_list": True}, True),
        ({"is_list": False}, False),
        ({"has_attachment": True}, True),
        ({"has_attachment": False}, False),
        ({"label": ["Finance"]}, True),
        ({"label": ["label_7"]}, True),
        ({"label": ["travel"]}, False),
        ({"from": ["billing@*"], "subject": "receipt"}, False),
        ({"match": "any", "from": ["x@y.z"], "subject": "invoice"}, True),
        ({"match": "any", "from": ["x@y.z"], "subject": "receipt"}, False),
    ],
)
def test_conditions(conditions: dict[str, object], expected: bool) -> None:
    assert matches(cond(**conditions), FACTS) is expected


def test_precedence_bulk_counts_as_a_list() -> None:
    assert MailFacts(precedence="Bulk").is_list
    assert not MailFacts(precedence="first-class").is_list


def test_catastrophic_pattern_fails_the_condition_instead_of_hanging() -> None:
    facts = MailFacts(subject="a" * 40 + "!")
    assert matches(cond(subject=r"^(a+)+$"), facts) is False


def test_rules_apply_in_order_first_setter_wins_and_labels_accumulate() -> None:
    rules = [
        RuleSpec(1, cond(domain=["vendor.com"]), RuleActions(labels=["Vendors"], draft="never")),
        RuleSpec(
            2,
            cond(subject="invoice"),
            RuleActions(category=Category.FYI, priority=Priority.HIGH, labels=["Money"]),
        ),
        RuleSpec(3, cond(body="due"), RuleActions(category=Category.SPAM, draft="always")),
        RuleSpec(4, cond(from_=["nobody@x.y"]), RuleActions(archive=True)),
    ]
    outcome = evaluate(rules, FACTS)
    assert outcome.matched_ids == [1, 2, 3]
    assert outcome.category is Category.FYI
    assert outcome.priority is Priority.HIGH
    assert outcome.labels == ["Vendors", "Money"]
    assert outcome.draft == "never"
    assert outcome.archive is False


def test_stop_ends_evaluation() -> None:
    rules = [
        RuleSpec(1, cond(domain=["vendor.com"]), RuleActions(archive=True), stop=True),
        RuleSpec(2, cond(subject="invoice"), RuleActions(category=Category.FYI)),
    ]
    outcome = evaluate(rules, FACTS)
    assert outcome.matched_ids == [1]
    assert outcome.category is None
    assert outcome.archive is True


def test_empty_or_invalid_rules_are_rejected() -> None:
    with pytest.raises(ValidationError):
        RuleConditions.model_validate({})
    with pytest.raises(ValidationError):
        RuleConditions.model_validate({"subject": "("})
    with pytest.raises(ValidationError):
        RuleActions.model_validate({})
    with pytest.raises(ValidationError):
        RuleConditions.model_validate({"sender": ["x"]})

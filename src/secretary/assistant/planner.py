"""Intent → plan: a DAG of steps with dependencies, budgets and fallbacks. Pure.

Independent look-ups (mail, calendar, Drive) have no edges between them, so the executor
runs them concurrently. A step that needs another's output says so in ``depends_on``:
"is anything on my calendar that day?" reads the day from the mail step's items, and a
draft is written from what the mail step found. Only the intent shapes the plan; retrieved
content never adds a step, which is one half of why an email cannot steer the assistant
(the other half is that actions are proposals waiting for approval).
"""

from __future__ import annotations

import re

from secretary.assistant.schemas import Intent, Operation, Plan, Service, Step

_KIND = {Service.MAIL: "email", Service.CALENDAR: "event", Service.DRIVE: "file"}
_FALLBACK = {
    Service.MAIL: "mail was not searched",
    Service.CALENDAR: "related events were not checked",
    Service.DRIVE: "Drive files were not searched",
}
_RESPOND = re.compile(r"\b(?P<verb>accept|decline|tentative|rsvp)\b", re.I)
_MOVE = re.compile(r"\b(?:move|reschedule|postpone)\b", re.I)
_SHARE = re.compile(r"\bshare\b", re.I)
_WHEN = re.compile(r"\b(?:when|what time|which day)\b", re.I)


def plan_for(intent: Intent) -> Plan:
    """The steps that answer ``intent``; the last step synthesises the answer."""
    steps: list[Step] = []
    query = _query(intent)
    time_range = intent.time_range.model_dump(mode="json") if intent.time_range else None
    services = list(intent.services)
    if (
        intent.operation in (Operation.FIND, Operation.SUMMARIZE)
        and intent.keywords
        and intent.target not in ("agenda", "inbox")  # "what does my Wednesday look like?"
    ):
        # Facts live in mail and documents as often as in the service the question names
        # ("the agenda of the on-site, and when is it on my calendar?"): look there too,
        # and in the calendar when the question asks when something is.
        extra = [Service.MAIL, Service.DRIVE]
        if _WHEN.search(intent.question):
            extra.append(Service.CALENDAR)
        services += [s for s in extra if s not in services]

    if intent.target == "next_event":
        steps.append(
            Step(
                id="calendar_next",
                agent="calendar",
                action="next",
                args={"query": query, "time_range": time_range},
                max_rows=1,
                fallback=_FALLBACK[Service.CALENDAR],
            )
        )
        services = [s for s in services if s is not Service.CALENDAR]

    for service in services:
        action = "count" if intent.operation is Operation.COUNT else "search"
        if action == "count" and intent.target == "amount":
            action = "search"
        steps.append(
            Step(
                id=f"{service.value}_{action}",
                agent=service.value,
                action=action,
                args={
                    "query": query,
                    "kind": _KIND[service],
                    "time_range": time_range,
                    "people": intent.entities.people + intent.entities.emails,
                },
                max_rows=200 if action == "count" else 8,
                fallback=_FALLBACK[service],
            )
        )

    searches = [step.id for step in steps if step.action == "search"]
    if intent.same_day and searches:
        # The day comes from the best match among every search (a flight in mail, the
        # renewal call on the calendar), so this step waits for all of them.
        steps.append(
            Step(
                id="calendar_same_day",
                agent="calendar",
                action="on_dates_of",
                args={"of": searches},
                depends_on=searches,
                max_rows=20,
                fallback=_FALLBACK[Service.CALENDAR],
            )
        )

    searched = [step.id for step in steps]
    action_step = _action_step(intent, searched)
    if action_step is not None:
        steps.append(action_step)

    steps.append(
        Step(
            id="answer",
            agent="synthesis",
            action="answer",
            depends_on=[step.id for step in steps],
            budget_ms=1000,
        )
    )
    return Plan(steps=steps)


def _action_step(intent: Intent, searched: list[str]) -> Step | None:
    text = intent.question
    base = {"instruction": text}
    if intent.operation is Operation.DRAFT:
        source = "mail_search" if "mail_search" in searched else None
        return Step(
            id="propose_reply",
            agent="action",
            action="draft_email",
            args={**base, "from": source},
            depends_on=[source] if source else [],
            fallback="no draft was proposed",
        )
    if intent.operation is Operation.SCHEDULE:
        return Step(
            id="find_slots",
            agent="calendar",
            action="slots",
            args={**base, "people": intent.entities.people + intent.entities.emails},
            depends_on=[s for s in searched if s.startswith("calendar")],
            fallback="free time was not checked",
        )
    if intent.operation is Operation.UPDATE:
        event_source = next((s for s in searched if s.startswith("calendar")), None)
        if (m := _RESPOND.search(text)) and event_source:
            return Step(
                id="propose_response",
                agent="action",
                action="respond_to_invite",
                args={**base, "response": m["verb"].lower(), "from": event_source},
                depends_on=[event_source],
                fallback="no response was proposed",
            )
        if _MOVE.search(text) and event_source:
            return Step(
                id="propose_update",
                agent="action",
                action="update_event",
                args={**base, "from": event_source},
                depends_on=[event_source],
                fallback="no change was proposed",
            )
        file_source = "drive_search" if "drive_search" in searched else None
        if _SHARE.search(text) and file_source:
            return Step(
                id="propose_share",
                agent="action",
                action="share_file",
                args={**base, "from": file_source, "people": intent.entities.emails},
                depends_on=[file_source],
                fallback="no sharing was proposed",
            )
    return None


def _query(intent: Intent) -> str:
    """The retrieval query: content words and entities, no operator words."""
    parts = list(intent.keywords)
    for name in intent.entities.people + intent.entities.organizations:
        for word in name.lower().split():
            if word not in parts:
                parts.append(word)
    return " ".join(parts)


def validate(plan: Plan) -> None:
    """Raise ``ValueError`` unless the plan is a DAG whose edges name existing steps."""
    ids = [step.id for step in plan.steps]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate step ids")
    known: set[str] = set()
    for step in plan.steps:  # steps are listed in a topological order
        missing = [dep for dep in step.depends_on if dep not in known]
        if missing:
            raise ValueError(f"step {step.id} depends on unknown or later steps {missing}")
        known.add(step.id)

"""LLM-free reply drafter: a short, grounded answer to the asks the extractors found.

Each case is a small template filled only from facts in hand: the sender's name, the times
the sender proposed, the free slots the calendar gave us, the document the sender asked for.
It never states a price, a date or a promise that did not come from those inputs (the only
times it offers are ``DraftRequest.available_slots``), and when nothing in the mail needs an
answer it returns ``should_draft=False`` rather than filler. Wording follows the user's
``StyleProfile`` (greeting, closing, signature, length).
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from secretary.llm.local.extract import newest_text
from secretary.llm.schemas import (
    Category,
    Classification,
    DraftRequest,
    DraftResult,
    ExtractedTime,
    Extraction,
    StyleProfile,
    TimeSlot,
)

_MAX_SLOTS = 3
_THANKS = re.compile(r"^\W*(?:thanks?|thank you|many thanks|much appreciated|cheers)\b", re.I)
_INTRO = re.compile(
    r"\b(?:introduc(?:e|ing)(?: you)? to|i(?:'d| would) like you to meet|meet \w+|"
    r"connect(?:ing)? you(?: two| both)?(?: with)?|putting you in touch)\b",
    re.IGNORECASE,
)
_DOC = re.compile(
    r"\b(?:the |your |a |an |our )?(?P<doc>(?:signed |latest |final |updated |draft )?"
    r"(?:report|document|doc|file|deck|slides|presentation|contract|agreement|invoice|"
    r"spreadsheet|proposal|figures|numbers|summary|notes|minutes|cv|resume|copy|details|"
    r"estimate|quote|forecast|budget|plan|schedule|agenda|link))\b",
    re.IGNORECASE,
)
_SEND_VERB = re.compile(r"\b(?:send|share|forward|attach|provide|get me|pass along|email)\b", re.I)
_INTRO_NAME = re.compile(
    r"\b(?:introduce (?:you )?to|meet|connect(?:ing)? you with)\s+(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
)


def _first_name(name: str | None, addr: str | None) -> str | None:
    if name and "@" not in name:
        cleaned = name.replace('"', "").strip()
        if "," in cleaned:  # "Doe, Jane"
            cleaned = cleaned.split(",", 1)[1].strip()
        first = cleaned.split()[0] if cleaned.split() else ""
        if first.isalpha():
            return first.capitalize()
    if addr:
        # Only a "first.last@" address names a person; "mlk@", "info@" or "jsmith@" do not,
        # and "Hi Mlk," is worse than "Hi,".
        local = addr.split("@")[0]
        parts = [p for p in re.split(r"[._]", local) if p]
        first = parts[0] if len(parts) >= 2 else ""
        if first.isalpha() and len(first) > 1 and re.search(r"[aeiouy]", first, re.I):
            return first.capitalize()
    return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_slot(slot: TimeSlot, zone: ZoneInfo) -> str:
    start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
    day = f"{start:%A} {start.day} {start:%B}"
    return f"{day}, {start:%H:%M}–{end:%H:%M}"


_TIME_OF_DAY = re.compile(
    r"\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|\bnoon\b", re.I
)


def describe_slots(slots: list[TimeSlot], zones: list[ZoneInfo]) -> str:
    """Bullet lines, each in the first zone with the others in brackets when they differ."""
    if len(zones) == 1:  # the zone is named once, in the question above the list
        return "\n".join(f"- {format_slot(slot, zones[0])}" for slot in slots)
    lines = []
    for slot in slots:
        text = f"- {format_slot(slot, zones[0])} {zones[0].key}"
        others = [f"{format_slot(slot, z).split(', ', 1)[1]} {z.key}" for z in zones[1:]]
        lines.append(text + (f" ({'; '.join(others)})" if others else ""))
    return "\n".join(lines)


def _pick_slots(slots: list[TimeSlot]) -> list[TimeSlot]:
    """Up to three slots, preferring different days so the other side has real choice."""
    ordered = sorted(slots, key=lambda s: s.start)
    picked: list[TimeSlot] = []
    days: set[object] = set()
    for slot in ordered:
        if slot.start.date() not in days:
            picked.append(slot)
            days.add(slot.start.date())
        if len(picked) == _MAX_SLOTS:
            return picked
    for slot in ordered:
        if slot not in picked and len(picked) < _MAX_SLOTS:
            picked.append(slot)
    return sorted(picked, key=lambda s: s.start)


def _fits(proposed: ExtractedTime, slots: list[TimeSlot]) -> TimeSlot | None:
    if proposed.start is None:
        return None
    end = proposed.end or proposed.start + timedelta(minutes=proposed.duration_minutes or 30)
    for slot in slots:
        if slot.start <= proposed.start and end <= slot.end:
            return TimeSlot(start=proposed.start, end=end)
    return None


def _compose(
    style: StyleProfile, recipient: str | None, user_name: str | None, body: list[str]
) -> str:
    greeting = style.greeting or "Hi {first_name},"
    if "{first_name}" in greeting:
        greeting = greeting.replace("{first_name}", recipient) if recipient else "Hi,"
    closing = style.closing or "Best,"
    signature = style.signature or ((user_name or "").split()[0] if user_name else "")
    text = "\n\n".join([greeting, *body])
    return f"{text}\n\n{closing}\n{signature}".rstrip() + "\n"


# Spans worth echoing back to the sender: day words and times of day, not raw dates copied
# from headers or signatures ("12/28/99 04:42 PM") nor the bare "today"/"now".
_NUMERIC_DATE = re.compile(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}")
_UNSPEAKABLE = frozenset({"today", "now", "tonight", "later"})
_VAGUE = frozenset({"next week", "this week", "next month", "soon"})


def _speakable_times(times: list[ExtractedTime]) -> list[str]:
    spoken: list[str] = []
    for t in times:
        span = t.text.strip().strip(",.;")
        if not span or span.lower() in _UNSPEAKABLE or _NUMERIC_DATE.search(span):
            continue
        if span.lower() not in (s.lower() for s in spoken):
            spoken.append(span)
    # "next week" adds nothing when a day was named too ("next week … Tuesday").
    specific = [s for s in spoken if s.lower() not in _VAGUE]
    return specific or spoken


def _doc_asked(sentences: list[str]) -> str | None:
    for sentence in sentences:
        if _SEND_VERB.search(sentence):
            match = _DOC.search(sentence)
            if match:
                return match.group("doc").lower()
    return None


def draft_reply(
    request: DraftRequest, extraction: Extraction, classification: Classification, *, model: str
) -> DraftResult:
    """Pick the reply intent from the evidence, then fill that intent's template."""
    email = request.email
    if classification.category in (Category.SPAM, Category.NEWSLETTER, Category.NOTIFICATION):
        return DraftResult(
            should_draft=False,
            reason=f"{classification.category.value}: no reply expected",
            model=model,
        )
    zone = _zone(request.user_timezone)
    sender = _first_name(email.from_name, email.from_addr)
    asks = extraction.questions + extraction.asks
    text = newest_text(email.body_text or email.full_text or "")
    body: list[str] = []
    intent, confidence = "", 0.0

    # The extraction (newest text only) decides, not the classifier's flag: a forwarded thread
    # that mentions a meeting is not a request to meet.
    if extraction.meeting_request:
        slots = request.available_slots
        if slots is None:
            spoken = _speakable_times(extraction.proposed_times)
            if spoken:
                times = " or ".join(spoken[:2])
                # "we meet": the spoken times start with "on", and "suggesting on Tuesday"
                # reads as a template with a missing slot (issue 13).
                body.append(
                    f"Thanks for suggesting we meet {times}. Let me check my calendar and confirm."
                )
                intent, confidence = "acknowledge", 0.5
            elif extraction.proposed_times:
                body.append("Happy to meet. Let me check my calendar and come back with a time.")
                intent, confidence = "acknowledge", 0.5
            else:
                body.append("Happy to find a time. What days and times work best for you?")
                intent, confidence = "ask_detail", 0.6
        else:
            # Only a proposal with a time of day can be confirmed or turned down; "Tuesday or
            # Wednesday" and "next week" are answered with slots on those days.
            timed = [p for p in extraction.proposed_times if _TIME_OF_DAY.search(p.text)]
            fitting = [f for f in (_fits(p, slots) for p in timed) if f]
            if fitting:
                body.append(f"{format_slot(fitting[0], zone)} ({zone.key}) works for me.")
                intent, confidence = "confirm", 0.75
            elif slots:
                zones = [_zone(request.requester_timezone)] if request.requester_timezone else []
                zones += [zone] if zone not in zones else []
                options = describe_slots(_pick_slots(slots), zones)
                lead = (
                    "Unfortunately those times don't work for me. Would one of these suit you instead"
                    if timed
                    else "Happy to meet. Would one of these times work for you"
                )
                named = f" ({zone.key})" if len(zones) == 1 else ""
                body.append(f"{lead}{named}?\n{options}")
                intent, confidence = "propose_times", 0.7
            else:
                body.append(
                    "Unfortunately I don't have any free time in that window. "
                    "Could you suggest a few times further out?"
                )
                intent, confidence = "decline", 0.6
        if (doc := _doc_asked(asks)) is not None:
            body.append(f"I'll also look into the {doc} and get back to you before then.")
    elif _INTRO.search(f"{email.subject}\n{text}"):
        match = _INTRO_NAME.search(text)
        other = match.group("name").split()[0] if match else None
        thanks = (
            f"Thanks for the introduction{', ' + sender if sender else ''} (moving you to Bcc)."
        )
        greet = f"{other}, nice to meet you." if other else "Nice to meet you."
        body.append(f"{thanks}\n\n{greet} Happy to set up a time to talk. What works for you?")
        intent, confidence = "acknowledge_intro", 0.6
        sender = None  # greet the introducer only inside the body
    elif (doc := _doc_asked(asks)) is not None:
        body.append(f"Thanks for the reminder. I'll look into the {doc} and get back to you.")
        intent, confidence = "acknowledge", 0.55
    elif asks and classification.category == Category.NEEDS_REPLY:
        if extraction.deadlines:
            body.append(
                f"Thanks, noted the timing ({extraction.deadlines[0].text}). I'll follow up."
            )
        else:
            body.append("Thanks for your message. I'll look into this and follow up.")
        intent, confidence = "acknowledge", 0.45
    elif _THANKS.search(text) and not asks:
        body.append("You're welcome, glad it helped.")
        intent, confidence = "acknowledge", 0.4
    else:
        return DraftResult(
            should_draft=False,
            reason="no question, request or meeting proposal addressed to you",
            model=model,
        )
    if style_is_brief(request.style) and intent in ("acknowledge", "ask_detail"):
        confidence = min(1.0, confidence + 0.05)
    style = request.style
    if request.instruction:
        body, style, intent = _follow_instruction(request.instruction, body, style, intent)
    text = _compose(style, sender, request.user_name, body)
    if request.previous_body is not None and _same(text, request.previous_body):
        # Regenerate must offer something new, not the same words under a new id.
        text = _compose(style, sender, request.user_name, _rephrase(body))
    return DraftResult(
        should_draft=True,
        body=text,
        intent=intent,
        confidence=round(confidence, 2),
        reason=f"local drafter: {intent} ({len(asks)} ask(s) found)",
        model=model,
    )


def style_is_brief(style: StyleProfile) -> bool:
    return style.typical_words <= 40


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_ALTERNATIVES = (
    ("Thanks for your message.", "Thank you for getting in touch."),
    ("Thanks for the reminder.", "Thank you for the nudge."),
    ("Thanks for suggesting", "Thank you for proposing"),
    ("Happy to meet.", "I'd be glad to meet."),
    ("Happy to find a time.", "Glad to set something up."),
    ("Thanks, noted the timing", "Thank you, I have noted the timing"),
    ("You're welcome, glad it helped.", "Glad it was useful."),
    ("Thanks for", "Thank you for"),
)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _rephrase(body: list[str]) -> list[str]:
    """The same content in other words (the first known phrase swapped), or with a plain
    closing line when none matches: never a new fact."""
    for old, new in _ALTERNATIVES:
        for i, paragraph in enumerate(body):
            if old in paragraph:
                return [*body[:i], paragraph.replace(old, new, 1), *body[i + 1 :]]
    return [*body, "Let me know if anything changes."]


def _follow_instruction(
    instruction: str, body: list[str], style: StyleProfile, intent: str
) -> tuple[list[str], StyleProfile, str]:
    """Apply the user's regenerate instruction with templates: decline, shorter, longer,
    more formal or more casual. Anything else is rephrased; no new facts either way."""
    said = instruction.lower()
    if "declin" in said or "say no" in said or "turn down" in said:
        body = [
            "Thank you for thinking of me. Unfortunately I won't be able to take this on, "
            "but I appreciate you reaching out."
        ]
        intent = "decline"
    elif any(w in said for w in ("short", "brief", "concise", "terse")):
        first = _SENTENCE_END.split(body[0].strip())[0] if body else ""
        shortened = [first] if first and first != body[0].strip() else ["Thanks, noted."]
        body = shortened
        style = style.model_copy(update={"closing": "Thanks,", "greeting": style.greeting})
    elif any(w in said for w in ("long", "detail", "elaborate")):
        body = [*body, "Please let me know if you need anything else from me in the meantime."]
    elif "formal" in said:
        style = style.model_copy(
            update={"greeting": "Dear {first_name},", "closing": "Kind regards,"}
        )
        body = _rephrase(body)
    elif any(w in said for w in ("casual", "friendly", "warm")):
        style = style.model_copy(update={"greeting": "Hey {first_name}!", "closing": "Cheers,"})
    else:
        body = _rephrase(body)
    return body, style, intent

"""Acceptance 4: every email in ../shared/data parses without an exception."""

from __future__ import annotations

import time
from collections import Counter

from secretary.mail import ParsedMessage, parse_message
from tests.conftest import shared_data
from tests.mail.corpus import iter_messages


def _unstorable_fields(parsed: ParsedMessage) -> list[str]:
    """Fields that would not survive a PostgreSQL text column (surrogates or NUL)."""
    values = {
        "subject": parsed.subject,
        "text": parsed.text,
        "html": parsed.html or "",
        "reply": parsed.reply,
        "quoted": parsed.quoted,
        "signature": parsed.signature,
        "addresses": " ".join(
            f"{a.name} {a.email}"
            for a in (*parsed.from_, *parsed.to, *parsed.cc, *parsed.bcc, *parsed.reply_to)
        ),
        "attachments": " ".join(a.filename or "" for a in parsed.attachments),
        "headers": " ".join(parsed.headers.values()),
    }
    bad = []
    for name, value in values.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(name)
            continue
        if "\x00" in value:
            bad.append(name)
    return bad


def test_every_shared_email_parses_without_exception() -> None:
    root = shared_data()
    failures: list[str] = []
    with_defects = 0
    kinds: Counter[str] = Counter()
    count = 0
    exceptions = 0
    started = time.perf_counter()
    for label, raw in iter_messages(root):
        count += 1
        kinds[label.split("/", 1)[0]] += 1
        try:
            parsed = parse_message(raw)
        except Exception as exc:  # the point of the test: count, then report all at once
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            exceptions += 1
            continue
        if parsed.defects:
            with_defects += 1
        # the parser's own fallback path is an exception in disguise
        if any(d.startswith("parser_error") for d in parsed.defects):
            failures.append(f"{label}: {parsed.defects}")
        assert parsed.size == len(raw)
        unstorable = _unstorable_fields(parsed)
        if unstorable:
            failures.append(f"{label}: not storable as PostgreSQL text: {unstorable}")
    seconds = time.perf_counter() - started
    print(
        f"\nparsed {count} files, {exceptions} exceptions, {with_defects} with defects, "
        f"{len(failures) - exceptions} other failures "
        f"in {seconds:.1f} s ({count / seconds:.0f} msg/s) across {len(kinds)} folders"
    )
    assert count > 13_000, kinds  # 15,662 files minus labels, expected outputs, docs
    assert failures == []

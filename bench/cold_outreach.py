"""How often the cold-outreach rule fires on real mail. Prints one JSON object.

    .venv/bin/python bench/cold_outreach.py

Not a labelled cold-outreach set: a worst case and a proxy. Every message is treated as a
first contact (nothing from the sender before, never written to, no thread), which is when
``triage.steps.outreach.cold_outreach_reason`` may fire at all, and without the classifier's
flag (wording only). On ham (Enron work mail from the Berkeley set, SpamAssassin easy and
hard ham) a hit is a false positive: the rate is an upper bound, since known senders are
never cold. On SpamAssassin spam (much of it unsolicited pitches) the rate shows how much
of it the wording catches. Evaluation data only (``/work/shared/data``; see each SOURCE.md).
"""

from __future__ import annotations

import json
import os
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

DATA = Path(os.environ.get("SECRETARY_SHARED_DATA", "/work/shared/data"))


def _text(raw: bytes) -> tuple[str, str]:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=("plain", "html"))
    try:
        body = part.get_content() if part is not None else ""
    except (LookupError, UnicodeError, AssertionError):
        body = ""
    if part is not None and part.get_content_subtype() == "html":
        body = re.sub(r"<[^>]*>", " ", str(body))
    return str(msg.get("Subject", "") or ""), str(body)


def _rate(paths: list[Path]) -> dict[str, float | int]:
    from secretary.triage.steps.outreach import SenderHistory, cold_outreach_reason

    first = SenderHistory(messages_from_sender=0, user_wrote_to_sender=False, earlier_in_thread=0)
    hits = 0
    for path in paths:
        subject, body = _text(path.read_bytes())
        hits += cold_outreach_reason(subject, body, first, classifier_flag=False) is not None
    return {"messages": len(paths), "flagged": hits, "rate": round(hits / max(1, len(paths)), 4)}


def main() -> None:
    sa = DATA / "spamassassin_public_corpus"
    berkeley = DATA / "enron_berkeley_categories"
    ham_enron = sorted(p for p in berkeley.glob("*/*.txt"))
    out = {
        "ham_enron_berkeley": _rate(ham_enron),
        "ham_spamassassin_easy": _rate(sorted((sa / "easy-ham-1").iterdir())),
        "ham_spamassassin_hard": _rate(sorted((sa / "hard-ham-1").iterdir())),
        "spam_spamassassin": _rate(sorted((sa / "spam-1").iterdir())),
        "loadavg": os.getloadavg()[0],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

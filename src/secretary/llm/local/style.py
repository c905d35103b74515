"""Learn the user's greeting, closing, signature and typical length from their sent mail.

Pure: takes the newest part of each sent message (quotes already removed) and returns a
``StyleProfile``. Greetings are stored as templates ("Hi {first_name},") so the drafter can
address the new recipient; the most frequent form wins, ties go to the most recent mail.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence

from secretary.llm.schemas import StyleProfile

_GREETING = re.compile(
    r"^(?P<word>hi|hello|hey|dear|good (?:morning|afternoon|evening)|morning|hallo|bonjour|hola)"
    r"(?P<name>\s+[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)?\s*(?P<punct>[,!:.]?)\s*$",
    re.IGNORECASE,
)
_NAME_ONLY = re.compile(r"^(?P<name>[A-Z][\w'-]+)\s*(?P<punct>[,:])\s*$")
_CLOSING = re.compile(
    r"^(?:thanks|thank you|thanks again|many thanks|best|best regards|kind regards|regards|"
    r"warm regards|cheers|all the best|sincerely|talk soon|speak soon|thx|ta|br|yours)"
    r"\s*[,!.-]?\s*$",
    re.IGNORECASE,
)
_MAX_SAMPLES = 3


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.strip().splitlines() if ln.strip()]


def _greeting_template(line: str) -> tuple[str, bool] | None:
    match = _GREETING.match(line)
    if match:
        word = match.group("word")
        word = word[0].upper() + word[1:]
        punct = match.group("punct") or ","
        if match.group("name"):
            return f"{word} {{first_name}}{punct}", True
        return f"{word}{punct}", False
    match = _NAME_ONLY.match(line)
    if match:
        return f"{{first_name}}{match.group('punct')}", True
    return None


def learn_style(sent_texts: Sequence[str]) -> StyleProfile:
    """A ``StyleProfile`` from the user's own sent mail (newest last). Empty in -> defaults."""
    greetings: Counter[str] = Counter()
    closings: Counter[str] = Counter()
    signatures: Counter[str] = Counter()
    named = unnamed = 0
    lengths: list[int] = []
    samples: list[str] = []
    for text in sent_texts:
        lines = _lines(text)
        if not lines:
            continue
        body_start, body_end = 0, len(lines)
        found = _greeting_template(lines[0])
        if found:
            greetings[found[0]] += 1
            named, unnamed = (named + 1, unnamed) if found[1] else (named, unnamed + 1)
            body_start = 1
        for i in range(len(lines) - 1, max(body_start, len(lines) - 4) - 1, -1):
            if _CLOSING.match(lines[i]):
                closing = lines[i] if lines[i][-1] in ",!." else lines[i] + ","
                closings[closing] += 1
                tail = [ln for ln in lines[i + 1 : i + 3] if len(ln) <= 40]
                if tail:
                    signatures["\n".join(tail)] += 1
                body_end = i
                break
        body = " ".join(lines[body_start:body_end])
        words = len(body.split())
        if words:
            lengths.append(words)
            if len(samples) < _MAX_SAMPLES and words <= 80:
                samples.append(body[:300])

    def most_common(counter: Counter[str]) -> str | None:
        return counter.most_common(1)[0][0] if counter else None

    return StyleProfile(
        greeting=most_common(greetings),
        closing=most_common(closings),
        signature=most_common(signatures),
        typical_words=int(statistics.median(lengths)) if lengths else 60,
        uses_first_names=named >= unnamed,
        samples=samples,
    )

"""Word knowledge the local tier matches with: stems, paraphrases, and value shapes. Pure.

The extractive tier answers only from words it finds, so a question worded differently
from the mail ("arrival" for "arrives", "take off" for "departs", "the flight home" for
"Return:") would find nothing. Three small, general tools close that gap without a model:
a light suffix stemmer, a table of paraphrase groups (words that name the same thing in
travel, money, dates and meetings), and the *shapes* of the values a question asks for
(a time, a date, an amount, a percentage, a count of nights), so a sentence that holds a
value of the right shape can answer even when it does not repeat the question's noun.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Multi-word phrasings rewritten to one canonical word before anything else reads them.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(flight|trip|journey|train)\s+(?:home|back)\b", re.I), r"return \1"),
    (re.compile(r"\b(?:on\s+)?(?:the\s+)?way\s+(?:home|back)\b", re.I), "on the return"),
    (
        re.compile(
            r"\b(?:fly|flying|flies|head|heading|go|going|come|coming|get|getting)\s+"
            r"(?:home|back)\b",
            re.I,
        ),
        "return",
    ),
    (re.compile(r"\b(?:take|takes|taking|took)\s+off\b", re.I), "depart"),
    (re.compile(r"\b(?:fly|flies|flying)\s+out\b", re.I), "depart"),
    (re.compile(r"\b(?:touch|touches|touching)\s+down\b|\bget(?:s)?\s+in\b", re.I), "arrive"),
    (re.compile(r"\bcheck(?:ing)?[\s-]in\b", re.I), "check-in"),
    (re.compile(r"\bcheck(?:ing)?[\s-]out\b", re.I), "check-out"),
    (re.compile(r"\bsign(?:ing)?[\s-]off\b", re.I), "sign-off"),
    (re.compile(r"\bpoint of contact\b", re.I), "contact"),
    (re.compile(r"\bper\s+(day|night|week|month|year|quarter|person|hour)\b", re.I), r"per-\1"),
    (re.compile(r"\b(?:right now|at the moment|at present|as of now)\b", re.I), "currently"),
)

# Words that name the same thing. A question word matches a text word of any group it is
# in; groups stay narrow (no "home" ~ "return" on its own) so matching stays honest.
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("arrive", "arrival", "land", "landing"),
    ("depart", "departure", "leave", "takeoff"),
    ("return", "inbound"),
    ("cost", "price", "fare", "charge", "pay", "paid", "spend", "spent", "fee", "rate"),
    ("hotel", "accommodation", "lodging", "stay"),
    ("booking", "reservation", "confirmation", "reference", "locator", "pnr"),
    ("address", "street", "located", "location", "venue"),
    ("raise", "increase", "hike", "uplift", "more"),
    ("percentage", "percent"),
    ("deliver", "delivery", "arrive", "ship"),
    ("end", "expire", "expiry", "termination", "terminate", "finish", "cancel"),
    ("start", "begin", "commence", "kickoff"),
    ("meeting", "call", "appointment", "session"),
    ("remain", "remaining", "left", "balance"),
    ("contact", "representative", "rep"),
    ("deadline", "due"),
    ("sign-off", "signoff", "approval", "approve"),
    ("agreement", "contract"),
    ("night", "nightly", "overnight"),
    ("day", "daily"),
    ("week", "weekly"),
    ("month", "monthly"),
    ("year", "yearly", "annual", "annually"),
    ("delete", "deletion", "erase", "purge"),
    ("retention", "retain", "keep"),
    ("notice", "notification"),
    ("owner", "own", "responsible"),
    ("quarter", "quarterly"),
    ("release", "ship", "launch"),
)
# Words that name the kind of value asked for rather than its subject: "how much is Contoso
# *paying*" is answered by an amount, whatever verb the text uses.
_VALUE_WORDS = {
    "amount": ("cost", "price", "fare", "charge", "pay", "paid", "spend", "spent", "fee", "rate",
               "amount", "total", "sum", "much", "value", "worth"),
    "time": ("time", "hour", "clock", "start", "begin", "kickoff"),
    "date": ("date", "day", "when"),
    "duration": ("long", "period", "duration", "length", "term"),
}  # fmt: skip

_SUFFIXES = (
    ("ational", ""), ("ations", ""), ("ation", ""), ("ments", ""), ("ment", ""),
    ("ingly", ""), ("ings", ""), ("ing", ""), ("ivals", "iv"), ("ival", "iv"), ("ures", ""),
    ("ure", ""), ("edly", ""), ("ed", ""), ("ies", "y"), ("es", ""), ("ly", ""), ("s", ""),
)  # fmt: skip
_UNDOUBLE = frozenset({"ed", "ing", "ings", "edly", "ation", "ations"})
_KEEP_S = re.compile(r"(?:ss|us|is)$")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A light English stem: "arrival", "arrives" and "arrive" all give "arriv"."""
    w = word.lower().strip("'-").removesuffix("'s")
    if len(w) <= 3 or not w.isalpha():
        return w
    for suffix, replacement in _SUFFIXES:
        if not w.endswith(suffix) or len(w) - len(suffix) < 3:
            continue
        if suffix == "s" and _KEEP_S.search(w):
            break
        if suffix == "es" and not re.search(r"(?:ss|sh|ch|x|z)es$", w):
            w = w[:-1]  # "prices" → "price", then the final "e" goes below
            break
        w = w[: -len(suffix)] + replacement
        if suffix in _UNDOUBLE and re.search(r"([bdgklmnprt])\1$", w):
            w = w[:-1]  # "shipped" → "ship", "cancelled" → "cancel"
        break
    if len(w) > 4 and w.endswith("y") and not w.endswith(("ay", "ey", "oy")):
        w = w[:-1]  # "delivery" → "deliver"
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]  # "arrive" → "arriv", "price" → "pric"
    return w


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for group in _GROUPS:
        stems = {stem(word) for word in group}
        for s in stems:
            table.setdefault(s, set()).update(stems)
    return {key: frozenset(value) for key, value in table.items()}


def variants(word: str) -> frozenset[str]:
    """The stems a text may use for ``word``: its own and its paraphrase group's."""
    own = stem(word)
    return _synonyms().get(own, frozenset()) | {own}


def canonical(text: str) -> str:
    """``text`` with multi-word phrasings replaced by one canonical word."""
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=4096)
def text_stems(text: str) -> frozenset[str]:
    """The stems of the words of ``text`` (hyphenated words also count whole and split)."""
    out: set[str] = set()
    for word in _WORD.findall(canonical(text).lower()):
        out.add(stem(word))
        if "-" in word or "'" in word:
            out.update(stem(part) for part in re.split(r"['-]", word) if part)
    return frozenset(out)


def mentions(term: str, text: str) -> bool:
    """Whether ``text`` names ``term`` or one of its paraphrases, in any inflection."""
    found = text_stems(text)
    if any(v in found for v in variants(term)):
        return True
    pieces = [p for p in re.split(r"['-]", term) if len(p) > 2]
    parts = [p for p in pieces if p != "per"]
    # "sign-off" is found in "sign off", "per-day" in "$75 per day" and "per-year" in
    # "annual" ("per" need not be there); "on-site" is not found in "this site".
    return (
        len(pieces) > 1 and bool(parts) and all(any(v in found for v in variants(p)) for p in parts)
    )


# --- value shapes ----------------------------------------------------------------------

SHAPES: dict[str, re.Pattern[str]] = {
    "time": re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d\b|\b\d{1,2}\s?(?:am|pm)\b|\bnoon\b", re.I),
    "date": re.compile(
        r"\b(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\b|"
        r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
        r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?\s*\d{0,2}|"
        r"\b\d{4}-\d{2}-\d{2}\b|\b(?:today|tomorrow|tonight|end of day|eod)\b",
        re.I,
    ),
    "amount": re.compile(
        r"[$€£¥]\s?\d|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|k)\b|\b(?:USD|EUR|GBP)\s?\d|"
        r"\b\d[\d,]*\.\d{2}\b|\b\d{1,3}(?:,\d{3})+\b|\b\d{4,}\b",
        re.I,
    ),
    "percent": re.compile(r"\b\d+(?:\.\d+)?\s?(?:%|percent\b)", re.I),
    "duration": re.compile(
        r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[\s-]?"
        r"(?:months?|years?|weeks?|days?|hours?|minutes?|nights?)\b",
        re.I,
    ),
    "code": re.compile(r"#?\b(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{2,}\b|\b[A-Z]{5,8}\b"),
    "place": re.compile(
        r"\b\d+\s+(?:[NSEW]\.?\s+)?[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\s(?:St|Street|Ave|Avenue|Dr|"
        r"Drive|Rd|Road|Blvd|Lane|Ln|Way|Pl|Place|Sq|Square)\b|\([A-Z]{3}\)|\b(?:room|floor|"
        r"suite|terminal|gate|building)\s+\w+|\b(?:at|in)\s+[A-Z][a-z]+",
        re.I,
    ),
    "person": re.compile(r"\b[A-Z][a-z]+\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b"),
}

_COUNT_UNIT = re.compile(
    r"\bhow many\s+(?P<unit>nights?|days?|weeks?|months?|years?|hours?|minutes?|people|"
    r"seats?|rooms?|engineers?|items?|bags?)\b",
    re.I,
)


_ALTERNATIVES = re.compile(
    r"\b(?:one|two|three|four|five|\d+)\s+(?:nights?|days?|weeks?|months?|years?|hours?)\s+"
    r"or\s+(?:one|two|three|four|five|\d+)\b",
    re.I,
)
ALTERNATIVE_UNIT = re.compile(
    r"\b(?:one|two|three|four|five|\d+)\s+(?P<unit>[a-z]+?)s?\s+or\s+(?:one|two|three|four|"
    r"five|\d+)\b",
    re.I,
)


def expected_shapes(question: str) -> list[str]:
    """The shapes of value that answer ``question`` (empty when any answer may do)."""
    q = canonical(question).lower()
    if _COUNT_UNIT.search(q) or _ALTERNATIVES.search(q):
        return ["duration"]
    if re.search(r"\b(?:what|which) (?:percentage|percent|share)\b|\bby how much\b", q):
        return ["percent", "amount"]
    if re.search(
        r"\bhow long\b|\bwhat (?:notice )?period\b|\bwithin how many\b|"
        r"\bhow much (?:notice|time|warning|lead time|advance notice)\b",
        q,
    ):
        return ["duration"]
    if re.search(r"\bwhat time\b|\bat what time\b", q) or re.search(
        r"^\s*what(?:'s| is| was)\b.*\btime\b", q
    ):
        return ["time"]
    if re.search(r"\b(?:when|what date|which day|by when|what day)\b", q):
        return ["time", "date"]
    if re.search(r"\bhow much\b|\bwhat (?:is|was) the (?:\w+ )?(?:cost|price|fare|fee|rate)\b", q):
        return ["amount", "percent"]
    if re.search(r"\b(?:number|code|reference|locator|id)\b", q) and re.search(
        r"^\s*(?:what|which)\b", q
    ):
        return ["code"]
    if re.search(r"^\s*(?:where|what(?:'s| is) the (?:street )?address)\b", q):
        return ["place"]
    if re.search(r"^\s*who\b|\bname of\b|\bwhat(?:'s| is) (?:it|that|the \w+) called\b", q):
        return ["person"]
    return []


@lru_cache(maxsize=1)
def _value_stems() -> dict[str, frozenset[str]]:
    return {shape: frozenset(stem(w) for w in words) for shape, words in _VALUE_WORDS.items()}


def is_value_word(word: str, shapes: list[str]) -> bool:
    """Whether ``word`` only names the kind of value ``shapes`` describe ("paying" for an
    amount), so a value of that shape stands in for it."""
    own = stem(word)
    return any(own in _value_stems().get(shape, frozenset()) for shape in shapes)


def has_shape(shapes: list[str], text: str) -> bool:
    """Whether ``text`` holds a value of one of ``shapes`` (true when none is expected)."""
    return not shapes or any(SHAPES[s].search(text) for s in shapes)

"""Gmail search (`q`) parsing and evaluation: pure code, no mailbox or HTTP here.

Supported: ``from: to: cc: bcc: subject: label: in: is: has:attachment has:userlabels
has:nouserlabels filename: after: before: older: newer: newer_than: older_than: larger:
smaller: size: category: rfc822msgid: list:``, quoted phrases, ``-`` negation, ``OR``,
``{a b}`` (any of), ``( )`` grouping, ``a AROUND n b`` (words at most n apart), ``+word``
(exact word) and plain words (case-insensitive whole words over headers and body text).
Like Gmail, spam and trash are excluded unless the query names them (``in:spam``,
``in:trash``, ``in:anywhere``) or the caller passes ``includeSpamTrash``. Dates
(``after:2026/11/17``) are midnight Pacific time, as the Gmail API documents; epoch seconds
are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from workspace_emulator.errors import GoogleApiError

_DAY_MS = 86_400_000
_UNIT_MS = {"h": 3_600_000, "d": _DAY_MS, "w": 7 * _DAY_MS, "m": 30 * _DAY_MS, "y": 365 * _DAY_MS}
_IN_LABELS = {
    "inbox": "INBOX",
    "sent": "SENT",
    "trash": "TRASH",
    "spam": "SPAM",
    "drafts": "DRAFT",
    "draft": "DRAFT",
    "chats": "CHAT",
    "starred": "STARRED",
    "important": "IMPORTANT",
    "unread": "UNREAD",
}
_IS_LABELS = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}
_CATEGORIES = {
    "primary": "CATEGORY_PERSONAL",
    "personal": "CATEGORY_PERSONAL",
    "social": "CATEGORY_SOCIAL",
    "promotions": "CATEGORY_PROMOTIONS",
    "updates": "CATEGORY_UPDATES",
    "forums": "CATEGORY_FORUMS",
}
# "Dates are interpreted as midnight PST" (Gmail API guide, "Searching for messages").
PACIFIC = ZoneInfo("America/Los_Angeles")
_SIZE = re.compile(r"(\d+)([km]?)")
_SIZE_UNIT = {"": 1, "k": 1024, "m": 1024 * 1024}
_TOKEN = re.compile(r'\s*(-?)(?:([A-Za-z_][A-Za-z0-9_]*):)?("([^"]*)"|\(|\)|\{|\}|[^\s(){}"]+)')


class Searchable(Protocol):
    """What the evaluator reads from a message (lower-cased text)."""

    @property
    def internal_date_ms(self) -> int: ...

    def header(self, name: str) -> str: ...

    @property
    def label_ids(self) -> set[str]: ...

    def has_label_named(self, name: str) -> bool: ...

    @property
    def text(self) -> str: ...

    @property
    def has_attachment(self) -> bool: ...

    @property
    def filenames(self) -> list[str]: ...

    @property
    def size(self) -> int: ...

    @property
    def has_user_labels(self) -> bool: ...


@dataclass(frozen=True)
class Term:
    key: str  # "" for a plain word or phrase
    value: str
    phrase: bool = False


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Around:
    left: str
    distance: int
    right: str


Node = Term | Not | And | Or | Around


def _bad(message: str) -> GoogleApiError:
    return GoogleApiError(400, f"Invalid query: {message}", reason="invalidArgument")


def tokenize(q: str) -> list[tuple[bool, str, str, bool]]:
    """(negated, key, value, is_phrase) tuples; parentheses/braces come as bare values."""
    out = []
    pos = 0
    q = q.strip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if m is None or m.end() == pos:
            raise _bad(q)
        neg, key, val, phrase = (
            m.group(1) == "-",
            (m.group(2) or "").lower(),
            m.group(3),
            m.group(4),
        )
        if phrase is not None:
            out.append((neg, key, phrase, True))
        else:
            out.append((neg, key, val, False))
        pos = m.end()
        while pos < len(q) and q[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[bool, str, str, bool]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[bool, str, str, bool] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse_seq(self, closer: str | None) -> list[Node]:
        items: list[Node] = []
        while (tok := self.peek()) is not None:
            neg, key, val, phrase = tok
            if not phrase and not key and val == closer:
                return items
            if not phrase and not key and not neg and val == "AROUND":
                self.i += 1
                distance = self.peek()
                if not items or distance is None or not distance[2].isdigit():
                    raise _bad("AROUND needs a word on each side and a distance")
                self.i += 1
                right = self.parse_atom()
                left = items.pop()
                if not (isinstance(left, Term) and isinstance(right, Term)):
                    raise _bad("AROUND joins two words")
                items.append(Around(left.value, int(distance[2]), right.value))
                continue
            if not phrase and not key and not neg and val == "OR":
                self.i += 1
                if not items:
                    raise _bad("OR without a left operand")
                right = self.parse_atom()
                left = items.pop()
                left_nodes = left.nodes if isinstance(left, Or) else (left,)
                items.append(Or((*left_nodes, right)))
                continue
            items.append(self.parse_atom())
        if closer is not None:
            raise _bad(f"missing '{closer}'")
        return items

    def parse_atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise _bad("unexpected end")
        neg, key, val, phrase = tok
        self.i += 1
        node: Node
        if not phrase and val in ("(", "{"):
            closer = ")" if val == "(" else "}"
            inner = self.parse_seq(closer)
            self.i += 1  # the closer
            if not inner:
                raise _bad("empty group")
            if key:  # key:(a b) applies the key to every inner word
                inner = [_with_key(n, key) for n in inner]
            node = (Or if val == "{" else And)(tuple(inner)) if len(inner) > 1 else inner[0]
        elif not phrase and val in (")", "}"):
            raise _bad(f"unbalanced '{val}'")
        else:
            value = val.lower()
            if not phrase and not key and value.startswith("+") and len(value) > 1:
                value = value[1:]  # +word: this exact word (the emulator never stems)
            node = Term(key, value, phrase)
        return Not(node) if neg else node


def _with_key(node: Node, key: str) -> Node:
    if isinstance(node, Term) and not node.key:
        return Term(key, node.value, node.phrase)
    return node


def _mentions_spam_trash(node: Node) -> bool:
    if isinstance(node, Term):
        return (node.key in ("in", "label") and node.value in ("spam", "trash", "anywhere")) or (
            node.key == "is" and node.value in ("spam", "trash")
        )
    if isinstance(node, Not):
        return _mentions_spam_trash(node.node)
    if isinstance(node, Around):
        return False
    return any(_mentions_spam_trash(n) for n in node.nodes)


def parse(q: str, *, include_spam_trash: bool = False) -> Node:
    """Parse a Gmail query into a tree that also carries Gmail's spam/trash exclusion."""
    items = _Parser(tokenize(q)).parse_seq(None)
    node: Node = And(tuple(items))
    for term in _terms(node):
        _validate(term)
    if not include_spam_trash and not _mentions_spam_trash(node):
        node = And((node, Not(Term("in", "spam")), Not(Term("in", "trash"))))
    return node


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _terms(node.node)
    if isinstance(node, Around):
        return []
    return [t for n in node.nodes for t in _terms(n)]


def _validate(term: Term) -> None:
    if term.key in ("after", "before", "older", "newer"):
        parse_date_ms(term.value)
    elif term.key in ("newer_than", "older_than"):
        parse_age_ms(term.value)
    elif term.key in ("larger", "smaller", "size"):
        parse_size(term.value)


def parse_size(value: str) -> int:
    """``larger:10M``, ``smaller:500k``, ``size:1000`` (bytes)."""
    m = _SIZE.fullmatch(value.lower())
    if m is None:
        raise _bad(f"bad size {value!r}")
    return int(m.group(1)) * _SIZE_UNIT[m.group(2)]


def parse_date_ms(value: str) -> int:
    """``YYYY/MM/DD`` (also ``-`` separated, or ``MM/DD/YYYY``) at midnight Pacific time,
    or epoch seconds (exact)."""
    if value.isdigit() and len(value) > 8:
        return int(value) * 1000
    for fmt in ("%Y/%m/%d", "%Y-%m-%d", "%m/%d/%Y", "%Y.%m.%d"):
        try:
            day = datetime.strptime(value, fmt).replace(tzinfo=PACIFIC)
            return int(day.timestamp() * 1000)
        except ValueError:
            continue
    raise _bad(f"bad date {value!r}")


def parse_age_ms(value: str) -> int:
    m = re.fullmatch(r"(\d+)([hdwmy])", value)
    if m is None:
        raise _bad(f"bad age {value!r}")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def _word_in(text: str, value: str) -> bool:
    if not value:
        return True
    start = 0
    # Whole-word match without a regex per message: find, then check both boundaries.
    while (i := text.find(value, start)) != -1:
        before_ok = i == 0 or not text[i - 1].isalnum()
        end = i + len(value)
        after_ok = end == len(text) or not text[end].isalnum()
        if before_ok and after_ok:
            return True
        start = i + 1
    return False


def matches(node: Node, msg: Searchable, *, now_ms: int) -> bool:
    if isinstance(node, And):
        return all(matches(n, msg, now_ms=now_ms) for n in node.nodes)
    if isinstance(node, Or):
        return any(matches(n, msg, now_ms=now_ms) for n in node.nodes)
    if isinstance(node, Not):
        return not matches(node.node, msg, now_ms=now_ms)
    if isinstance(node, Around):
        return _around(msg.text, node)
    return _match_term(node, msg, now_ms)


def _around(text: str, node: Around) -> bool:
    words = re.findall(r"\w+", text)
    left = [i for i, w in enumerate(words) if w == node.left]
    right = [i for i, w in enumerate(words) if w == node.right]
    return any(abs(i - j) <= node.distance + 1 for i in left for j in right)


def _match_term(term: Term, msg: Searchable, now_ms: int) -> bool:  # one branch per operator
    key, value = term.key, term.value
    if key in ("from", "to", "cc", "bcc", "subject", "deliveredto"):
        header = "delivered-to" if key == "deliveredto" else key
        hay = msg.header(header)
        return all(_word_in(hay, w) or w in hay for w in value.split()) if value else bool(hay)
    if key == "label":
        return msg.has_label_named(value)
    if key == "in":
        if value == "anywhere":
            return True
        label = _IN_LABELS.get(value)
        return label in msg.label_ids if label else msg.has_label_named(value)
    if key == "is":
        if value == "read":
            return "UNREAD" not in msg.label_ids
        label = _IS_LABELS.get(value) or _IN_LABELS.get(value)
        return label in msg.label_ids if label else False
    if key == "has":
        if value == "attachment":
            return msg.has_attachment
        if value == "userlabels":
            return msg.has_user_labels
        if value == "nouserlabels":
            return not msg.has_user_labels
        return False
    if key == "category":
        category = _CATEGORIES.get(value)
        return category in msg.label_ids if category else False
    if key in ("larger", "size"):
        return msg.size > parse_size(value)
    if key == "smaller":
        return msg.size < parse_size(value)
    if key == "rfc822msgid":
        return msg.header("message-id").strip().strip("<>") == value.strip().strip("<>")
    if key == "list":
        return value in msg.header("list-id") or value in msg.header("list-post")
    if key == "filename":
        return any(value in name.lower() for name in msg.filenames)
    if key in ("after", "newer"):
        return msg.internal_date_ms >= parse_date_ms(value)
    if key in ("before", "older"):
        return msg.internal_date_ms < parse_date_ms(value)
    if key == "newer_than":
        return msg.internal_date_ms >= now_ms - parse_age_ms(value)
    if key == "older_than":
        return msg.internal_date_ms < now_ms - parse_age_ms(value)
    if key:
        # Unknown operators search as text, like Gmail does with "foo:bar".
        return _word_in(msg.text, f"{key}:{value}")
    if term.phrase:
        return _word_in(msg.text, " ".join(value.split()))
    return _word_in(msg.text, value)

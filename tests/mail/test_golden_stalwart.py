"""Acceptance 4: our parser against the golden outputs shipped with stalwartlabs/mail-parser.

Two kinds of expectations (see ../shared/data/stalwart_mail_parser/SOURCE.md):
- header vectors (address.json, date.json, unstructured.json, id.json): one header value and
  the expected parse;
- whole messages (eml/<set>/NNN.eml + NNN.json): the expected MIME structure, from which we
  read the fields we model: subject, from/to/cc, date, message-id, the text body and the
  attachments (name, type, size).
Pass rates are printed (run pytest with -s). Thresholds sit just below what we measured.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from secretary.mail import parse_message
from secretary.mail.headers import (
    decode_header_value,
    parse_addresses,
    parse_date,
    parse_msg_ids,
)
from secretary.mail.schemas import ParsedMessage
from tests.conftest import shared_data

_WS = re.compile(r"\s+")


def _norm(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _same_text(got: str | None, want: str | None) -> bool:
    """Whitespace-insensitive equality where U+FFFD in the golden output matches any one
    character: stalwart decodes undeclared 8-bit headers as lossy UTF-8, we recover them
    (latin-1 "Frösche" instead of "Fr\ufffdsche"), and that must not count as a miss."""
    got, want = _norm(got), _norm(want)
    if "\ufffd" not in want:
        return got == want
    pattern = "".join("." if ch == "\ufffd" else re.escape(ch) for ch in want)
    return re.fullmatch(pattern, got, re.DOTALL) is not None


def _same_addresses(got: list[tuple[str, str]], want: list[tuple[str, str]]) -> bool:
    return len(got) == len(want) and all(
        g[1] == w[1] and _same_text(g[0], w[0]) for g, w in zip(got, want, strict=True)
    )


def _expected_date(value: Any) -> datetime | None:
    if not isinstance(value, dict) or "year" not in value:
        return None
    offset = timedelta(hours=value["tz_hour"], minutes=value["tz_minute"])
    if value["tz_before_gmt"]:
        offset = -offset
    try:
        local = datetime(
            value["year"],
            value["month"],
            value["day"],
            value["hour"],
            value["minute"],
            value["second"],
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    return local.astimezone(UTC)


def _expected_addresses(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return []
    items: list[dict[str, Any]] = []
    if "List" in value:
        items = value["List"]
    elif "Group" in value:
        items = [a for group in value["Group"] for a in group.get("addresses") or []]
    return [(_norm(a.get("name")), (a.get("address") or "").lower()) for a in items]


def _ours(addresses: list[Any]) -> list[tuple[str, str]]:
    return [(_norm(a.name), a.email.lower()) for a in addresses]


class Rates:
    def __init__(self) -> None:
        self.passed: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self.misses: dict[str, list[str]] = {}

    def check(self, field: str, ok: bool, label: str) -> None:
        self.total[field] += 1
        if ok:
            self.passed[field] += 1
        else:
            self.misses.setdefault(field, []).append(label)

    def rate(self, field: str) -> float:
        return self.passed[field] / self.total[field]

    def report(self, title: str) -> None:
        print(f"\n{title}")
        for field in self.total:
            print(
                f"  {field:<14} {self.passed[field]:>4}/{self.total[field]:<4} "
                f"{self.rate(field):.1%}  misses: {self.misses.get(field, [])[:6]}"
            )


def test_header_vectors() -> None:
    root = shared_data("stalwart_mail_parser")
    rates = Rates()
    for case in json.loads((root / "address.json").read_text()):
        expected = _expected_addresses(case["expected"])
        if any(":" in address.split("@")[0] for _, address in expected):
            # List-Archive/List-Post style <http:...>/<mailto:...> vectors: we parse those
            # headers as URLs (ParsedMessage.unsubscribe), not as mailbox lists
            continue
        got = _ours(parse_addresses(case["header"]))
        rates.check("address", _same_addresses(got, expected), case["header"][:40])
    for case in json.loads((root / "date.json").read_text()):
        expected_at = _expected_date(case["expected"])
        rates.check("date", parse_date(case["header"]) == expected_at, case["header"][:40])
    for case in json.loads((root / "unstructured.json").read_text()):
        got = decode_header_value(case["header"].rstrip("\r\n"))
        rates.check("unstructured", _norm(got) == _norm(case["expected"]), case["header"][:40])
    for case in json.loads((root / "id.json").read_text()):
        rates.check("message_id", parse_msg_ids(case["header"]) == case["expected"], case["header"])
    rates.report("stalwart header vectors")
    # measured: address 43/50, date 36/40, unstructured 27/30, message_id 9/11. The misses
    # are RFC 822 comment/route/group corner cases and stalwart's choice to insert a space
    # before an encoded-word glued to text ("[SPAM]=?utf-8?..."), which RFC 2047 does not ask.
    assert rates.rate("address") >= 0.84
    assert rates.rate("date") >= 0.87
    assert rates.rate("unstructured") >= 0.88
    assert rates.rate("message_id") >= 0.80


def _header(part: dict[str, Any], name: str) -> Any:
    for header in part["headers"]:
        if header["name"] == name:
            return header["value"]
    return None


def _text_value(value: Any) -> str | None:
    if isinstance(value, dict) and "Text" in value:
        return str(value["Text"])
    return None


def _attachment_name(part: dict[str, Any]) -> str | None:
    for header_name, attr in (("content_disposition", "filename"), ("content_type", "name")):
        value = _header(part, header_name)
        if isinstance(value, dict) and "ContentType" in value:
            for attribute in value["ContentType"].get("attributes") or []:
                if attribute["name"] == attr and attribute["value"]:
                    return str(attribute["value"])
    return None


def _attachment_type(part: dict[str, Any]) -> str:
    value = _header(part, "content_type")
    if isinstance(value, dict) and "ContentType" in value:
        ct = value["ContentType"]
        return f"{ct['c_type']}/{ct.get('c_subtype') or ''}".lower()
    return "text/plain"


def _body_size(part: dict[str, Any]) -> int | None:
    body = part["body"]
    if isinstance(body, dict):
        for key in ("Binary", "InlineBinary"):
            if key in body:
                return len(body[key])
    return None


def _compare_message(eml: Path, expected: dict[str, Any], rates: Rates) -> None:
    label = f"{eml.parent.name}/{eml.name}"
    parsed: ParsedMessage = parse_message(eml.read_bytes())
    root = expected["parts"][0]

    subject = _text_value(_header(root, "subject"))
    if subject is not None:
        rates.check("subject", _same_text(parsed.subject, subject), label)
    for field, ours in (("from", parsed.from_), ("to", parsed.to), ("cc", parsed.cc)):
        value = _header(root, field)
        if isinstance(value, dict) and "Address" in value:
            want = _expected_addresses(value["Address"])
            rates.check(field, _same_addresses(_ours(ours), want), label)
    date_value = _header(root, "date")
    if isinstance(date_value, dict) and "DateTime" in date_value:
        rates.check("date", parsed.date == _expected_date(date_value["DateTime"]), label)
    message_id = _text_value(_header(root, "message_id"))
    if message_id is not None:
        rates.check("message_id", parsed.message_id == message_id.strip("<>"), label)

    text_parts = [expected["parts"][i]["body"] for i in expected["text_body"]]
    if text_parts and all(isinstance(b, dict) and "Text" in b for b in text_parts):
        want = _norm(" ".join(b["Text"] for b in text_parts))
        rates.check("text_body", _same_text(parsed.text, want), label)

    want_attachments = [expected["parts"][i] for i in expected["attachments"]]
    want_names = sorted((_attachment_name(p) or "") for p in want_attachments)
    got_names = sorted((a.filename or "") for a in parsed.attachments)
    rates.check("att_count", len(want_attachments) == len(parsed.attachments), label)
    rates.check(
        "att_names",
        len(want_names) == len(got_names)
        and all(_same_text(g, w) for g, w in zip(got_names, want_names, strict=True)),
        label,
    )
    want_types = sorted(_attachment_type(p) for p in want_attachments)
    rates.check("att_types", want_types == sorted(a.mime_type for a in parsed.attachments), label)
    want_sizes = sorted(s for p in want_attachments if (s := _body_size(p)) is not None)
    if want_sizes and len(want_sizes) == len(want_attachments):
        got_sizes = sorted(a.size for a in parsed.attachments)
        rates.check("att_sizes", want_sizes == got_sizes, label)


def test_golden_messages() -> None:
    root = shared_data("stalwart_mail_parser")
    rates = Rates()
    count = 0
    for expected_path in sorted(root.glob("eml/*/*.json")):
        eml = expected_path.with_suffix(".eml")
        if not eml.exists():
            continue
        count += 1
        _compare_message(eml, json.loads(expected_path.read_text()), rates)
    rates.report(f"stalwart golden messages ({count})")
    assert count >= 100
    # measured on 107 messages: subject 78/79, from 75/77, to 71/74, date 72/73,
    # message_id 63/64, text_body 65/79, att_count 91/107, att_names 79/107,
    # att_types 89/107, att_sizes 30/35. Most misses are the Dovecot "malformed" boundary
    # cases, where stalwart and the stdlib recover different structures, plus full
    # Windows paths in legacy filenames (we keep the base name "x.png", stalwart keeps
    # "C:TEMPx.png") and binhex bodies (we report the encoded size).
    thresholds = {
        "subject": 0.97,
        "from": 0.95,
        "to": 0.93,
        "date": 0.97,
        "message_id": 0.97,
        "text_body": 0.80,
        "att_count": 0.82,
        "att_names": 0.72,
        "att_types": 0.80,
        "att_sizes": 0.84,
    }
    for field, minimum in thresholds.items():
        assert rates.rate(field) >= minimum, (field, rates.rate(field), rates.misses[field])

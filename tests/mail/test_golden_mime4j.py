"""Acceptance 4: our parser against Apache James mime4j's golden structure dumps.

For each ``<name>.msg`` mime4j ships ``<name>_decoded.xml`` (the MIME tree with raw header
fields) and ``<name>_decoded_<path>.txt|.bin`` (each leaf's decoded body). From those we
check the fields we model:
- subject / from / date: present in the dump as raw fields; we compare only where the raw
  value is plain ASCII without encoded-words, so the expectation does not depend on our
  own decoder;
- text body: the first inline text/plain leaf's decoded text (in its declared charset)
  must open our ``text`` (whitespace-normalized);
- attachments: count and decoded sizes of the top-level leaves that are attachments
  (disposition attachment, or a named non-text part), names where they are plain ASCII.
Pass rates are printed (pytest -s); thresholds sit just below what we measured.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from secretary.mail import parse_message
from secretary.mail.headers import decode_bytes, parse_addresses
from tests.conftest import shared_data

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass
class Leaf:
    headers: dict[str, str]
    body_file: Path | None
    is_text: bool


@dataclass
class Expected:
    headers: dict[str, str]
    leaves: list[Leaf] = field(default_factory=list)


def _fields(header: ET.Element | None) -> dict[str, str]:
    result: dict[str, str] = {}
    if header is None:
        return result
    for item in header.findall("field"):
        raw = (item.text or "").strip("\r\n")
        name, _, value = raw.partition(":")
        result.setdefault(name.strip().lower(), _WS.sub(" ", value).strip())
    return result


def _collect(node: ET.Element, folder: Path, leaves: list[Leaf]) -> None:
    """Depth-first leaves of one message level (nested message/rfc822 are not descended)."""
    for part in node.findall("body-part"):
        headers = _fields(part.find("header"))
        multipart = part.find("multipart")
        if multipart is not None:
            _collect(multipart, folder, leaves)
            continue
        text_body = part.find("text-body")
        binary_body = part.find("binary-body")
        body = text_body if text_body is not None else binary_body
        body_file = folder / body.attrib["name"] if body is not None else None
        leaves.append(Leaf(headers, body_file, text_body is not None))


def _expected(decoded_xml: Path) -> Expected | None:
    try:
        root = ET.parse(decoded_xml).getroot()
    except ET.ParseError:
        return None
    expected = Expected(_fields(root.find("header")))
    multipart = root.find("multipart")
    if multipart is not None:
        _collect(multipart, decoded_xml.parent, expected.leaves)
    else:
        body = root.find("text-body")
        if body is None:
            body = root.find("binary-body")
        path = decoded_xml.parent / body.attrib["name"] if body is not None else None
        expected.leaves.append(
            Leaf(expected.headers, path, body is not None and body.tag == "text-body")
        )
    return expected


def _param(value: str, name: str) -> str | None:
    match = re.search(rf'(?i)(?:^|;)\s*{name}\s*=\s*"?([^";]*)"?', value)
    return match.group(1).strip() if match else None


def _is_attachment(leaf: Leaf) -> bool:
    ctype = leaf.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    disposition = leaf.headers.get("content-disposition", "")
    named = bool(
        _param(disposition, "filename") or _param(leaf.headers.get("content-type", ""), "name")
    )
    if disposition.lower().startswith("attachment"):
        return True
    if ctype.startswith("message/"):
        return True
    return not ctype.startswith("text/") or (named and not disposition.lower().startswith("inline"))


def _plain_ascii(value: str | None) -> bool:
    return bool(value) and value.isascii() and "=?" not in value and "\\" not in value


def test_golden_mime4j() -> None:
    root = shared_data("mime4j_testmsgs")
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: dict[str, list[str]] = {}

    def check(name: str, ok: bool, label: str) -> None:
        total[name] += 1
        passed[name] += ok
        if not ok:
            misses.setdefault(name, []).append(label)

    count = 0
    for decoded_xml in sorted(root.rglob("*_decoded.xml")):
        msg = decoded_xml.with_name(decoded_xml.name.replace("_decoded.xml", ".msg"))
        expected = _expected(decoded_xml)
        if not msg.exists() or expected is None:
            continue
        count += 1
        label = msg.name
        parsed = parse_message(msg.read_bytes())
        headers = expected.headers

        subject = headers.get("subject")
        if _plain_ascii(subject):
            check("subject", _norm(parsed.subject) == subject, label)
        sender = headers.get("from")
        if _plain_ascii(sender):
            want = [a.email.lower() for a in parse_addresses(sender)]
            check("from", [a.email.lower() for a in parsed.from_] == want and bool(want), label)
        if headers.get("date"):
            check("date", parsed.date is not None, label)

        plain = [
            leaf
            for leaf in expected.leaves
            if leaf.is_text
            and not _is_attachment(leaf)
            and leaf.headers.get("content-type", "text/plain").lower().startswith("text/plain")
            and leaf.body_file is not None
            and leaf.body_file.exists()
        ]
        if plain:
            first = plain[0]
            assert first.body_file is not None
            charset = _param(first.headers.get("content-type", ""), "charset")
            want_text = _norm(decode_bytes(first.body_file.read_bytes(), charset))
            if want_text:
                check("text_body", _norm(parsed.text).startswith(want_text[:2000]), label)

        attachments = [leaf for leaf in expected.leaves if _is_attachment(leaf)]
        check("att_count", len(attachments) == len(parsed.attachments), label)
        sizes = [
            leaf.body_file.stat().st_size
            for leaf in attachments
            if leaf.body_file is not None and leaf.body_file.exists()
        ]
        if attachments and len(sizes) == len(attachments):
            check("att_sizes", sorted(sizes) == sorted(a.size for a in parsed.attachments), label)
        names = [
            _param(leaf.headers.get("content-disposition", ""), "filename")
            or _param(leaf.headers.get("content-type", ""), "name")
            for leaf in attachments
        ]
        if names and all(_plain_ascii(n) for n in names):
            got = sorted(a.filename or "" for a in parsed.attachments)
            # we keep base names on purpose ("/evil/filename" -> "filename"), see mime.py
            want = sorted((n or "").replace("\\", "/").rsplit("/", 1)[-1] for n in names)
            check("att_names", want == got, label)

    print(f"\nmime4j golden messages ({count})")
    for name in total:
        print(
            f"  {name:<10} {passed[name]:>4}/{total[name]:<4} {passed[name] / total[name]:.1%}"
            f"  misses: {misses.get(name, [])[:6]}"
        )
    assert count >= 70
    # measured on 80 messages: subject 52/53, from 43/43, date 33/34, text_body 48/56,
    # att_count 76/80, att_sizes 22/24, att_names 22/23. Text misses are broken-header
    # cases (no blank line after the headers) where mime4j and the stdlib split differently.
    thresholds = {
        "subject": 0.95,
        "from": 0.95,
        "date": 0.95,
        "text_body": 0.83,
        "att_count": 0.92,
        "att_sizes": 0.88,
        "att_names": 0.90,
    }
    for name, minimum in thresholds.items():
        assert passed[name] / total[name] >= minimum, (name, misses.get(name))

"""Header decoding units: RFC 2047, broken charsets, addresses, dates, message ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from secretary.mail.headers import (
    decode_bytes,
    decode_header_value,
    parse_addresses,
    parse_date,
    parse_msg_id,
    parse_msg_ids,
    resolve_charset,
)
from secretary.mail.schemas import Address


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"),
        ("=?utf-8?b?8J+OiSBQYXJ0eQ==?=", "🎉 Party"),
        # adjacent words: the whitespace between them is not part of the text (RFC 2047 6.2)
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        # a multi-byte character split across two encoded-words
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé"),
        ("=?utf-8?b?4pyU?==?utf-8?b?77iP?=", "✔️"),
        # unknown charset label: falls back to utf-8, then cp1252
        ("=?x-bogus?q?caf=C3=A9?=", "café"),
        ("=?unknown-8bit?q?caf=E9?=", "café"),
        # broken base64 padding
        ("=?utf-8?b?SGVsbG8?=", "Hello"),
        ("Fwd: \r\n\tSaying \r\n Hello", "Fwd: Saying Hello"),
        ("plain subject", "plain subject"),
        ("", ""),
    ],
)
def test_decode_header_value(raw: str, expected: str) -> None:
    assert decode_header_value(raw) == expected


def test_raw_8bit_header_bytes_are_recovered() -> None:
    # compat32 hands 8-bit header bytes over as surrogate escapes
    smuggled = "Fr\udcf6sche".encode("utf-8", "surrogateescape").decode("ascii", "surrogateescape")
    assert decode_header_value(smuggled) == "Frösche"
    utf8 = "Gr\udcc3\udcbc\udcc3\udc9fe"
    assert decode_header_value(utf8) == "Grüße"


def test_decode_bytes_fallback_chain_never_fails() -> None:
    defects: list[str] = []
    assert decode_bytes("naïve".encode("cp1252"), "utf-8", defects) == "naïve"
    assert defects == ["charset_mismatch"]
    assert decode_bytes(b"\x81\x8d", "nonsense-charset") == "\x81\x8d"  # latin-1 last resort
    assert decode_bytes("日本".encode("shift_jis"), "x-sjis") == "日本"
    assert decode_bytes("한국".encode("cp949"), "ks_c_5601-1987") == "한국"
    assert resolve_charset("utf-8*en") == "utf-8"
    assert resolve_charset("unknown-8bit") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane Doe <jane@example.com>", [Address("Jane Doe", "jane@example.com")]),
        (
            '"Doe, Jane" <jane@example.com>, bob@example.org',
            [Address("Doe, Jane", "jane@example.com"), Address("", "bob@example.org")],
        ),
        ("=?utf-8?q?J=C3=BCrgen?= <j@example.de>", [Address("Jürgen", "j@example.de")]),
        # an encoded display name containing a comma stays one address
        (
            "=?utf-8?q?Smith=2C_John?= <john@example.com>",
            [Address("Smith, John", "john@example.com")],
        ),
        ("<only@example.com>", [Address("", "only@example.com")]),
        ("undisclosed-recipients:;", []),
        (
            "Team: a@example.com, b@example.com;",
            [Address("", "a@example.com"), Address("", "b@example.com")],
        ),
        ("broken <<<>>> ,,, <x@y.z", [Address("", "x@y.z")]),
        ("", []),
    ],
)
def test_parse_addresses(raw: str, expected: list[Address]) -> None:
    got = [a for a in parse_addresses(raw) if a.email]
    assert got == [a for a in expected if a.email]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 1 Jul 2003 10:52:37 +0200", datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)),
        ("1 Jul 2003 10:52:37 -0000", datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)),
        ("Tue, 1 Jul 2003 10:52:37 GMT", datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)),
        ("Tue, 1 Jul 03 10:52:37 EST", datetime(2003, 7, 1, 15, 52, 37, tzinfo=UTC)),
        ("Tue, 1 Jul 2003 10:52:37 CEST", datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)),
        ("Tue, 1 Jul 2003 (comment) 10:52:37 +0200", datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)),
        ("Tue, 1 Jul 2003 10:52:60 +0000", datetime(2003, 7, 1, 10, 52, 59, tzinfo=UTC)),
        ("Whenever", None),
        ("Thu Jan 01 00:00:10 +0000", None),
        ("", None),
    ],
)
def test_parse_date(raw: str, expected: datetime | None) -> None:
    got = parse_date(raw)
    assert got == expected
    assert got is None or got.tzinfo is UTC


def test_parse_date_without_zone_is_utc_with_defect() -> None:
    defects: list[str] = []
    assert parse_date("Tue, 1 Jul 2003 10:52:37", defects) == datetime(
        2003, 7, 1, 10, 52, 37, tzinfo=UTC
    )
    assert defects == ["date_without_zone"]


def test_message_ids() -> None:
    assert parse_msg_id(" <abc@host>  ") == "abc@host"
    assert parse_msg_id("abc@host") == "abc@host"
    assert parse_msg_id("<a@x> (comment) <b@y>") == "a@x"
    assert parse_msg_id(None) is None
    assert parse_msg_ids("<a@x>\r\n <b@y> <a@x>") == ["a@x", "b@y"]
    assert parse_msg_ids("a@x b@y") == ["a@x", "b@y"]
    assert parse_msg_ids("") == []


def test_parse_date_nonstandard_fallback() -> None:
    defects: list[str] = []
    assert parse_date("2002/09/14 Sat 13:06:03 GMT", defects) == datetime(
        2002, 9, 14, 13, 6, 3, tzinfo=UTC
    )
    assert parse_date("2024-06-03T10:00:00+02:00") == datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
    assert defects == ["date_nonstandard"]
    # free text is never guessed into a date
    assert parse_date("_smtpDate . 286071244") is None

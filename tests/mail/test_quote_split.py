"""Acceptance 4: split_reply scored against third-party quote/signature fixtures.

The fixtures live in ../shared/data; their expectations live in the upstream projects'
tests, which are not shipped, so the cases below transcribe those assertions (reply must
contain / must not contain, signature contains, quoted contains):
- talon (mailgun/talon, Apache-2.0): standard_replies expect "Hello" or <name>_reply_text
  (tests/text_quotations_test.py), html_replies expect "Hi. I am fine. Thanks, Alex"
  (tests/html_quotations_test.py), signature/stripped/<name>_signature is the signature;
- email_reply_parser (github, zapier; MIT): test/email_reply_parser_test.rb and
  test/test_email_reply_parser.py;
- crisp-oss/email-reply-parser (MIT): test/test.js; every fixture built on the shared
  "Fusce bibendum" paragraph must yield exactly that paragraph as the reply;
- alfonsrv/mail-parser-reply (MIT): test/test_email_reply_parser.py.
Pass rates are printed per set (pytest -s); thresholds sit just below what we measured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from secretary.mail import parse_message
from secretary.mail.html_text import html_to_text
from secretary.mail.quoting import split_reply
from secretary.mail.schemas import ReplySplit
from tests.conftest import shared_data

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Case:
    fixture: str
    reply_has: tuple[str, ...] = ()
    reply_lacks: tuple[str, ...] = ()
    reply_is: str | None = None
    reply_starts: str | None = None
    signature_has: tuple[str, ...] = ()
    signature_empty: bool = False
    quoted_has: tuple[str, ...] = ()
    quoted_empty: bool = False


def _passes(case: Case, split: ReplySplit) -> bool:
    reply, sig, quoted = _norm(split.reply), _norm(split.signature), _norm(split.quoted)
    checks = [
        *(_norm(s) in reply for s in case.reply_has),
        *(_norm(s) not in reply for s in case.reply_lacks),
        *(_norm(s) in sig for s in case.signature_has),
        *(_norm(s) in quoted for s in case.quoted_has),
    ]
    if case.reply_is is not None:
        checks.append(reply == _norm(case.reply_is))
    if case.reply_starts is not None:
        checks.append(reply.startswith(_norm(case.reply_starts)))
    if case.signature_empty:
        checks.append(sig == "")
    if case.quoted_empty:
        checks.append(quoted == "")
    return all(checks)


def _score(name: str, folder: Path, cases: list[Case]) -> float:
    passed, total, misses = 0, 0, []
    for case in cases:
        path = folder / case.fixture
        if not path.exists():
            continue
        total += 1
        split = split_reply(path.read_text(encoding="utf-8", errors="replace"))
        if _passes(case, split):
            passed += 1
        else:
            misses.append(case.fixture)
    print(f"  {name:<34} {passed:>3}/{total:<3} {passed / total:.1%}  misses: {misses}")
    assert total > 0
    return passed / total


# github/email_reply_parser and zapier/email-reply-parser share most fixtures.
_ERP_CASES = [
    Case("email_1_1.txt", reply_has=("folks",), reply_lacks=("riak-users",)),
    Case("email_1_2.txt", reply_has=("Hi,", "You can list the keys for the bucket")),
    Case("email_1_3.txt", reply_has=("Oh thanks",), reply_lacks=("Russell Brown wrote",)),
    Case("email_1_4.txt", reply_has=("Awesome",), reply_lacks=("Loader",)),
    Case("email_1_5.txt", quoted_empty=True),
    Case("email_1_6.txt", reply_has=("I get",), reply_lacks=("Was this",)),
    Case("email_1_7.txt", reply_has=(":+1:",), reply_lacks=("Steps 0-2",)),
    Case("correct_sig.txt", signature_has=("--", "rick"), reply_lacks=("rick",)),
    Case("email_iPhone.txt", reply_lacks=("Sent from my iPhone",)),
    Case("email_BlackBerry.txt", reply_lacks=("Sent from my BlackBerry",)),
    Case(
        "email_multi_word_sent_from_my_mobile_device.txt",
        reply_lacks=("Sent from my Verizon Wireless BlackBerry",),
    ),
    Case("email_sent_from_my_not_signature.txt", reply_has=("Sent from my desk",)),
    Case(
        "email_one_is_not_on.txt",
        reply_has=("One outstanding question",),
        reply_lacks=("Dave Tapley wrote:",),
    ),
    Case("email_gmail.txt", reply_lacks=("xxx@gmail.com",)),
    Case("email_2_1.txt", reply_starts="Outlook with a reply", reply_lacks=("Google Apps Sync",)),
    # github's and zapier's email_2_3 differ after this common opening
    Case("email_2_3.txt", reply_starts="Outlook with a reply", reply_lacks=("CRM Comments",)),
]

_COMMON_FIRST_FRAGMENT = (
    "Fusce bibendum, quam hendrerit sagittis tempor, dui turpis tempus erat, pharetra sodales "
    "ante sem sit amet metus.\nNulla malesuada, orci non vulputate lobortis, massa felis "
    "pharetra ex, convallis consectetur ex libero eget ante.\nNam vel turpis posuere, rhoncus "
    "ligula in, venenatis orci. Duis interdum venenatis ex a rutrum.\nDuis ut libero eu lectus "
    "consequat consequat ut vel lorem. Vestibulum convallis lectus urna,\net mollis ligula "
    "rutrum quis. Fusce sed odio id arcu varius aliquet nec nec nibh."
)

_CRISP_CASES = [
    Case("email_1.txt", reply_has=("Hi folks", "Java HTTP API")),
    Case("email_2.txt", reply_has=("Hi,",), quoted_has=("Hi folks",)),
    Case("email_3.txt", reply_has=("Oh thanks.", "Having the function would be great.")),
    Case("email_4.txt", reply_has=("Awesome",), reply_lacks=("Loader",)),
    Case("email_5.txt", quoted_empty=True),
    Case("email_6.txt", reply_has=("I get",), reply_lacks=("Was this",)),
    Case("correct_sig.txt", signature_has=("--", "rick")),
    Case("sig_no_empty_line.txt", signature_has=("--", "rick")),
    Case(
        "email_one_is_not_on.txt",
        reply_has=("One outstanding question",),
        quoted_has=("On Oct 1, 2012",),
    ),
    Case(
        "email_sent_from.txt",
        reply_is="Hi it can happen to any texts you type, as long as you type in between words or paragraphs.",
    ),
    Case("email_emoji.txt", reply_has=("🎉",)),
    Case("email_not_a_signature.txt", signature_empty=True, quoted_empty=True),
    Case("email_not_a_signature_2.txt", signature_empty=True, quoted_empty=True),
    Case(
        "email_zoho.txt",
        reply_is="What is the best way to clear a Riak bucket of all key, values after\nrunning a test?",
    ),
    Case(
        "email_with_regards.txt",
        reply_is="Hi,\n\nI still have the same problem....\n\nCan you help?",
    ),
    Case("email_reply_header.txt", reply_has=("On the other hand",), quoted_has=("On Wed, Dec 9",)),
    Case("email_tricky_1_on_false_positive.txt", quoted_empty=True),
    Case(
        "email_tricky_2_url_with_wrote.txt",
        reply_has=("Check out this article", "https://example.com"),
    ),
    Case("email_tricky_3_code_block.txt", reply_has=("function sendEmail",)),
    Case("email_tricky_6_regards_in_sentence.txt", reply_has=("with regards to the payment",)),
    Case("email_tricky_7_multiple_dashes.txt", reply_has=("Key Points",)),
    Case("email_tricky_8_sent_from_in_content.txt", reply_has=("sent from my iPhone app",)),
    Case("email_tricky_9_nested_quotes.txt", reply_has=("I agree with the points",)),
    Case("email_tricky_11_double_signature.txt", reply_has=("Thanks for your help",)),
    Case(
        "email_tricky_13_timestamp_variations.txt",
        reply_has=("different timestamp formats",),
        quoted_empty=True,
    ),
    Case("email_tricky_16_unicode_signatures.txt", reply_has=("Thanks for the update",)),
    Case("email_tricky_17_forward_header.txt", reply_has=("See the forwarded message",)),
    Case("email_tricky_19_quote_without_header.txt", reply_has=("I wanted to respond",)),
    Case("email_tricky_20_html_entities.txt", reply_has=("&gt; 100 and &lt; 200",)),
]

_MULTILINGUAL_CASES = [
    Case("email_1_1.txt", reply_lacks=("riak-users",)),
    Case(
        "email_1_3.txt",
        signature_has=("-Abhishek Kona",),
        reply_lacks=("-Abhishek Kona",),
        quoted_has=("On 01/03/11 7:07 PM, Russell Brown wrote:",),
    ),
    Case("email_1_4.txt", quoted_has=("defunkt<reply@reply.github.com>",)),
    Case("email_1_6.txt", quoted_has=("<reply@reply.github.com>",)),
    Case("email_1_7.txt", quoted_has=("<notifications@github.com>wrote:",)),
    Case(
        "email_2_1.txt", reply_starts="Outlook with a reply", quoted_has=("Google Apps Sync Team",)
    ),
    Case(
        "email_2_3.txt",
        reply_is="Outlook with a reply above headers using unusual format",
        quoted_has=("Ei tale aliquam eum",),
    ),
    Case(
        "email_sent_from_iPhone.txt",
        reply_is="Here is another email",
        signature_has=("Sent from my iPhone",),
    ),
    Case(
        "email_sent_from_multi_word_mobile_device.txt",
        reply_is="Here is another email",
        signature_has=("Sent from my Verizon Wireless BlackBerry",),
    ),
    Case(
        "email_sent_from_BlackBerry.txt",
        reply_is="Here is another email",
        signature_has=("Sent from my BlackBerry",),
    ),
    Case(
        "email_sent_from_not_signature.txt",
        reply_is="Here is another email\n\nSent from my desk, is much easier than my mobile phone.",
        signature_empty=True,
    ),
    Case("email_ja_1_1.txt", reply_has=("こんにちは",)),
    Case(
        "email_ja_1_2.txt",
        reply_has=("お世話になっております。織田です。", "それでは 11:00 にお待ちしております。"),
        quoted_has=("かしこまりました", "明日の 11:00 でお願いいたします"),
    ),
    Case("email_nl_1_1.txt", reply_lacks=("riak-gebruikers",)),
    Case(
        "email_nl_1_2.txt",
        reply_starts="Outlook met een antwoord",
        quoted_has=("Google Apps Sync Team",),
    ),
    Case("email_pl_1_1.txt", reply_has=("Czesc Anno",), signature_has=("Pozdrawiam,\nJan",)),
    Case("email_pl_1_2.txt", quoted_has=("Dnia 28 lutego 2023 14:00 Anna Nowak",)),
    Case("email_pl_1_3.txt", signature_has=("Z powazaniem,\nJan",), reply_lacks=("Z powazaniem",)),
    Case("begins_with_signature.txt", signature_has=("Regards,",)),
    Case("email_swedish_2.txt", reply_has=("Hello Anna,",), signature_has=("/John",)),
    Case(
        "email_swedish_1.txt", reply_has=("Ursäkta mitt sena svar!",), quoted_has=("Hej Person B,",)
    ),
    Case(
        "email_sv_anon_1.txt",
        reply_has=("Berättar gärna.",),
        quoted_has=("Kan inte se att det står något",),
    ),
    Case(
        "email_danish_1.txt",
        reply_has=("Hej Peter,",),
        signature_has=("Med venlig hilsen\nAnders Andersen",),
        quoted_has=("Hej Anders,",),
    ),
    Case(
        "email_danish_2.txt",
        reply_has=("Jeg har modtaget filerne.",),
        signature_has=("Hilsen\nSøren",),
        quoted_has=("Her er filerne du bad om.",),
    ),
    Case("email_danish_3.txt", reply_has=("Svar.",), quoted_has=("Hej",)),
    Case(
        "email_danish_4.txt", reply_has=("Svar.",), reply_lacks=("-----Oprindelig meddelelse-----",)
    ),
    Case(
        "email_danish_5.txt",
        reply_has=("Svar.",),
        signature_has=("Kh\nPeter",),
        reply_lacks=("Kh\nPeter",),
    ),
]


def _crisp_common_cases(folder: Path) -> list[Case]:
    """Every crisp fixture that opens with the shared paragraph must reply exactly that."""
    listed = {case.fixture for case in _CRISP_CASES}
    cases = []
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name not in listed and _norm(text).startswith(_norm(_COMMON_FIRST_FRAGMENT)):
            cases.append(Case(path.name, reply_is=_COMMON_FIRST_FRAGMENT))
    return cases


def _talon_standard_rate() -> float:
    folder = shared_data("talon_fixtures", "standard_replies")
    passed, total, misses = 0, 0, []
    for eml in sorted(folder.glob("*.eml")):
        expected_file = folder / f"{eml.stem}_reply_text"
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        parsed = parse_message(eml.read_bytes())
        # talon removes quotations only; its expected text keeps the sign-off
        got = _norm(f"{parsed.reply}\n{parsed.signature}")
        total += 1
        if got == _norm(expected):
            passed += 1
        else:
            misses.append(eml.name)
    print(
        f"  {'talon standard_replies':<34} {passed:>3}/{total:<3} {passed / total:.1%}  misses: {misses}"
    )
    return passed / total


def _talon_html_rate() -> float:
    folder = shared_data("talon_fixtures", "html_replies")
    passed, total, misses = 0, 0, []
    for html in sorted(folder.glob("*.html")):
        split = split_reply(html_to_text(html.read_text(encoding="utf-8", errors="replace")))
        got = re.sub(r"\s+", "", f"{split.reply}{split.signature}")
        total += 1
        if got == "Hi.Iamfine.Thanks,Alex":
            passed += 1
        else:
            misses.append(html.name)
    print(
        f"  {'talon html_replies':<34} {passed:>3}/{total:<3} {passed / total:.1%}  misses: {misses}"
    )
    return passed / total


def _talon_signature_rate() -> float:
    folder = shared_data("talon_fixtures", "signature", "emails", "stripped")
    passed, total, misses = 0, 0, []
    for body in sorted(folder.glob("*_body")):
        expected = (folder / body.name.replace("_body", "_signature")).read_text()
        split = split_reply(body.read_text(encoding="utf-8", errors="replace"))
        total += 1
        if _norm(split.signature) == _norm(expected):
            passed += 1
        else:
            misses.append(body.name)
    print(
        f"  {'talon signature/stripped':<34} {passed:>3}/{total:<3} {passed / total:.1%}  misses: {misses}"
    )
    return passed / total


def _jetbrains_rate() -> float:
    """JetBrains/email-parser (Apache-2.0): folders name the quote-header shape (single-line,
    multi-line, ...); every message there has a quote. ``empty`` holds messages whose quote
    has no header at all (bare ">" lines, or none): there we only ask that the sender's own
    text is not swallowed. Not used while tuning the splitter: the held-out score."""
    root = shared_data("jetbrains_quote_headers", "testEmls")
    passed, total, misses = 0, 0, []
    for folder in ("SL", "ML", "AB", "phrases", "recursive", "empty"):
        for eml in sorted((root / folder).glob("*.eml")):
            parsed = parse_message(eml.read_bytes())
            total += 1
            if bool(parsed.reply) if folder == "empty" else bool(parsed.quoted):
                passed += 1
            else:
                misses.append(f"{folder}/{eml.name}")
    print(
        f"  {'jetbrains quote headers (held out)':<34} {passed:>3}/{total:<3} {passed / total:.1%}  misses: {misses}"
    )
    return passed / total


def test_quote_split_pass_rates() -> None:
    print("\nsplit_reply pass rates")
    rates = {
        "talon_standard": _talon_standard_rate(),
        "talon_html": _talon_html_rate(),
        "talon_signature": _talon_signature_rate(),
        "jetbrains": _jetbrains_rate(),
        "github": _score(
            "email_reply_parser_github",
            shared_data("email_reply_parser_github", "emails"),
            _ERP_CASES,
        ),
        "zapier": _score(
            "email_reply_parser_zapier",
            shared_data("email_reply_parser_zapier", "emails"),
            _ERP_CASES,
        ),
        "crisp": _score(
            "email_reply_parser_crisp",
            shared_data("email_reply_parser_crisp", "fixtures"),
            _CRISP_CASES,
        ),
        "crisp_common": _score(
            "email_reply_parser_crisp (Fusce set)",
            shared_data("email_reply_parser_crisp", "fixtures"),
            _crisp_common_cases(shared_data("email_reply_parser_crisp", "fixtures")),
        ),
        "multilingual": _score(
            "mail_parser_reply_multilingual",
            shared_data("mail_parser_reply_multilingual", "emails"),
            _MULTILINGUAL_CASES,
        ),
    }
    # measured: talon standard 12/12, html 9/9, signature 4/6 (talon's signature set is
    # labelled by its ML extractor: bare name blocks without a sign-off; we catch those
    # that carry contact details), jetbrains 63/66 (held out), github 15/15, zapier
    # 16/16, crisp 27/29 (the two misses are crisp's choice that "Sincerely,\nName" at the
    # end of a notice is not a signature; we call it one), crisp Fusce set 43/43,
    # multilingual 27/27. The transcribed sets were used while writing the splitter, so
    # their rates flatter it; the jetbrains rate is the honest one.
    thresholds = {
        "talon_standard": 0.95,
        "talon_html": 0.95,
        "talon_signature": 0.60,
        "jetbrains": 0.85,
        "github": 0.95,
        "zapier": 0.95,
        "crisp": 0.90,
        "crisp_common": 0.95,
        "multilingual": 0.95,
    }
    for name, minimum in thresholds.items():
        assert rates[name] >= minimum, name


def test_long_quote_is_linear_time() -> None:
    """github's 767 KB quote chain must split quickly (the splitter runs in the sync path)."""
    import time

    text = shared_data("email_reply_parser_github", "emails", "email_long_quote.txt").read_text()
    started = time.perf_counter()
    split = split_reply(text)
    assert time.perf_counter() - started < 1.0
    assert split.reply or split.quoted


def test_reply_quote_signature_unit() -> None:
    text = (
        "Sounds good, see you Tuesday.\n\nBest regards,\nAnna\n\n"
        "On Mon, 3 Jun 2024 at 10:00, Bob <bob@example.com> wrote:\n> Shall we meet?\n"
    )
    split = split_reply(text)
    assert split.reply == "Sounds good, see you Tuesday."
    assert split.signature == "Best regards,\nAnna"
    assert split.quoted.startswith("On Mon, 3 Jun 2024")
    german = "Passt!\n\nAm 03.06.2024 um 10:00 schrieb Bob <bob@example.com>:\n> Treffen?"
    assert split_reply(german).reply == "Passt!"
    outlook = (
        "Done.\n\n________________________________\nFrom: Bob\nSent: Monday\nTo: Anna\n"
        "Subject: Report\n\nPlease finish the report."
    )
    split = split_reply(outlook)
    assert split.reply == "Done."
    assert "Please finish the report." in split.quoted
    assert split_reply("Thanks!").reply == "Thanks!"
    helpdesk = "Works now.\n\n##- Please type your reply above this line -##\n\nTicket #1 updated"
    assert split_reply(helpdesk).reply == "Works now."
    assert split_reply("") == ReplySplit("", "", "")


def test_spamassassin_list_replies() -> None:
    """Held-out sanity on real list mail: SpamAssassin ham whose subject starts with "Re:".

    No labels exist, so we count two things: replies where a quote was found at all, and
    replies whose ``reply`` still ends a line with "wrote:" (a missed quote header).
    """
    root = shared_data("spamassassin_public_corpus")
    total = with_quote = leaked = 0
    for path in sorted(root.glob("*ham*/*")):
        parsed = parse_message(path.read_bytes())
        if not parsed.subject.lower().startswith("re:"):
            continue
        total += 1
        with_quote += bool(parsed.quoted)
        leaked += re.search(r"(?im)wrote:?\s*$", parsed.reply) is not None
    print(
        f"\nspamassassin Re: ham: {total} messages, quote found in {with_quote / total:.1%}, "
        f'"wrote:" line left in the reply in {leaked / total:.1%}'
    )
    # measured: 2,137 messages, quote found in 92.1%, "wrote:" left in 0.6%
    assert total > 2000
    assert with_quote / total >= 0.88
    assert leaked / total <= 0.02

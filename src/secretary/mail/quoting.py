"""Split a plain-text body into the newest reply, the quoted history and the signature.

Written here rather than taken from a library: ``email_reply_parser`` (zapier/github) only
knows English "On ... wrote:" and "--"/"Sent from my" signatures; ``mail-parser-reply``
knows more languages but must be told which ones up front (we do not know a message's
language before parsing it); talon needs scikit-learn and is unmaintained. One line-based
pass with a multilingual table of quote headers covers the fixtures of all three (see
tests/mail/test_quote_split.py for the pass rates, including a held-out set).

The algorithm:
1. a header block at the very top (a pasted "From:/Sent:/Subject:") is skipped;
2. the quote starts at the first quote header ("On ... wrote:", "Am ... schrieb:", wrapped
   over up to three lines or verb-less "date, name <address>:"; an Outlook/webmail field
   block; "-----Original Message-----"; a forward or "reply above this line" marker) or at
   the first ``>`` line after which nothing but quoted lines or a signature follows;
3. text written below a ``>`` block of that quote (bottom posting, inline answers) moves
   back to the reply, and stray ``>`` lines left in the reply move to the quote;
4. a device footer ("Sent from my iPhone") ends the reply, anything after it is quoted;
5. the signature starts at a ``-- `` delimiter, a footer, a sign-off ("Best regards,")
   followed by a short name block, or a bare name block with contact details.
"""

from __future__ import annotations

import re

from secretary.kit.text import is_quoted_line
from secretary.mail.schemas import ReplySplit

# Verbs of "X wrote:" in the languages our users and the fixtures use.
_WROTE = (
    r"wrote|writes|schrieb|schreef|a\s+écrit|escribió|escreveu|ha\s+scritto|scrisse|skrev|"
    r"kirjoitti|napisał|napisała|napisal|napsal|napísal|írta|пишет|написал|написала|написал\(а\)|"
    r"yazdı|έγραψε|kirjutas|rašė|rakstīja|escrigué|va\s+escriure|a\s+scris|je\s+napisal|"
    r"написа|napisao|napisala|wrote\s+on|書きました|写道|寫道|님이\s*작성|のメッセージ"
)
_WROTE_END_RE = re.compile(r"(?:^|\s)(?:" + _WROTE + r")\s*$", re.IGNORECASE)
_WROTE_ANY_RE = re.compile(
    r"(?:^|\s)(?:" + _WROTE + r")(?:\((?:a|а)\))?(?=\s|[:：]|$)", re.IGNORECASE
)
# Chinese/Japanese clients write the header without a Latin verb.
_CJK_HEADER_RE = re.compile(r"(写道|寫道|書きました|のメッセージ)\s*[:：]\s*$")
# Lines that open a reply header even when the verb sits on a later line (wrapped headers).
_HEADER_OPENERS_RE = re.compile(
    r"^\s*(?:On|Am|Le|El|Il|Op|Den|Dnia|W\s+dniu|Em|Den|Pe|Dne|Dňa|Am|Op|På|Kello|"
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{4}年)\b",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*(?:original\s+message|original\s+e-?mail|forwarded\s+message|"
    r"ursprüngliche\s+nachricht|weitergeleitete\s+nachricht|message\s+d'origine|message\s+transféré|"
    r"mensaje\s+original|mensaje\s+reenviado|messaggio\s+originale|messaggio\s+inoltrato|"
    r"oorspronkelijk\s+bericht|doorgestuurd\s+bericht|oprindelig\s+meddelelse|videresendt\s+meddelelse|"
    r"opprinnelig\s+melding|oprindelig\s+besked|original-nachricht|originalnachricht|ursprungligt\s+meddelande|vidarebefordrat\s+meddelande|"
    r"alkuperäinen\s+viesti|wiadomość\s+oryginalna|oryginalna\s+wiadomość|mensagem\s+original|"
    r"исходное\s+сообщение|пересылаемое\s+сообщение|původní\s+zpráva|eredeti\s+üzenet|"
    r"reply\s+message|reply\s+above\s+this\s+line)\s*[-_=*]*\s*$",
    re.IGNORECASE,
)
_FORWARD_RE = re.compile(
    r"^\s*(?:begin\s+forwarded\s+message|anfang\s+der\s+weitergeleiteten\s+nachricht|"
    r"début\s+du\s+message\s+réexpédié|inicio\s+del\s+mensaje\s+reenviado)\s*:?\s*$",
    re.IGNORECASE,
)
# helpdesk mail: "##- Please type your reply above this line -##"
_REPLY_ABOVE_RE = re.compile(
    r"^\s*#+\s*-?\s*(?:please\s+)?(?:type\s+)?(?:your\s+)?reply\s+above", re.I
)
# Outlook-style header blocks: a "From:" line followed within a few lines by Sent/Date/To.
_FROM_FIELD_RE = re.compile(
    r"^\s*[*_]?\s*(?:from|von|de|fra|från|van|da|od|lähettäjä|от|feladó|kimden|от кого)\s*[*_]?\s*[:：]",
    re.IGNORECASE,
)
_HEADER_FIELD_RE = re.compile(
    r"^\s*[*_]?\s*(?:sent|date|to|subject|cc|gesendet|datum|an|betreff|envoyé|date|à|a|objet|sujet|copie\s+à|"
    r"enviado|fecha|para|asunto|inviato|data|oggetto|verzonden|aan|onderwerp|sendt|til|emne|"
    r"skickat|ämne|lähetetty|vastaanottaja|aihe|wysłano|do|temat|enviada|assunto|отправлено|"
    r"дата|кому|тема|elküldve|címzett|tárgy|gönderildi|konu|送信日時|件名|宛先)\s*[*_]?\s*[:：]",
    re.IGNORECASE,
)
_SEPARATOR_RE = re.compile(r"^\s*[_\-—=*]{3,}\s*$")
_FIELD_LINE_RE = re.compile(r"^\s*[\w *'-]{1,25}\s?[:：]")

_SIG_DELIMITER_RE = re.compile(r"^(?:--|—|__+|-{2,3})$")
_DEVICE_FOOTER_RE = re.compile(
    r"^\s*(?:sent\s+from\s+my\s+[\w' -]{2,40}|sent\s+from\s+[\w.-]+(?:\s+[\w.-]+){0,4}|"
    r"envoyé\s+(?:à\s+partir\s+)?de\s+[\w .]{2,40}|sent\s+(?:via|using|with)\s+[\w .-]{2,40}|"
    r"get\s+outlook\s+for\s+\w+|(?:gesendet|envoyé|enviado|inviato|verzonden|skickat|sendt|wysłane)\s+"
    r"(?:von|de|desde|da|dal|vanaf|met|från|fra|z)\s+[\w .]{2,40}|envoyé\s+de\s+mon\s+[\w ]+|von\s+meinem\s+[\w ]+\s+gesendet|"
    r"enviado\s+desde\s+mi\s+[\w ]+|inviato\s+da[l]?\s+[\w ]+|verzonden\s+(?:vanaf|met)\s+[\w ]+|"
    r"skickat\s+från\s+min\s+[\w ]+|sendt\s+fra\s+min\s+[\w ]+|wysłane\s+z\s+[\w ]+|"
    r"lähetetty\s+[\w ]+|отправлено\s+с\s+[\w ]+)\s*\.?\s*(?:<[^<>\s]*>|\([^()\s]*\))?\s*$",
    re.IGNORECASE,
)
# Sign-offs: the line is only the phrase (and punctuation), so "thanks for the report" is
# not one. The name block after it must be short for the pair to count as a signature.
_SIGN_OFF_RE = re.compile(
    r"^\s*(?:thanks|thank\s+you|many\s+thanks|thanks\s+a\s+lot|thx|ty|cheers|best|all\s+the\s+best|"
    r"best\s+wishes|best\s+regards|kind\s+regards|warm\s+regards|warmest\s+regards|regards|"
    r"sincerely|yours\s+sincerely|yours\s+truly|yours|respectfully|cordially|br|brgds|rgds|"
    r"talk\s+soon|take\s+care|have\s+a\s+(?:great|nice)\s+(?:day|weekend)|"
    r"mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen|freundliche\s+grüße|viele\s+grüße|"
    r"beste\s+grüße|liebe\s+grüße|lg|vg|mfg|gruß|grüße|gruss|"
    r"cordialement|bien\s+cordialement|bien\s+à\s+vous|salutations|amicalement|bonne\s+journée|"
    r"saludos|un\s+saludo|atentamente|saludos\s+cordiales|cordiali\s+saluti|saluti|distinti\s+saluti|"
    r"grazie|met\s+vriendelijke\s+groet(?:en)?|groeten|groetjes|vriendelijke\s+groeten|"
    r"med\s+venlig\s+hilsen|venlig\s+hilsen|hilsen|mvh|kh|vh|"
    r"med\s+vänlig\s+hälsning|vänliga\s+hälsningar|hälsningar|mvh|"
    r"ystävällisin\s+terveisin|terveisin|pozdrawiam|z\s+poważaniem|z\s+powazaniem|pozdrowienia|"
    r"atenciosamente|abraços|cumprimentos|с\s+уважением|спасибо|s\s+pozdravem|üdvözlettel|"
    r"saygılarımla|よろしくお願いします|よろしくお願いいたします)\s*[,.!]*\s*$",
    re.IGNORECASE,
)
_MAX_NAME_BLOCK_LINES = 6
_MAX_NAME_LINE_CHARS = 80
_HYPHEN_NAME_RE = re.compile(r"^[-/]\s?[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}\s*$")


# First words that can open a quote header or an Outlook field block; lines starting with
# anything else skip the regexes entirely (the splitter runs on every synced message).
_OPENER_WORDS = frozenset(
    {
        *("on", "am", "le", "el", "il", "op", "den", "dnia", "w", "em", "pe", "dne", "dňa"),
        *("på", "kello", "from", "von", "de", "fra", "från", "van", "da", "od", "lähettäjä"),
        *("от", "feladó", "kimden", "begin", "anfang", "début", "inicio"),
    }
)


def _may_open_quote(stripped: str) -> bool:
    first = stripped[0]
    if first in "-_=*#" or first.isdigit() or stripped.endswith((":", "：")):
        return True
    word = stripped.split(None, 1)[0].rstrip(":：*").lower()
    return word in _OPENER_WORDS or _HEADER_FIELD_RE.match(stripped) is not None


def _looks_like_header(joined: str, opens: bool) -> bool:
    # cheapest tests first: this runs on every colon-ended line of every synced message
    if len(joined) > 300:
        return False
    has_address = "@" in joined
    if not joined.endswith((":", "：")):
        # "On <date> John <j@x.org> wrote" without its colon
        return opens and has_address and _WROTE_END_RE.search(joined) is not None
    if not joined.isascii() and _CJK_HEADER_RE.search(joined):
        return True
    has_digit = _DIGIT_RE.search(joined) is not None
    if not (opens or has_address or has_digit):
        return False
    if _WROTE_ANY_RE.search(joined):
        return True
    # "30.09.2017, 18.30, "John" <j@x.org>:" and "ср, 30 апр. 2025 г. в 15:19, John <j@x>:"
    # carry no verb at all: a date and an address ending in a colon is a header.
    return has_address and has_digit and "<" in joined


def _next_nonblank_is_quoted(lines: list[str], i: int) -> bool:
    for line in lines[i + 1 : i + 4]:
        if line.strip():
            return is_quoted_line(line)
    return False


def _is_wrote_header(lines: list[str], i: int) -> int | None:
    """If a reply header ("On <date>, <name> wrote:") starts at line i, return its line count.

    Headers are often wrapped over up to three lines, so the verb or the closing colon may
    sit on a later line; the wrapped tail can even start with ">" ("<a@b\n>:").
    """
    stripped = lines[i].strip()
    if not stripped or stripped[0] == ">":
        return None
    if stripped[0] in "-=_*":  # "---- On Wed, ... wrote ----" (Zoho)
        stripped = stripped.strip("-=_* ")
    opens = _HEADER_OPENERS_RE.match(stripped) is not None
    if _looks_like_header(stripped, opens):
        return 1
    if (
        opens
        and i + 1 < len(lines)
        and is_quoted_line(lines[i + 1])
        and _WROTE_END_RE.search(stripped)
    ):
        return 1  # "On Monday ..., Geege Schuman wrote" with neither colon nor address
    if (
        len(stripped) <= 100
        and stripped.endswith((":", "："))
        and _next_nonblank_is_quoted(lines, i)
        and _WROTE_ANY_RE.search(stripped)
    ):
        return 1  # "Martin Adamson wrote:" right above a ">" block
    if stripped.endswith((".", "?", "!")) or len(stripped) > 250:
        return None
    if not (opens or "@" in stripped or _WROTE_ANY_RE.search(stripped)):
        return None
    joined = stripped
    for span in (2, 3):
        if i + span - 1 >= len(lines):
            break
        nxt = lines[i + span - 1].strip()
        if not nxt or (nxt[0] == ">" and nxt not in (">:", ">：")):
            break
        joined = f"{joined} {nxt}" if not nxt.startswith(">") else f"{joined}{nxt}"
        if _looks_like_header(joined, opens):
            return span
    return None


_STRONG_FIELDS = frozenset(
    {"subject", "betreff", "objet", "asunto", "oggetto", "onderwerp", "emne", "ämne", "temat"}
    | {"assunto", "тема", "aihe", "sent", "gesendet", "envoyé", "date", "datum", "件名", "sujet"}
)


def _is_outlook_block(lines: list[str], i: int) -> bool:
    """A "From:" line followed within a few lines by Sent/Subject (or two other fields)."""
    if not _FROM_FIELD_RE.match(lines[i]):
        return False
    fields = 0
    for j in range(i + 1, min(i + 8, len(lines))):
        field = _HEADER_FIELD_RE.match(lines[j])
        if field is None:
            continue
        fields += 1
        if fields >= 2 or field.group(0).strip(" \t*_:：").lower() in _STRONG_FIELDS:
            return True
    return False


def _is_field_block(window: list[str]) -> bool:
    """Three or more consecutive header fields, one of them From ("Date:/Subject:/From:")."""
    fields = 0
    has_from = False
    for line in window:
        if _FROM_FIELD_RE.match(line):
            has_from = True
        elif not _HEADER_FIELD_RE.match(line):
            break
        fields += 1
    return has_from and fields >= 3


_WRAPPED_QUOTE_CHARS = 60


def _split_interleaved(quoted: str) -> tuple[str, str]:
    """Bottom-posted and inline answers: text written below a ">" block of the quote.

    Returns (new text, remaining quote). Only looks inside the newest quote (up to the next
    reply header), and only when that quote is ">"-marked right after its header.
    """
    head = _window(quoted, 0, 4)
    first_quoted = next((i for i, ln in enumerate(head) if is_quoted_line(ln)), None)
    if first_quoted is None or first_quoted == 0:
        return "", quoted
    # nothing but ">" lines after the header (the common case): no Python loop over them
    header_end = sum(len(ln) + 1 for ln in head[:first_quoted])
    if _UNQUOTED_LINE_RE.search(quoted, header_end) is None:
        return "", quoted
    lines = quoted.split("\n")
    new: list[str] = []
    kept = lines[:first_quoted]
    for i in range(first_quoted, len(lines)):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(">"):
            kept.append(line)
            continue
        previous = lines[i - 1].strip()
        if (
            stripped
            and previous.startswith(">")
            and (len(previous) >= _WRAPPED_QUOTE_CHARS or stripped[0].islower())
        ):
            kept.append(line)  # the tail of a quoted line that a client re-wrapped
            continue
        if stripped and (
            _ORIGINAL_MESSAGE_RE.match(line)
            or _is_wrote_header(lines, i) is not None
            or _is_outlook_block(lines, i)
        ):
            kept.extend(lines[i:])
            break
        if stripped or new:
            new.append(line)
    written = [ln for ln in new if ln.strip()]
    # a list footer or signature under the quote ("____ / riak-users mailing list") is not
    # an answer
    if not written or _find_signature_start(written) == 0:
        return "", quoted
    return "\n".join(new).strip(), "\n".join(kept).strip()


# Jumps straight to lines that could start the quote: the per-line checks below are Python,
# and running them on every line of every synced message cost more than the MIME parse.
# Lines worth a closer look: quoted (">"), separators and markers ("-----", "____",
# "#"), date-first headers (a digit), "Field:" lines (Outlook blocks) and anything ending
# in a colon (reply headers, possibly the last line of a wrapped one).
_LINE_CANDIDATE_RE = re.compile(
    r"\n(?=[ \t]*(?:>|[-_=*#]{2}|\d|[*_]?[^\W\d_][\w'-]{0,19}[ \t]?[*_]?[ \t]?[:：]"
    r"|(?:On|Am|Le|El|Il|Op|Em|Den|Dnia|W dniu|Pe|Dne|På) ))"
)
_COLON_END_RE = re.compile(r"[:：][ \t]*(?=\n|\Z)")
_DIGIT_RE = re.compile(r"\d")


def _candidate_lines(text: str) -> list[int]:
    """Start offsets of lines that might open the quote, in order."""
    starts = {0}  # the pattern starts at a newline (fast to scan for); line one is a candidate
    starts.update(m.end() for m in _LINE_CANDIDATE_RE.finditer(text))
    starts.update(text.rfind("\n", 0, m.start()) + 1 for m in _COLON_END_RE.finditer(text))
    return sorted(starts)


def _window(text: str, start: int, count: int) -> list[str]:
    """Up to ``count`` lines from ``start`` without copying the rest of the text."""
    end = start
    for _ in range(count):
        end = text.find("\n", end) + 1
        if end == 0:
            end = len(text)
            break
    return text[start:end].split("\n")[:count]


_UNQUOTED_LINE_RE = re.compile(r"^[ \t]*[^\s>]", re.MULTILINE)
_WINDOW_LINES = 8


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end == -1 else end


def _previous_nonblank(text: str, line_start: int) -> tuple[int, str] | None:
    end = line_start - 1
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        if line.strip():
            return start, line
        end = start - 1
    return None


def _header_block_top(text: str, line_start: int) -> int:
    """Extend an Outlook/webmail header block upwards over a separator ("_____", "====")
    and at most two "Field: value" lines ("Message du : 12/12/2016") glued above it."""
    top = line_start
    fields = 0
    while True:
        above = _previous_nonblank(text, top)
        if above is None:
            return top
        if _SEPARATOR_RE.match(above[1]):
            return above[0]
        if fields < 2 and _FIELD_LINE_RE.match(above[1]) and len(above[1]) < 120:
            fields += 1
            top = above[0]
            continue
        return line_start  # field lines without a separator above stay in the reply


def _find_quote_start(text: str) -> int | None:
    """Offset of the line where the quoted history starts, or None."""
    pos = 0
    for candidate in _candidate_lines(text):
        if candidate < pos:
            continue
        line_start, line_end = _line_bounds(text, candidate)
        line = text[line_start:line_end]
        stripped = line.strip()
        if stripped.startswith(">"):
            # A ">" block is the quoted tail only when nothing new is written after it;
            # interleaved (inline) answers keep their quoted lines in place.
            after = []
            for found in _UNQUOTED_LINE_RE.finditer(text, line_end):
                after.append(found.start())
                if len(after) > 4:
                    break
            if not after or (len(after) <= 4 and _rest_is_signature(text, after[0])):
                above = _previous_nonblank(text, line_start)
                if above is not None:
                    above_line = above[1].rstrip()
                    # an unrecognised one-line header ("Foo <x@y> a dit :") right above, or
                    # a wrapped one whose tail was taken for a quote ("<a@b.c\n>:")
                    if (above_line.endswith((":", "：")) and len(above_line) < 200) or (
                        _is_wrote_header([above_line, stripped], 0) == 2
                    ):
                        return above[0]
                return line_start
            pos = after[0]  # skip the rest of this quoted block: same answer for all of it
            continue
        if stripped.endswith((":", "：")):
            wrapped = _wrapped_header_start(text, line_start)
            if wrapped is not None:
                return wrapped
        if stripped and _may_open_quote(stripped):
            if (
                (stripped[0] in "-_=*" and _ORIGINAL_MESSAGE_RE.match(line))
                or (stripped[0] == "#" and _REPLY_ABOVE_RE.match(line))
                or (stripped[0] in "BbAaDdIi" and _FORWARD_RE.match(line))
                or _is_wrote_header(_window(text, line_start, 4), 0) is not None
            ):
                return line_start
            # field blocks need more lines; only read them when this line is a field
            if _HEADER_FIELD_RE.match(line) or _FROM_FIELD_RE.match(line):
                window = _window(text, line_start, _WINDOW_LINES)
                if _is_outlook_block(window, 0) or _is_field_block(window):
                    return _header_block_top(text, line_start)
        pos = line_end + 1
    return None


def _wrapped_header_start(text: str, line_start: int) -> int | None:
    """If the colon-ended line at ``line_start`` closes a header wrapped over the one or two
    lines right above it ("On Tue, ... Kona" / "<x@y> wrote:"), return where it starts.

    The first line of a wrapped header must look like one (an opener word or a date
    digit), so a sentence just above "John <j@x.org> wrote:" stays in the reply.
    """
    tops: list[int] = []
    top = line_start
    for _ in range(2):
        if top == 0:
            break
        prev_start = text.rfind("\n", 0, top - 1) + 1
        prev = text[prev_start : top - 1]
        if not prev.strip() or is_quoted_line(prev):
            break
        top = prev_start
        tops.append(top)
    for span, start in sorted(((i + 2, t) for i, t in enumerate(tops)), reverse=True):
        first = text[start : text.find("\n", start)].strip()
        if not (_HEADER_OPENERS_RE.match(first) or _DIGIT_RE.search(first)):
            continue
        if _is_wrote_header(_window(text, start, span), 0) == span:
            return start
    return None


def _rest_is_signature(text: str, start: int) -> bool:
    """Whether the unquoted lines from ``start`` on are only a signature or list footer."""
    rest = [ln for ln in text[start:].split("\n") if ln.strip() and not is_quoted_line(ln)]
    return _find_signature_start(rest) == 0


_DEVICE_FOOTER_SEARCH_RE = re.compile(_DEVICE_FOOTER_RE.pattern, re.IGNORECASE | re.MULTILINE)
# A footer line starts with one of these words. The pattern starts with a literal newline,
# so the regex engine jumps from line to line, and only lines that pass it are matched
# against the full footer pattern (the first line is checked separately).
_FOOTER_START_RE = re.compile(
    r"\n[ \t]*(?i:sent|get outlook|envoy|gesendet|von meinem|enviado|inviato|verzonden|"
    r"skickat|sendt|wysłane|lähetetty|отправлено)"
)
# Starts with a literal newline so the regex engine can skip from line to line; the first
# line of the text is checked separately.
_SIG_DELIMITER_SEARCH_RE = re.compile(r"\n[ \t]*(?:--|—|__+|-{2,3})[ \t]*(?=\n|\Z)")


def _find_device_footer(head: str) -> re.Match[str] | None:
    if not _FOOTER_START_RE.match("\n" + head[:120]) and not _FOOTER_START_RE.search(head):
        return None
    return _DEVICE_FOOTER_SEARCH_RE.search(head)


def _find_sig_delimiter(head: str) -> int | None:
    """Offset of the first line that is only a signature delimiter ("-- ", "__", "—")."""
    if "--" not in head and "__" not in head and "—" not in head:
        return None
    match = _SIG_DELIMITER_SEARCH_RE.search(head)
    return match.start() + 1 if match else None


_SIGNATURE_TAIL_LINES = _MAX_NAME_BLOCK_LINES + 2


def _find_signature_start(lines: list[str]) -> int | None:
    """Index of the first signature line in ``lines`` (the reply above the quote)."""
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    if last < 0:
        return None
    for i in range(last + 1):
        stripped = lines[i].strip()
        if (
            stripped
            and stripped[0] in "-_—"
            and _SIG_DELIMITER_RE.match(stripped)
            and (i > 0 or last > i)
        ):
            return i
    for i in range(max(0, last - 3), last + 1):
        if _DEVICE_FOOTER_RE.match(lines[i].strip()):
            return i
    # Scan sign-offs from the bottom: the last sign-off followed by a short name block.
    for i in range(last, max(-1, last - _SIGNATURE_TAIL_LINES), -1):
        stripped = lines[i].strip()
        if not stripped:
            continue
        if _SIGN_OFF_RE.match(stripped):
            tail = [ln.strip() for ln in lines[i + 1 : last + 1] if ln.strip()]
            if len(tail) <= _MAX_NAME_BLOCK_LINES and all(
                len(t) <= _MAX_NAME_LINE_CHARS for t in tail
            ):
                return i
            break
    if _HYPHEN_NAME_RE.match(lines[last].strip()):
        return last
    return _contact_block_start(lines, last)


_CONTACT_RE = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]+|https?://|\bwww\.|\+?\(?\d[\d ().-]{6,}\d|\bvia mobile\b|"
    r"^(?:tel|phone|mobile|cell|fax|t|m|f)\b\.?\s*[:.]",
    re.IGNORECASE,
)
_NAME_LINE_RE = re.compile(r"^[A-Z][\w.'-]*(?:[ ,]+[A-Z][\w.'-]*){0,4}\.?$")


def _contact_block_start(lines: list[str], last: int) -> int | None:
    """A bare name block closing the reply: after a blank line, a name line and at most five
    more short lines, one of them contact details (address, phone, URL, "via mobile")."""
    start = last
    while start > 0 and lines[start - 1].strip():
        start -= 1
    if start == 0:
        return None  # the whole reply is one block: not a signature under a body
    block = [ln.strip() for ln in lines[start : last + 1]]
    if not 2 <= len(block) <= _MAX_NAME_BLOCK_LINES or any(len(b) > 60 for b in block):
        return None
    if not _NAME_LINE_RE.match(block[0]):
        return None
    if not any(_CONTACT_RE.search(b) for b in block[1:]):
        return None
    return start


def _drop_leading_header_block(text: str) -> str:
    """A body that opens with "From:/Sent:/Subject:" lines (a message pasted or forwarded
    without a marker) starts with its own header, not with quoted history: skip it."""
    stripped = text.lstrip()
    if not stripped or not _FROM_FIELD_RE.match(stripped):
        return text
    if not _is_outlook_block(_window(stripped, 0, _WINDOW_LINES), 0):
        return text
    blank = re.search(r"\n[ \t]*\n", stripped)
    return stripped[blank.end() :] if blank else text


def split_reply(text: str) -> ReplySplit:
    """Split ``text`` into (reply, quoted, signature). Pure and linear-time in the input."""
    if not text:
        return ReplySplit(reply="", quoted="", signature="")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _drop_leading_header_block(text)
    quote_start = _find_quote_start(text)
    if quote_start is None:
        head, quoted = text, ""
    else:
        head, quoted = text[:quote_start], text[quote_start:]
    if quoted:
        below, quoted = _split_interleaved(quoted)
        if below:
            head = f"{head.rstrip()}\n\n{below}" if head.strip() else below
    # A device footer ("Sent from my iPhone") ends what the sender wrote: mobile clients
    # append the original message below it, often without any quote marker.
    footer = _find_device_footer(head)
    if footer is not None and head[: footer.start()].strip():
        after = head[footer.end() :]
        if after.strip():
            quoted = f"{after.strip()}\n\n{quoted}" if quoted else after.strip()
        head = head[: footer.end()]
    # Only the tail of the reply can hold the signature, except for an explicit "-- "
    # delimiter, which we find with one regex search instead of a Python loop.
    delimiter = _find_sig_delimiter(head)
    if delimiter is not None and head[:delimiter].strip():
        body, sig = head[:delimiter], head[delimiter:]
    else:
        lines = head.split("\n")
        offset = max(0, len(lines) - 12)
        tail = lines[offset:]
        sig_start = _find_signature_start(tail)
        if sig_start is None or (sig_start + offset == 0 and not quoted):
            # A body that is nothing but a "signature" is the reply (e.g. just "Thanks!").
            body, sig = head, ""
        else:
            cut = sig_start + offset
            body, sig = "\n".join(lines[:cut]), "\n".join(lines[cut:])
    if body.startswith(">") or "\n>" in body or "\n >" in body:
        # inline answers without a reply header: keep the sender's lines, move the quoted
        # ones to the quote
        own: list[str] = []
        cited: list[str] = []
        for line in body.split("\n"):
            (cited if is_quoted_line(line) else own).append(line)
        if any(line.strip() for line in own):
            body = _BLANK_RUN_RE.sub("\n\n", "\n".join(own))
            quoted = "\n".join(cited) + ("\n\n" + quoted if quoted else "")
    return ReplySplit(reply=body.strip(), quoted=quoted.strip(), signature=sig.strip())


_BLANK_RUN_RE = re.compile(r"\n(?:[ \t]*\n){2,}")

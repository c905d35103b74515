"""Plain-text helpers: sentence splitting and ``>`` quote lines. Pure: strings in, strings out.

One splitter serves mail bodies, Drive documents and draft replies. They disagree on what
ends a sentence, so the differences are keyword arguments, not copies of the regex:

- a mail body wraps at 72 columns and says "e.g. the" or "3 p.m. on", so only a blank line
  or a list item breaks a line there, and a stop ends a sentence only before a capital;
- a document or a short reply puts one thing on each line (a sheet row, an agenda item, a
  heading), so every line break ends a sentence and so does every stop.
"""

from __future__ import annotations

import re
from typing import Literal

LineBreaks = Literal["each", "paragraph", "none"]
"""Which line breaks end a sentence: every one, a blank line or a ``-``/``*``/``•`` list
item's, or none (only ``.``, ``!`` and ``?`` do)."""

_AFTER_STOP = r"(?<=[.!?])\s+"
_BEFORE_CAPITAL = r"(?=[A-Z\"'(])"
_LINE_BREAK: dict[LineBreaks, tuple[str, ...]] = {
    "each": (r"\n+",),
    "paragraph": (r"\n{2,}", r"\n(?=[-*•]\s)"),
    "none": (),
}
_BOUNDARIES: dict[tuple[bool, LineBreaks], re.Pattern[str]] = {
    (capital, breaks): re.compile(
        "|".join((_AFTER_STOP + (_BEFORE_CAPITAL if capital else ""), *_LINE_BREAK[breaks]))
    )
    for capital in (False, True)
    for breaks in _LINE_BREAK
}


def is_quoted_line(line: str) -> bool:
    """Whether ``line`` is quoted with ``>`` (after any indentation)."""
    return line.lstrip().startswith(">")


def split_sentences(
    text: str,
    *,
    capital_after_stop: bool = False,
    line_breaks: LineBreaks = "each",
    drop_quoted: bool = False,
    min_chars: int = 1,
    max_chars: int | None = None,
) -> list[str]:
    """The sentences of ``text`` in order, each with its whitespace collapsed to one space.

    Args:
        text: Any plain text.
        capital_after_stop: End a sentence at ``.``, ``!`` or ``?`` only when a capital, a
            quote or ``(`` follows, so abbreviations ("e.g. the") do not split.
        line_breaks: Which line breaks end a sentence (see ``LineBreaks``).
        drop_quoted: Leave out ``>`` quoted lines before splitting.
        min_chars: Shorter sentences are left out; the default drops only empty ones.
        max_chars: Longer sentences are left out (a table or a run-on paste is no sentence).
    """
    if drop_quoted:
        text = "\n".join(line for line in text.splitlines() if not is_quoted_line(line))
    out: list[str] = []
    for chunk in _BOUNDARIES[capital_after_stop, line_breaks].split(text):
        sentence = " ".join(chunk.split())
        if len(sentence) >= min_chars and (max_chars is None or len(sentence) <= max_chars):
            out.append(sentence)
    return out

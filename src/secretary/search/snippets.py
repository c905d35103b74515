"""Pick the passage of a text that best shows why it matched. Pure."""

from __future__ import annotations

import re

WIDTH = 200


def query_words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"\w{2,}", text)]


def snippet(text: str, words: list[str], *, width: int = WIDTH) -> str:
    """The ``width``-character window with the most query-word hits (word prefixes count, so
    "budget" finds "budgets"), trimmed to word boundaries, with ``…`` where it was cut."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    if not words:
        return flat[:width].rsplit(" ", 1)[0] + " …"
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in set(words)) + r")", re.I)
    starts = [m.start() for m in pattern.finditer(flat)]
    if not starts:
        return flat[:width].rsplit(" ", 1)[0] + " …"
    # The window starting at each hit that holds the most hits: two pointers, linear in the
    # number of hits (a long body can hold thousands of "the").
    best, best_count, end = starts[0], 0, 0
    for i, start in enumerate(starts):
        end = max(end, i)
        while end < len(starts) and starts[end] < start + width:
            end += 1
        if end - i > best_count:
            best, best_count = start, end - i
    begin = max(0, best - width // 4)
    if begin:
        space = flat.find(" ", begin)
        begin = space + 1 if 0 <= space < best else begin
    end = min(len(flat), begin + width)
    if end < len(flat):
        space = flat.rfind(" ", begin, end)
        end = space if space > best else end
    return ("… " if begin else "") + flat[begin:end] + (" …" if end < len(flat) else "")


def highlight_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of each query word (prefix) in ``text``: the UI marks these."""
    if not words:
        return []
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in set(words)) + r")\w*", re.I)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]

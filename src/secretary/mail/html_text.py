"""HTML bodies: readable plain text (selectolax/lexbor) and sanitized HTML for display (nh3).

Both cap their input: marketing mail can carry megabytes of HTML, and nothing a person reads
lives past the first couple of hundred kilobytes.
"""

from __future__ import annotations

import re

import nh3
from selectolax.lexbor import LexborHTMLParser

MAX_HTML_CHARS = 200_000
# What we read at all. Markup beyond MAX_DEPTH is dropped first (linear), so a nesting
# bomb shrinks to its text before the MAX_HTML_CHARS cap could cut that text off.
MAX_RAW_HTML_CHARS = 5_000_000
MAX_DEPTH = 256

_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]{0,40})([^<>]{0,4000})>")
# Elements that never hold children, and those HTML closes implicitly (they cannot nest
# without an explicit container in between, so they never deepen the tree on their own).
_FLAT_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "option",
    ]
)


def flatten_deep_markup(html: str, max_depth: int = MAX_DEPTH) -> str:
    """Drop the tags nested deeper than ``max_depth`` and keep everything else, text
    included. One pass over the input: a nesting bomb costs what its length costs."""
    out: list[str] = []
    depth = 0
    pos = 0
    for m in _TAG_RE.finditer(html):
        closing, name, rest = m.group(1), m.group(2).lower(), m.group(3)
        if name in _FLAT_TAGS or rest.endswith("/"):
            continue
        if closing:
            keep = 0 < depth <= max_depth
            depth = max(depth - 1, 0)
        else:
            depth += 1
            keep = depth <= max_depth
        if not keep:
            out.append(html[pos : m.start()])
            pos = m.end()
    if not out:
        return html
    out.append(html[pos:])
    return "".join(out)


# Block-level boundaries become line breaks. We mark them with a private-use character
# before parsing because lexbor's text() has no notion of layout; the marker survives as
# text and is turned into "\n" after whitespace has been collapsed.
_BREAK = "\ue000"
_BLOCK_TAG_RE = re.compile(
    r"(?i)<(?=br\b|/?(?:p|div|li|ul|ol|h[1-6]|blockquote|pre|hr|section|article|header|footer|dd|dt)\b)"
)
_DROP_TAGS = ["script", "style", "noscript", "template", "head", "title", "svg", "object"]
_HSPACE_RE = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad]+")
_BREAK_RUN_RE = re.compile(r" ?" + _BREAK + r" ?")
_BLANKS_RE = re.compile(r"\n{3,}")
# Inline styles that hide an element from the reader. Text a person cannot see must not
# reach the text we classify or put into prompts: it is where hidden instructions live
# (prompt injection) and where spam stuffs words past filters.
_HIDDEN_STYLE_RE = re.compile(
    r"(?i)(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0*)?(?:px|pt|em|rem|%)?\s*(?:;|!|$)"
    r"|opacity\s*:\s*0(?:\.0*)?\s*(?:;|!|$)|(?:max-)?height\s*:\s*0(?:px)?\s*;[^\"]*overflow\s*:\s*hidden)"
)


def html_to_text(html: str) -> str:
    """Turn an HTML body into clean text: no scripts/styles, block elements on their own lines,
    link text kept, whitespace collapsed, at most one blank line in a row."""
    if not html:
        return ""
    html = flatten_deep_markup(html[:MAX_RAW_HTML_CHARS])[:MAX_HTML_CHARS]
    marked = _BLOCK_TAG_RE.sub(_BREAK + "<", html)
    try:
        tree = LexborHTMLParser(marked)
        tree.strip_tags(_DROP_TAGS)
        hidden = [
            node
            for node in tree.css("[style], [hidden]")
            if "hidden" in node.attributes
            or _HIDDEN_STYLE_RE.search(node.attributes.get("style") or "")
        ]
        for node in hidden:
            node.decompose()
        # Table rows and cells are marked in the tree, not in the source: HTML parsing
        # "foster-parents" text found between table tags out of the table.
        for node in tree.css("tr, td, th"):
            node.insert_child(_BREAK if node.tag == "tr" else " ")
        root = tree.body or tree.root
        text = root.text(separator="") if root is not None else ""
    except Exception:  # lexbor is robust, but a body must never break parsing of the message
        text = re.sub(r"<[^>]*>", " ", marked)
    text = _HSPACE_RE.sub(" ", text)
    text = _BREAK_RUN_RE.sub("\n", text)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANKS_RE.sub("\n\n", "\n".join(lines)).strip()


_ALLOWED_SCHEMES = {"http", "https", "mailto", "cid", "tel"}


def sanitize_html(html: str) -> str:
    """HTML safe to show in our UI: no scripts, styles, event handlers, forms or iframes;
    links kept (with rel="noopener noreferrer nofollow") and only safe URL schemes."""
    if not html:
        return ""
    return nh3.clean(
        # Flattened first: the sanitizer's cost grows with nesting depth too.
        flatten_deep_markup(html[:MAX_RAW_HTML_CHARS])[:MAX_HTML_CHARS],
        url_schemes=_ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )

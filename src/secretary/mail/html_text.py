"""HTML bodies: readable plain text (selectolax/lexbor) and sanitized HTML for display (nh3).

Both cap their input: marketing mail can carry megabytes of HTML, and nothing a person reads
lives past the first couple of hundred kilobytes.
"""

from __future__ import annotations

import re

import nh3
from selectolax.lexbor import LexborHTMLParser

MAX_HTML_CHARS = 200_000

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
    html = html[:MAX_HTML_CHARS]
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
        html[:MAX_HTML_CHARS],
        url_schemes=_ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )

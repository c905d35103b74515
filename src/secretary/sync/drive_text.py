"""Drive content as text: what to fetch for a file, and turning the bytes into text.

Pure functions (no I/O): ``plan`` decides from metadata alone (so a file we cannot read
costs no quota), ``extract`` turns fetched bytes into text.

- Docs and Slides: ``files.export`` as ``text/plain``; Sheets: as ``text/csv`` (the first
  sheet, as Google exports it).
- ``text/*`` (plain, markdown, CSV ...) and JSON: downloaded and decoded (UTF-8, BOM
  dropped, undecodable bytes replaced).
- PDF: downloaded and read with ``pypdf`` (page text in order). Encrypted or broken PDFs
  are kept as metadata with the reason.
- Anything else (images, archives, Drawings, Forms ...): metadata only, reason
  ``unsupported type``. Files over the size cap: metadata only, reason ``too large``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

FOLDER = "application/vnd.google-apps.folder"
GOOGLE_EXPORTS = {
    "application/vnd.google-apps.document": "text/plain",
    "application/vnd.google-apps.presentation": "text/plain",
    "application/vnd.google-apps.spreadsheet": "text/csv",
}
TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml", "application/csv")
PDF = "application/pdf"


@dataclass(frozen=True)
class ContentPlan:
    action: Literal["export", "download", "skip", "none"]
    export_mime: str | None = None
    reason: str | None = None


def plan(mime_type: str, size: int | None, *, trashed: bool, max_bytes: int) -> ContentPlan:
    if trashed or mime_type == FOLDER:
        return ContentPlan("none")
    if mime_type in GOOGLE_EXPORTS:
        return ContentPlan("export", export_mime=GOOGLE_EXPORTS[mime_type])
    if mime_type.startswith("application/vnd.google-apps."):
        return ContentPlan("skip", reason=f"no text export for {mime_type}")
    if not (mime_type.startswith("text/") or mime_type in TEXT_TYPES or mime_type == PDF):
        return ContentPlan("skip", reason=f"unsupported type {mime_type}")
    if size is not None and size > max_bytes:
        return ContentPlan("skip", reason=f"too large ({size} bytes > {max_bytes})")
    return ContentPlan("download")


class Unreadable(Exception):
    """The bytes could not be turned into text; the message is the stored reason."""


def extract(mime_type: str, data: bytes, *, max_chars: int) -> tuple[str, bool]:
    """(text, truncated) from exported or downloaded bytes."""
    if mime_type == PDF:
        text = _pdf_text(data)
    else:
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        text = text.replace("\r\n", "\n").replace("\x00", "")
    truncated = len(text) > max_chars
    return text[:max_chars], truncated


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise Unreadable("encrypted PDF") from exc
        pages = [page.extract_text() or "" for page in reader.pages]
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Unreadable(f"unreadable PDF ({type(exc).__name__})") from exc
    return "\n\n".join(p.strip() for p in pages).strip().replace("\x00", "")

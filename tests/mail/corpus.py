"""Find the mail files in ../shared/data: by name and content, not by a hard-coded list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from secretary.mail.mime import is_mbox, split_mbox

# Files that are labels, expected outputs or documentation, not messages.
_SKIP_SUFFIXES = {".md", ".json", ".ics", ".jcal", ".xml", ".out", ".cats", ".bin", ".html"}
_SKIP_NAMES = {"readme", "copying", "license", "artistic-license.txt", "readme.txt"}
_SKIP_DIRS = {"google_api_discovery", "bc3_w3c_threads", "enron_qa_t5_annotated"}


def is_mail_file(path: Path) -> bool:
    name = path.name.lower()
    if path.suffix.lower() in _SKIP_SUFFIXES or name in _SKIP_NAMES or name.startswith("."):
        return False
    if "_decoded_" in name:  # mime4j's expected decoded part bodies
        return False
    # talon's signature/stripped/<name>_{signature,sender} are expected outputs
    return not (path.parent.name == "stripped" and not name.endswith("_body"))


def iter_messages(root: Path) -> Iterator[tuple[str, bytes]]:
    """(label, raw message) for every mail file under ``root``; mbox files are split."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or not is_mail_file(path):
            continue
        if any(part in _SKIP_DIRS for part in path.relative_to(root).parts):
            continue
        data = path.read_bytes()
        label = str(path.relative_to(root))
        if is_mbox(data) and data.count(b"\nFrom ") > 0:
            for i, message in enumerate(split_mbox(data)):
                yield f"{label}#{i}", message
        else:
            yield label, data

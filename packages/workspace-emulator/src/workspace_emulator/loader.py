"""Seed a mailbox from real mail: a folder of RFC 822 files (recursively; maildir works), an
mbox (optionally gzip'd), or raw bytes.

Bytes are stored untouched (no charset decoding, so any corpus file loads). Messages are
inserted oldest first so replies find their parents; dates come from the Date header
(tolerant; missing ones borrow their neighbour's), optionally spread over the last N days by
rank so an old corpus looks like recent mail. Files under a folder named like ``spam`` can be
labelled SPAM instead of INBOX.
"""

from __future__ import annotations

import gzip
import mailbox as stdlib_mailbox
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from workspace_emulator import _clock
from workspace_emulator.gmail_store import Mailbox, RawHeaders, read_headers

SKIP_NAMES = frozenset(
    {
        "source.md",
        "readme",
        "readme.md",
        "readme.txt",
        "license",
        "license.txt",
        "cmds",
        ".ds_store",
    }
)
SKIP_SUFFIXES = (
    ".md",
    ".json",
    ".py",
    ".yaml",
    ".yml",
    ".toml",
    ".csv",
    ".tsv",
    ".sh",
    ".rst",
    ".ics",
    ".xml",
)
MBOX_SUFFIXES = (".mbox", ".mbx", ".mbox.gz", ".mbx.gz")
_DAY_MS = 86_400_000
# A message starts with a header field ("Name: value"; names have no spaces), possibly after
# blank lines.
_HEADER_LINE = re.compile(rb"\s*[!-9;-~]+:")


@dataclass
class LoadResult:
    loaded: int
    skipped: int
    threads: int
    seconds: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "loaded": self.loaded,
            "skipped": self.skipped,
            "threads": self.threads,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Item:
    raw: bytes
    headers: RawHeaders
    spam: bool
    order: int


def _strip_envelope(raw: bytes) -> bytes:
    # Single-message files from mbox archives (SpamAssassin) begin with a "From " envelope
    # line that is not a header.
    if raw.startswith(b"From "):
        nl = raw.find(b"\n")
        return raw[nl + 1 :] if nl != -1 else b""
    return raw


def _read_mbox(path: Path) -> Iterator[bytes]:
    if path.name.endswith(".gz"):
        data = gzip.decompress(path.read_bytes())
        yield from split_mbox(data)
        return
    box = stdlib_mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def split_mbox(data: bytes) -> Iterator[bytes]:
    """Messages of an mbox held in memory (``From `` lines at line starts separate them)."""
    start = 0 if data.startswith(b"From ") else -1
    pos = 0
    while True:
        nxt = data.find(b"\nFrom ", pos)
        if nxt == -1:
            break
        if start != -1:
            yield _strip_envelope(data[start : nxt + 1])
        start = nxt + 1
        pos = nxt + 1
    if start != -1 and start < len(data):
        yield _strip_envelope(data[start:])


def _skipped(path: Path) -> bool:
    name = path.name.lower()
    return name.startswith(".") or name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES)


def iter_path(path: Path) -> Iterator[tuple[Path, bytes]]:
    """(source file, raw message) for every message under ``path``, in a stable order."""
    if path.is_file():
        if path.name.lower().endswith(MBOX_SUFFIXES):
            for raw in _read_mbox(path):
                yield path, raw
        else:
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                data = gzip.decompress(data)
            yield path, _strip_envelope(data)
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            child = Path(root) / name
            if not _skipped(child):
                yield from iter_path(child)


def _is_spam_path(path: Path, base: Path) -> bool:
    try:
        parts = path.relative_to(base).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    return any("spam" in part.lower() for part in parts)


def load_messages(
    mailbox: Mailbox,
    raws: Iterable[bytes | tuple[bytes, bool]],
    *,
    labels: Iterable[str] = ("INBOX",),
    unread: bool = True,
    recent_days: float | None = None,
    now_ms: int | None = None,
    seed: int = 0,
    warm: bool = False,
) -> LoadResult:
    """Insert raw messages (or ``(raw, is_spam)`` pairs) into ``mailbox``, oldest first.

    ``recent_days`` spreads the messages over the last N days by rank of their Date header;
    ``warm`` computes snippets on a background thread so the first ``get`` of each is cheap.
    """
    started = time.perf_counter()
    items: list[_Item] = []
    skipped = 0
    for i, entry in enumerate(raws):
        raw, spam = entry if isinstance(entry, tuple) else (entry, False)
        if not _HEADER_LINE.match(raw):
            skipped += 1  # label files, notes, empty files: not RFC 822
            continue
        items.append(_Item(raw=raw, headers=read_headers(raw), spam=spam, order=i))
    now_ms = now_ms if now_ms is not None else _clock.now_ms()
    dates = _dates(items, now_ms)
    order = sorted(range(len(items)), key=lambda k: (dates[k], items[k].order))
    if recent_days is not None and items:
        rng = random.Random(seed)  # noqa: S311  # reproducible demo dates, not security
        span = recent_days * _DAY_MS
        step = span / len(items)
        for rank, k in enumerate(order):
            jitter = rng.uniform(0, step) if step > 1 else 0.0
            dates[k] = int(now_ms - span + rank * step + jitter)
    base_labels = set(labels)
    threads_before = len(mailbox.threads)
    with mailbox.lock:
        for k in order:
            item = items[k]
            item_labels = {"SPAM"} if item.spam else set(base_labels)
            if unread:
                item_labels.add("UNREAD")
            mailbox.add_message(
                item.raw, label_ids=item_labels, internal_date=dates[k], headers=item.headers
            )
    if warm:
        _warm_in_background(mailbox)
    return LoadResult(
        loaded=len(items),
        skipped=skipped,
        threads=len(mailbox.threads) - threads_before,
        seconds=time.perf_counter() - started,
    )


def _dates(items: list[_Item], now_ms: int) -> list[int]:
    """Date header per item; a missing or absurd date borrows the previous good one."""
    out: list[int] = []
    last = now_ms - 365 * _DAY_MS
    for item in items:
        date = item.headers.date_ms
        if date is None or not (0 < date <= now_ms + _DAY_MS):
            date = last
        out.append(date)
        last = date
    return out


def load_path(
    mailbox: Mailbox,
    path: str | Path,
    *,
    labels: Iterable[str] = ("INBOX",),
    spam_folders: bool = True,
    unread: bool = True,
    recent_days: float | None = None,
    limit: int | None = None,
    now_ms: int | None = None,
    seed: int = 0,
    warm: bool = False,
) -> LoadResult:
    """Load a folder of RFC 822 files / a maildir / an mbox into ``mailbox``."""
    base = Path(path).expanduser()
    if not base.exists():
        raise FileNotFoundError(f"no such mail source: {base}")

    def entries() -> Iterator[tuple[bytes, bool]]:
        for n, (source, raw) in enumerate(iter_path(base)):
            if limit is not None and n >= limit:
                return
            yield raw, spam_folders and _is_spam_path(source, base)

    return load_messages(
        mailbox,
        entries(),
        labels=labels,
        unread=unread,
        recent_days=recent_days,
        now_ms=now_ms,
        seed=seed,
        warm=warm,
    )


def _warm_in_background(mailbox: Mailbox) -> None:
    messages = list(mailbox.messages.values())

    def warm() -> None:
        # Attribute writes are atomic under the GIL; a request computing the same snippet
        # concurrently just does the work twice.
        for message in reversed(messages):  # newest first, like a sync fetches
            _ = message.snippet

    threading.Thread(target=warm, name="emulator-warm-snippets", daemon=True).start()

"""notmuch (Xapian), the local mail search power users trust, run on the same mail and queries.

``ensure_notmuch`` installs Debian's ``notmuch`` when it is missing and we run as root
(``apt-get install -y notmuch``), and otherwise says why it is skipped. Queries go through
libnotmuch (ctypes): the headline is notmuch as people use it, the words ANDed (its
parser's default) and newest first. notmuch ranks by date only: it sets Xapian's
``BoolWeight``, so there is no relevance order to ask for; ``or_unsorted`` (words ORed,
Xapian document order) is printed beside it to show that ORing does not help.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"\w+")
SORT_NEWEST_FIRST = 1
SORT_UNSORTED = 3


def ensure_notmuch() -> tuple[str | None, str | None]:
    """``(path to notmuch, None)`` or ``(None, why it was skipped)``."""
    found = shutil.which("notmuch")
    if found:
        return found, None
    if os.geteuid() != 0:
        return None, "notmuch is not installed and we are not root (apt-get install notmuch)"
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "notmuch is not installed and apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(  # noqa: S603 - a fixed command line
        [apt, "install", "-y", "notmuch"], capture_output=True, env=env, check=False
    )
    if done.returncode != 0:
        return None, f"apt-get install notmuch failed ({done.returncode})"
    found = shutil.which("notmuch")
    return (found, None) if found else (None, "notmuch not found after apt-get install")


@dataclass
class NotmuchCorpus:
    root: Path
    binary: str

    @property
    def config(self) -> Path:
        return self.root / "notmuch-config"

    @property
    def maildir(self) -> Path:
        return self.root / "mail"


def build_corpus(binary: str, root: Path, docs: Sequence[tuple[str, str]]) -> NotmuchCorpus:
    """Write ``(doc_id, body)`` as a maildir (Message-ID ``<doc_id@eval>``) and index it."""
    corpus = NotmuchCorpus(root, binary)
    cur = corpus.maildir / "cur"
    for sub in ("cur", "new", "tmp"):
        (corpus.maildir / sub).mkdir(parents=True, exist_ok=True)
    for n, (doc_id, body) in enumerate(docs):
        (cur / f"{n}.eval:2,S").write_text(
            f"From: eval@example.com\nTo: eval@example.com\nMessage-ID: <{doc_id}@eval>\n"
            "Date: Mon, 1 Jan 2001 00:00:00 +0000\nSubject: \n"
            "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n",
            encoding="utf-8",
        )
    corpus.config.write_text(
        f"[database]\npath={corpus.maildir}\n[user]\nname=Eval\nprimary_email=eval@example.com\n"
        "[new]\ntags=\nignore=\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n"
    )
    subprocess.run(  # noqa: S603 - our own binary path and fixed arguments
        [binary, "--config", str(corpus.config), "new", "--quiet"],
        check=True,
        capture_output=True,
    )
    return corpus


class _Lib:
    """The few libnotmuch calls we need, through ctypes (no Python binding in the venv)."""

    def __init__(self) -> None:
        lib = ctypes.CDLL("libnotmuch.so.5")
        p = ctypes.c_void_p
        lib.notmuch_database_open_with_config.argtypes = [
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.POINTER(p),
            ctypes.POINTER(ctypes.c_char_p),
        ]
        lib.notmuch_query_create.argtypes = [p, ctypes.c_char_p]
        lib.notmuch_query_create.restype = p
        lib.notmuch_query_set_sort.argtypes = [p, ctypes.c_int]
        lib.notmuch_query_search_messages.argtypes = [p, ctypes.POINTER(p)]
        lib.notmuch_messages_valid.argtypes = [p]
        lib.notmuch_messages_get.argtypes = [p]
        lib.notmuch_messages_get.restype = p
        lib.notmuch_messages_move_to_next.argtypes = [p]
        lib.notmuch_message_get_message_id.argtypes = [p]
        lib.notmuch_message_get_message_id.restype = ctypes.c_char_p
        lib.notmuch_message_destroy.argtypes = [p]
        lib.notmuch_query_destroy.argtypes = [p]
        lib.notmuch_database_destroy.argtypes = [p]
        self.lib = lib


class NotmuchSearcher:
    def __init__(self, corpus: NotmuchCorpus) -> None:
        self._lib = _Lib().lib
        self._db = ctypes.c_void_p()
        error = ctypes.c_char_p()
        status = self._lib.notmuch_database_open_with_config(
            str(corpus.maildir).encode(),
            0,  # read only
            str(corpus.config).encode(),
            None,
            ctypes.byref(self._db),
            ctypes.byref(error),
        )
        if status != 0:
            raise RuntimeError(f"notmuch open failed: {status} {error.value!r}")

    def search(self, query: str, *, limit: int = 10, as_typed: bool = True) -> list[str]:
        """Doc ids of the first ``limit`` messages: ``as_typed``, notmuch's default AND of the
        words, newest first; else the words ORed, in Xapian's document order."""
        words = [w.lower() for w in _WORD.findall(query)]
        if not words:
            return []
        text = (" and " if as_typed else " or ").join(words)
        q = self._lib.notmuch_query_create(self._db, text.encode())
        self._lib.notmuch_query_set_sort(q, SORT_NEWEST_FIRST if as_typed else SORT_UNSORTED)
        messages = ctypes.c_void_p()
        out: list[str] = []
        try:
            if self._lib.notmuch_query_search_messages(q, ctypes.byref(messages)) != 0:
                return []
            while len(out) < limit and self._lib.notmuch_messages_valid(messages):
                message = self._lib.notmuch_messages_get(messages)
                mid = self._lib.notmuch_message_get_message_id(message) or b""
                out.append(mid.decode().removesuffix("@eval"))
                self._lib.notmuch_message_destroy(message)
                self._lib.notmuch_messages_move_to_next(messages)
        finally:
            self._lib.notmuch_query_destroy(q)
        return out

    def close(self) -> None:
        self._lib.notmuch_database_destroy(self._db)


def timed_search(searcher: NotmuchSearcher, query: str, **kw: bool) -> tuple[list[str], float]:
    started = time.perf_counter()
    out = searcher.search(query, **kw)
    return out, (time.perf_counter() - started) * 1000

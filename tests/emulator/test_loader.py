"""Seeding mailboxes from real corpora, mbox and maildir."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from workspace_emulator.loader import load_path, split_mbox
from workspace_emulator.state import EmulatorState

from tests.conftest import shared_data

DAY_MS = 86_400_000


def msg(
    n: int, *, reply_to: int | None = None, date: str = "Tue, 03 Nov 2026 10:00:00 +0000"
) -> bytes:
    head = f"From: p{n}@example.org\r\nSubject: {'Re: ' if reply_to else ''}Topic\r\nMessage-ID: <{n}@ex>\r\nDate: {date}\r\n"
    if reply_to is not None:
        head += f"In-Reply-To: <{reply_to}@ex>\r\n"
    return (head + f"\r\nbody {n}\r\n").encode()


def test_spamassassin_corpus_loads_every_file() -> None:
    corpus = shared_data("spamassassin_public_corpus")
    files = [p for p in corpus.rglob("*") if p.is_file() and p.name != "SOURCE.md"]
    spam_files = [p for p in files if "spam" in p.parent.name]
    mailbox = EmulatorState().add_user("alex@example.test").mailbox
    started = time.perf_counter()
    result = load_path(mailbox, corpus, recent_days=30)
    elapsed = time.perf_counter() - started
    print(f"loaded {result.loaded} messages in {elapsed:.2f}s ({result.loaded / elapsed:.0f}/s)")
    assert result.loaded == len(files)
    assert len(mailbox.messages) == len(files)
    spam = [m for m in mailbox.messages.values() if "SPAM" in m.label_ids]
    assert len(spam) == len(spam_files)
    assert all(
        m.label_ids == {"INBOX", "UNREAD"} for m in mailbox.messages.values() if m not in spam
    )
    assert result.threads < result.loaded  # mailing-list replies were threaded
    now = time.time() * 1000
    dates = [m.internal_date for m in mailbox.messages.values()]
    assert min(dates) >= now - 30 * DAY_MS - 60_000
    assert max(dates) <= now + 60_000
    for message in list(mailbox.messages.values())[::15]:  # every format renders, no exception
        full = message.render("full")
        assert full["payload"]["mimeType"]
        assert isinstance(message.render("raw")["raw"], str)
    assert not any(m.raw.startswith(b"From ") for m in mailbox.messages.values())


def test_mbox_gz_and_maildir(tmp_path: Path) -> None:
    mbox = b"".join(
        b"From sender@example.org Tue Nov  3 10:00:00 2026\n" + msg(i) + b"\n" for i in range(3)
    )
    assert len(list(split_mbox(mbox))) == 3
    (tmp_path / "archive.mbox").write_bytes(mbox)
    (tmp_path / "more.mbox.gz").write_bytes(gzip.compress(mbox))
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1.eml:2,S").write_bytes(msg(10))
    (maildir / "new" / "2.eml").write_bytes(msg(11))
    (tmp_path / "SOURCE.md").write_text("license notes, not mail")
    (tmp_path / "42.cats").write_text("1,1,1\n")
    (tmp_path / "categories.txt").write_text("Format of each line in .cats file:\n")
    (tmp_path / "Spam").mkdir()
    (tmp_path / "Spam" / "junk.eml").write_bytes(msg(20))
    mailbox = EmulatorState().add_user("alex@example.test").mailbox
    result = load_path(mailbox, tmp_path, unread=False)
    assert result.loaded == 3 + 3 + 2 + 1
    assert result.skipped == 2
    labels = sorted(sorted(m.label_ids) for m in mailbox.messages.values())
    assert labels.count(["SPAM"]) == 1
    assert labels.count(["INBOX"]) == 8


def test_replies_thread_with_parents_regardless_of_file_order(tmp_path: Path) -> None:
    (tmp_path / "a_reply.eml").write_bytes(
        msg(2, reply_to=1, date="Wed, 04 Nov 2026 10:00:00 +0000")
    )
    (tmp_path / "b_parent.eml").write_bytes(msg(1, date="Tue, 03 Nov 2026 10:00:00 +0000"))
    (tmp_path / "c_broken_date.eml").write_bytes(msg(3, date="not a date at all"))
    mailbox = EmulatorState().add_user("alex@example.test").mailbox
    load_path(mailbox, tmp_path)
    by_header = {m.message_id_header: m for m in mailbox.messages.values()}
    assert by_header["<2@ex>"].thread_id == by_header["<1@ex>"].thread_id
    assert by_header["<1@ex>"].internal_date < by_header["<2@ex>"].internal_date
    assert by_header["<3@ex>"].internal_date > 0


def test_cli_serve_seeds_a_folder(tmp_path: Path) -> None:
    for i in range(4):
        (tmp_path / f"{i}.eml").write_bytes(msg(i))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secretary",
            "emulator",
            "serve",
            "--port",
            str(port),
            "--seed",
            str(tmp_path),
            "--user",
            "cli@example.test",
            "--quota",
            "off",
            "--fault",
            "gmail.users.labels.list:error_503=1",
            "--print-token",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                stats = httpx.get(f"{base}/emulator/stats").json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, "emulator exited"
                assert time.monotonic() < deadline, "emulator did not start"
                time.sleep(0.2)
        assert stats["mailboxes"]["cli@example.test"]["messages"] == 4
        assert stats["quota"]["mode"] == "off"
        faults = httpx.get(f"{base}/emulator/faults").json()
        assert faults["endpoints"]["gmail.users.labels.list"]["error_503"] == 1.0
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        summary, _end = json.JSONDecoder().raw_decode(out.decode().lstrip())
        assert summary["seeded"]["loaded"] == 4
        assert summary["user"] == "cli@example.test"
        assert summary["access_token"].startswith("ya29.")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

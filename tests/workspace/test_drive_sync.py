"""Drive sync against the emulator over HTTP with the official client."""

from __future__ import annotations

import io

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.drive_store import DOC
from workspace_emulator.faults import expire_drive_page_tokens
from workspace_emulator.quota import quota_book

from secretary.db.models import AuditLog, DriveFile, SyncState
from secretary.sync.drive import sync_drive
from secretary.sync.drive_text import extract, plan
from tests.sync.conftest import Connected
from tests.workspace.conftest import emulator_files, seed_drive, store_files


def _pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` (hand-written objects; pypdf reads the text back)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_text_extraction_rules() -> None:
    assert (
        plan("application/vnd.google-apps.document", None, trashed=False, max_bytes=10).action
        == "export"
    )
    assert (
        plan(
            "application/vnd.google-apps.spreadsheet", None, trashed=False, max_bytes=10
        ).export_mime
        == "text/csv"
    )
    assert plan("image/png", 5, trashed=False, max_bytes=10).action == "skip"
    too_big = plan("text/plain", 11, trashed=False, max_bytes=10)
    assert too_big.action == "skip"
    assert "too large" in (too_big.reason or "")
    assert plan("application/pdf", 5, trashed=True, max_bytes=10).action == "none"
    assert extract("text/plain", "\ufeffhé\r\nllo".encode(), max_chars=100) == ("hé\nllo", False)
    assert extract("text/plain", b"abcdef", max_chars=3) == ("abc", True)
    assert (
        "Quarterly report"
        in extract("application/pdf", _pdf("Quarterly report"), max_chars=1000)[0]
    )


def test_drive_sync_stores_files_and_text_then_follows_changes(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_drive(emu, email, files=60)
    drive = emu.users[email].drive
    with emu.lock:
        pdf = drive.add_file("report.pdf", "application/pdf", content=_pdf("Quarterly report"))[
            "id"
        ]
        broken = drive.add_file("broken.pdf", "application/pdf", content=b"%PDF-1.4 not really")[
            "id"
        ]
    report = sync_drive(sessions, workspace.account_id, workspace.settings)
    assert report.phase == "incremental"
    assert store_files(sessions, workspace.account_id) == emulator_files(emu, email)
    with sessions() as session:
        rows = {
            r.google_id: r
            for r in session.scalars(
                select(DriveFile).where(DriveFile.account_id == workspace.account_id)
            )
        }
    assert "Quarterly report" in (rows[pdf].text or "")
    assert rows[broken].text_state == "error"
    assert "PDF" in (rows[broken].text_reason or "")
    docs = [r for r in rows.values() if r.mime_type == DOC]
    assert docs
    assert all(r.text_state == "ok" and "Meeting notes" in (r.text or "") for r in docs)
    sheets = [r for r in rows.values() if r.mime_type.endswith("spreadsheet")]
    assert sheets
    assert all("item,cost" in (r.text or "") for r in sheets)
    pngs = [r for r in rows.values() if r.mime_type == "image/png"]
    assert pngs
    assert all(r.text_state == "skipped" and r.text_reason for r in pngs)
    assert not [r for r in rows.values() if r.text_state == "pending"]
    # files.list was called once (100 units), not per file.
    first_units = report.units

    # Changes: edit a doc, trash one, delete one, add one.
    with emu.lock:
        drive.update_file(docs[0].google_id, doc_text="Rewritten notes")
        drive.trash_file(docs[1].google_id)
        drive.delete_file(docs[2].google_id)
        added = drive.add_file("new.txt", "text/plain", content="fresh text")["id"]
    report = sync_drive(sessions, workspace.account_id, workspace.settings)
    assert report.units < 20 < first_units  # the change feed and 2 texts, no listing
    assert store_files(sessions, workspace.account_id) == emulator_files(emu, email)
    with sessions() as session:
        rows = {
            r.google_id: r
            for r in session.scalars(
                select(DriveFile).where(DriveFile.account_id == workspace.account_id)
            )
        }
    assert rows[docs[0].google_id].text == "Rewritten notes"
    assert rows[docs[1].google_id].trashed
    assert rows[docs[1].google_id].text is None
    assert docs[2].google_id not in rows
    assert rows[added].text == "fresh text"


def test_refused_change_token_relists_once_and_reconciles(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_drive(emu, email, files=30)
    sync_drive(sessions, workspace.account_id, workspace.settings)
    drive = emu.users[email].drive
    with emu.lock:
        victim = next(iter(drive.files))
        drive.delete_file(victim)
        expire_drive_page_tokens(emu, email)  # the deletion is behind the refused token
        drive.add_file("after.md", "text/markdown", content="# after")
    report = sync_drive(sessions, workspace.account_id, workspace.settings)
    assert report.full_syncs == 1
    assert store_files(sessions, workspace.account_id) == emulator_files(emu, email)
    with sessions() as session:
        state = session.scalars(
            select(SyncState).where(
                SyncState.account_id == workspace.account_id, SyncState.service == "drive"
            )
        ).one()
        assert state.full_resyncs == 1
        assert state.phase == "incremental"
        assert session.scalars(
            select(AuditLog.action).where(AuditLog.account_id == workspace.account_id)
        ).all() == ["drive_full_resync"]
    assert quota_book(emu).stats()["users"][email]["rejected_rate"] == 0


def test_shared_drive_files_are_synced_and_reconciled(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    drive = emu.users[email].drive
    with emu.lock:
        team = drive.add_shared_drive("Team")
        plan_id = drive.add_file("Team plan", DOC, doc_text="Quarter goals", drive_id=team)["id"]
        drive.add_file("mine.txt", "text/plain", content="my own")
    sync_drive(sessions, workspace.account_id, workspace.settings)
    with sessions() as session:
        plan = session.scalars(
            select(DriveFile).where(
                DriveFile.account_id == workspace.account_id, DriveFile.google_id == plan_id
            )
        ).one()
        assert plan.drive_id == team
        assert plan.parents == [team]
        assert plan.text == "Quarter goals"
    # Changes inside the shared drive arrive through the change feed too.
    with emu.lock:
        drive.update_file(plan_id, doc_text="Quarter goals, revised")
        later = drive.add_file("Team notes", DOC, doc_text="notes", drive_id=team)["id"]
    report = sync_drive(sessions, workspace.account_id, workspace.settings)
    assert report.full_syncs == 0
    assert store_files(sessions, workspace.account_id) == emulator_files(emu, email)
    with sessions() as session:
        texts = dict(
            session.execute(
                select(DriveFile.google_id, DriveFile.text).where(
                    DriveFile.account_id == workspace.account_id,
                    DriveFile.google_id.in_([plan_id, later]),
                )
            ).all()
        )
    assert texts == {plan_id: "Quarter goals, revised", later: "notes"}

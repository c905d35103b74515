"""Drive sync: every file the account can see, with its content as text.

Plan (quota-optimal, see ``google/drive.py``): the change-feed position
(``changes.getStartPageToken``) is taken *before* a full ``files.list`` (1,000 files a
page), so every change racing the listing is replayed afterwards from the feed; from then
on only ``changes.list`` runs. Content is fetched afterwards for files whose ``version``
differs from the one whose text we hold (``text_state = 'pending'``).

Durability: each listed page is committed with the next page token in
``sync_states.progress``, so a ``kill -9`` resumes the listing at the next page (upserts on
``(account_id, google_id)``: no duplicates). The listing ends with a sweep: rows the
listing did not touch (``updated_at`` before the listing started) are files that vanished
and are deleted, which is how a full *re*-listing reconciles deletions. The feed's new
start token is stored only with the last page of changes. Texts are written one batch per
transaction and only if the file's version is still the one fetched.

Reconciliation: ``removed`` changes (permanent deletion, lost access) delete the row;
trashed files stay with ``trashed = true`` and their text dropped; a change-feed token that
Drive refuses (``PageTokenInvalid``) triggers one full re-listing per run (never a loop),
counted in ``full_resyncs`` and audited.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AuditLog, DriveFile, GoogleAccount
from secretary.db.session import unit_of_work
from secretary.google.drive import ContentUnavailable, DriveClient, PageTokenInvalid
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.sync import drive_text
from secretary.sync.errors import SyncFailed
from secretary.sync.workspace import (
    DRIVE,
    ProgressFn,
    WorkspaceSyncReport,
    get_state,
    open_credentials,
    record_error,
    save_state,
    service_lock,
    syncable_account,
)

log = get_logger(__name__)

_META_COLUMNS = (
    "drive_id",
    "name",
    "mime_type",
    "description",
    "parents",
    "owners",
    "web_view_link",
    "size",
    "md5",
    "version",
    "trashed",
    "starred",
    "shared",
    "google_created_at",
    "google_modified_at",
)
_TEXT_COLUMNS = ("text", "text_state", "text_reason", "text_truncated", "text_version")
CONTENT_BATCH = 20


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("z", "Z")) if value else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def file_row(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata columns of ``drive_files`` for one Drive ``File`` resource."""
    return {
        "google_id": str(meta["id"]),
        "drive_id": meta.get("driveId"),
        "name": str(meta.get("name") or ""),
        "mime_type": str(meta.get("mimeType") or "application/octet-stream"),
        "description": meta.get("description"),
        "parents": [str(p) for p in meta.get("parents") or []],
        "owners": [
            str(o["emailAddress"]) for o in meta.get("owners") or [] if o.get("emailAddress")
        ],
        "web_view_link": meta.get("webViewLink"),
        "size": _int(meta.get("size")),
        "md5": meta.get("md5Checksum"),
        "version": _int(meta.get("version")),
        "trashed": bool(meta.get("trashed")),
        "starred": bool(meta.get("starred")),
        "shared": bool(meta.get("shared")),
        "google_created_at": _ts(meta.get("createdTime")),
        "google_modified_at": _ts(meta.get("modifiedTime")),
    }


def open_drive(sessions: sessionmaker[Session], account_id: int, settings: Settings) -> DriveClient:
    return DriveClient(
        open_credentials(sessions, account_id, settings),
        settings=settings,
        account_key=str(account_id),
    )


@dataclass(frozen=True)
class _Pending:
    google_id: str
    mime_type: str
    size: int | None
    version: int | None


class DriveSync:
    """One account's Drive sync. Hold ``service_lock`` around ``run`` (``sync_drive`` does)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        account_id: int,
        settings: Settings,
        *,
        client: DriveClient | None = None,
        progress: ProgressFn | None = None,
        workers: int = 6,
    ) -> None:
        self.sessions = sessions
        self.account_id = account_id
        self.settings = settings
        self.client = client or open_drive(sessions, account_id, settings)
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.workers = max(1, min(workers, settings.google.max_concurrent_requests))
        self.report = WorkspaceSyncReport(account=account_id, service=DRIVE, phase="initial")
        self._user_id: int | None = None

    # -- entry point ----------------------------------------------------------------------

    def run(self) -> WorkspaceSyncReport:
        started = time.monotonic()
        units_before = self.client.governor.stats.units_charged
        counters = (self.client.counters.http_requests, self.client.counters.retries)
        try:
            with unit_of_work(self.sessions) as session:
                account = syncable_account(session, self.account_id)
                self._user_id = account.user_id
                phase = get_state(session, account, DRIVE).phase
            if phase == "initial":
                self._listing()
            try:
                self._changes()
            except PageTokenInvalid:
                self._begin_relisting("page_token_invalid")
                self._listing()
                try:
                    self._changes()
                except PageTokenInvalid:
                    raise SyncFailed(
                        "Drive refused the change token again right after a full listing"
                    ) from None
            self._fetch_texts()
            with unit_of_work(self.sessions) as session:
                account = syncable_account(session, self.account_id)
                state = get_state(session, account, DRIVE, for_update=True)
                save_state(session, state, last_synced_at=utcnow(), last_error=None)
                self.report.items = int(
                    session.scalar(
                        select(func.count()).where(DriveFile.account_id == self.account_id)
                    )
                    or 0
                )
        except Exception as exc:
            record_error(self.sessions, self.account_id, DRIVE, exc)
            raise
        self.report.phase = "incremental"
        self.report.seconds = round(time.monotonic() - started, 3)
        self.report.units = self.client.governor.stats.units_charged - units_before
        self.report.http_requests = self.client.counters.http_requests - counters[0]
        self.report.retries = self.client.counters.retries - counters[1]
        return self.report

    def _account(self, session: Session) -> GoogleAccount:
        return syncable_account(session, self.account_id)

    # -- full listing -----------------------------------------------------------------------

    def _begin_relisting(self, reason: str) -> None:
        log.warning("drive_full_resync", account_id=self.account_id, reason=reason)
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = get_state(session, account, DRIVE, for_update=True)
            save_state(
                session,
                state,
                phase="initial",
                progress={"mode": "resync", "reason": reason},
                full_resyncs=state.full_resyncs + 1,
            )
            session.add(
                AuditLog(
                    user_id=account.user_id,
                    account_id=account.id,
                    actor="sync",
                    action="drive_full_resync",
                    details={"reason": reason, "previous_token": state.cursor},
                )
            )
        self.report.full_syncs += 1

    def _listing(self) -> None:
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = get_state(session, account, DRIVE, for_update=True)
            progress = dict(state.progress or {})
            if "start_page_token" not in progress:
                # Taken BEFORE listing: changes racing the listing are replayed from it.
                progress["start_page_token"] = self.client.start_page_token()
                progress["listing_started"] = (
                    session.execute(select(func.now())).scalar_one().isoformat()
                )
                progress["page_token"] = None
                progress["listed"] = 0
                save_state(session, state, progress=progress)
        page_token = progress.get("page_token")
        listed = int(progress.get("listed", 0))
        while not progress.get("listed_all"):
            page = self.client.list_files_page(page_token)
            if page.incomplete:
                log.warning("drive_listing_incomplete", account_id=self.account_id)
            with unit_of_work(self.sessions) as session:
                account = self._account(session)
                state = get_state(session, account, DRIVE, for_update=True)
                self._upsert(session, account, page.files)
                listed += len(page.files)
                progress = dict(state.progress)
                progress.update(
                    page_token=page.next_page_token,
                    listed=listed,
                    # the last page: a restart goes straight to the sweep
                    listed_all=not page.next_page_token,
                )
                save_state(session, state, progress=progress)
            self.report.changed += len(page.files)
            self.progress("drive listing", listed, 0)
            if not page.next_page_token:
                break
            page_token = page.next_page_token
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = get_state(session, account, DRIVE, for_update=True)
            started = datetime.fromisoformat(str(state.progress["listing_started"]))
            gone = session.scalars(
                delete(DriveFile)
                .where(DriveFile.account_id == self.account_id, DriveFile.updated_at < started)
                .returning(DriveFile.id)
            ).all()
            self.report.changed += len(gone)
            save_state(
                session,
                state,
                phase="incremental",
                cursor=str(state.progress["start_page_token"]),
                progress={},
            )

    # -- the change feed ----------------------------------------------------------------------

    def _changes(self) -> None:
        with unit_of_work(self.sessions) as session:
            state = get_state(session, self._account(session), DRIVE)
            start = state.cursor
        if not start:
            raise SyncFailed("incremental Drive sync without a change token")
        token = start
        while True:
            page = self.client.list_changes_page(token)
            with unit_of_work(self.sessions) as session:
                account = self._account(session)
                state = get_state(session, account, DRIVE, for_update=True)
                if state.cursor != start:
                    raise SyncFailed("another sync moved the Drive change token; retry")
                removed = [
                    str(c["fileId"])
                    for c in page.changes
                    if c.get("changeType", "file") == "file"
                    and (c.get("removed") or not c.get("file"))
                ]
                files = [
                    c["file"]
                    for c in page.changes
                    if c.get("changeType", "file") == "file"
                    and not c.get("removed")
                    and c.get("file")
                ]
                if removed:
                    session.execute(
                        delete(DriveFile).where(
                            DriveFile.account_id == self.account_id,
                            DriveFile.google_id.in_(removed),
                        )
                    )
                self._upsert(session, account, files)
                if page.new_start_page_token:
                    save_state(session, state, cursor=page.new_start_page_token)
            self.report.changed += len(removed) + len(files)
            if not page.next_page_token:
                return
            token = page.next_page_token

    def _upsert(
        self, session: Session, account: GoogleAccount, metas: list[dict[str, Any]]
    ) -> None:
        if not metas:
            return
        rows = {str(m["id"]): file_row(m) for m in metas}
        held = {
            gid: (version, state)
            for gid, version, state in session.execute(
                select(DriveFile.google_id, DriveFile.text_version, DriveFile.text_state).where(
                    DriveFile.account_id == account.id, DriveFile.google_id.in_(list(rows))
                )
            )
        }
        with_text: list[dict[str, Any]] = []
        keep_text: list[dict[str, Any]] = []
        cap = self.settings.sync.drive_max_download_bytes
        for gid, row in rows.items():
            base = {"user_id": account.user_id, "account_id": account.id, **row}
            p = drive_text.plan(
                row["mime_type"], row["size"], trashed=row["trashed"], max_bytes=cap
            )
            previous = held.get(gid)
            if p.action in ("none", "skip"):
                with_text.append(
                    {
                        **base,
                        "text": None,
                        "text_state": "none" if p.action == "none" else "skipped",
                        "text_reason": p.reason,
                        "text_truncated": False,
                        "text_version": row["version"],
                    }
                )
            elif (previous is not None and previous == (row["version"], "ok")) or (
                previous is not None and previous == (row["version"], "error")
            ):
                keep_text.append(base)  # same version: the text we hold is current
            else:
                with_text.append(
                    {
                        **base,
                        "text": None,
                        "text_state": "pending",
                        "text_reason": None,
                        "text_truncated": False,
                        "text_version": None,
                    }
                )
        for values, columns in (
            (with_text, _META_COLUMNS + _TEXT_COLUMNS),
            (keep_text, _META_COLUMNS),
        ):
            if not values:
                continue
            stmt = insert(DriveFile)
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["account_id", "google_id"],
                    set_={
                        **{c: getattr(stmt.excluded, c) for c in columns},
                        "updated_at": func.now(),
                    },
                ),
                values,
            )

    # -- content --------------------------------------------------------------------------------

    def _fetch_texts(self) -> None:
        with unit_of_work(self.sessions) as session:
            pending = [
                _Pending(gid, mime, size, version)
                for gid, mime, size, version in session.execute(
                    select(
                        DriveFile.google_id, DriveFile.mime_type, DriveFile.size, DriveFile.version
                    )
                    .where(
                        DriveFile.account_id == self.account_id, DriveFile.text_state == "pending"
                    )
                    .order_by(DriveFile.id)
                )
            ]
        total = len(pending)
        self.progress("drive text", 0, total)
        if not pending:
            return
        done = 0
        lock = threading.Lock()
        results: list[dict[str, Any]] = []
        with ThreadPoolExecutor(self.workers, thread_name_prefix="drive-text") as pool:
            queue = iter(pending)
            in_flight: set[Future[dict[str, Any]]] = set()

            def top_up() -> None:
                while len(in_flight) < self.workers * 2:
                    item = next(queue, None)
                    if item is None:
                        return
                    in_flight.add(pool.submit(self._text_of, item))

            top_up()
            try:
                while in_flight:
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    in_flight.difference_update(finished)
                    top_up()
                    with lock:
                        results.extend(f.result() for f in finished)
                        if len(results) >= CONTENT_BATCH or not in_flight:
                            self._store_texts(results)
                            done += len(results)
                            results = []
                    self.progress("drive text", done, total)
            finally:
                for f in in_flight:
                    f.cancel()

    def _text_of(self, item: _Pending) -> dict[str, Any]:
        p = drive_text.plan(
            item.mime_type,
            item.size,
            trashed=False,
            max_bytes=self.settings.sync.drive_max_download_bytes,
        )
        out: dict[str, Any] = {"google_id": item.google_id, "version": item.version}
        try:
            if p.action == "export":
                assert p.export_mime is not None
                data = self.client.export(item.google_id, p.export_mime)
                mime = p.export_mime
            elif p.action == "download":
                data = self.client.download(item.google_id)
                mime = item.mime_type
            else:
                return {
                    **out,
                    "text": None,
                    "state": "skipped",
                    "reason": p.reason,
                    "truncated": False,
                }
            if len(data) > self.settings.sync.drive_max_download_bytes:
                return {
                    **out,
                    "text": None,
                    "state": "skipped",
                    "reason": f"too large ({len(data)} bytes)",
                    "truncated": False,
                }
            text, truncated = drive_text.extract(
                mime, data, max_chars=self.settings.sync.drive_max_text_chars
            )
            return {**out, "text": text, "state": "ok", "reason": None, "truncated": truncated}
        except drive_text.Unreadable as exc:
            return {**out, "text": None, "state": "error", "reason": str(exc), "truncated": False}
        except ContentUnavailable as exc:
            return {
                **out,
                "text": None,
                "state": "error",
                "reason": f"Drive refused the content ({exc.reason})",
                "truncated": False,
            }

    def _store_texts(self, results: list[dict[str, Any]]) -> None:
        if not results:
            return
        now = utcnow()
        with unit_of_work(self.sessions) as session:
            for r in results:
                # Only if the file is still at the version we read (else it stays pending).
                version_matches = (
                    DriveFile.version == r["version"]
                    if r["version"] is not None
                    else DriveFile.version.is_(None)
                )
                session.execute(
                    update(DriveFile)
                    .where(
                        and_(
                            DriveFile.account_id == self.account_id,
                            DriveFile.google_id == r["google_id"],
                            DriveFile.text_state == "pending",
                            version_matches,
                        )
                    )
                    .values(
                        text=r["text"],
                        text_state=r["state"],
                        text_reason=r["reason"],
                        text_truncated=r["truncated"],
                        text_version=r["version"],
                        text_fetched_at=now,
                        # Not a listing touch: keep updated_at (the re-listing sweep reads it).
                        updated_at=DriveFile.updated_at,
                    )
                )
        self.report.texts += sum(1 for r in results if r["state"] == "ok")


def sync_drive(
    sessions: sessionmaker[Session],
    account_id: int,
    settings: Settings,
    *,
    client: DriveClient | None = None,
    progress: ProgressFn | None = None,
) -> WorkspaceSyncReport:
    """Sync one account's Drive now (first full listing, or the change feed), then texts."""
    with service_lock(sessions, DRIVE, account_id):
        return DriveSync(sessions, account_id, settings, client=client, progress=progress).run()

"""Google Drive v3 through the official client, metered like Gmail (``MeteredClient``).

The quota-optimal plan (``files.list`` costs 100 units, everything else 1):
``changes.getStartPageToken`` first, then one full ``files.list`` at the maximum page size
(1,000 files per 100 units) with only the fields we store, then ``changes.list`` from the
start token for ever after (1 unit per 1,000 changes). Content costs one ``files.export``
(Docs Editors files) or ``files.get?alt=media`` (binary files) per changed file, and only
for the types we can turn into text, under a size cap checked from the metadata first.
Every call passes ``supportsAllDrives`` and, for listings, ``includeItemsFromAllDrives``
with ``corpora=allDrives``, so shared-drive files are included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from googleapiclient.errors import HttpError

from secretary.config import Settings
from secretary.google.client import ManagedCredentials
from secretary.google.errors import GoogleError
from secretary.google.metered import MeteredClient
from secretary.google.quota import QuotaGovernor
from secretary.google.resilience import CircuitBreaker, http_status
from secretary.google.units import drive_units

PAGE_SIZE = 1000  # files.list and changes.list maximum
FILE_FIELDS = (
    "id,name,mimeType,description,parents,driveId,owners(emailAddress),webViewLink,size,"
    "md5Checksum,version,trashed,starred,shared,createdTime,modifiedTime"
)
SCOPES = (
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive",
)


class PageTokenInvalid(GoogleError):
    """``changes.list`` refused the stored page token: a full listing is needed."""

    status_code = 410
    code = "drive_page_token_invalid"


class ContentUnavailable(GoogleError):
    """A file's content cannot be exported or downloaded (kept as metadata with the reason)."""

    status_code = 422
    code = "drive_content_unavailable"


@dataclass
class FilesPage:
    files: list[dict[str, Any]]
    next_page_token: str | None
    incomplete: bool


@dataclass
class ChangesPage:
    changes: list[dict[str, Any]]
    next_page_token: str | None
    new_start_page_token: str | None


class DriveClient(MeteredClient):
    api = "drive"
    version = "v3"

    def __init__(
        self,
        credentials: ManagedCredentials,
        *,
        settings: Settings,
        account_key: str,
        governor: QuotaGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        super().__init__(
            credentials,
            settings=settings,
            account_key=account_key,
            units=drive_units,
            governor=governor,
            breaker=breaker,
            **kwargs,
        )
        self._files = self.service.files()
        self._changes = self.service.changes()

    def start_page_token(self) -> str:
        page = self._execute(
            self._changes.getStartPageToken(supportsAllDrives=True), "changes.getStartPageToken"
        )
        return str(page["startPageToken"])

    def list_files_page(self, page_token: str | None = None) -> FilesPage:
        """One page of every file the user can see (trashed included), My Drive and
        shared drives."""
        kwargs: dict[str, Any] = {
            "pageSize": min(self.settings.sync.drive_page_size, PAGE_SIZE),
            "corpora": "allDrives",
            "includeItemsFromAllDrives": True,
            "supportsAllDrives": True,
            "fields": f"nextPageToken,incompleteSearch,files({FILE_FIELDS})",
        }
        if page_token:
            kwargs["pageToken"] = page_token
        page = self._execute(self._files.list(**kwargs), "files.list")
        return FilesPage(
            files=list(page.get("files", [])),
            next_page_token=page.get("nextPageToken"),
            incomplete=bool(page.get("incompleteSearch")),
        )

    def list_changes_page(self, page_token: str) -> ChangesPage:
        """One page of the change feed. Raises ``PageTokenInvalid`` when the token is
        refused (400/404/410): the caller lists everything again, once."""
        kwargs: dict[str, Any] = {
            "pageToken": page_token,
            "pageSize": min(self.settings.sync.drive_page_size, PAGE_SIZE),
            "includeItemsFromAllDrives": True,
            "supportsAllDrives": True,
            "includeRemoved": True,
            "spaces": "drive",
            "fields": (
                "nextPageToken,newStartPageToken,"
                f"changes(changeType,removed,fileId,driveId,time,file({FILE_FIELDS}))"
            ),
        }
        try:
            page = self._execute(self._changes.list(**kwargs), "changes.list")
        except HttpError as exc:
            if http_status(exc) in (400, 404, 410):
                raise PageTokenInvalid(
                    "Drive refused the stored change page token; a full listing is needed",
                    http_status=http_status(exc),
                ) from exc
            raise
        return ChangesPage(
            changes=list(page.get("changes", [])),
            next_page_token=page.get("nextPageToken"),
            new_start_page_token=page.get("newStartPageToken"),
        )

    def share(self, file_id: str, emails: list[str], role: str = "reader") -> list[str]:
        """Give each address ``role`` on the file, once: addresses that already have a
        permission are left alone, so a retried approval shares nothing twice. Returns the
        addresses newly shared with."""
        perms = self.service.permissions()
        listed = self._execute(
            perms.list(fileId=file_id, supportsAllDrives=True, fields="permissions(emailAddress)"),
            "permissions.list",
        )
        have = {str(p.get("emailAddress", "")).lower() for p in listed.get("permissions", [])}
        added = []
        for email in emails:
            if email.lower() in have:
                continue
            self._execute(
                perms.create(
                    fileId=file_id,
                    supportsAllDrives=True,
                    sendNotificationEmail=True,
                    body={"type": "user", "role": role, "emailAddress": email},
                ),
                "permissions.create",
            )
            added.append(email)
        return added

    def export(self, file_id: str, mime_type: str) -> bytes:
        """A Docs Editors file exported as ``mime_type`` (Google caps exports at 10 MB)."""
        return self._content(
            lambda: self._files.export(fileId=file_id, mimeType=mime_type), "files.export"
        )

    def download(self, file_id: str) -> bytes:
        """A binary file's bytes (``files.get?alt=media``)."""
        return self._content(
            lambda: self._files.get_media(fileId=file_id, supportsAllDrives=True), "files.get"
        )

    def _content(self, build: Callable[[], Any], method: str) -> bytes:
        try:
            data = self._execute(build(), method)
        except HttpError as exc:
            status = http_status(exc)
            if status in (403, 404):
                from secretary.google.resilience import error_reason

                reason = error_reason(exc) or ("notFound" if status == 404 else "forbidden")
                raise ContentUnavailable(
                    f"Drive refused the content ({reason})", http_status=status, reason=reason
                ) from exc
            raise
        if isinstance(data, str):
            return data.encode("utf-8")
        return bytes(data or b"")

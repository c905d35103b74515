"""One user's Google Drive in memory: files with content, the change log and Drive's query
language.

Files are kept in Drive v3 ``File`` shape. Google-native documents hold their source
(``doc_text`` for a Doc, ``sheet_rows`` for a Sheet) and are exported, never downloaded;
other files hold bytes served by ``alt=media``. Every add, update, trash or delete appends to
a change log whose numeric ids are the ``changes.list`` page tokens.

The ``q`` language is parsed by a small recursive-descent parser: no maintained Python
library implements Drive's search grammar. Supported: ``name``/``fullText`` ``contains``,
``=``/``!=`` on ``name``, ``mimeType``, ``trashed``, ``starred``, comparisons on
``modifiedTime``/``createdTime``, ``'<id>' in parents``, ``'me' in owners``, with ``and``/``or``/``not`` and
parentheses. The caller (``drive.py``) holds ``EmulatorState.lock``.
"""

from __future__ import annotations

import copy
import csv
import functools
import hashlib
import html
import io
import operator
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workspace_emulator._clock import utcnow
from workspace_emulator.errors import GoogleApiError

FOLDER = "application/vnd.google-apps.folder"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SLIDES = "application/vnd.google-apps.presentation"
EXPORTS: dict[str, tuple[str, ...]] = {
    DOC: ("text/plain", "text/html", "text/markdown"),
    SHEET: ("text/csv", "text/tab-separated-values"),
    SLIDES: ("text/plain",),
}
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_LIMIT = 1000


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class DriveFile:
    meta: dict[str, Any]
    content: bytes | None = None
    doc_text: str | None = None
    sheet_rows: list[list[str]] | None = None

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    def searchable_text(self) -> str:
        if self.doc_text is not None:
            return self.doc_text
        if self.sheet_rows is not None:
            return "\n".join(" ".join(row) for row in self.sheet_rows)
        mime = str(self.meta.get("mimeType", ""))
        if self.content is not None and (mime.startswith("text/") or mime.endswith("json")):
            return self.content.decode("utf-8", "replace")
        return ""


@dataclass
class Change:
    change_id: int
    file_id: str
    time: str
    removed: bool


@dataclass
class DriveStore:
    email: str
    display_name: str = ""
    files: dict[str, DriveFile] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    next_change_id: int = 1
    root_id: str = field(default_factory=lambda: "0A" + secrets.token_hex(10))
    # Change-feed tokens below this are refused (the ``expire_drive_page_tokens`` fault).
    token_floor: int = 1
    # Shared drives the user is a member of: id -> name. Their files carry ``driveId`` and
    # are listed only with ``includeItemsFromAllDrives=true`` (files.list, changes.list).
    shared_drives: dict[str, str] = field(default_factory=dict)

    # ----------------------------------------------------------------- control side

    def add_file(
        self,
        name: str,
        mime_type: str,
        *,
        content: bytes | str | None = None,
        doc_text: str | None = None,
        sheet_rows: list[list[str]] | None = None,
        parents: list[str] | None = None,
        description: str | None = None,
        starred: bool = False,
        file_id: str | None = None,
        drive_id: str | None = None,
        now: datetime | None = None,
        shared_by: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a file (a folder, a Google Doc/Sheet from its source, or bytes); with
        ``drive_id`` in that shared drive (``add_shared_drive``), at its root by default."""
        stamp = rfc3339(now or utcnow())
        fid = file_id or "1" + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")
        if drive_id is not None and drive_id not in self.shared_drives:
            raise GoogleApiError(404, f"Shared drive not found: {drive_id}", reason="notFound")
        default_parent = [drive_id] if drive_id else ["root"]
        resolved_parents = [self._resolve_parent(p) for p in (parents or default_parent)]
        owner = {
            "kind": "drive#user",
            "displayName": self.display_name or self.email.split("@")[0],
            "emailAddress": self.email,
            "me": True,
            "permissionId": hashlib.sha1(self.email.encode()).hexdigest()[:20],  # noqa: S324 -- an opaque id, not security
        }
        meta: dict[str, Any] = {
            "kind": "drive#file",
            "id": fid,
            "name": name,
            "mimeType": mime_type,
            "parents": resolved_parents,
            "starred": starred,
            "trashed": False,
            "explicitlyTrashed": False,
            "createdTime": stamp,
            "modifiedTime": stamp,
            "modifiedByMeTime": stamp,
            "viewedByMe": True,
            "version": "1",
            "owners": [owner],
            "lastModifyingUser": owner,
            "ownedByMe": True,
            "shared": False,
            "spaces": ["drive"],
            "webViewLink": f"https://docs.google.com/open?id={fid}",
            "iconLink": f"https://drive-thirdparty.googleusercontent.com/16/type/{mime_type}",
        }
        if description:
            meta["description"] = description
        if properties:
            meta["properties"] = {k: str(v) for k, v in properties.items()}
        if shared_by:
            # Someone else's file shared with the user: it matches ``sharedWithMe``.
            other = {
                "kind": "drive#user",
                "displayName": shared_by.split("@")[0],
                "emailAddress": shared_by,
                "me": False,
                "permissionId": hashlib.sha1(shared_by.encode()).hexdigest()[:20],  # noqa: S324 -- an opaque id
            }
            meta.update(
                owners=[other],
                ownedByMe=False,
                shared=True,
                sharedWithMeTime=stamp,
                sharingUser=other,
            )
            meta.pop("modifiedByMeTime", None)
        if drive_id:
            # Shared-drive files belong to the drive, not to a user.
            meta["driveId"] = drive_id
            meta.pop("owners", None)
            meta["ownedByMe"] = False
        raw = content.encode() if isinstance(content, str) else content
        stored = DriveFile(meta, raw, doc_text, sheet_rows)
        self._refresh_content_meta(stored)
        self.files[fid] = stored
        self._record(fid, stamp, removed=False)
        return self._public(stored)

    def update_file(
        self,
        file_id: str,
        *,
        name: str | None = None,
        content: bytes | str | None = None,
        doc_text: str | None = None,
        sheet_rows: list[list[str]] | None = None,
        description: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        stored = self._get(file_id)
        if name is not None:
            stored.meta["name"] = name
        if description is not None:
            stored.meta["description"] = description
        if content is not None:
            stored.content = content.encode() if isinstance(content, str) else content
        if doc_text is not None:
            stored.doc_text = doc_text
        if sheet_rows is not None:
            stored.sheet_rows = sheet_rows
        stamp = rfc3339(now or utcnow())
        stored.meta["modifiedTime"] = stored.meta["modifiedByMeTime"] = stamp
        stored.meta["version"] = str(int(stored.meta["version"]) + 1)
        self._refresh_content_meta(stored)
        self._record(file_id, stamp, removed=False)
        return self._public(stored)

    def trash_file(
        self, file_id: str, *, trashed: bool = True, now: datetime | None = None
    ) -> dict[str, Any]:
        stored = self._get(file_id)
        stamp = rfc3339(now or utcnow())
        stored.meta["trashed"] = stored.meta["explicitlyTrashed"] = trashed
        if trashed:
            stored.meta["trashedTime"] = stamp
        else:
            stored.meta.pop("trashedTime", None)
        stored.meta["version"] = str(int(stored.meta["version"]) + 1)
        self._record(file_id, stamp, removed=False)
        return self._public(stored)

    def set_meta(self, file_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """files.update metadata: name, description, starred, trashed, parents and
        properties/appProperties (a null value removes the key)."""
        stored = self._get(file_id)
        stamp = rfc3339(utcnow())
        for key in ("name", "description", "starred"):
            if key in changes and changes[key] is not None:
                stored.meta[key] = changes[key]
        for key in ("properties", "appProperties"):
            if isinstance(changes.get(key), dict):
                merged = dict(stored.meta.get(key) or {})
                for k, v in changes[key].items():
                    if v is None:
                        merged.pop(k, None)
                    else:
                        merged[k] = str(v)
                stored.meta[key] = merged
        if "parents" in changes:
            stored.meta["parents"] = [self._resolve_parent(p) for p in changes["parents"]]
        if changes.get("trashed") is not None:
            return self.trash_file(file_id, trashed=bool(changes["trashed"]))
        stored.meta["modifiedTime"] = stored.meta["modifiedByMeTime"] = stamp
        stored.meta["version"] = str(int(stored.meta["version"]) + 1)
        self._record(file_id, stamp, removed=False)
        return self._public(stored)

    def copy_file(self, file_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """files.copy: same content and type; "Copy of <name>" unless a name is given."""
        source = self._get(file_id)
        if source.meta["mimeType"] == FOLDER:
            raise GoogleApiError(403, "Folders cannot be copied.", reason="cannotCopyFile")
        return self.add_file(
            str(body.get("name") or f"Copy of {source.meta['name']}"),
            str(source.meta["mimeType"]),
            content=source.content,
            doc_text=source.doc_text,
            sheet_rows=copy.deepcopy(source.sheet_rows),
            parents=list(body.get("parents") or source.meta.get("parents") or ["root"]),
            description=body.get("description") or source.meta.get("description"),
        )

    def permissions(self, file_id: str) -> list[dict[str, Any]]:
        stored = self._get(file_id)
        perms = stored.meta.setdefault("permissions", [])
        if not perms:
            owner = stored.meta["owners"][0]
            perms.append(
                {
                    "kind": "drive#permission",
                    "id": owner["permissionId"],
                    "type": "user",
                    "role": "owner",
                    "emailAddress": owner["emailAddress"],
                }
            )
        return [dict(p) for p in perms]

    def add_permission(self, file_id: str, body: dict[str, Any]) -> dict[str, Any]:
        role, kind = body.get("role"), body.get("type")
        if role not in ("owner", "organizer", "fileOrganizer", "writer", "commenter", "reader"):
            raise GoogleApiError(400, "Invalid permission role.", reason="invalid")
        if kind not in ("user", "group", "domain", "anyone"):
            raise GoogleApiError(400, "Invalid permission type.", reason="invalid")
        if kind in ("user", "group") and not body.get("emailAddress"):
            raise GoogleApiError(
                400, "The permission's emailAddress is required.", reason="required"
            )
        self.permissions(file_id)
        stored = self._get(file_id)
        who = str(body.get("emailAddress") or body.get("domain") or "anyone")
        perm_id = (
            "anyoneWithLink" if kind == "anyone" else hashlib.sha1(who.encode()).hexdigest()[:20]  # noqa: S324 -- an opaque id
        )
        perm: dict[str, Any] = {
            "kind": "drive#permission",
            "id": perm_id,
            "type": kind,
            "role": role,
        }
        for key in ("emailAddress", "domain"):
            if body.get(key):
                perm[key] = body[key]
        others = [p for p in stored.meta["permissions"] if p["id"] != perm_id]
        stored.meta["permissions"] = [*others, perm]
        stored.meta["shared"] = True
        self._record(file_id, rfc3339(utcnow()), removed=False)
        return dict(perm)

    def remove_permission(self, file_id: str, permission_id: str) -> None:
        perms = self.permissions(file_id)
        stored = self._get(file_id)
        match = [p for p in perms if p["id"] == permission_id]
        if not match:
            raise GoogleApiError(404, f"Permission not found: {permission_id}.", reason="notFound")
        if match[0]["role"] == "owner":
            raise GoogleApiError(
                403, "The owner's permission cannot be removed.", reason="forbidden"
            )
        stored.meta["permissions"] = [p for p in perms if p["id"] != permission_id]
        stored.meta["shared"] = len(stored.meta["permissions"]) > 1
        self._record(file_id, rfc3339(utcnow()), removed=False)

    def about(self) -> dict[str, Any]:
        used = sum(len(f.content or b"") for f in self.files.values())
        trash = sum(len(f.content or b"") for f in self.files.values() if f.meta.get("trashed"))
        return {
            "kind": "drive#about",
            "user": {
                "kind": "drive#user",
                "displayName": self.display_name or self.email.split("@")[0],
                "emailAddress": self.email,
                "me": True,
                "permissionId": hashlib.sha1(self.email.encode()).hexdigest()[:20],  # noqa: S324 -- an opaque id
            },
            "storageQuota": {
                "limit": str(15 * 1024**3),
                "usage": str(used),
                "usageInDrive": str(used),
                "usageInDriveTrash": str(trash),
            },
            "rootFolderId": self.root_id,
            "exportFormats": {k: list(v) for k, v in EXPORTS.items()},
        }

    def delete_file(self, file_id: str, *, now: datetime | None = None) -> None:
        """Permanent deletion: ``changes.list`` then reports ``removed: true``."""
        self._get(file_id)
        del self.files[file_id]
        self._record(file_id, rfc3339(now or utcnow()), removed=True)

    # ----------------------------------------------------------------- API side

    def get_file(self, file_id: str) -> dict[str, Any]:
        return self._public(self._get(file_id))

    def media(self, file_id: str) -> tuple[bytes, str]:
        stored = self._get(file_id)
        mime = str(stored.meta["mimeType"])
        if mime.startswith("application/vnd.google-apps."):
            raise GoogleApiError(
                403,
                "Only files with binary content can be downloaded. Use Export with Docs "
                "Editors files.",
                reason="fileNotDownloadable",
            )
        return stored.content or b"", mime

    def export(self, file_id: str, mime_type: str) -> bytes:
        stored = self._get(file_id)
        allowed = EXPORTS.get(str(stored.meta["mimeType"]))
        if allowed is None:
            raise GoogleApiError(
                403, "Export only supports Docs Editors files.", reason="fileNotExportable"
            )
        if mime_type not in allowed:
            raise GoogleApiError(
                400, "The requested conversion is not supported.", reason="badRequest"
            )
        if stored.sheet_rows is not None:
            buf = io.StringIO()
            delimiter = "\t" if mime_type == "text/tab-separated-values" else ","
            csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(stored.sheet_rows)
            return buf.getvalue().encode()
        text = stored.doc_text or ""
        if mime_type == "text/html":
            paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
            title = html.escape(str(stored.meta["name"]))
            return (
                f'<html><head><meta content="text/html; charset=UTF-8" http-equiv="content-type">'
                f"<title>{title}</title></head><body>{paras}</body></html>"
            ).encode()
        # Google's text/plain export starts with a UTF-8 BOM.
        return "\ufeff".encode() + text.replace("\n", "\r\n").encode()

    def list_files(
        self,
        *,
        q: str | None,
        page_size: int | None,
        page_token: str | None,
        order_by: str | None,
        include_all_drives: bool = False,
    ) -> dict[str, Any]:
        predicate = parse_query(q or "", root_id=self.root_id)
        matched = [
            f
            for f in self.files.values()
            if predicate(f) and (include_all_drives or "driveId" not in f.meta)
        ]
        if order_by:
            for key, desc in reversed(_parse_order(order_by)):
                matched.sort(key=functools.partial(_order_value, key=key), reverse=desc)
        size = min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_LIMIT)
        offset = 0
        if page_token:
            if not page_token.startswith("o") or not page_token[1:].isdigit():
                raise GoogleApiError(400, "Invalid Value", reason="invalid")
            offset = int(page_token[1:])
        out: dict[str, Any] = {
            "kind": "drive#fileList",
            "incompleteSearch": False,
            "files": [self._public(f) for f in matched[offset : offset + size]],
        }
        if offset + size < len(matched):
            out["nextPageToken"] = f"o{offset + size}"
        return out

    def expire_page_tokens(self) -> None:
        """Fault: every change-feed token issued so far is refused from now on (the
        position moves one past them, so a fresh ``getStartPageToken`` is accepted)."""
        self.next_change_id += 1
        self.token_floor = self.next_change_id

    def start_page_token(self) -> str:
        return str(self.next_change_id)

    def list_changes(
        self,
        page_token: str,
        *,
        page_size: int | None,
        include_removed: bool = True,
        include_all_drives: bool = False,
    ) -> dict[str, Any]:
        if (
            not page_token.isdigit()
            or not self.token_floor <= int(page_token) <= self.next_change_id
        ):
            raise GoogleApiError(400, "Invalid Value", reason="invalid")
        start = int(page_token)
        size = min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_LIMIT)
        pending = [c for c in self.changes if c.change_id >= start]
        # Like Drive, a file appears once per listing: only its latest change counts.
        latest: dict[str, Change] = {}
        for change in pending:
            latest[change.file_id] = change
        ordered = sorted(latest.values(), key=lambda c: c.change_id)
        if not include_removed:
            ordered = [c for c in ordered if not c.removed]
        if not include_all_drives:
            ordered = [
                c
                for c in ordered
                if c.file_id not in self.files or "driveId" not in self.files[c.file_id].meta
            ]
        page = ordered[:size]
        items = []
        for c in page:
            item: dict[str, Any] = {
                "kind": "drive#change",
                "changeType": "file",
                "type": "file",
                "time": c.time,
                "removed": c.removed,
                "fileId": c.file_id,
            }
            if not c.removed and c.file_id in self.files:
                item["file"] = self._public(self.files[c.file_id])
            items.append(item)
        out: dict[str, Any] = {"kind": "drive#changeList", "changes": items}
        if len(ordered) > size:
            out["nextPageToken"] = str(ordered[size].change_id)
        else:
            out["newStartPageToken"] = str(self.next_change_id)
        return out

    # ----------------------------------------------------------------- internals

    def _get(self, file_id: str) -> DriveFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise GoogleApiError(404, f"File not found: {file_id}.", reason="notFound")
        return stored

    def add_shared_drive(self, name: str) -> str:
        """A shared drive the user belongs to; returns its id (also its root folder's)."""
        drive_id = "0A" + secrets.token_hex(9).upper()
        self.shared_drives[drive_id] = name
        return drive_id

    def _resolve_parent(self, parent: str) -> str:
        if parent == "root" or parent == self.root_id:
            return self.root_id
        if parent in self.shared_drives:
            return parent
        if parent not in self.files or self.files[parent].meta["mimeType"] != FOLDER:
            raise GoogleApiError(404, f"File not found: {parent}.", reason="notFound")
        return parent

    def _record(self, file_id: str, stamp: str, *, removed: bool) -> None:
        self.changes.append(Change(self.next_change_id, file_id, stamp, removed))
        self.next_change_id += 1

    def _refresh_content_meta(self, stored: DriveFile) -> None:
        mime = str(stored.meta["mimeType"])
        if mime in EXPORTS:
            stored.meta["exportLinks"] = {
                m: f"https://docs.google.com/feeds/download/export?id={stored.id}&exportFormat={m}"
                for m in EXPORTS[mime]
            }
        elif mime != FOLDER:
            data = stored.content or b""
            stored.meta["size"] = str(len(data))
            stored.meta["md5Checksum"] = hashlib.md5(data).hexdigest()  # noqa: S324 -- Drive's checksum field is MD5
            stored.meta["sha256Checksum"] = hashlib.sha256(data).hexdigest()
            stored.meta["headRevisionId"] = stored.meta["md5Checksum"][:16]
            name = str(stored.meta["name"])
            if "." in name:
                stored.meta["fileExtension"] = name.rsplit(".", 1)[1]
                stored.meta["fullFileExtension"] = name.split(".", 1)[1]
            stored.meta["originalFilename"] = name
            stored.meta["webContentLink"] = (
                f"https://drive.google.com/uc?id={stored.id}&export=download"
            )

    @staticmethod
    def _public(stored: DriveFile) -> dict[str, Any]:
        return copy.deepcopy(stored.meta)


# --------------------------------------------------------------------------- query language

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>!=|<=|>=|=|<|>)|(?P<paren>[(){}])|(?P<word>[A-Za-z_][\w.]*))"
)
Predicate = Callable[[DriveFile], bool]


def _tokenize(q: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    q = q.strip()
    while pos < len(q):
        m = _TOKEN_RE.match(q, pos)
        if m is None or m.end() == pos:
            raise _invalid_query()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = m.end()
        while pos < len(q) and q[pos].isspace():
            pos += 1
    return tokens


def _invalid_query() -> GoogleApiError:
    return GoogleApiError(400, "Invalid Value", reason="invalid")


def parse_query(q: str, *, root_id: str) -> Predicate:
    """Compile a Drive ``q`` string into a predicate over ``DriveFile``."""
    tokens = _tokenize(q)
    if not tokens:
        return lambda _f: True
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise _invalid_query()
        pos += 1
        return tokens[pos - 1]

    def is_word(tok: tuple[str, str] | None, word: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].lower() == word

    def expr() -> Predicate:
        left = term()
        while is_word(peek(), "or"):
            take()
            right = term()
            left = (lambda a, b: lambda f: a(f) or b(f))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while is_word(peek(), "and"):
            take()
            right = factor()
            left = (lambda a, b: lambda f: a(f) and b(f))(left, right)
        return left

    def factor() -> Predicate:
        tok = peek()
        if is_word(tok, "not"):
            take()
            inner = factor()
            return lambda f: not inner(f)
        if tok == ("paren", "("):
            take()
            inner = expr()
            if take() != ("paren", ")"):
                raise _invalid_query()
            return inner
        return condition()

    def has_pair(field_name: str) -> Predicate:
        """``properties has { key='department' and value='finance' }``."""
        take()  # has
        if take() != ("paren", "{"):
            raise _invalid_query()
        pair: dict[str, str] = {}
        while True:
            name = take()
            if name[0] != "word" or name[1] not in ("key", "value") or take() != ("op", "="):
                raise _invalid_query()
            value = take()
            if value[0] != "str":
                raise _invalid_query()
            pair[name[1]] = value[1]
            nxt = take()
            if nxt == ("paren", "}"):
                break
            if not (nxt[0] == "word" and nxt[1].lower() == "and"):
                raise _invalid_query()
        if set(pair) != {"key", "value"}:
            raise _invalid_query()
        return lambda f: (f.meta.get(field_name) or {}).get(pair["key"]) == pair["value"]

    def condition() -> Predicate:
        first = take()
        if first[0] == "str":  # '<id>' in parents | '<email>' in owners
            if not is_word(take(), "in"):
                raise _invalid_query()
            collection = take()
            if is_word(collection, "parents"):
                parent = root_id if first[1] == "root" else first[1]
                return lambda f: parent in f.meta.get("parents", [])
            if is_word(collection, "owners"):
                who = first[1].lower()
                return lambda f: any(
                    (who == "me" and o.get("me")) or str(o.get("emailAddress", "")).lower() == who
                    for o in f.meta.get("owners", [])
                )
            raise _invalid_query()
        if first[0] != "word":
            raise _invalid_query()
        field_name = first[1]
        if field_name == "sharedWithMe":  # a bare boolean term
            return lambda f: "sharedWithMeTime" in f.meta and not f.meta.get("ownedByMe", True)
        if field_name in ("properties", "appProperties") and is_word(peek(), "has"):
            return has_pair(field_name)
        op_tok = take()
        op = op_tok[1].lower()
        if op_tok[0] not in ("op", "word") or (op_tok[0] == "word" and op != "contains"):
            raise _invalid_query()
        value_tok = take()
        return _condition(field_name, op, value_tok)

    result = expr()
    if pos != len(tokens):
        raise _invalid_query()
    return result


def _condition(field_name: str, op: str, value_tok: tuple[str, str]) -> Predicate:
    kind, value = value_tok
    if field_name in ("trashed", "starred"):
        if kind != "word" or value.lower() not in ("true", "false") or op not in ("=", "!="):
            raise _invalid_query()
        want = value.lower() == "true"
        return lambda f: (bool(f.meta.get(field_name)) == want) == (op == "=")
    if kind != "str":
        raise _invalid_query()
    if field_name == "name":
        if op == "contains":
            # Drive matches name terms by prefix ("Hello" finds "HelloWorld", "World" doesn't).
            pattern = re.compile(r"(?:^|[^0-9a-z])" + re.escape(value.lower()))
            return lambda f: bool(pattern.search(str(f.meta["name"]).lower()))
        if op in ("=", "!="):
            return lambda f: (f.meta["name"] == value) == (op == "=")
    if field_name == "fullText" and op == "contains":
        needle = value.lower()
        return lambda f: (
            needle
            in " ".join(
                [str(f.meta["name"]), str(f.meta.get("description", "")), f.searchable_text()]
            ).lower()
        )
    if field_name == "mimeType" and op in ("=", "!="):
        return lambda f: (f.meta["mimeType"] == value) == (op == "=")
    if field_name in ("modifiedTime", "createdTime", "viewedByMeTime") and op in (
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
    ):
        try:
            bound = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid_query() from None
        if bound.tzinfo is None:
            bound = bound.replace(tzinfo=UTC)  # Drive reads zone-less times as UTC
        compare: Callable[[datetime, datetime], bool] = {
            "=": operator.eq,
            "!=": operator.ne,
            "<": operator.lt,
            "<=": operator.le,
            ">": operator.gt,
            ">=": operator.ge,
        }[op]
        return lambda f: (
            field_name in f.meta and compare(datetime.fromisoformat(str(f.meta[field_name])), bound)
        )
    raise _invalid_query()


def _parse_order(order_by: str) -> list[tuple[str, bool]]:
    out = []
    for part in order_by.split(","):
        words = part.split()
        if not words:
            continue
        key = words[0]
        if key not in ("name", "modifiedTime", "createdTime", "folder", "starred", "name_natural"):
            raise GoogleApiError(400, "Invalid Value", reason="invalid")
        out.append((key, len(words) > 1 and words[1].lower() == "desc"))
    return out


def _order_value(f: DriveFile, key: str) -> Any:
    if key == "folder":
        return f.meta["mimeType"] != FOLDER  # folders first
    if key in ("name", "name_natural"):
        return str(f.meta["name"]).lower()
    return f.meta.get(key) or ""


def select_fields(obj: Any, fields: str | None) -> Any:
    """Apply a partial-response ``fields`` mask (``a,b(c,d),e/f``; ``*`` = all)."""
    if not fields or fields.strip() == "*":
        return obj
    return _mask(obj, _parse_fields(fields))


def _parse_fields(spec: str) -> dict[str, Any]:
    pos = 0

    def parse_list(end: str | None) -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while pos < len(spec):
            if end and spec[pos] == end:
                pos += 1
                return out
            if spec[pos] in ", ":
                pos += 1
                continue
            m = re.compile(r"[\w*]+(?:/[\w*]+)*").match(spec, pos)
            if m is None:
                raise GoogleApiError(400, "Invalid field selection", reason="invalidParameter")
            path = m.group(0).split("/")
            pos = m.end()
            sub: dict[str, Any] | None = None
            if pos < len(spec) and spec[pos] == "(":
                pos += 1
                sub = parse_list(")")
            node = out
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            leaf = path[-1]
            if sub is None:
                node[leaf] = None
            else:
                existing = node.get(leaf)
                node[leaf] = {**(existing or {}), **sub}
        if end:
            raise GoogleApiError(400, "Invalid field selection", reason="invalidParameter")
        return out

    return parse_list(None)


def _mask(obj: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None or "*" in tree:
        return obj
    if isinstance(obj, list):
        return [_mask(item, tree) for item in obj]
    if isinstance(obj, dict):
        return {k: _mask(obj[k], sub) for k, sub in tree.items() if k in obj}
    return obj

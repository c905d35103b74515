"""Drive v3 behaviours written from Google's reference (each test cites its page), run with
the official client against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser

from tests.emulator.conftest import USER_EMAIL, mint_token

DOC = "application/vnd.google-apps.document"


def _drive(emulator: RunningEmulator, scope: str) -> Any:
    token = mint_token(emulator.state, USER_EMAIL, scopes=[scope])
    return build(
        "drive",
        "v3",
        credentials=Credentials(token),  # type: ignore[no-untyped-call]
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": emulator.base_url},
    )


def _run(request: Any) -> Any:
    # googleapiclient keeps the discovery root's https scheme for upload URLs even with a
    # custom api_endpoint; the request is otherwise exactly what the client builds.
    assert "/upload/drive/v3/files" in request.uri
    request.uri = request.uri.replace("https://", "http://")
    return request.execute()


@pytest.fixture
def drive(emulator: RunningEmulator, gmail_user: EmulatorUser) -> Any:
    return _drive(emulator, "https://www.googleapis.com/auth/drive")


def test_create_update_copy_delete(drive: Any, emulator: RunningEmulator) -> None:
    """files.create (metadata and media upload, a Doc converted from text), files.update
    (rename, properties, new content), files.copy and files.delete
    (https://developers.google.com/workspace/drive/api/reference/rest/v3/files/create,
    .../update, .../copy, .../delete)."""
    folder = (
        drive.files()
        .create(body={"name": "Plans", "mimeType": "application/vnd.google-apps.folder"})
        .execute()
    )
    media = MediaInMemoryUpload(b"Ship on Friday.", mimetype="text/plain")
    doc = _run(
        drive.files().create(
            body={"name": "Plan", "mimeType": DOC, "parents": [folder["id"]]},
            media_body=media,
            fields="id,name,mimeType,parents",
        )
    )
    assert doc["mimeType"] == DOC
    assert doc["parents"] == [folder["id"]]
    text = drive.files().export(fileId=doc["id"], mimeType="text/plain").execute()
    assert text.decode("utf-8-sig") == "Ship on Friday."
    updated = _run(
        drive.files().update(
            fileId=doc["id"],
            body={"name": "Plan v2", "properties": {"team": "growth"}},
            media_body=MediaInMemoryUpload(b"Ship on Monday.", mimetype="text/plain"),
            fields="name,properties",
        )
    )
    assert updated == {"name": "Plan v2", "properties": {"team": "growth"}}
    found = drive.files().list(q="properties has { key='team' and value='growth' }").execute()
    assert [f["id"] for f in found["files"]] == [doc["id"]]
    copy = drive.files().copy(fileId=doc["id"], body={}).execute()
    assert copy["name"] == "Copy of Plan v2"
    text = drive.files().export(fileId=copy["id"], mimeType="text/plain").execute()
    assert text.decode("utf-8-sig") == "Ship on Monday."
    drive.files().delete(fileId=copy["id"]).execute()
    with pytest.raises(HttpError) as caught:
        drive.files().get(fileId=copy["id"]).execute()
    assert caught.value.resp.status == 404
    readonly = _drive(emulator, "https://www.googleapis.com/auth/drive.readonly")
    with pytest.raises(HttpError) as caught:  # files.delete needs drive or drive.file
        readonly.files().delete(fileId=doc["id"]).execute()
    assert caught.value.resp.status == 403


def test_permissions_and_about(drive: Any) -> None:
    """permissions.create/list/get/delete
    (https://developers.google.com/workspace/drive/api/reference/rest/v3/permissions) and
    about.get, whose ``fields`` parameter is required in v3
    (https://developers.google.com/workspace/drive/api/reference/rest/v3/about/get)."""
    made = drive.files().create(body={"name": "notes.txt", "mimeType": "text/plain"}).execute()
    perm = (
        drive.permissions()
        .create(
            fileId=made["id"],
            body={"type": "user", "role": "reader", "emailAddress": "bo@example.org"},
        )
        .execute()
    )
    roles = {
        p["role"] for p in drive.permissions().list(fileId=made["id"]).execute()["permissions"]
    }
    assert roles == {"owner", "reader"}
    assert (
        drive.permissions()
        .get(fileId=made["id"], permissionId=perm["id"])
        .execute()["emailAddress"]
        == "bo@example.org"
    )
    assert drive.files().get(fileId=made["id"], fields="shared").execute() == {"shared": True}
    drive.permissions().delete(fileId=made["id"], permissionId=perm["id"]).execute()
    assert drive.files().get(fileId=made["id"], fields="shared").execute() == {"shared": False}
    with pytest.raises(HttpError) as caught:
        drive.about().get().execute()
    assert caught.value.resp.status == 400
    about = drive.about().get(fields="user(emailAddress),storageQuota(limit)").execute()
    assert about["user"] == {"emailAddress": USER_EMAIL}
    assert int(about["storageQuota"]["limit"]) > 0


def test_shared_with_me(drive: Any, gmail_user: EmulatorUser) -> None:
    """``sharedWithMe`` in ``q``: "Whether the file is in the user's 'Shared with me'
    collection" (https://developers.google.com/workspace/drive/api/guides/ref-search-terms)."""
    gmail_user.drive.add_file("Theirs", DOC, doc_text="x", shared_by="kai@example.org")
    gmail_user.drive.add_file("Mine", DOC, doc_text="y")
    shared = drive.files().list(q="sharedWithMe", fields="files(name,ownedByMe)").execute()
    assert shared["files"] == [{"name": "Theirs", "ownedByMe": False}]
    mine = drive.files().list(q="not sharedWithMe", fields="files(name)").execute()
    assert [f["name"] for f in mine["files"]] == ["Mine"]

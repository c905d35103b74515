"""Drive v3 on the emulator, driven by the official googleapiclient over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from workspace_emulator import oauth
from workspace_emulator.drive_store import DOC, FOLDER, SHEET, select_fields
from workspace_emulator.faults import FaultConfig, fault_injector
from workspace_emulator.state import EmulatorState

from tests.emulator._live import serve

USER = "drive@example.test"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def emulator() -> Iterator[tuple[EmulatorState, str, dict[str, str]]]:
    state = EmulatorState()
    drive = state.add_user(USER).drive
    folder = drive.add_file("Projects", FOLDER, now=T0)["id"]
    ids = {
        "folder": folder,
        "doc": drive.add_file(
            "Q3 Proposal",
            DOC,
            doc_text="Proposal for the Q3 budget.\nWe ask for two more engineers.",
            parents=[folder],
            now=T1,
        )["id"],
        "sheet": drive.add_file(
            "Budget 2026", SHEET, sheet_rows=[["item", "cost"], ["laptops, 2", "3000"]], now=T0
        )["id"],
        "notes": drive.add_file(
            "meeting-notes.txt", "text/plain", content="Notes: ship the beta on Friday.", now=T1
        )["id"],
        "logo": drive.add_file("logo.png", "image/png", content=b"\x89PNG\r\n\x1a\n", now=T0)["id"],
    }
    with serve(state) as base:
        yield state, base, ids


def client(state: EmulatorState, base: str, scope: str = "drive.readonly") -> Any:
    token = oauth.issue_tokens(state, USER, [f"https://www.googleapis.com/auth/{scope}"])
    return build(
        "drive",
        "v3",
        credentials=Credentials(token["access_token"]),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{base}/drive/v3/"},
    )


def names(resp: dict[str, Any]) -> list[str]:
    return sorted(f["name"] for f in resp["files"])


def test_list_query_subset_and_fields(emulator: tuple[EmulatorState, str, dict[str, str]]) -> None:
    state, base, ids = emulator
    drive = client(state, base)
    everything = drive.files().list().execute()
    assert len(everything["files"]) == 5
    assert set(everything["files"][0]) == {"kind", "id", "name", "mimeType"}  # default fields

    def q(query: str) -> list[str]:
        return names(drive.files().list(q=query).execute())

    assert q("name contains 'budget'") == ["Budget 2026"]
    assert q("name contains 'udget'") == []  # Drive matches name terms by prefix
    assert q("fullText contains 'engineers'") == ["Q3 Proposal"]
    assert q("fullText contains 'beta'") == ["meeting-notes.txt"]
    assert q(f"mimeType = '{DOC}'") == ["Q3 Proposal"]
    assert q(f"mimeType != '{FOLDER}' and modifiedTime > '2026-11-10T00:00:00Z'") == [
        "Q3 Proposal",
        "meeting-notes.txt",
    ]
    assert q(f"'{ids['folder']}' in parents") == ["Q3 Proposal"]
    assert q("'root' in parents and (name contains 'logo' or name contains 'meeting')") == [
        "logo.png",
        "meeting-notes.txt",
    ]
    assert q("not name contains 'q3' and trashed = false") == [
        "Budget 2026",
        "Projects",
        "logo.png",
        "meeting-notes.txt",
    ]
    assert len(q("'me' in owners")) == 5
    assert q("'someone@else.example' in owners") == []
    with pytest.raises(HttpError) as err:
        drive.files().list(q="name contains").execute()
    assert err.value.resp.status == 400

    detailed = (
        drive.files()
        .list(q="name = 'logo.png'", fields="files(id,name,size,md5Checksum,parents)")
        .execute()
    )
    assert detailed == {
        "files": [
            {
                "id": ids["logo"],
                "name": "logo.png",
                "size": "8",
                "md5Checksum": detailed["files"][0]["md5Checksum"],
                "parents": [state.users[USER].drive.root_id],
            }
        ]
    }

    ordered = drive.files().list(orderBy="modifiedTime desc,name", fields="files(name)").execute()
    assert [f["name"] for f in ordered["files"]][:2] == ["meeting-notes.txt", "Q3 Proposal"]

    pages, token = [], None
    while True:
        resp = drive.files().list(pageSize=2, pageToken=token).execute()
        pages.append(resp["files"])
        token = resp.get("nextPageToken")
        if token is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]


def test_get_media_and_export(emulator: tuple[EmulatorState, str, dict[str, str]]) -> None:
    state, base, ids = emulator
    drive = client(state, base)
    meta = drive.files().get(fileId=ids["notes"], fields="*").execute()
    assert meta["mimeType"] == "text/plain"
    assert meta["size"] == str(len("Notes: ship the beta on Friday."))
    assert meta["trashed"] is False
    assert meta["owners"][0]["emailAddress"] == USER
    assert drive.files().get_media(fileId=ids["notes"]).execute() == (
        b"Notes: ship the beta on Friday."
    )
    assert drive.files().get_media(fileId=ids["logo"]).execute() == b"\x89PNG\r\n\x1a\n"

    text = drive.files().export(fileId=ids["doc"], mimeType="text/plain").execute()
    assert (
        text.decode("utf-8-sig") == "Proposal for the Q3 budget.\r\nWe ask for two more engineers."
    )
    page = drive.files().export(fileId=ids["doc"], mimeType="text/html").execute().decode()
    assert "<p>We ask for two more engineers.</p>" in page
    csv_text = drive.files().export(fileId=ids["sheet"], mimeType="text/csv").execute()
    assert csv_text == b'item,cost\r\n"laptops, 2",3000\r\n'
    doc_meta = drive.files().get(fileId=ids["doc"], fields="exportLinks").execute()
    assert "text/plain" in doc_meta["exportLinks"]

    for call, status in [
        (drive.files().get_media(fileId=ids["doc"]), 403),  # Docs are exported, not downloaded
        (drive.files().export(fileId=ids["notes"], mimeType="text/plain"), 403),
        (drive.files().export(fileId=ids["doc"], mimeType="text/csv"), 400),
        (drive.files().get(fileId="missing"), 404),
    ]:
        with pytest.raises(HttpError) as err:
            call.execute()
        assert err.value.resp.status == status

    metadata_only = client(state, base, "drive.metadata.readonly")
    assert metadata_only.files().get(fileId=ids["notes"]).execute()["name"] == "meeting-notes.txt"
    with pytest.raises(HttpError) as err:
        metadata_only.files().get_media(fileId=ids["notes"]).execute()
    assert err.value.resp.status == 403


def test_changes_since_start_page_token(
    emulator: tuple[EmulatorState, str, dict[str, str]],
) -> None:
    state, base, ids = emulator
    drive = client(state, base)
    store = state.users[USER].drive
    start = drive.changes().getStartPageToken().execute()["startPageToken"]
    empty = drive.changes().list(pageToken=start).execute()
    assert empty["changes"] == []
    assert empty["newStartPageToken"] == start

    # Control side: edit, trash, add and permanently delete, through the HTTP control API.
    control = f"{base}/emulator/drive/{USER}/files"
    httpx.patch(f"{control}/{ids['doc']}", json={"doc_text": "Revised."}).raise_for_status()
    httpx.patch(f"{control}/{ids['doc']}", json={"name": "Q3 Proposal v2"}).raise_for_status()
    httpx.patch(f"{control}/{ids['notes']}", json={"trashed": True}).raise_for_status()
    added = httpx.post(control, json={"name": "todo.txt", "content": "call Bob"}).json()
    assert httpx.delete(f"{control}/{ids['logo']}").status_code == 204

    seen: dict[str, dict[str, Any]] = {}
    token = start
    pages = 0
    while True:
        resp = drive.changes().list(pageToken=token, pageSize=2, fields="*").execute()
        pages += 1
        seen.update({c["fileId"]: c for c in resp["changes"]})
        if "nextPageToken" in resp:
            token = resp["nextPageToken"]
            continue
        new_start = resp["newStartPageToken"]
        break
    assert pages == 2
    assert set(seen) == {ids["doc"], ids["notes"], added["id"], ids["logo"]}
    assert seen[ids["doc"]]["file"]["name"] == "Q3 Proposal v2"  # one entry, the latest state
    assert seen[ids["notes"]]["file"]["trashed"] is True
    assert seen[ids["logo"]]["removed"] is True
    assert "file" not in seen[ids["logo"]]
    assert drive.changes().list(pageToken=new_start).execute()["changes"] == []
    assert store.export(ids["doc"], "text/plain") == "\ufeffRevised.".encode()

    # Trashed files stay listable (Drive's default) but drop out with trashed = false.
    listed = names(drive.files().list(q="trashed = true").execute())
    assert listed == ["meeting-notes.txt"]

    with pytest.raises(HttpError) as err:
        drive.changes().list(pageToken="999999").execute()
    assert err.value.resp.status == 400


def test_root_alias_and_field_masks(emulator: tuple[EmulatorState, str, dict[str, str]]) -> None:
    state, base, _ids = emulator
    token = oauth.issue_tokens(state, USER, ["https://www.googleapis.com/auth/drive"])
    rooted = build(
        "drive",
        "v3",
        credentials=Credentials(token["access_token"]),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{base}/"},
    )
    assert len(rooted.files().list().execute()["files"]) == 5
    doc = {"a": 1, "b": {"c": 2, "d": 3}, "e": [{"f": 4, "g": 5}]}
    assert select_fields(doc, "a,b/c,e(g)") == {"a": 1, "b": {"c": 2}, "e": [{"g": 5}]}
    assert select_fields(doc, "*") == doc


def test_faults_gate_drive_calls(emulator: tuple[EmulatorState, str, dict[str, str]]) -> None:
    state, base, _ids = emulator
    drive = client(state, base)
    fault_injector(state).configure(
        FaultConfig.from_dict({"endpoints": {"drive.changes.*": {"error_429": 1.0}}})
    )
    with pytest.raises(HttpError) as err:
        drive.changes().getStartPageToken().execute(num_retries=0)
    assert err.value.resp.status == 429
    assert drive.files().list().execute()["files"]

"""Threads listing/paging and thread-level changes; label-scoped listing; history by age."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest
from workspace_emulator.state import EmulatorUser


def put(
    gmail: Any,
    subject: str,
    *,
    msgid: str,
    reply_to: str | None = None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    head = f"From: bob@example.org\r\nTo: alex@example.test\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
    if reply_to:
        head += f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n"
    raw = (head + "\r\nbody\r\n").encode()
    body = {
        "raw": base64.urlsafe_b64encode(raw).decode(),
        "labelIds": labels or ["INBOX", "UNREAD"],
    }
    result: dict[str, Any] = gmail.users().messages().insert(userId="me", body=body).execute()
    return result


def test_thread_pages_list_each_thread_once(gmail: Any) -> None:
    roots = [put(gmail, f"Topic {i}", msgid=f"t{i}@x") for i in range(5)]
    # Replies to old threads make them the newest; each must still appear exactly once.
    put(gmail, "Re: Topic 0", msgid="r0@x", reply_to="t0@x")
    put(gmail, "Re: Topic 2", msgid="r2@x", reply_to="t2@x")
    seen: list[str] = []
    token = None
    while True:
        page = gmail.users().threads().list(userId="me", maxResults=2, pageToken=token).execute()
        seen += [t["id"] for t in page["threads"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert sorted(seen) == sorted(r["threadId"] for r in roots)
    assert len(seen) == len(set(seen))
    assert seen[:2] == [roots[2]["threadId"], roots[0]["threadId"]]  # newest activity first


def test_thread_modify_trash_untrash_delete(gmail: Any) -> None:
    root = put(gmail, "Plan", msgid="p@x")
    put(gmail, "Re: Plan", msgid="p2@x", reply_to="p@x")
    threads = gmail.users().threads()
    modified = threads.modify(
        userId="me", id=root["threadId"], body={"removeLabelIds": ["UNREAD"]}
    ).execute()
    assert all("UNREAD" not in m["labelIds"] for m in modified["messages"])
    trashed = threads.trash(userId="me", id=root["threadId"]).execute()
    assert all("TRASH" in m["labelIds"] for m in trashed["messages"])
    assert "threads" not in threads.list(userId="me").execute()
    assert (
        threads.list(userId="me", labelIds=["TRASH"]).execute()["threads"][0]["id"]
        == root["threadId"]
    )
    threads.untrash(userId="me", id=root["threadId"]).execute()
    threads.delete(userId="me", id=root["threadId"]).execute()
    with pytest.raises(HttpError) as err:
        threads.get(userId="me", id=root["threadId"]).execute()
    assert err.value.resp.status == 404


def test_listing_spam_by_label_needs_no_include_flag(gmail: Any) -> None:
    spam = put(gmail, "Win", msgid="s@x", labels=["SPAM"])
    listed = gmail.users().messages().list(userId="me", labelIds=["SPAM"]).execute()
    assert [m["id"] for m in listed["messages"]] == [spam["id"]]
    assert gmail.users().messages().list(userId="me").execute()["resultSizeEstimate"] == 0


def test_history_retention_by_age(gmail: Any, gmail_user: EmulatorUser) -> None:
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    put(gmail, "old", msgid="o@x")
    mailbox = gmail_user.mailbox
    with mailbox.lock:
        for record in mailbox.history:
            record.at -= 3600  # an hour ago
        mailbox.history_max_age_s = 60
    put(gmail, "new", msgid="n@x")  # the next change prunes the old record
    with pytest.raises(HttpError) as err:
        gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert err.value.resp.status == 404
    after_old = str(int(start) + 1)
    kept = gmail.users().history().list(userId="me", startHistoryId=after_old).execute()
    assert len(kept["history"]) == 1


def test_batch_threads_get_and_metadata_headers(emulator: Any, gmail: Any) -> None:
    root = put(gmail, "Budget", msgid="b@x")
    reply = put(gmail, "Re: Budget", msgid="b2@x", reply_to="b@x")
    single = put(gmail, "Solo", msgid="s@x")
    results: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda rid, resp, exc: results.__setitem__(rid, exc or resp),
        batch_uri=f"{emulator.base_url}/batch/gmail/v1",
    )
    batch.add(
        gmail.users().threads().get(userId="me", id=root["threadId"], format="minimal"),
        request_id="t",
    )
    batch.add(
        gmail.users()
        .messages()
        .get(
            userId="me",
            id=single["id"],
            format="metadata",
            metadataHeaders=["Subject", "Message-ID"],
        ),
        request_id="m",
    )
    batch.add(gmail.users().threads().get(userId="me", id="ffffffffffffffff"), request_id="missing")
    batch.add(gmail.users().labels().list(userId="me"), request_id="labels")  # full app path
    batch.execute()
    assert [m["id"] for m in results["t"]["messages"]] == [root["id"], reply["id"]]
    headers = {h["name"]: h["value"] for h in results["m"]["payload"]["headers"]}
    assert headers == {"Subject": "Solo", "Message-ID": "<s@x>"}
    assert isinstance(results["missing"], HttpError)
    assert results["missing"].resp.status == 404
    assert any(label["id"] == "INBOX" for label in results["labels"]["labels"])

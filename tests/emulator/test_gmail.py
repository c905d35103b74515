"""Gmail v1 on the emulator, driven by the official googleapiclient over real HTTP."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest, MediaInMemoryUpload
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser

from tests.emulator.conftest import gmail_client, mint_token


def rfc822(
    subject: str = "Hello there",
    *,
    sender: str = "Bob Example <bob@example.org>",
    to: str = "alex@example.test",
    body: str = "Hi Alex, can we meet tomorrow?",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    attachment: bytes | None = None,
    html: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="plan.pdf")
    return msg.as_bytes()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def insert(gmail: Any, raw: bytes, labels: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"raw": b64(raw), "labelIds": labels or ["INBOX", "UNREAD"], **extra}
    result: dict[str, Any] = gmail.users().messages().insert(userId="me", body=body).execute()
    return result


def reason(exc: HttpError) -> str:
    return str(json.loads(exc.content)["error"]["errors"][0]["reason"])


def test_insert_get_all_formats(gmail: Any) -> None:
    raw = rfc822(
        message_id="<m1@example.org>", attachment=b"%PDF-1.4 data", html="<p>Hi &amp; bye</p>"
    )
    ref = insert(gmail, raw)
    assert len(ref["id"]) == 16
    int(ref["id"], 16)
    assert ref["threadId"] == ref["id"]
    assert ref["labelIds"] == ["INBOX", "UNREAD"]

    messages = gmail.users().messages()
    full = messages.get(userId="me", id=ref["id"]).execute()
    assert full["snippet"].startswith("Hi Alex, can we meet tomorrow?")
    assert full["sizeEstimate"] == len(raw)
    assert int(full["internalDate"]) > 0
    payload = full["payload"]
    assert payload["mimeType"] == "multipart/mixed"
    assert {"name": "Subject", "value": "Hello there"} in payload["headers"]
    alt, att = payload["parts"]
    assert alt["partId"] == "0"
    assert [p["mimeType"] for p in alt["parts"]] == ["text/plain", "text/html"]
    text = base64.urlsafe_b64decode(alt["parts"][0]["body"]["data"]).decode()
    assert text.startswith("Hi Alex")
    assert att["filename"] == "plan.pdf"
    assert "data" not in att["body"]
    data = (
        messages.attachments()
        .get(userId="me", messageId=ref["id"], id=att["body"]["attachmentId"])
        .execute()
    )
    assert base64.urlsafe_b64decode(data["data"]) == b"%PDF-1.4 data"
    assert data["size"] == len(b"%PDF-1.4 data")

    raw_fmt = messages.get(userId="me", id=ref["id"], format="raw").execute()
    assert base64.urlsafe_b64decode(raw_fmt["raw"]) == raw
    assert "payload" not in raw_fmt

    meta = messages.get(
        userId="me", id=ref["id"], format="metadata", metadataHeaders=["Subject", "From"]
    ).execute()
    assert sorted(h["name"] for h in meta["payload"]["headers"]) == ["From", "Subject"]

    minimal = messages.get(userId="me", id=ref["id"], format="minimal").execute()
    assert set(minimal) == {
        "id",
        "threadId",
        "labelIds",
        "snippet",
        "sizeEstimate",
        "historyId",
        "internalDate",
    }


def test_threading_by_references_and_subject(gmail: Any) -> None:
    first = insert(gmail, rfc822("Budget", message_id="<b1@example.org>"))
    reply = insert(
        gmail,
        rfc822("Re: Budget", message_id="<b2@example.org>", in_reply_to="<b1@example.org>"),
    )
    other_subject = insert(
        gmail, rfc822("Lunch?", message_id="<b3@example.org>", in_reply_to="<b1@example.org>")
    )
    explicit = insert(
        gmail,
        rfc822("RE: budget", message_id="<b4@example.org>", in_reply_to="<b2@example.org>"),
        threadId=first["threadId"],
    )
    assert reply["threadId"] == first["threadId"]
    assert other_subject["threadId"] != first["threadId"]
    assert explicit["threadId"] == first["threadId"]
    thread = gmail.users().threads().get(userId="me", id=first["threadId"]).execute()
    assert [m["id"] for m in thread["messages"]] == [first["id"], reply["id"], explicit["id"]]
    threads = gmail.users().threads().list(userId="me").execute()
    assert {t["id"] for t in threads["threads"]} == {first["threadId"], other_subject["threadId"]}


def test_list_pagination_labels_and_spam_trash(gmail: Any) -> None:
    ids = [insert(gmail, rfc822(f"Message {i}"))["id"] for i in range(7)]
    spam = insert(gmail, rfc822("Win money"), labels=["SPAM"])["id"]
    seen: list[str] = []
    token = None
    while True:
        page = gmail.users().messages().list(userId="me", maxResults=3, pageToken=token).execute()
        seen += [m["id"] for m in page["messages"]]
        assert page["resultSizeEstimate"] >= len(page["messages"])
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == list(reversed(ids))  # newest first, spam hidden
    with_spam = gmail.users().messages().list(userId="me", includeSpamTrash=True).execute()
    assert spam in {m["id"] for m in with_spam["messages"]}
    only_spam = (
        gmail.users()
        .messages()
        .list(userId="me", labelIds=["SPAM"], includeSpamTrash=True)
        .execute()
    )
    assert [m["id"] for m in only_spam["messages"]] == [spam]
    empty = gmail.users().messages().list(userId="me", q="nosuchwordanywhere").execute()
    assert empty == {"resultSizeEstimate": 0}


def test_modify_trash_delete_and_history(gmail: Any) -> None:
    api = gmail.users()
    start = int(api.getProfile(userId="me").execute()["historyId"])
    ref = insert(gmail, rfc822())
    label = api.labels().create(userId="me", body={"name": "Secretary/Needs reply"}).execute()
    api.messages().modify(
        userId="me", id=ref["id"], body={"addLabelIds": [label["id"]], "removeLabelIds": ["UNREAD"]}
    ).execute()
    api.messages().trash(userId="me", id=ref["id"]).execute()
    api.messages().untrash(userId="me", id=ref["id"]).execute()
    api.messages().delete(userId="me", id=ref["id"]).execute()

    hist = api.history().list(userId="me", startHistoryId=str(start)).execute()
    records = hist["history"]
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(ids)
    assert ids[0] > start
    assert int(hist["historyId"]) == ids[-1]
    kinds = [sorted(k for k in r if k not in ("id", "messages")) for r in records]
    assert kinds == [
        ["messagesAdded"],
        ["labelsAdded", "labelsRemoved"],
        ["labelsAdded", "labelsRemoved"],  # trash: +TRASH, -INBOX
        ["labelsRemoved"],
        ["messagesDeleted"],
    ]
    assert records[1]["labelsAdded"][0]["labelIds"] == [label["id"]]
    assert records[1]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]

    only_added = (
        api.history()
        .list(userId="me", startHistoryId=str(start), historyTypes=["messageAdded"])
        .execute()
    )
    assert [list(r) for r in only_added["history"]] == [["id", "messages", "messagesAdded"]]
    by_label = (
        api.history().list(userId="me", startHistoryId=str(start), labelId=label["id"]).execute()
    )
    assert len(by_label["history"]) == 4  # every record after the label was added

    paged: list[str] = []
    token = None
    while True:
        page = (
            api.history()
            .list(userId="me", startHistoryId=str(start), maxResults=2, pageToken=token)
            .execute()
        )
        paged += [r["id"] for r in page.get("history", [])]
        token = page.get("nextPageToken")
        if not token:
            break
    assert paged == [str(i) for i in ids]

    with pytest.raises(HttpError) as err:
        api.messages().get(userId="me", id=ref["id"]).execute()
    assert err.value.resp.status == 404
    assert reason(err.value) == "notFound"


def test_history_retention_and_expiry(gmail: Any, gmail_user: EmulatorUser) -> None:
    api = gmail.users()
    start = api.getProfile(userId="me").execute()["historyId"]
    gmail_user.mailbox.history_max_records = 2
    for i in range(3):
        insert(gmail, rfc822(f"n{i}"))
    with pytest.raises(HttpError) as err:
        api.history().list(userId="me", startHistoryId=start).execute()
    assert err.value.resp.status == 404
    recent = api.history().list(userId="me", startHistoryId=str(int(start) + 1)).execute()
    assert len(recent["history"]) == 2

    gmail_user.mailbox.expire_history()
    current = api.getProfile(userId="me").execute()["historyId"]
    with pytest.raises(HttpError):
        api.history().list(userId="me", startHistoryId=str(int(current) - 1)).execute()
    # A fresh id from getProfile works again: the resync path never loops on 404.
    assert "history" not in api.history().list(userId="me", startHistoryId=current).execute()


def test_labels_crud_and_counts(gmail: Any) -> None:
    labels = gmail.users().labels()
    names = {label["id"] for label in labels.list(userId="me").execute()["labels"]}
    assert {"INBOX", "UNREAD", "STARRED", "IMPORTANT", "SENT", "DRAFT", "SPAM", "TRASH"} <= names
    assert "CATEGORY_PROMOTIONS" in names
    created = labels.create(
        userId="me", body={"name": "Clients", "labelListVisibility": "labelShow"}
    ).execute()
    with pytest.raises(HttpError) as err:
        labels.create(userId="me", body={"name": "clients"}).execute()
    assert err.value.resp.status == 409
    ref = insert(gmail, rfc822(), labels=["INBOX", "UNREAD", created["id"]])
    got = labels.get(userId="me", id=created["id"]).execute()
    assert (got["messagesTotal"], got["messagesUnread"], got["threadsTotal"]) == (1, 1, 1)
    patched = labels.patch(userId="me", id=created["id"], body={"name": "Customers"}).execute()
    assert patched["name"] == "Customers"
    updated = labels.update(userId="me", id=created["id"], body={"name": "VIP"}).execute()
    assert updated["name"] == "VIP"
    labels.delete(userId="me", id=created["id"]).execute()
    msg = gmail.users().messages().get(userId="me", id=ref["id"], format="minimal").execute()
    assert created["id"] not in msg["labelIds"]
    with pytest.raises(HttpError) as err:
        gmail.users().messages().modify(
            userId="me", id=ref["id"], body={"addLabelIds": ["Label_99"]}
        ).execute()
    assert err.value.resp.status == 400


def test_batch_modify_and_batch_delete(gmail: Any) -> None:
    ids = [insert(gmail, rfc822(f"b{i}"))["id"] for i in range(3)]
    gmail.users().messages().batchModify(
        userId="me", body={"ids": ids, "addLabelIds": ["STARRED"], "removeLabelIds": ["UNREAD"]}
    ).execute()
    starred = gmail.users().messages().list(userId="me", q="is:starred is:read").execute()
    assert {m["id"] for m in starred["messages"]} == set(ids)
    gmail.users().messages().batchDelete(userId="me", body={"ids": ids[:2]}).execute()
    assert gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 1


def test_batch_endpoint_dispatches_each_part(emulator: RunningEmulator, gmail: Any) -> None:
    ids = [insert(gmail, rfc822(f"batch {i}"))["id"] for i in range(60)]
    results: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: Exception | None) -> None:
        results[request_id] = exception or response

    batch = BatchHttpRequest(callback=collect, batch_uri=f"{emulator.base_url}/batch/gmail/v1")
    for message_id in [*ids[:49], "0000000000000000"]:
        batch.add(gmail.users().messages().get(userId="me", id=message_id, format="raw"))
    batch.execute()
    assert len(results) == 50
    fetched = [r for r in results.values() if isinstance(r, dict)]
    assert sorted(r["id"] for r in fetched) == sorted(ids[:49])
    errors = [r for r in results.values() if isinstance(r, HttpError)]
    assert len(errors) == 1
    assert errors[0].resp.status == 404
    stats = emulator.state.extras["quota"].stats()["users"]["alex@example.test"]
    # 60 inserts x 25 + 50 gets x 5: each part is charged like a direct call.
    assert stats["units"] == 60 * 25 + 50 * 5


def test_batch_rejects_more_than_100_parts(emulator: RunningEmulator, token: str) -> None:
    boundary = "xyz"
    part = (
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <a+{{n}}>\r\n\r\n"
        "GET /gmail/v1/users/me/profile HTTP/1.1\r\n\r\n"
    )
    body = "".join(part.replace("{n}", str(i)) for i in range(101)) + f"--{boundary}--"
    resp = httpx.post(
        f"{emulator.base_url}/batch/gmail/v1",
        content=body.encode(),
        headers={
            "Content-Type": f"multipart/mixed; boundary={boundary}",
            "Authorization": f"Bearer {token}",
        },
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_auth_errors_have_google_shape(emulator: RunningEmulator, gmail_user: EmulatorUser) -> None:
    url = f"{emulator.base_url}/gmail/v1/users/me/profile"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json()["error"]["errors"][0]["reason"] == "required"
    bad = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == {
        "code": 401,
        "message": bad.json()["error"]["message"],
        "errors": [
            {"message": bad.json()["error"]["message"], "domain": "global", "reason": "authError"}
        ],
        "status": "UNAUTHENTICATED",
    }
    expired = mint_token(emulator.state, gmail_user.email, ttl=-1)
    assert httpx.get(url, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    other = mint_token(emulator.state, gmail_user.email)
    delegated = httpx.get(
        f"{emulator.base_url}/gmail/v1/users/someone@else.test/profile",
        headers={"Authorization": f"Bearer {other}"},
    )
    assert delegated.status_code == 403
    by_email = httpx.get(
        f"{emulator.base_url}/gmail/v1/users/{gmail_user.email}/profile",
        headers={"Authorization": f"Bearer {other}"},
    )
    assert by_email.json()["emailAddress"] == gmail_user.email
    no_scope = mint_token(emulator.state, gmail_user.email, scopes=["openid"])
    with pytest.raises(HttpError) as err:
        gmail_client(emulator.base_url, no_scope).users().getProfile(userId="me").execute()
    assert err.value.resp.status == 403
    assert reason(err.value) == "insufficientPermissions"


def test_drafts_lifecycle(gmail: Any) -> None:
    original = insert(gmail, rfc822("Proposal", message_id="<p1@example.org>"))
    reply = rfc822(
        "Re: Proposal",
        sender="alex@example.test",
        to="bob@example.org",
        body="Thanks, looks good.",
        in_reply_to="<p1@example.org>",
    )
    drafts = gmail.users().drafts()
    draft = drafts.create(
        userId="me", body={"message": {"raw": b64(reply), "threadId": original["threadId"]}}
    ).execute()
    assert draft["id"].startswith("r")
    assert draft["message"]["labelIds"] == ["DRAFT"]
    assert draft["message"]["threadId"] == original["threadId"]
    listed = drafts.list(userId="me").execute()
    assert [d["id"] for d in listed["drafts"]] == [draft["id"]]
    got = drafts.get(userId="me", id=draft["id"]).execute()
    assert got["message"]["snippet"] == "Thanks, looks good."
    updated = drafts.update(
        userId="me",
        id=draft["id"],
        body={
            "message": {
                "raw": b64(reply.replace(b"looks good", b"looks great")),
                "threadId": original["threadId"],
            }
        },
    ).execute()
    assert updated["message"]["id"] != draft["message"]["id"]
    sent = drafts.send(userId="me", body={"id": draft["id"]}).execute()
    assert sent["labelIds"] == ["SENT"]
    assert sent["threadId"] == original["threadId"]
    assert "drafts" not in drafts.list(userId="me").execute()
    with pytest.raises(HttpError) as err:
        drafts.get(userId="me", id=draft["id"]).execute()
    assert err.value.resp.status == 404
    second = drafts.create(userId="me", body={"message": {"raw": b64(reply)}}).execute()
    drafts.delete(userId="me", id=second["id"]).execute()
    assert (
        gmail.users().messages().list(userId="me", q="in:drafts").execute()["resultSizeEstimate"]
        == 0
    )


def test_send_and_import(gmail: Any) -> None:
    sent = (
        gmail.users()
        .messages()
        .send(
            userId="me",
            body={"raw": b64(rfc822("Out", sender="alex@example.test", to="bob@example.org"))},
        )
        .execute()
    )
    assert sent["labelIds"] == ["SENT"]
    imported = (
        gmail.users()
        .messages()
        .import_(userId="me", body={"raw": b64(rfc822("Old mail")), "labelIds": ["INBOX"]})
        .execute()
    )
    got = gmail.users().messages().get(userId="me", id=imported["id"], format="minimal").execute()
    # import defaults to the Date header (2026-11-02 10:00 UTC).
    assert got["internalDate"] == "1793613600000"


def test_media_upload_paths(emulator: RunningEmulator, gmail: Any, token: str) -> None:
    raw = rfc822("Uploaded", body="Uploaded through the media path.\r\n")
    # googleapiclient keeps the discovery root's https scheme for upload URLs even with a custom
    # api_endpoint; the request is otherwise exactly what the client builds.
    req = (
        gmail.users()
        .messages()
        .insert(
            userId="me",
            body={"labelIds": ["INBOX"]},
            media_body=MediaInMemoryUpload(raw, mimetype="message/rfc822"),
        )
    )
    assert "/upload/gmail/v1/users/me/messages" in req.uri
    assert "uploadType=multipart" in req.uri
    req.uri = req.uri.replace("https://", "http://")
    ref = req.execute()
    got = gmail.users().messages().get(userId="me", id=ref["id"], format="raw").execute()
    assert base64.urlsafe_b64decode(got["raw"]) == raw
    assert got["labelIds"] == ["INBOX"]

    draft_req = (
        gmail.users()
        .drafts()
        .create(
            userId="me", body={}, media_body=MediaInMemoryUpload(raw, mimetype="message/rfc822")
        )
    )
    draft_req.uri = draft_req.uri.replace("https://", "http://")
    draft = draft_req.execute()
    assert draft["message"]["labelIds"] == ["DRAFT"]

    media_only = httpx.post(
        f"{emulator.base_url}/upload/gmail/v1/users/me/messages/send?uploadType=media",
        content=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"},
    )
    assert media_only.status_code == 200
    # Sent to the user's own address: Gmail files it in SENT and INBOX.
    assert media_only.json()["labelIds"] == ["INBOX", "SENT", "UNREAD"]

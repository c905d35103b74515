"""Gmail behaviours written from Google's documentation (each test cites its page), run
with the official client against the emulator."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser

from tests.emulator.conftest import USER_EMAIL, gmail_client, mint_token

SCOPE = "https://www.googleapis.com/auth/gmail."


def raw(
    subject: str,
    *,
    sender: str = "Bo <bo@example.org>",
    to: str = USER_EMAIL,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    body: str = "Hello there.",
) -> str:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return base64.urlsafe_b64encode(bytes(msg)).decode()


def reason(exc: HttpError) -> str:
    return str(json.loads(exc.content)["error"]["errors"][0]["reason"])


def insert(gmail: Any, body: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = (
        gmail.users()
        .messages()
        .insert(userId="me", body={"raw": body, "labelIds": ["INBOX"], **extra})
        .execute()
    )
    return out


def scoped(emulator: RunningEmulator, *scopes: str) -> Any:
    token = mint_token(emulator.state, USER_EMAIL, scopes=[SCOPE + s for s in scopes])
    return gmail_client(emulator.base_url, token)


def test_a_message_joins_a_thread_only_by_the_three_documented_rules(gmail: Any) -> None:
    """https://developers.google.com/workspace/gmail/api/guides/threads ("Add drafts and
    messages to threads"): the threadId must be given, References/In-Reply-To must follow
    RFC 2822 and the Subject must match; otherwise the message starts its own thread."""
    first = insert(gmail, raw("Budget", message_id="<b1@x>"))
    thread = first["threadId"]
    joined = insert(gmail, raw("Re: Budget", in_reply_to="<b1@x>"), threadId=thread)
    no_headers = insert(gmail, raw("Re: Budget"), threadId=thread)
    other_subject = insert(gmail, raw("Lunch", in_reply_to="<b1@x>"), threadId=thread)
    drafts = gmail.users().drafts()
    draft = drafts.create(
        userId="me", body={"message": {"raw": raw("Re: Budget"), "threadId": thread}}
    ).execute()
    assert joined["threadId"] == thread
    assert no_headers["threadId"] != thread
    assert other_subject["threadId"] != thread
    assert draft["message"]["threadId"] != thread  # the returned threadId is the truth


def test_an_unknown_thread_id_is_an_error(gmail: Any) -> None:
    """``Message.threadId`` names an existing thread
    (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages)."""
    with pytest.raises(HttpError) as caught:
        insert(gmail, raw("Hello"), threadId="18cffffffffffff0")
    assert caught.value.resp.status == 400


def test_scopes_limit_methods_as_the_reference_lists_them(
    emulator: RunningEmulator, gmail_user: EmulatorUser, gmail: Any
) -> None:
    """Each method's "Authorization scopes" section
    (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages/send,
    .../modify, .../delete) and https://developers.google.com/workspace/gmail/api/auth/scopes:
    readonly cannot send or modify, modify cannot delete permanently; Google answers 403
    insufficientPermissions."""
    target = insert(gmail, raw("Keep"))["id"]
    readonly = scoped(emulator, "readonly")
    assert readonly.users().messages().get(userId="me", id=target).execute()["id"] == target
    for call in (
        readonly.users().messages().send(userId="me", body={"raw": raw("x", to="a@b.example")}),
        readonly.users()
        .messages()
        .modify(userId="me", id=target, body={"removeLabelIds": ["INBOX"]}),
    ):
        with pytest.raises(HttpError) as caught:
            call.execute()
        assert caught.value.resp.status == 403
        assert reason(caught.value) == "insufficientPermissions"
    modify = scoped(emulator, "modify")
    modify.users().messages().trash(userId="me", id=target).execute()
    with pytest.raises(HttpError) as caught:
        modify.users().messages().delete(userId="me", id=target).execute()
    assert reason(caught.value) == "insufficientPermissions"
    assert target in gmail_user.mailbox.messages


def test_the_metadata_scope_reads_no_bodies_and_cannot_search(
    emulator: RunningEmulator, gmail: Any
) -> None:
    """https://developers.google.com/workspace/gmail/api/auth/scopes: gmail.metadata reads
    "metadata such as labels and headers, but not the email body"; messages.list documents
    that ``q`` "cannot be used when accessing the api using the gmail.metadata scope"."""
    target = insert(gmail, raw("Secret plans"))["id"]
    meta = scoped(emulator, "metadata")
    got = meta.users().messages().get(userId="me", id=target, format="metadata").execute()
    assert got["payload"]["headers"]
    for call in (
        meta.users().messages().get(userId="me", id=target),  # format=full by default
        meta.users().messages().get(userId="me", id=target, format="raw"),
        meta.users().messages().list(userId="me", q="plans"),
    ):
        with pytest.raises(HttpError) as caught:
            call.execute()
        assert caught.value.resp.status == 403
        assert reason(caught.value) == "insufficientPermissions"
    assert meta.users().messages().list(userId="me").execute()["messages"]


def test_system_labels_gmail_applies_itself(gmail: Any) -> None:
    """https://developers.google.com/workspace/gmail/api/guides/labels: SENT and DRAFT are
    applied automatically and cannot be applied manually; SENT goes on messages inserted
    with the user's address in From."""
    target = insert(gmail, raw("Hi"))["id"]
    for label in ("SENT", "DRAFT"):
        with pytest.raises(HttpError) as caught:
            gmail.users().messages().modify(
                userId="me", id=target, body={"addLabelIds": [label]}
            ).execute()
        assert caught.value.resp.status == 400
    mine = insert(gmail, raw("Note to self", sender=f"Alex <{USER_EMAIL}>", to="a@b.example"))
    assert "SENT" in mine["labelIds"]


def test_drafts_cannot_be_labelled(gmail: Any) -> None:
    """https://developers.google.com/workspace/gmail/api/guides/labels ("Messages and
    threads can have labels"; drafts carry only DRAFT, which Gmail manages)."""
    draft = (
        gmail.users()
        .drafts()
        .create(userId="me", body={"message": {"raw": raw("Draft")}})
        .execute()
    )
    with pytest.raises(HttpError) as caught:
        gmail.users().messages().modify(
            userId="me", id=draft["message"]["id"], body={"addLabelIds": ["STARRED"]}
        ).execute()
    assert caught.value.resp.status == 400


def test_snippets_are_html_escaped(gmail: Any) -> None:
    """``Message.snippet`` is "a short part of the message text"; Gmail sends it
    HTML-escaped (``&#39;``, ``&quot;``, ``&amp;``, ``&lt;``)
    (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages)."""
    target = insert(gmail, raw("Q", body='It\'s "5 < 6" & true'))["id"]
    got = gmail.users().messages().get(userId="me", id=target, format="minimal").execute()
    assert got["snippet"] == "It&#39;s &quot;5 &lt; 6&quot; &amp; true"


def test_send_assigns_its_own_message_id(gmail: Any) -> None:
    """Gmail stamps a sent message with a Message-ID of its own, whatever the client wrote
    (https://developers.google.com/workspace/gmail/api/guides/sending: the API sends the
    RFC 2822 message; the server assigns the identifiers)."""
    sent = (
        gmail.users()
        .messages()
        .send(userId="me", body={"raw": raw("Out", to="a@b.example", message_id="<mine@x>")})
        .execute()
    )
    got = gmail.users().messages().get(userId="me", id=sent["id"], format="metadata").execute()
    ids = [h["value"] for h in got["payload"]["headers"] if h["name"].lower() == "message-id"]
    assert len(ids) == 1
    assert ids[0] != "<mine@x>"
    assert ids[0].endswith("@mail.gmail.com>")


def test_unimplemented_methods_answer_501_naming_them(
    emulator: RunningEmulator, token: str
) -> None:
    """A documented method the emulator lacks must not answer 404 "Requested entity was not
    found", which a client reads as a real missing entity (Google's 404 is for entities:
    https://developers.google.com/workspace/gmail/api/guides/handle-errors)."""
    response = httpx.get(
        f"{emulator.base_url}/gmail/v1/users/me/settings/vacation",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 501
    assert "gmail.users.settings.getVacation" in response.json()["error"]["message"]
    unknown = httpx.get(f"{emulator.base_url}/gmail/v1/users/me/nothing-here")
    assert unknown.status_code == 404


def _ids(gmail: Any, q: str) -> set[str]:
    found = gmail.users().messages().list(userId="me", q=q, maxResults=500).execute()
    return {m["id"] for m in found.get("messages", [])}


def test_search_operators_from_the_gmail_reference(gmail: Any) -> None:
    """Gmail's search operators (https://support.google.com/mail/answer/7190, used by
    ``q`` as https://developers.google.com/workspace/gmail/api/guides/filtering says):
    larger:/smaller:/size:, has:userlabels/has:nouserlabels, category:, rfc822msgid:, list:,
    AROUND and +word."""
    small = insert(gmail, raw("Small", message_id="<small@x>", body="hi"))["id"]
    big = insert(gmail, raw("Big", body="holiday " + "word " * 3000 + "vacation"))["id"]
    near = insert(gmail, raw("Plans", body="our holiday and summer vacation plans"))["id"]
    listed = EmailMessage()
    listed["From"] = "news@list.example"
    listed["To"] = USER_EMAIL
    listed["Subject"] = "Digest"
    listed["List-Id"] = "Weekly digest <digest.list.example>"
    listed.set_content("news")
    news = insert(gmail, base64.urlsafe_b64encode(bytes(listed)).decode())["id"]
    label = gmail.users().labels().create(userId="me", body={"name": "Kept"}).execute()
    gmail.users().messages().modify(
        userId="me", id=near, body={"addLabelIds": [label["id"], "CATEGORY_SOCIAL"]}
    ).execute()

    assert _ids(gmail, "larger:10k") == {big}
    assert _ids(gmail, "size:10000") == {big}  # size: means larger than, in bytes
    assert small in _ids(gmail, "smaller:1k")
    assert big not in _ids(gmail, "smaller:10k")
    assert _ids(gmail, "has:userlabels") == {near}
    assert near not in _ids(gmail, "has:nouserlabels")
    assert _ids(gmail, "category:social") == {near}
    assert _ids(gmail, "rfc822msgid:small@x") == {small}
    assert _ids(gmail, "list:digest.list.example") == {news}
    assert _ids(gmail, "holiday AROUND 3 vacation") == {near}  # big has 3000 words between
    assert _ids(gmail, "+vacation") == {big, near}


def test_dates_are_midnight_pacific_and_older_newer_are_aliases(
    gmail: Any, gmail_user: EmulatorUser
) -> None:
    """https://developers.google.com/workspace/gmail/api/guides/filtering: "dates are
    interpreted as midnight PST"; epoch seconds are exact. older:/newer: are before:/after:
    (https://support.google.com/mail/answer/7190)."""
    # 2026-11-17 05:00 UTC is 21:00 on the 16th in California.
    evening = (
        gmail.users()
        .messages()
        .import_(
            userId="me",
            body={"raw": raw("Late", body="x")},
            internalDateSource="receivedTime",
        )
    )
    first = evening.execute()["id"]
    with gmail_user.mailbox.lock:
        msg = gmail_user.mailbox.messages[first]
        gmail_user.mailbox._order.remove((msg.internal_date, msg.id))
        msg.internal_date = 1_794_891_600_000  # 2026-11-17T05:00:00Z
        gmail_user.mailbox._order.append((msg.internal_date, msg.id))
        gmail_user.mailbox._order.sort()
    assert first in _ids(gmail, "before:2026/11/17")  # not yet the 17th in Pacific time
    assert first not in _ids(gmail, "after:2026/11/17")
    assert first in _ids(gmail, "older:2026/11/17")
    assert first in _ids(gmail, "newer:2026/11/16")
    assert first in _ids(gmail, "after:1794891599 before:1794891601")


def test_fields_selects_a_partial_response(
    emulator: RunningEmulator, gmail: Any, token: str
) -> None:
    """``fields``: "Selector specifying which fields to include in a partial response"
    (every method's standard parameters; https://developers.google.com/workspace/gmail/api/guides/performance#partial-response)."""
    target = insert(gmail, raw("Partial"))["id"]
    got = gmail.users().messages().get(userId="me", id=target, fields="id,labelIds").execute()
    assert got == {"id": target, "labelIds": ["INBOX"]}
    listed = gmail.users().messages().list(userId="me", fields="messages(id)").execute()
    assert listed == {"messages": [{"id": target}]}
    # The batch fast path selects too.
    out: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda rid, resp, exc: out.update({rid: resp}),
        batch_uri=f"{emulator.base_url}/batch/gmail/v1",
    )
    batch.add(gmail.users().messages().get(userId="me", id=target, fields="snippet"))
    batch.execute()
    assert list(out.values()) == [{"snippet": "Hello there."}]


def test_usage_limits_can_come_as_403_rate_limit_exceeded(
    emulator: RunningEmulator, gmail: Any
) -> None:
    """Gmail's "Resolve errors" page lists 403 ``rateLimitExceeded``/``userRateLimitExceeded``
    beside 429 for usage limits
    (https://developers.google.com/workspace/gmail/api/guides/handle-errors)."""
    from workspace_emulator.faults import EndpointFaults, FaultConfig, fault_injector

    fault_injector(emulator.state).configure(
        FaultConfig(seed=1, endpoints={"gmail.users.getProfile": EndpointFaults(error_403_rate=1)})
    )
    with pytest.raises(HttpError) as caught:
        gmail.users().getProfile(userId="me").execute()
    assert caught.value.resp.status == 403
    assert reason(caught.value) == "rateLimitExceeded"


def test_send_as_holds_the_signature_and_filters_are_kept(
    emulator: RunningEmulator, gmail: Any
) -> None:
    """users.settings.sendAs: the primary address "isPrimary" with its HTML ``signature``
    (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.settings.sendAs);
    users.settings.filters create/list/get/delete
    (https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.settings.filters).
    Changing them needs gmail.settings.basic (the methods' authorization scopes)."""
    settings = scoped(emulator, "modify", "settings.basic").users().settings()
    (primary,) = gmail.users().settings().sendAs().list(userId="me").execute()["sendAs"]
    assert primary["sendAsEmail"] == USER_EMAIL
    assert primary["isPrimary"] is True
    settings.sendAs().patch(
        userId="me", sendAsEmail=USER_EMAIL, body={"signature": "<b>Alex</b>"}
    ).execute()
    got = gmail.users().settings().sendAs().get(userId="me", sendAsEmail=USER_EMAIL).execute()
    assert got["signature"] == "<b>Alex</b>"
    with pytest.raises(HttpError) as caught:  # gmail.modify alone cannot change settings
        gmail.users().settings().sendAs().patch(
            userId="me", sendAsEmail=USER_EMAIL, body={"signature": "x"}
        ).execute()
    assert caught.value.resp.status == 403
    made = (
        settings.filters()
        .create(
            userId="me",
            body={"criteria": {"from": "news@x.example"}, "action": {"removeLabelIds": ["INBOX"]}},
        )
        .execute()
    )
    listed = settings.filters().list(userId="me").execute()["filter"]
    assert [f["id"] for f in listed] == [made["id"]]
    settings.filters().delete(userId="me", id=made["id"]).execute()
    assert settings.filters().list(userId="me").execute() == {}


def test_batch_parts_run_concurrently_and_can_draw_per_part_429s(
    emulator: RunningEmulator, gmail: Any
) -> None:
    """A batch answers 200 while single parts fail: "the server may perform the calls in
    any order" and each inner call counts against the user's limits, so "too many
    concurrent requests" 429s appear per part
    (https://developers.google.com/workspace/gmail/api/guides/batch,
    https://developers.google.com/workspace/gmail/api/reference/quota)."""
    from workspace_emulator.quota import QuotaConfig, quota_book

    ids = [insert(gmail, raw(f"M{i}"))["id"] for i in range(10)]
    quota_book(emulator.state).configure(
        QuotaConfig(mode="custom", units_per_minute=100_000, max_concurrent=3)
    )
    statuses: list[int] = []

    def collect(_rid: str, _resp: Any, exc: HttpError | None) -> None:
        statuses.append(exc.resp.status if exc is not None else 200)

    batch = BatchHttpRequest(callback=collect, batch_uri=f"{emulator.base_url}/batch/gmail/v1")
    for message_id in ids:
        batch.add(gmail.users().messages().get(userId="me", id=message_id, format="minimal"))
    batch.execute()  # the batch itself succeeds
    assert statuses.count(200) >= 3
    assert 429 in statuses
    assert set(statuses) <= {200, 429}
    stats = quota_book(emulator.state).stats()["users"][USER_EMAIL]
    assert stats["peak_in_flight"] == 3

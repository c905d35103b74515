"""Pub/Sub push after ``watch``: envelope, OIDC JWT verified with google-auth, faults."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import google.auth.transport.requests
import pytest
import requests
import uvicorn
from fastapi import FastAPI, Request, Response
from google.oauth2 import id_token
from workspace_emulator.control import EmulatorControl
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser

TOPIC = "projects/secretary-test/topics/gmail"
AUDIENCE = "https://secretary.example/webhooks/google/pubsub"


class Receiver:
    """A real HTTP endpoint that records pushes; answers ``fail_first`` 503s first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, Any], str]] = []
        self.fail_first = fail_first
        app = FastAPI()

        @app.post("/push")
        async def push(request: Request) -> Response:
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(status_code=503)
            self.received.append((await request.json(), request.headers.get("authorization", "")))
            return Response(status_code=204)

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/push"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        while not self.server.started:
            time.sleep(0.005)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def control(emulator: RunningEmulator) -> Iterator[EmulatorControl]:
    with EmulatorControl(emulator.base_url) as c:
        yield c


def raw_mail(subject: str) -> bytes:
    return f"From: bob@example.org\r\nTo: alex@example.test\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


def test_watch_push_envelope_and_jwt_verification(
    emulator: RunningEmulator,
    gmail: Any,
    gmail_user: EmulatorUser,
    control: EmulatorControl,
    receiver: Receiver,
) -> None:
    control.configure_push(
        TOPIC, receiver.url, AUDIENCE, service_account_email="push@proj.iam.gserviceaccount.com"
    )
    watch = (
        gmail.users().watch(userId="me", body={"topicName": TOPIC, "labelIds": ["INBOX"]}).execute()
    )
    assert int(watch["expiration"]) > time.time() * 1000
    delivered = control.deliver(gmail_user.email, raw_mail("hello"))
    control.deliver(gmail_user.email, raw_mail("filtered out"), labels=["CATEGORY_PROMOTIONS"])
    assert control.flush_push()
    assert len(receiver.received) == 1
    body, auth = receiver.received[0]
    data = json.loads(base64.b64decode(body["message"]["data"]))
    assert data["emailAddress"] == gmail_user.email
    assert data["historyId"] > int(watch["historyId"])
    profile = gmail.users().getProfile(userId="me").execute()
    assert data["historyId"] <= int(profile["historyId"])
    assert body["message"]["messageId"]
    assert body["message"]["publishTime"].endswith("Z")
    assert body["subscription"] == "projects/secretary-test/subscriptions/gmail-push"
    history = gmail.users().history().list(userId="me", startHistoryId=watch["historyId"]).execute()
    assert history["history"][0]["messagesAdded"][0]["message"]["id"] == delivered["id"]

    scheme, _, token = auth.partition(" ")
    assert scheme == "Bearer"
    session = requests.Session()
    claims = id_token.verify_token(
        token,
        google.auth.transport.requests.Request(session=session),
        audience=AUDIENCE,
        certs_url=f"{emulator.base_url}/oauth2/v3/certs",
    )
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["email"] == "push@proj.iam.gserviceaccount.com"
    assert claims["email_verified"] is True
    # The PEM-certificate endpoint verifies the same token without PyJWT.
    again = id_token.verify_token(
        token,
        google.auth.transport.requests.Request(session=session),
        audience=AUDIENCE,
        certs_url=f"{emulator.base_url}/oauth2/v1/certs",
    )
    assert again["sub"] == claims["sub"]
    with pytest.raises(ValueError, match="audience"):
        id_token.verify_token(
            token,
            google.auth.transport.requests.Request(session=session),
            audience="https://someone-else.example",
            certs_url=f"{emulator.base_url}/oauth2/v1/certs",
        )

    gmail.users().stop(userId="me").execute()
    control.deliver(gmail_user.email, raw_mail("after stop"))
    assert control.flush_push()
    assert len(receiver.received) == 1


def test_push_retries_non_2xx(
    gmail: Any, gmail_user: EmulatorUser, control: EmulatorControl
) -> None:
    flaky = Receiver(fail_first=2)
    try:
        control.configure_push(TOPIC, flaky.url, AUDIENCE)
        gmail.users().watch(userId="me", body={"topicName": TOPIC}).execute()
        control.deliver(gmail_user.email, raw_mail("retry me"))
        assert control.flush_push()
        assert len(flaky.received) == 1
        stats = control.stats()["push"]["stats"]
        assert stats["failed_attempts"] == 2
        assert stats["delivered"] == 1
    finally:
        flaky.stop()


def test_push_drop_and_duplicate_faults(
    gmail: Any, gmail_user: EmulatorUser, control: EmulatorControl, receiver: Receiver
) -> None:
    control.configure_push(TOPIC, receiver.url, AUDIENCE)
    control.set_faults(push_drop=0.3, push_duplicate=0.2, seed=7)
    gmail.users().watch(userId="me", body={"topicName": TOPIC}).execute()
    for i in range(60):
        control.deliver(gmail_user.email, raw_mail(f"m{i}"))
    assert control.flush_push()
    stats = control.stats()
    push = stats["push"]["stats"]
    assert push["dropped"] == stats["faults"]["push_dropped"]
    assert 5 <= push["dropped"] <= 35
    assert push["duplicated"] >= 3
    assert len(receiver.received) == 60 - push["dropped"] + push["duplicated"]
    ids = [
        json.loads(base64.b64decode(b["message"]["data"]))["historyId"]
        for b, _ in receiver.received
    ]
    assert len(ids) - len(set(ids)) == push["duplicated"]


def test_watch_rejects_bad_topic(gmail: Any) -> None:
    from googleapiclient.errors import HttpError

    with pytest.raises(HttpError) as err:
        gmail.users().watch(userId="me", body={"topicName": "gmail"}).execute()
    assert err.value.resp.status == 400

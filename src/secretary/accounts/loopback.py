"""The loopback flow of the CLI and the demo: a one-shot HTTP server on 127.0.0.1 receives
Google's redirect (RFC 8252), then the authorization completes like the web flow."""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from sqlalchemy.orm import Session

from secretary.accounts import repository as repo
from secretary.accounts.oauth import complete_authorization, start_authorization
from secretary.accounts.schemas import ConnectResult
from secretary.accounts.tokens import LOOPBACK_TIMEOUT_SECONDS, START_PATH, reauth_path
from secretary.config import Settings
from secretary.google import auth
from secretary.google.errors import (
    OAuthError,
)
from secretary.kit.logging import get_logger

log = get_logger(__name__)


class _LoopbackReceiver:
    """Receives the OAuth redirect on ``http://127.0.0.1:<port>/``.

    Hand-rolled rather than ``InstalledAppFlow.run_local_server``: that helper makes its own
    ``state``, exchanges the code itself and blocks on the browser, leaving no room for our
    signed state, the headless emulator path, or storing through this service.
    """

    def __init__(self) -> None:
        self.params: dict[str, str] | None = None
        self.received = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(parse_qsl(urlsplit(self.path).query))
                if not ({"code", "error", "state"} & query.keys()):
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.params = query
                receiver.received.set()
                body = (
                    b"<!doctype html><title>Secretary</title><p>Secretary received Google's "
                    b"answer. You can close this window and return to the terminal.</p>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                # The stdlib logs the request line, which carries the authorization code.
                return

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self._server.server_port}/"
        # A short poll interval: shutdown() waits for the next poll, and the CLI (and the demo)
        # should not idle half a second per connect.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float) -> dict[str, str] | None:
        return self.params if self.received.wait(timeout) else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def _loopback() -> Iterator[_LoopbackReceiver]:
    receiver = _LoopbackReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


def _follow_headless(url: str, redirect_uri: str) -> dict[str, str] | None:
    """Follow the consent URL's redirects over HTTP. Ends at our redirect URI only when the
    OAuth server approves without a human (the emulator with auto-approve, the demo)."""
    with requests.Session() as http:
        for _ in range(10):
            try:
                resp = http.get(url, allow_redirects=False, timeout=auth.HTTP_TIMEOUT_SECONDS)
            except requests.RequestException:
                return None
            location = resp.headers.get("location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                return None
            url = urljoin(url, location)
            if url.startswith(redirect_uri):
                return dict(parse_qsl(urlsplit(url).query))
    return None


def connect_via_loopback(
    session: Session,
    *,
    settings: Settings,
    login_hint: str | None = None,
    user_email: str | None = None,
    account_id: int | None = None,
    open_browser: bool = True,
    timeout_seconds: float = LOOPBACK_TIMEOUT_SECONDS,
    on_url: Callable[[str], None] | None = None,
) -> ConnectResult:
    """Run the real authorization-code flow with a loopback redirect and store the account.

    Auth URL → consent → redirect to ``http://127.0.0.1:<port>/`` with the code → token
    exchange → userinfo → store. When the OAuth server approves without a human (the
    emulator with auto-approve, as in the demo) the redirect is followed over HTTP and no
    browser is involved. Otherwise the URL goes to ``on_url`` (and the browser, unless
    ``open_browser`` is False) and this waits up to ``timeout_seconds`` for the redirect.

    Args:
        user_email: attach the account to this user (created if new); default: see
            ``complete_authorization`` (single-user install → its one user).
        account_id: re-authorize this account (must come back as the same Google account).
    """
    user_id = None
    if user_email and account_id is None:
        user = repo.get_user_by_email(session, user_email) or repo.create_user(
            session, email=user_email, display_name=None
        )
        user_id = user.id
    with _loopback() as receiver:
        started = start_authorization(
            session,
            settings=settings,
            redirect_uri=receiver.redirect_uri,
            login_hint=login_hint,
            account_id=account_id,
            user_id=user_id,
        )
        params = _follow_headless(started.url, receiver.redirect_uri)
        if params is None:
            if on_url is not None:
                on_url(started.url)
            if open_browser:
                with suppress(webbrowser.Error):
                    webbrowser.open(started.url, new=1, autoraise=True)
            params = receiver.wait(timeout_seconds)
        if params is None:
            raise OAuthError(
                "No answer from Google's consent page before the time limit. Run the "
                "command again and finish the sign-in in the browser.",
                recovery_url=reauth_path(account_id) if account_id else START_PATH,
            )
    return complete_authorization(
        session,
        settings=settings,
        pending=started.pending,
        state=params.get("state"),
        code=params.get("code"),
        error=params.get("error"),
        error_description=params.get("error_description"),
    )

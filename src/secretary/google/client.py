"""Building the official discovery clients, pointed at ``Settings.google.api_base_url``.

The same code talks to Google (``api_base_url`` unset) or to the emulator. Credentials are a
``ManagedCredentials``: a bearer token whose ``refresh`` asks the accounts service for a
new one, so that googleapiclient's own 401-then-refresh-once logic (single requests and
batch parts alike) persists refreshed tokens through our encrypted store instead of
refreshing behind its back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth import credentials as ga_credentials
from google.auth.exceptions import RefreshError
from googleapiclient.discovery import build
from googleapiclient.http import BatchHttpRequest

from secretary.config import Settings

TokenRefresher = Callable[[], str]

HTTP_TIMEOUT_SECONDS = 60


class ManagedCredentials(ga_credentials.Credentials):
    """A bearer token plus a callback that obtains a fresh one (thread-safe, deduplicated)."""

    def __init__(self, token: str, refresher: TokenRefresher | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.token = token
        self._refresher = refresher
        self._lock = threading.Lock()
        self._applied = threading.local()  # the token this thread last sent
        self.refresh_count = 0

    def apply(self, headers: Any, token: str | None = None) -> None:
        self._applied.token = token or self.token
        super().apply(headers, token=token)  # type: ignore[no-untyped-call]

    def refresh(self, request: Any) -> None:
        with self._lock:
            # Several threads see a 401 for the same token at once; the first refreshes,
            # the others find a token newer than the one they sent and just retry with it.
            sent = getattr(self._applied, "token", self.token)
            if sent != self.token:
                return
            if self._refresher is None:
                raise RefreshError(  # type: ignore[no-untyped-call]
                    "the access token expired and cannot be refreshed"
                )
            self.token = self._refresher()
            self.refresh_count += 1

    @property
    def expired(self) -> bool:
        return False

    @property
    def valid(self) -> bool:
        return self.token is not None


def api_root(settings: Settings) -> str | None:
    base = settings.google.api_base_url
    return base.rstrip("/") + "/" if base else None


def new_http(credentials: ManagedCredentials) -> google_auth_httplib2.AuthorizedHttp:
    """An authorized keep-alive HTTP object. httplib2 is not thread-safe: one per thread."""
    return google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS)
    )


def build_service(
    name: str, version: str, credentials: ManagedCredentials, settings: Settings
) -> Any:
    """A discovery client (static discovery document, no cache on disk)."""
    options: dict[str, str] = {}
    root = api_root(settings)
    if root:
        options["api_endpoint"] = root
    return build(
        name,
        version,
        http=new_http(credentials),
        static_discovery=True,
        cache_discovery=False,
        client_options=options or None,
    )


def new_batch(service: Any, settings: Settings, batch_path: str) -> BatchHttpRequest:
    """A batch request. googleapiclient builds the batch URI from the discovery document's
    ``rootUrl`` and ignores ``api_endpoint``, so point it at the configured base ourselves."""
    root = api_root(settings)
    if root:
        return BatchHttpRequest(batch_uri=root + batch_path)
    return service.new_batch_http_request()

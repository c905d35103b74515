"""Google's method table (id, verb, path, scopes) for Gmail v1, Calendar v3 and Drive v3.

``discovery_methods.json`` is extracted from the discovery documents google-api-python-client
ships (Apache-2.0); ``tests/emulator/test_discovery_conformance.py`` holds it equal to them.
It serves two rules Google applies to every call:

- **scopes**: a token may call a method only with one of the scopes the method lists
  (else 403 ``insufficientPermissions``), and ``gmail.metadata`` alone cannot read bodies
  (``format=full``/``raw``) or search (``q``);
- **unimplemented methods fail loudly**: a request that matches a documented method the
  emulator does not implement answers 501 naming it, never a 404 that looks like a real
  not-found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from workspace_emulator.errors import GoogleApiError

GMAIL = "https://www.googleapis.com/auth/gmail."
METADATA_ONLY = frozenset(
    {
        "https://www.googleapis.com/auth/gmail.metadata",
        "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
    }
)
# Methods whose body formats and search the metadata scope may not use.
_METADATA_FORMAT = frozenset(
    {"gmail.users.messages.get", "gmail.users.threads.get", "gmail.users.drafts.get"}
)
_METADATA_QUERY = frozenset(
    {"gmail.users.messages.list", "gmail.users.threads.list", "gmail.users.drafts.list"}
)
# Calendar and Drive answer at their servicePath and at the root (api_endpoint clients).
_ROOT_MOUNTED = ("/calendar/v3", "/drive/v3")


@lru_cache(maxsize=1)
def method_table() -> dict[str, dict[str, Any]]:
    text = resources.files("workspace_emulator").joinpath("discovery_methods.json").read_text()
    table: dict[str, dict[str, Any]] = json.loads(text)
    return table


def _pattern(path: str) -> re.Pattern[str]:
    out = ""
    for piece in re.split(r"(\{\+?\w+\})", path):
        if piece.startswith("{+"):
            out += r".+"
        elif piece.startswith("{"):
            out += r"[^/]+"
        else:
            out += re.escape(piece)
    return re.compile(out + r"/?$")


@lru_cache(maxsize=1)
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    routes = []
    for method_id, spec in method_table().items():
        path = spec["path"]
        routes.append((spec["httpMethod"], _pattern(path), method_id))
        routes.extend(
            (spec["httpMethod"], _pattern(path[len(prefix) :]), method_id)
            for prefix in _ROOT_MOUNTED
            if path.startswith(prefix + "/")
        )
    # Literal segments beat variables: longer templates first.
    routes.sort(key=lambda r: -len(r[1].pattern))
    return routes


def method_for(http_method: str, path: str) -> str | None:
    """The documented method a request names (by verb and path), if any."""
    for verb, pattern, method_id in _routes():
        if verb == http_method.upper() and pattern.match(path):
            return method_id
    return None


def not_implemented(method_id: str) -> GoogleApiError:
    return GoogleApiError(
        501,
        f"The workspace emulator does not implement {method_id}.",
        reason="notImplemented",
    )


def check_scopes(
    method_id: str, granted: list[str] | None, params: Mapping[str, str] | None = None
) -> None:
    """Raise 403 ``insufficientPermissions`` unless ``granted`` may call ``method_id``."""
    spec = method_table().get(method_id)
    if spec is None or not granted:
        return
    allowed = set(spec["scopes"]) & set(granted)
    if not allowed:
        raise GoogleApiError(
            403, "Request had insufficient authentication scopes.", reason="insufficientPermissions"
        )
    if allowed <= METADATA_ONLY and params is not None:
        fmt = (params.get("format") or "full").lower()
        if method_id in _METADATA_FORMAT and fmt in ("full", "raw"):
            raise GoogleApiError(
                403,
                f"Metadata scope doesn't allow format {fmt.upper()}",
                reason="insufficientPermissions",
            )
        if method_id in _METADATA_QUERY and params.get("q"):
            raise GoogleApiError(
                403,
                "Metadata scope does not support 'q' parameter",
                reason="insufficientPermissions",
            )

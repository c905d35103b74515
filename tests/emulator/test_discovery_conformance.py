"""Every method the emulator claims matches Google's discovery document: path and verb.

Discovery documents come from google-api-python-client's ``discovery_cache`` (the same the
official client uses with ``static_discovery=True``); the Gmail one is also checked against
the copy in ``../shared/data/google_api_discovery``.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import googleapiclient
import pytest
from workspace_emulator.app import create_emulator_app

from tests.conftest import SHARED_DATA

DOCS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
SERVICES = {
    "gmail": ("gmail.v1.json", "workspace_emulator.gmail"),
    "calendar": ("calendar.v3.json", "workspace_emulator.calendar"),
    "drive": ("drive.v3.json", "workspace_emulator.drive"),
}


def _methods(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from resource.get("methods", {}).values()
    for child in resource.get("resources", {}).values():
        yield from _methods(child)


def discovery_methods(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in _methods(doc)}


def _normalize(template: str) -> str:
    """Path variables compare by position: ``{+name}`` (reserved expansion), ``{name:path}``
    and a differently named ``{file_id}`` all become ``{}`` (the client only expands them)."""
    return re.sub(r"\{\+?\w+(:path)?\}", "{}", template)


def emulator_routes() -> set[tuple[str, str]]:
    # The OpenAPI schema lists the effective routes (FastAPI includes routers lazily, so
    # ``app.routes`` does not show them flattened).
    schema = create_emulator_app().openapi()
    return {
        (verb.upper(), _normalize(path))
        for path, operations in schema["paths"].items()
        for verb in operations
    }


def claimed(module_name: str, attribute: str = "CLAIMED_METHODS") -> frozenset[str]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        pytest.skip(f"{module_name} not present")
    return frozenset(getattr(module, attribute, frozenset()))


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_claimed_methods_match_discovery_paths_and_verbs(service: str) -> None:
    filename, module_name = SERVICES[service]
    methods = claimed(module_name)
    assert methods, f"{module_name} claims no methods"
    doc = json.loads((DOCS / filename).read_text())
    known = discovery_methods(doc)
    routes = emulator_routes()
    problems = []
    for method_id in sorted(methods):
        if method_id not in known:
            problems.append(f"{method_id}: not in {filename}")
            continue
        desc = known[method_id]
        path = "/" + _normalize(doc["servicePath"] + (desc.get("flatPath") or desc["path"]))
        if (desc["httpMethod"], path) not in routes:
            problems.append(f"{method_id}: no route {desc['httpMethod']} {path}")
    assert not problems, "\n".join(problems)


def test_gmail_media_upload_paths() -> None:
    doc = json.loads((DOCS / "gmail.v1.json").read_text())
    known = discovery_methods(doc)
    routes = emulator_routes()
    uploads = claimed("workspace_emulator.gmail", "CLAIMED_UPLOADS")
    expected = {m for m, d in known.items() if "mediaUpload" in d} & claimed(
        "workspace_emulator.gmail"
    )
    assert uploads == expected
    for method_id in sorted(uploads):
        desc = known[method_id]
        path = _normalize(desc["mediaUpload"]["protocols"]["simple"]["path"])
        assert (desc["httpMethod"], path) in routes, f"{method_id}: no upload route {path}"


def test_gmail_claims_the_issue_scope() -> None:
    required = {
        "gmail.users.getProfile",
        "gmail.users.watch",
        "gmail.users.stop",
        "gmail.users.history.list",
        "gmail.users.messages.attachments.get",
        *(
            f"gmail.users.messages.{m}"
            for m in (
                [
                    "list",
                    "get",
                    "insert",
                    "import",
                    "send",
                    "modify",
                    "batchModify",
                    "trash",
                    "untrash",
                    "delete",
                ]
            )
        ),
        *(f"gmail.users.threads.{m}" for m in ("list", "get")),
        *(
            f"gmail.users.labels.{m}"
            for m in ("list", "get", "create", "update", "patch", "delete")
        ),
        *(f"gmail.users.drafts.{m}" for m in ("list", "get", "create", "update", "delete", "send")),
    }
    assert required <= claimed("workspace_emulator.gmail")


def test_packaged_gmail_document_equals_the_shared_copy() -> None:
    shared = SHARED_DATA / "google_api_discovery" / "gmail.v1.json"
    if not shared.exists():
        pytest.skip("shared discovery copy not available")
    ours = discovery_methods(json.loads((DOCS / "gmail.v1.json").read_text()))
    theirs = discovery_methods(json.loads(shared.read_text()))
    assert {k: (v["httpMethod"], v["path"]) for k, v in ours.items()} == {
        k: (v["httpMethod"], v["path"]) for k, v in theirs.items()
    }


def test_the_method_table_is_the_discovery_documents() -> None:
    """``workspace_emulator/discovery_methods.json`` (scopes and paths for the 403 and 501
    rules) is exactly what the discovery documents say."""
    from workspace_emulator.methods import method_table

    expected: dict[str, dict[str, Any]] = {}
    for file_name, _module in SERVICES.values():
        doc = json.loads((DOCS / file_name).read_text())
        for method_id, method in discovery_methods(doc).items():
            expected[method_id] = {
                "httpMethod": method["httpMethod"],
                "path": "/" + doc["servicePath"] + method["path"],
                "scopes": sorted(method.get("scopes", [])),
            }
    assert method_table() == expected

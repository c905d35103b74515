"""The attacks of issue 7 against identity, replayed: each must now fail to get through."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import Draft, GoogleAccount, Rule
from tests.auth import TEST_ORIGIN, csrf_headers, sign_in
from tests.identity.conftest import Tenant


def bearer(tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.token}"}


def test_the_api_refuses_callers_without_credentials(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/v1/drafts"),
        ("GET", "/api/v1/accounts"),
        ("POST", "/api/v1/rules/preview"),
        ("DELETE", "/api/v1/accounts/1"),
    ]:
        r = client.request(method, path)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_authenticated"
        assert r.headers["www-authenticate"].startswith("Bearer")
    # The query parameter that used to pick the user is gone, and means nothing.
    assert client.get("/api/v1/drafts?user_id=1").status_code == 401
    bad = client.get("/api/v1/drafts", headers={"Authorization": "Bearer sec_forged"})
    assert bad.status_code == 401


def test_cross_tenant_reads_and_deletes_answer_404(
    client: TestClient, tenants: tuple[Tenant, Tenant], sessions: sessionmaker[Session]
) -> None:
    alice, bob = tenants
    as_bob = bearer(bob)
    for path in [
        f"/api/v1/drafts/{alice.draft_id}",
        f"/api/v1/rules/{alice.rule_id}",
        f"/api/v1/tasks/{alice.task_id}",
        f"/api/v1/sync/status/{alice.account_id}",
    ]:
        r = client.get(path, headers=as_bob)
        assert r.status_code == 404, (path, r.text)
        assert alice.marker not in r.text
    # Never 403: an id of someone else's object and an id of nothing look the same.
    mine = client.get(f"/api/v1/drafts/{alice.draft_id}", headers=bearer(alice))
    assert mine.status_code == 200
    assert mine.json()["subject"] == f"Re: Subject {alice.marker}"
    nothing = client.get("/api/v1/drafts/999999999", headers=as_bob)
    theirs = client.get(f"/api/v1/drafts/{alice.draft_id}", headers=as_bob)
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (
        theirs.status_code,
        theirs.json()["error"]["code"],
    )

    # The attack of the issue: DELETE /api/v1/accounts/{someone else's} removed it.
    r = client.delete(f"/api/v1/accounts/{alice.account_id}", headers=as_bob)
    assert r.status_code == 404
    assert client.delete(f"/api/v1/rules/{alice.rule_id}", headers=as_bob).status_code == 404
    with sessions() as s:
        assert s.get(GoogleAccount, alice.account_id) is not None
        assert s.get(Rule, alice.rule_id) is not None

    # Lists hold only the caller's rows.
    for path in [
        "/api/v1/drafts",
        "/api/v1/accounts",
        "/api/v1/rules",
        "/api/v1/triage",
        "/api/v1/tasks?status=dead",
        "/api/v1/sync/status",
        "/api/v1/audit",
    ]:
        listed = client.get(path, headers=as_bob)
        assert listed.status_code == 200, (path, listed.text)
        assert alice.marker not in listed.text, path
    assert bob.marker in client.get("/api/v1/drafts", headers=as_bob).text
    assert bob.marker in client.get("/api/v1/rules", headers=as_bob).text


def test_the_rules_preview_is_no_oracle_for_another_users_mail(
    client: TestClient, tenants: tuple[Tenant, Tenant]
) -> None:
    """Issue 7: a body regex in a preview recovered Alice's one-time code, one digit at a
    time. Now a preview only ever scans the caller's own mail."""
    alice, bob = tenants
    probe = {"conditions": {"body": f"code is 4938.*{alice.marker}"}}
    r = client.post("/api/v1/rules/preview", json=probe, headers=bearer(bob))
    assert r.status_code == 200, r.text
    assert r.json()["matched"] == 0
    assert alice.marker not in r.text
    # The same preview by Alice finds her message: the probe itself is sound.
    own = client.post("/api/v1/rules/preview", json=probe, headers=bearer(alice))
    assert own.json()["matched"] == 1


def test_a_cross_site_post_without_body_cannot_approve(
    client: TestClient, tenants: tuple[Tenant, Tenant], sessions: sessionmaker[Session]
) -> None:
    """Issue 7: ``POST /api/v1/drafts/2/approve`` from ``Origin: https://evil.example`` with
    the victim's cookies sent the draft. Cookies alone no longer authorize a change."""
    alice, _bob = tenants
    csrf = sign_in(client, sessions, alice.user_id)
    url = f"/api/v1/drafts/{alice.draft_id}/approve"
    evil = {"Origin": "https://evil.example"}
    attempts = [
        evil,  # the attack as reported: no body, no token
        {**evil, "X-CSRF-Token": csrf},  # even a leaked token from another origin
        {"Origin": TEST_ORIGIN},  # same origin but no token (a form can't set headers)
        {"Origin": TEST_ORIGIN, "X-CSRF-Token": "0" * len(csrf)},
    ]
    for headers in attempts:
        r = client.post(url, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["error"]["code"] == "csrf_failed"
    # No Origin at all: a Referer from elsewhere is refused, as is no Referer.
    client.headers.pop("Origin", None)
    assert client.post(url, headers={"X-CSRF-Token": csrf}).status_code == 403
    r = client.post(url, headers={"X-CSRF-Token": csrf, "Referer": "https://evil.example/x"})
    assert r.status_code == 403
    with sessions() as s:
        draft = s.get(Draft, alice.draft_id)
        assert draft is not None
        assert draft.status == "pending"
    # With the token and our origin, a cookie-authenticated change goes through.
    ok = client.post(
        "/api/v1/rules",
        json={"name": "r", "conditions": {"subject": "x"}, "actions": {"category": "fyi"}},
        headers=csrf_headers(csrf),
    )
    assert ok.status_code == 201, ok.text


def test_bearer_requests_need_no_csrf_token(
    client: TestClient, tenants: tuple[Tenant, Tenant]
) -> None:
    alice, _ = tenants
    r = client.post(
        "/api/v1/rules",
        json={"name": "r", "conditions": {"subject": "x"}, "actions": {"category": "fyi"}},
        headers={**bearer(alice), "Origin": "https://anywhere.example"},
    )
    assert r.status_code == 201, r.text


def test_a_foreign_host_header_is_refused(client: TestClient) -> None:
    """DNS rebinding: a page on attacker.example resolving to 127.0.0.1 sends that Host."""
    r = client.get("/healthz", headers={"Host": "attacker.example"})
    assert r.status_code == 400
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost:8000"}).status_code == 200


def test_pages_carry_the_security_headers(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-inline'" not in next(p for p in csp.split(";") if "style-src" in p)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in r.text
    assert " style=" not in r.text
    api = client.get("/api/v1/drafts")
    assert api.headers["x-content-type-options"] == "nosniff"


def test_pages_need_a_signed_in_browser_and_show_only_its_user(
    client: TestClient, tenants: tuple[Tenant, Tenant], sessions: sessionmaker[Session]
) -> None:
    alice, bob = tenants
    r = client.get("/drafts", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    # A bearer token is no browser session.
    assert client.get("/drafts", headers=bearer(alice), follow_redirects=False).status_code == 303
    sign_in(client, sessions, alice.user_id)
    page = client.get("/drafts")
    assert page.status_code == 200
    assert alice.marker in page.text
    assert bob.marker not in page.text
    # A cross-site form post to a page is refused before any handler runs.
    evil = client.post(
        f"/drafts/{alice.draft_id}/reject", headers={"Origin": "https://evil.example"}
    )
    assert evil.status_code == 403


def test_token_scopes_revocation_and_last_use(
    client: TestClient, tenants: tuple[Tenant, Tenant], sessions: sessionmaker[Session]
) -> None:
    alice, _ = tenants
    created = client.post(
        "/api/v1/tokens", json={"name": "reader", "scopes": ["read"]}, headers=bearer(alice)
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret, token_id = body["token"], body["id"]
    assert secret.startswith("sec_")
    assert body["scopes"] == ["read"]
    reader = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/v1/me", headers=reader)
    assert me.status_code == 200
    assert me.json()["id"] == alice.user_id
    refused = client.post(
        "/api/v1/rules", json={"name": "r", "conditions": {"subject": "x"}}, headers=reader
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert (
        client.post(f"/api/v1/drafts/{alice.draft_id}/approve", headers=reader).status_code == 403
    )
    listed = client.get("/api/v1/tokens", headers=bearer(alice)).json()
    row = next(t for t in listed if t["id"] == token_id)
    assert row["last_used_at"] is not None
    assert "token" not in row
    assert secret not in str(listed)
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(alice)).status_code == 200
    assert client.get("/api/v1/me", headers=reader).status_code == 401
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=bearer(alice)).json()]
    assert "token.created" in actions
    assert "token.revoked" in actions


def test_the_api_docs_show_how_to_authenticate(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert schema["paths"]["/api/v1/drafts"]["get"]["security"] == [{"token": []}]
    assert "Authorization: Bearer" in schema["info"]["description"]


def test_the_session_cookie_is_secure_behind_https(settings: Settings) -> None:
    from fastapi.responses import Response

    from secretary.web.auth import set_session_cookie

    response = Response()
    set_session_cookie(response, settings.model_copy(update={"base_url": "https://s.example"}), "x")
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()


def test_no_template_or_page_source_carries_inline_script_or_style() -> None:
    """The CSP forbids inline script and style; keep the sources free of them."""
    import re
    from pathlib import Path

    import secretary.web as web

    root = Path(web.__file__).parent
    offenders = []
    for path in [*root.rglob("*.html"), *root.rglob("*.py")]:
        # The sandboxed message frame styles the mail it shows, under a CSP of its own.
        if "vendor" in path.parts or path.relative_to(root).as_posix() == "ui/inbox.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=['\"]|<style\b|\son[a-z]+=['\"]", text):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []

"""`secretary tokens create|list|revoke` and `secretary audit`: personal API tokens and the
audit log, for the operator of this install (the same as the web UI's, without a browser)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(
    help="Personal API tokens: shown once, stored hashed, with scopes.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tokens")
    root.command("audit")(audit)


USER = typer.Option(None, "--user", help="The user's email (optional on single-user installs).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _user_id(session: Any, email: str | None) -> int:
    from sqlalchemy import func, select

    from secretary.db.models import User
    from secretary.errors import BadRequest, NotFound

    if email:
        uid = session.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
        if uid is None:
            raise NotFound(f"no user with the address {email}")
        return int(uid)
    ids = session.scalars(select(User.id).limit(2)).all()
    if len(ids) != 1:
        raise BadRequest("this install has several users (or none): pass --user EMAIL")
    return int(ids[0])


def _rows(tokens: Sequence[Any]) -> list[dict[str, Any]]:
    from secretary.identity.schemas import TokenOut

    return [TokenOut.model_validate(t).model_dump(mode="json") for t in tokens]


@app.command("create")
def create(
    name: str = typer.Argument(..., help="What the token is for, e.g. 'laptop CLI'."),
    scope: list[str] = typer.Option(
        ["read"], "--scope", help="read, draft, send or admin (repeatable)."
    ),
    expires_in_days: int | None = typer.Option(None, help="Expire after this many days."),
    user: str | None = USER,
    json_out: bool = JSON,
) -> None:
    """Create a token and print it once (it is stored only as a hash)."""
    from secretary.db.session import unit_of_work
    from secretary.identity import service
    from secretary.identity.schemas import ALL_SCOPES

    unknown = sorted(set(scope) - set(ALL_SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scope(s): {', '.join(unknown)}", param_hint="--scope")
    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        secret, row = service.create_token(
            session,
            _user_id(session, user),
            name=name,
            scopes=scope,
            expires_in_days=expires_in_days,
        )
        out = {**_rows([row])[0], "token": secret}
    if json_out:
        emit_json(out)
        return
    console.print(f"[bold]{secret}[/]")
    console.print(
        f"Token {out['id']} ({', '.join(out['scopes'])}). Copy it now: it is not shown again."
    )


@app.command("list")
def list_(user: str | None = USER, json_out: bool = JSON) -> None:
    """The user's tokens (never their secrets), with when each was last used."""
    from secretary.db.session import unit_of_work
    from secretary.identity import service

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        rows = _rows(service.list_tokens(session, _user_id(session, user)))
    if json_out:
        emit_json(rows)
        return
    table = Table("id", "name", "token", "scopes", "last used", "state")
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        table.add_row(
            str(r["id"]),
            r["name"],
            r["prefix"] + "…",
            ",".join(r["scopes"]),
            r["last_used_at"] or "never",
            state,
        )
    console.print(table)


@app.command("revoke")
def revoke(
    token_id: int = typer.Argument(..., help="The token's id (see `secretary tokens list`)."),
    user: str | None = USER,
    json_out: bool = JSON,
) -> None:
    """Revoke a token at once."""
    from secretary.db.session import unit_of_work
    from secretary.identity import service

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        row = _rows([service.revoke_token(session, _user_id(session, user), token_id)])[0]
    if json_out:
        emit_json(row)
        return
    console.print(f"Token {token_id} revoked.")


def audit(
    limit: int = typer.Option(50, min=1, max=1000, help="How many entries, newest first."),
    user: str | None = USER,
    json_out: bool = JSON,
) -> None:
    """The audit log: every sign-in, send, approval, edit, rule, account and token change."""
    from secretary.db.session import unit_of_work
    from secretary.identity import service
    from secretary.identity.schemas import AuditOut

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        entries = service.list_audit(session, _user_id(session, user), limit=limit)
        rows = [AuditOut.model_validate(e).model_dump(mode="json") for e in entries]
    if json_out:
        emit_json(rows)
        return
    table = Table("when", "action", "by", "details")
    for r in rows:
        details = " ".join(f"{k}={v}" for k, v in r["details"].items())
        table.add_row(r["created_at"], r["action"], r["actor"], details)
    console.print(table)

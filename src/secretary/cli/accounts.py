"""`secretary accounts connect|list|reauth|remove`: connected Google accounts."""

from __future__ import annotations

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, err_console, get_ctx

app = typer.Typer(help="Connect and manage Google accounts.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="accounts")


def _show_url(url: str) -> None:
    err_console.print(
        "Open this URL in a browser to connect your Google account "
        "(Secretary waits for Google's answer):"
    )
    err_console.print(url, soft_wrap=True, markup=False, highlight=False)


def _connect(
    *,
    login_hint: str | None,
    user_email: str | None,
    account_id: int | None,
    no_browser: bool,
    timeout: float,
    json_out: bool,
) -> None:
    from secretary.accounts.service import connect_via_loopback
    from secretary.db.session import unit_of_work

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        result = connect_via_loopback(
            session,
            settings=ctx.settings,
            login_hint=login_hint,
            user_email=user_email,
            account_id=account_id,
            open_browser=not no_browser,
            timeout_seconds=timeout,
            on_url=_show_url,
        )
    if json_out:
        emit_json(result.model_dump(mode="json"))
        return
    if result.missing_scopes:
        console.print(
            f"[yellow]connected {result.email} (account {result.account_id}) without: "
            f"{', '.join(result.missing_scopes)}[/]\n"
            f"Secretary will not use it until you run "
            f"`secretary accounts reauth {result.account_id}` and allow all access."
        )
    else:
        verb = "connected" if result.created else "reconnected"
        console.print(f"[green]{verb} {result.email} (account {result.account_id})[/]")


@app.command("connect")
def connect(
    email: str | None = typer.Option(None, "--email", help="The Google account to sign in as."),
    user: str | None = typer.Option(
        None, "--user", help="Attach to this Secretary user (default: the only user)."
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Print the URL instead of opening a browser."
    ),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for Google's answer."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Connect a Google account through Google's consent page (loopback redirect)."""
    _connect(
        login_hint=email,
        user_email=user,
        account_id=None,
        no_browser=no_browser,
        timeout=timeout,
        json_out=json_out,
    )


@app.command("reauth")
def reauth(
    account_id: int = typer.Argument(..., help="The account to re-authorize (see `list`)."),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Print the URL instead of opening a browser."
    ),
    timeout: float = typer.Option(300, "--timeout", help="Seconds to wait for Google's answer."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-authorize an account (after a revoked grant or missing permissions)."""
    _connect(
        login_hint=None,
        user_email=None,
        account_id=account_id,
        no_browser=no_browser,
        timeout=timeout,
        json_out=json_out,
    )


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Connected accounts and their status (active, or needs_reauth and why)."""
    from secretary.accounts.service import list_accounts
    from secretary.db.session import unit_of_work

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        accounts = list_accounts(session, base_url=ctx.settings.base_url)
    if json_out:
        emit_json([a.model_dump(mode="json") for a in accounts])
        return
    if not accounts:
        console.print("No Google account connected. Run `secretary accounts connect`.")
        return
    table = Table(title="Google accounts")
    for column in ("id", "user", "email", "status", "details"):
        table.add_column(column)
    for a in accounts:
        colour = "green" if a.status == "active" else "yellow"
        table.add_row(
            str(a.id), str(a.user_id), a.email, f"[{colour}]{a.status}[/]", a.status_reason or ""
        )
    console.print(table)
    for a in accounts:
        if a.status != "active":
            console.print(
                f"Reconnect account {a.id}: secretary accounts reauth {a.id}", soft_wrap=True
            )


@app.command("remove")
def remove(
    account_id: int = typer.Argument(..., help="The account to remove (see `list`)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Revoke Secretary's access at Google and delete the account's synced data."""
    from secretary.accounts.service import remove_account
    from secretary.db.session import unit_of_work

    if not yes and not typer.confirm(
        f"Revoke access and delete all synced data of account {account_id}?"
    ):
        raise typer.Abort()
    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        result = remove_account(session, account_id, settings=ctx.settings)
    if json_out:
        emit_json(result.model_dump(mode="json"))
        return
    console.print(f"[green]removed account {account_id}[/]")
    if not result.revoked:
        console.print(
            "[yellow]Google could not confirm the revocation; remove Secretary at "
            "https://myaccount.google.com/permissions[/]"
        )

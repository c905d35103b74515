"""`secretary keys ...`: encryption keys for tokens at rest."""

from __future__ import annotations

import typer

from secretary.cli.context import console, emit_json, get_ctx


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")


app = typer.Typer(help="Encryption keys for OAuth tokens at rest.", no_args_is_help=True)


@app.command("generate")
def generate() -> None:
    """Print a new Fernet key. Prepend it to SECRETARY_ENCRYPTION_KEYS, then rotate."""
    from secretary.kit.crypto import generate_key

    console.print(generate_key())


@app.command("rotate")
def rotate(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Re-encrypt every stored token under the newest key (the first in the list)."""
    from secretary.accounts.service import rotate_token_keys
    from secretary.db.session import unit_of_work

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        count = rotate_token_keys(session, settings=ctx.settings)
    if json_out:
        emit_json({"rotated_accounts": count})
    else:
        console.print(f"[green]re-encrypted tokens of {count} account(s)[/]")

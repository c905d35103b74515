"""`secretary drafts list|show|approve|reject|edit|regenerate`: the approval queue.

Sending (approve) and deleting (reject) a Gmail draft happen only on these explicit
commands. Each command is one transaction, committed when it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(
    help="The approval queue: review, send, reject, edit and regenerate reply drafts.",
    no_args_is_help=True,
)

STATUS_COLOURS = {
    "pending": "bold yellow",
    "approved": "cyan",
    "sent": "green",
    "rejected": "red",
    "superseded": "dim",
}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="drafts")


def _table(items: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col in ("id", "status", "message", "to", "subject", "model", "conf", "edited"):
        table.add_column(col, overflow="fold")
    for d in items:
        colour = STATUS_COLOURS.get(str(d["status"]), "")
        table.add_row(
            str(d["id"]),
            f"[{colour}]{d['status']}[/]" if colour else str(d["status"]),
            str(d["message_id"]),
            ", ".join(d["to_addrs"])[:60],
            str(d["subject"])[:60],
            str(d["model"]),
            f"{d['confidence']:.2f}",
            "yes" if d["human_edited"] else "",
        )
    return table


def _report(item: dict[str, Any], json_out: bool, verb: str) -> None:
    if json_out:
        emit_json(item)
        return
    console.print(f"draft {item['id']} {verb} (status: {item['status']})")


def _act(draft_id: int, action: Callable[..., Any], *, tier_spec: str | None = None) -> Any:
    """Run one service action in one transaction with the account's Gmail port."""
    from secretary.bootstrap import load_tier
    from secretary.db.session import unit_of_work
    from secretary.drafting import service
    from secretary.errors import ConfigurationError

    ctx = get_ctx()
    ctx.migrated_engine()
    components = ctx.root.components
    with unit_of_work(ctx.sessions) as session:
        draft = service.get_draft(session, draft_id)
        kwargs: dict[str, Any] = {"gmail": components.gmail(session, draft.account_id)}
        if tier_spec is not None:
            tier = load_tier(tier_spec, ctx.settings) if tier_spec else components.tier.get()
            if tier is None:
                raise ConfigurationError("no intelligence tier is configured to draft replies")
            kwargs["tier"] = tier
        try:
            result = action(session, draft_id, **kwargs)
        except service.DraftChanged as exc:
            # Nothing was sent; keep the refresh (the draft now shows Gmail's version).
            changed = exc
        else:
            return service.describe(session, result).model_dump(mode="json")
    raise changed


@app.command("list")
def list_(
    status: str = typer.Option(
        "pending", "--status", help="pending|approved|rejected|sent|superseded|all"
    ),
    user_id: int = typer.Option(None, "--user-id", help="Only this user's drafts."),
    limit: int = typer.Option(50, "--limit", "-n"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Drafts newest first; by default the ones waiting for approval."""
    from secretary.db.session import unit_of_work
    from secretary.drafting import service

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        drafts = service.list_drafts(
            session, status=None if status == "all" else status, user_id=user_id, limit=limit
        )
        items = [service.describe(session, d).model_dump(mode="json") for d in drafts]
    if json_out:
        emit_json(items)
    else:
        console.print(_table(items, f"Drafts: {status} ({len(items)})"))


def _print_draft(item: dict[str, Any]) -> None:
    """Everything the user approves: every recipient, the subject, warnings, changes, text."""
    console.print(_table([item], f"Draft {item['id']}"))
    for label, key in (("To", "to_addrs"), ("Cc", "cc_addrs"), ("Bcc", "bcc_addrs")):
        if item.get(key) or label == "To":
            console.print(f"[bold]{label}:[/] " + ", ".join(item.get(key) or []), markup=True)
    console.print("[bold]Subject:[/] ", end="")
    console.print(item["subject"], markup=False, highlight=False)
    if changes := item.get("changes"):
        console.print(
            f"[bold yellow]Changed in Gmail since you last saw it:[/] {changes['summary']}"
        )
        for line in changes.get("body") or []:
            mark = {"insert": "[green]+ ", "delete": "[red]- "}.get(line["op"], "  ")
            console.print(mark, end="")
            console.print(line["text"], markup=False, highlight=False)
    for flag in item.get("flags") or []:
        console.print("[bold red]Check:[/] ", end="")
        console.print(flag["message"], markup=False, highlight=False)
    console.print()
    console.print(item["body"], markup=False, highlight=False)
    console.print(f"\n[dim]digest {item['digest']}[/]")


def _current(draft_id: int) -> dict[str, Any]:
    """The draft as Gmail holds it now (a Gmail-side edit is adopted, and highlighted)."""
    from secretary.drafting import service

    def refreshed(session: Any, did: int, *, gmail: Any) -> Any:
        service.refresh_from_gmail(session, did, gmail=gmail)
        return service.get_draft(session, did)

    return dict(_act(draft_id, refreshed))


@app.command("show")
def show(
    draft_id: int = typer.Argument(..., help="Draft id."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One draft as it will be sent: re-read from Gmail, with every recipient (To, Cc, Bcc),
    the warnings, what changed in Gmail, the full body and the digest to approve it with."""
    item = _current(draft_id)
    item["incoming"] = _incoming(item["message_id"])
    if json_out:
        emit_json(item)
        return
    incoming = item["incoming"]
    if incoming:
        console.print(f"[bold]In reply to[/] {incoming['from'] or 'unknown sender'}: ", end="")
        console.print(incoming["subject"] or "(no subject)", markup=False, highlight=False)
        console.print(incoming["body"], markup=False, highlight=False, style="dim")
        console.print()
    _print_draft(item)


def _incoming(message_id: int) -> dict[str, Any] | None:
    """The message the draft answers: sender, subject, date and its text."""
    from secretary.db.models import Message
    from secretary.db.session import unit_of_work

    with unit_of_work(get_ctx().sessions) as session:
        message = session.get(Message, message_id)
        if message is None:
            return None
        return {
            "id": message.id,
            "gmail_id": message.gmail_id,
            "from": message.from_addr,
            "subject": message.subject,
            "received_at": message.internal_date.isoformat() if message.internal_date else None,
            "body": message.body_text or message.snippet or "",
        }


@app.command("approve")
def approve(
    draft_id: int = typer.Argument(..., help="Draft id."),
    digest: str = typer.Option(
        None,
        "--digest",
        help="The digest `drafts show` printed: sends only if the draft is still exactly "
        "that. Without it the current draft is shown and you are asked to confirm.",
    ),
    body_file: Path = typer.Option(
        None,
        "--body-file",
        exists=True,
        dir_okay=False,
        help="Send this text instead (saved to the Gmail draft and sent in one step).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Send exactly what you saw. A draft changed in Gmail since then is not sent (exit 1,
    the change is shown); a draft already sent says when it was."""
    from secretary.drafting import service
    from secretary.errors import BadRequest

    if digest is None:
        if json_out:
            raise BadRequest(
                "pass --digest (from `secretary drafts show`) with --json", code="digest_required"
            )
        item = _current(draft_id)
        _print_draft(item)
        typer.confirm("Send this reply?", abort=True)
        digest = str(item["digest"])
    body = body_file.read_text(encoding="utf-8") if body_file is not None else None
    if body is not None and not body.strip():
        raise BadRequest("the body file is empty", code="draft_body_empty")

    def action(session: Any, did: int, *, gmail: Any) -> Any:
        return service.approve_draft(session, did, gmail=gmail, digest=digest, body=body)

    _report(_act(draft_id, action), json_out, "sent")


@app.command("reject")
def reject(
    draft_id: int = typer.Argument(..., help="Draft id."),
    reason: str = typer.Option("", "--reason", help="Why (kept to learn from)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete the Gmail draft and mark the suggestion rejected."""
    from functools import partial

    from secretary.drafting import service

    action = partial(service.reject_draft, reason=reason or None)
    _report(_act(draft_id, action), json_out, "rejected")


@app.command("edit")
def edit(
    draft_id: int = typer.Argument(..., help="Draft id."),
    body_file: Path = typer.Option(
        ..., "--body-file", exists=True, dir_okay=False, help="The new body (UTF-8 text)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Replace the body here and in the Gmail draft (a human edit: never regenerated over)."""
    from secretary.drafting import service
    from secretary.errors import BadRequest

    body = body_file.read_text(encoding="utf-8")
    if not body.strip():
        raise BadRequest("the body file is empty", code="draft_body_empty")

    def action(session: Any, did: int, *, gmail: Any) -> Any:
        return service.edit_draft(session, did, body, gmail=gmail)

    _report(_act(draft_id, action), json_out, "edited")


@app.command("regenerate")
def regenerate(
    draft_id: int = typer.Argument(..., help="Draft id."),
    tier: str = typer.Option(
        "", "--tier", help="An intelligence tier as module:attr (default: the configured one)."
    ),
    instruction: str = typer.Option(
        "", "--instruction", "-i", help='How to change it, e.g. "shorter", "decline politely".'
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ask for a new suggestion; the old one is superseded (refused if a human edited it)."""
    from functools import partial

    from secretary.drafting import service

    action = partial(service.regenerate_draft, instruction=instruction or None)
    item = _act(draft_id, action, tier_spec=tier)
    if json_out:
        emit_json(item)
    else:
        console.print(f"draft {draft_id} superseded by draft {item['id']} (status: pending)")

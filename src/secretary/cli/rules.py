"""`secretary rules list|add|preview|delete`: the user's triage rules."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(
    help="Manage triage rules (evaluated in order, before any model).", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rules")


def _conditions(
    from_: list[str],
    to: list[str],
    domain: list[str],
    subject: str | None,
    body: str | None,
    is_list: bool | None,
    has_attachment: bool | None,
    label: list[str],
    any_: bool,
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "match": "any" if any_ else "all",
        "from": from_ or None,
        "to": to or None,
        "domain": domain or None,
        "subject": subject,
        "body": body,
        "is_list": is_list,
        "has_attachment": has_attachment,
        "label": label or None,
    }
    conditions = {k: v for k, v in raw.items() if v is not None}
    # Only "match" left: no structured condition (a plain-English-only rule, or an error).
    return conditions if len(conditions) > 1 else {}


FROM = typer.Option([], "--from", help="Sender glob, e.g. '*@vendor.com' (repeatable).")
TO = typer.Option([], "--to", help="Recipient (To or Cc) glob (repeatable).")
DOMAIN = typer.Option([], "--domain", help="Sender domain, subdomains included (repeatable).")
SUBJECT = typer.Option(None, "--subject", help="Subject regex (case-insensitive).")
BODY = typer.Option(None, "--body", help="Body regex (case-insensitive).")
IS_LIST = typer.Option(None, "--list/--not-list", help="Mailing list / bulk mail or not.")
ATTACH = typer.Option(None, "--attachment/--no-attachment", help="Has an attachment or not.")
LABEL = typer.Option([], "--label", help="Gmail label name or id (repeatable).")
ANY = typer.Option(False, "--any", help="Match when any condition holds (default: all).")
USER = typer.Option(None, "--user-id", help="Owner (optional on single-user installs).")
INSTRUCTION = typer.Option(
    None,
    "--instruction",
    help="Plain-English condition, judged by the configured LLM (skipped without one).",
)


@app.command("list")
def list_(
    user_id: int = USER, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Rules in evaluation order."""
    from secretary.db.session import unit_of_work
    from secretary.triage import service
    from secretary.triage.schemas import RuleOut

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        uid = service.resolve_user_id(session, user_id)
        rules = [
            RuleOut.model_validate(r).model_dump(mode="json", by_alias=True, exclude_none=True)
            for r in service.list_rules(session, uid)
        ]
    if json_out:
        emit_json(rules)
        return
    table = Table(title=f"Rules ({len(rules)})")
    for col in ("id", "pos", "on", "name", "conditions", "plain English", "actions"):
        table.add_column(col, overflow="fold")
    for r in rules:
        table.add_row(
            str(r["id"]),
            str(r["position"]),
            "yes" if r["enabled"] else "no",
            r["name"],
            json.dumps(r["conditions"]) if r.get("conditions") else "",
            r.get("instruction") or "",
            json.dumps(r["actions"]),
        )
    console.print(table)


@app.command("add")
def add(
    name: str = typer.Option(..., "--name", help="What the rule is for."),
    from_: list[str] = FROM,
    to: list[str] = TO,
    domain: list[str] = DOMAIN,
    subject: str = SUBJECT,
    body: str = BODY,
    is_list: bool = IS_LIST,
    has_attachment: bool = ATTACH,
    label: list[str] = LABEL,
    any_: bool = ANY,
    category: str = typer.Option(None, "--category", help="Set the category."),
    priority: str = typer.Option(None, "--priority", help="Set the priority."),
    apply_label: list[str] = typer.Option([], "--apply-label", help="Label to apply (repeatable)."),
    archive: bool = typer.Option(False, "--archive", help="Archive (remove from the inbox)."),
    draft: str = typer.Option(None, "--draft", help="never or always."),
    stop: bool = typer.Option(False, "--stop", help="Stop evaluating later rules."),
    instruction: str = INSTRUCTION,
    user_id: int = USER,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add a rule (preview it first with `secretary rules preview`)."""
    from secretary.db.session import unit_of_work
    from secretary.triage import service
    from secretary.triage.schemas import RuleIn, RuleOut

    data = RuleIn.model_validate(
        {
            "name": name,
            "stop": stop,
            "instruction": instruction,
            "conditions": _conditions(
                from_, to, domain, subject, body, is_list, has_attachment, label, any_
            )
            or None,
            "actions": {
                k: v
                for k, v in {
                    "category": category,
                    "priority": priority,
                    "labels": apply_label,
                    "archive": archive,
                    "draft": draft,
                }.items()
                if v
            },
        }
    )
    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        uid = service.resolve_user_id(session, user_id)
        rule = RuleOut.model_validate(service.create_rule(session, uid, data))
    if json_out:
        emit_json(rule.model_dump(mode="json", by_alias=True, exclude_none=True))
    else:
        console.print(f"added rule {rule.id} at position {rule.position}")


@app.command("preview")
def preview(
    from_: list[str] = FROM,
    to: list[str] = TO,
    domain: list[str] = DOMAIN,
    subject: str = SUBJECT,
    body: str = BODY,
    is_list: bool = IS_LIST,
    has_attachment: bool = ATTACH,
    label: list[str] = LABEL,
    any_: bool = ANY,
    limit: int = typer.Option(20, "--limit", "-n", help="How many matches to list."),
    instruction: str = INSTRUCTION,
    user_id: int = USER,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Which stored messages these conditions match, before you save the rule."""
    from secretary.db.session import unit_of_work
    from secretary.triage import service
    from secretary.triage.schemas import RuleConditions

    raw = _conditions(from_, to, domain, subject, body, is_list, has_attachment, label, any_)
    conditions = RuleConditions.model_validate(raw) if raw else None
    ctx = get_ctx()
    tier = None
    if instruction:
        from secretary.llm.registry import build_tier

        tier = build_tier(ctx.settings)
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        uid = service.resolve_user_id(session, user_id)
        result = service.preview_rule(
            session, uid, conditions, instruction=instruction, tier=tier, limit=limit
        )
    if json_out:
        emit_json(result.model_dump(mode="json"))
        return
    if result.instruction_evaluated is False:
        console.print(f"[yellow]The plain-English condition was not evaluated:[/] {result.note}")
    console.print(
        f"This rule would have matched [bold]{result.matched}[/] of {result.scanned} messages."
    )
    table = Table()
    for col in ("msg", "received", "from", "subject"):
        table.add_column(col, overflow="fold")
    for m in result.messages:
        table.add_row(
            str(m.id),
            m.internal_date.isoformat()[:16] if m.internal_date else "",
            m.from_addr or "",
            m.subject or "",
        )
    console.print(table)


@app.command("delete")
def delete(
    rule_id: int = typer.Argument(...),
    user_id: int = USER,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete a rule."""
    from secretary.db.session import unit_of_work
    from secretary.triage import service

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        uid = service.resolve_user_id(session, user_id)
        service.delete_rule(session, uid, rule_id)
    if json_out:
        emit_json({"deleted": rule_id})
    else:
        console.print(f"deleted rule {rule_id}")

"""``secretary ask "QUESTION" [--conversation ID] [--json]``: ask across mail, calendar, Drive.

The answer streams to the terminal as it is composed (steps on stderr, the answer on
stdout); ``--json`` prints the API's JSON once, and nothing else on stdout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from secretary.cli.context import console, emit_json, err_console, get_ctx


def register(root: typer.Typer) -> None:
    root.command("ask")(ask_command)


def ask_command(
    question: str = typer.Argument(..., help="A question or a request, in plain words."),
    conversation: str | None = typer.Option(
        None, "--conversation", help="Continue this conversation (follow-ups)."
    ),
    user_id: int | None = typer.Option(
        None, "--user-id", help="Whose data (default: the only user)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the answer as the API's JSON."),
) -> None:
    """Answer a question with citations; requests become proposals awaiting approval."""
    from secretary.assistant import service
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    root = ctx.root
    with root.sessions() as session:
        uid = resolve_user_id(session, user_id)
    deps = service.ask_deps(root.settings, root.sessions, root.components)

    async def run() -> dict[str, Any]:
        final: dict[str, Any] = {}
        async for event, data in service.ask_events(deps, uid, question, conversation):
            if event == "done":
                final = data
            elif json_out:
                continue
            elif event == "step" and data.get("status") in ("failed", "skipped"):
                err_console.print(f"[yellow]{data['id']}: {data['status']}[/]")
            elif event == "delta":
                console.print(str(data["text"]), end="", markup=False, highlight=False)
        return final

    final = asyncio.run(run())
    if json_out:
        emit_json(final)
        return
    for index, citation in enumerate(final.get("citations", []), start=1):
        console.print(
            f"[dim][{index}] {citation['kind']} {citation['id']}[/] {citation['title']}",
            highlight=False,
        )
    for action in final.get("proposed_actions", []):
        console.print(f"[bold]proposed[/] ({action['kind']}): {action['summary']}", highlight=False)
    err_console.print(f"[dim]conversation {final.get('conversation_id')}[/]")

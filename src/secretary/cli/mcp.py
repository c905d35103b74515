"""``secretary mcp``: Secretary's tools for an MCP client, over stdio.

Configure an MCP client to launch ``secretary mcp`` (add ``--user-id N`` on an install
with several users). Over HTTP the same server is at ``/api/v1/mcp/`` of ``secretary serve``, with
a personal API token. Logs go to stderr; stdout carries only the protocol.
"""

from __future__ import annotations

import typer

from secretary.cli.context import get_ctx


def register(root: typer.Typer) -> None:
    root.command("mcp")(mcp_command)


def mcp_command(
    user_id: int | None = typer.Option(
        None, "--user-id", help="Whose data the tools see (default: the only user)."
    ),
) -> None:
    """Serve the MCP tools (search, read, ask, proposals) over stdio."""
    import anyio

    from secretary.mcp.server import build_server
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    root = ctx.root
    with root.sessions() as session:
        uid = resolve_user_id(session, user_id)
    server = build_server(lambda: root, default_user=uid)
    anyio.run(server.run_stdio_async)

"""`secretary llm test|providers` and `secretary llm-emulator serve`: the LLM provider layer."""

from __future__ import annotations

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(help="LLM providers: check the configured chain.", no_args_is_help=True)
emulator_app = typer.Typer(
    help="The local emulator of the OpenAI, Anthropic and Gemini APIs.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="llm")
    root.add_typer(emulator_app, name="llm-emulator")


@app.command("test")
def check(
    provider: list[str] = typer.Option(
        [], "--provider", "-p", help="Check only these providers (default: the whole chain)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Send one tiny request to each provider in the chain and report what happened."""
    from secretary.llm.chain import check_providers

    checks = check_providers(get_ctx().settings, names=provider or None)
    failed = any(c.status != "ok" for c in checks)
    if json_out:
        emit_json({"ok": not failed, "providers": [c.model_dump() for c in checks]})
    else:
        table = Table("provider", "model", "status", "latency", "tokens in/out", "cost")
        for c in checks:
            colour = "green" if c.status == "ok" else "red"
            answered = c.latency_ms is not None
            table.add_row(
                c.provider,
                c.model,
                f"[{colour}]{c.status}[/]",
                f"{c.latency_ms} ms" if answered else "",
                f"{c.input_tokens}/{c.output_tokens}" if answered else "",
                f"${c.cost_usd:.6f}" if answered else "",
            )
        console.print(table)
        # Messages are long (they name the setting to fix): print them whole, under the table.
        for c in checks:
            if c.status != "ok":
                console.print(f"[red]{c.provider}:[/] {c.message}", markup=True, highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command("providers")
def list_providers(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the registered provider names and the configured chain."""
    from secretary.llm.registry import provider_names

    chain = list(get_ctx().settings.llm.chain)
    names = provider_names()
    if json_out:
        emit_json({"registered": names, "chain": chain})
        return
    console.print(f"registered: {', '.join(names)}")
    console.print(f"chain: {' -> '.join(chain)}")


@emulator_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8090, help="Port to listen on."),
) -> None:
    """Serve the OpenAI, Anthropic and Gemini wire protocols with scripted responses.

    Point the SDKs at it: OpenAI base URL http://HOST:PORT/v1, Anthropic and Gemini
    http://HOST:PORT. Script it through /_emulator (see /_emulator/docs).
    """
    from secretary.emulators.llm.server import serve as run

    console.print(f"LLM emulator on http://{host}:{port} (OpenAI base URL: /v1)")
    run(host, port)

"""`secretary search "QUERY"`, `secretary search reindex`, and `secretary eval search`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from secretary.cli.context import console, emit_json, get_ctx

QUERY_COMMAND = "query"


class _QueryFirstGroup(TyperGroup):
    """``secretary search WORDS...`` runs the query; ``secretary search reindex`` the command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not (set(args) & {"--help", "-h"}) and args[0] not in self.commands:
            args = [QUERY_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_QueryFirstGroup,
    help='Search your mail: `secretary search "QUERY" [--kind] [--json]`, or `reindex`.',
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="search")


def _user_id(user: int | None) -> int:
    from secretary.db.session import unit_of_work
    from secretary.triage.service import resolve_user_id

    with unit_of_work(get_ctx().sessions) as session:
        return resolve_user_id(session, user)


@app.command(QUERY_COMMAND, hidden=True)
def query(
    words: list[str] = typer.Argument(..., help="The query (Gmail operators work)."),
    kind: str | None = typer.Option(None, "--kind", help="email, event or file."),
    limit: int = typer.Option(10, "--limit", min=1, max=100),
    user: int | None = typer.Option(None, "--user", help="User id (default: the only user)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Search the local index (hybrid BM25 + vectors)."""
    from secretary.db.session import unit_of_work
    from secretary.search import service
    from secretary.search.query import KINDS

    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(KINDS)}")
    ctx = get_ctx()
    ctx.migrated_engine()
    uid = _user_id(user)
    text = " ".join(words)
    started = time.perf_counter()
    with unit_of_work(ctx.sessions) as session:
        hits = service.search(
            session,
            uid,
            text,
            kind=kind,
            limit=limit,
            settings=ctx.settings,
        )
    took_ms = (time.perf_counter() - started) * 1000
    if json_out:
        emit_json({"results": [h.model_dump() for h in hits]})
        return
    if not hits:
        console.print("[dim]No results.[/]")
    for n, hit in enumerate(hits, start=1):
        console.print(f"[bold]{n}. {hit.title}[/] [dim]{hit.kind} {hit.id} score={hit.score}[/]")
        console.print(f"   {hit.snippet}", highlight=False)
    console.print(f"[dim]{len(hits)} results in {took_ms:.0f} ms[/]")


@app.command("reindex")
def reindex(
    user: int | None = typer.Option(None, "--user", help="User id (default: every user)."),
    keep: bool = typer.Option(
        False, "--keep", help="Index only what changed, without rebuilding from scratch."
    ),
    vectors: bool = typer.Option(True, "--vectors/--no-vectors", help="Also embed."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Rebuild the search index from Postgres (stored vectors are reused, not recomputed)."""
    from secretary.db.session import unit_of_work
    from secretary.search import repository as repo
    from secretary.search.indexer import Indexer

    ctx = get_ctx()
    engine = ctx.migrated_engine()
    indexer = Indexer(engine, ctx.sessions, ctx.settings.home_path)
    if user is None:
        with unit_of_work(ctx.sessions) as session:
            users = repo.users_with_items(session)
    else:
        users = [user]
    out: dict[str, Any] = {"users": {}}
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console if not json_out else None,
        disable=json_out,
    ) as bar:
        for uid in users:
            tasks: dict[str, Any] = {}

            def progress(
                phase: str, done: int, total: int, _uid: int = uid, _tasks: dict[str, Any] = tasks
            ) -> None:
                if phase not in _tasks:
                    _tasks[phase] = bar.add_task(f"user {_uid} {phase}", total=total)
                bar.update(_tasks[phase], completed=done, total=total)

            if not keep:
                indexer.reset(uid)
            report = indexer.run(uid, vectors=vectors, progress=progress)
            out["users"][str(uid)] = report.as_dict()
    out["seconds"] = round(time.perf_counter() - started, 2)
    if json_out:
        emit_json(out)
        return
    for uid, report in out["users"].items():
        console.print(
            f"user {uid}: indexed {report['indexed']}, deleted {report['deleted']}, "
            f"vectors computed {report['vectors_computed']}, reused {report['vectors_reused']}"
        )


def eval_search(
    dataset: str = typer.Option(
        "aeslc_enron_subject_lines", "--dataset", help="Known-item set in shared/data."
    ),
    split: str = typer.Option("test", "--split", help="dev or test (tune on dev only)."),
    data: Path | None = typer.Option(
        None, "--data", help="The shared data folder (default ../shared/data)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N queries."),
    notmuch: bool = typer.Option(
        True, "--notmuch/--no-notmuch", help="Run notmuch on the same mail and queries."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """hit@1, hit@10, MRR@10 and latency: BM25-only, vector-only, hybrid and notmuch."""
    from secretary.eval import datasets as ds
    from secretary.eval.search import DATASET, evaluate_search
    from secretary.eval.service import default_cache_dir, embed_cached

    if dataset != DATASET:
        raise typer.BadParameter(f"dataset must be {DATASET}")
    if split not in ("train", "dev", "test"):
        raise typer.BadParameter("split must be train, dev or test")
    root = (data or ds.default_data_root()) / dataset

    def embed(texts: list[str]) -> Any:
        if len(texts) == 1:  # a query: never cached, embedded as the product does
            from secretary.search.service import query_embedder

            return query_embedder().embed(texts)
        return embed_cached(texts, default_cache_dir())

    report = evaluate_search(root, split, embed=embed, notmuch=notmuch, limit=limit)
    report["loadavg"] = _loadavg()
    if json_out:
        emit_json(report)
        return
    for mode in ("bm25", "vector", "hybrid", "notmuch"):
        row = report.get(mode)
        if not row:
            continue
        if "skipped" in row:
            console.print(f"{mode:<8} skipped: {row['skipped']}")
            continue
        console.print(
            f"{mode:<8} n={row['n']} hit@1={row['hit_at_1']} hit@10={row['hit_at_10']} "
            f"mrr@10={row['mrr_at_10']} p50={row['p50_ms']}ms p99={row['p99_ms']}ms"
        )
    console.print(f"[dim]load average: {report['loadavg']}[/]")


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"

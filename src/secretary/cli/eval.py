"""`secretary eval classify`: score the local tier on a labelled set's split."""

from __future__ import annotations

from pathlib import Path

import typer

from secretary.cli.context import console, emit_json

app = typer.Typer(
    help="Evaluate the intelligence tiers on real, labelled mail.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="eval")


@app.command("classify")
def classify(
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="A folder name in shared/data (spamassassin_public_corpus, phishing_pot_sample, enron_berkeley_categories, parakweet_email_intent).",
    ),
    split: str = typer.Option("test", "--split", help="train, dev or test."),
    data: Path | None = typer.Option(
        None, "--data", help="The shared data folder (default ../shared/data)."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="A classifier .npz (default: the shipped one)."
    ),
    baseline: bool = typer.Option(
        True, "--baseline/--no-baseline", help="Also fit and score the TF-IDF + LR baseline."
    ),
    limit: int | None = typer.Option(
        None, "--limit", help="Score a deterministic slice of this many items."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Per-class precision/recall/F1, accuracy, macro-F1 and the confusion matrix."""
    from secretary.eval import datasets as ds
    from secretary.eval.service import default_cache_dir, evaluate

    if split not in ds.SPLITS:
        raise typer.BadParameter(f"split must be one of {', '.join(ds.SPLITS)}")
    if dataset not in ds.DATASETS:
        raise typer.BadParameter(f"dataset must be one of {', '.join(ds.DATASETS)}")
    report = evaluate(
        data or ds.default_data_root(),
        dataset,
        split,  # narrowed to ds.Split by the SPLITS check above
        model_path=model,
        cache_dir=default_cache_dir(),
        baseline=baseline,
        limit=limit,
    )
    if json_out:
        emit_json(report)
        return
    console.print(
        f"[bold]{dataset}[/] {split}: n={report['n']} accuracy={report['accuracy']} macro_f1={report['macro_f1']}"
    )
    for label, row in report["per_class"].items():
        console.print(
            f"  {label:<12} P={row['precision']:.3f} R={row['recall']:.3f} F1={row['f1']:.3f} n={row['support']}"
        )
    if "recall_at_ham_fpr" in report:
        console.print(
            f"  phishing recall at ham FPR <= 0.5%: {report['recall_at_ham_fpr']['recall']}"
        )


@app.command("ask")
def ask_eval(
    tier: str = typer.Option("both", "--tier", help="local, llm (scripted) or both."),
    split: str = typer.Option(
        "all",
        "--split",
        help="holdout2 (blind, report this), holdout, test, dev or all (each reported).",
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N questions."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The labelled question set over the shipped demo workspace: accuracy per type,
    citation precision/recall, unanswerable handled, actions without approval, latency."""
    from secretary.cli.context import get_ctx
    from secretary.eval.ask import evaluate_ask

    tiers = ("local", "llm") if tier == "both" else (tier,)
    if not set(tiers) <= {"local", "llm"}:
        raise typer.BadParameter("tier must be local, llm or both")
    if split not in ("holdout2", "holdout", "test", "dev", "all"):
        raise typer.BadParameter("split must be holdout2, holdout, test, dev or all")
    report = evaluate_ask(get_ctx().settings, tiers=tiers, limit=limit, split=split)
    if json_out:
        emit_json(report)
        return
    for name in tiers:
        for split_name, part in report[name].items():
            if not isinstance(part, dict):
                continue
            console.print(
                f"[bold]{name} / {split_name}[/]: accuracy {part['accuracy']:.3f} "
                f"over {part['n']} questions"
            )
            for kind, row in part["accuracy_by_type"].items():
                console.print(f"  {kind:<14} {row['accuracy']:.3f}  (n={row['n']})")
            console.print(
                f"  citations P {part['citation_precision']:.3f} "
                f"R {part['citation_recall']:.3f}; unanswerable ok "
                f"{part['unanswerable_without_fabrication']}; actions without approval "
                f"{part['actions_executed_without_approval']}; "
                f"p50 {part['p50_ms']} ms, p99 {part['p99_ms']} ms"
            )


# `secretary eval search` lives with the search commands (cli/search.py); the CLI imports
# only this module for `secretary eval ...`, so it is attached here.
from secretary.cli.search import eval_search  # noqa: E402 - attached after the group exists

app.command("search")(eval_search)

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

"""`secretary train classifier`: rebuild the local tier's model from `shared/data`."""

from __future__ import annotations

from pathlib import Path

import typer

from secretary.cli.context import console, emit_json

app = typer.Typer(
    help="Train the local tier's models from public, license-clean mail.", no_args_is_help=True
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="train")


@app.command("classifier")
def classifier(
    data: Path | None = typer.Option(
        None, "--data", help="The shared data folder (default ../shared/data)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the artifact (default: the shipped model folder)."
    ),
    cache: Path | None = typer.Option(
        None, "--cache", help="Embedding cache folder (default ~/.cache/secretary/embeddings)."
    ),
    no_eval: bool = typer.Option(
        False, "--no-eval", help="Skip scoring the dev/test splits into the model card."
    ),
    rescore: bool = typer.Option(
        False, "--rescore", help="Only re-score the existing artifact in --out (no training)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
) -> None:
    """Train the category and intent heads (dev splits tune C and the temperature)."""
    try:
        import sklearn  # noqa: F401  # only to give a clear message when the extra is missing
    except ImportError as exc:
        raise typer.BadParameter(
            "training needs scikit-learn: pip install 'secretary[train]'"
        ) from exc
    from secretary.eval.datasets import default_data_root
    from secretary.eval.service import default_cache_dir, score_artifact, train_classifier
    from secretary.llm.local.classifier import MODEL_DIR, VERSION

    if rescore:
        target = (out or MODEL_DIR) / f"clf-{VERSION}.npz"
        card = score_artifact(
            data or default_data_root(), target, cache_dir=cache or default_cache_dir()
        )
    else:
        card = train_classifier(
            data or default_data_root(),
            out or MODEL_DIR,
            cache_dir=cache or default_cache_dir(),
            evaluate_test=not no_eval,
        )
    if json_out:
        emit_json(card)
        return
    console.print(
        f"[green]wrote {card['path']}[/] (version {card['version']}, {card['train_seconds']} s)"
    )
    for key, scores in card.get("scores", {}).items():
        console.print(f"  {key}: {scores.get('f1')}")

"""Every setting and CLI command is documented: the generated references must be current."""

from __future__ import annotations

from pathlib import Path

from secretary.cli.docs import reference_files

ROOT = Path(__file__).resolve().parents[1]


def test_reference_docs_are_current() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, content in reference_files(ROOT).items()
        if not path.exists() or path.read_text() != content
    ]
    assert not stale, f"run `secretary docs` to regenerate: {stale}"


def test_every_setting_has_a_description() -> None:
    text = (ROOT / "docs" / "reference" / "settings.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows
    missing = [row for row in rows if row.rstrip().endswith("|  |") or row.endswith("| |")]
    assert not missing, missing

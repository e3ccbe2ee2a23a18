"""The package's layers hold: the import-linter contracts in pyproject.toml (layers in order,
no cycles, NumPy off the check path, no torch) all pass."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0

"""End to end: `pre-commit try-repo <this repo> cnncalc` in a scratch git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))

VALID = "name: ok\ninput: 32x32x3\nlayers:\n  - conv(10, 5, p=2)\n  - relu\n  - maxpool(2)\n"
BROKEN = "name: broken\ninput: 28x28x1\nlayers:\n  - conv(32, 3)\n  - maxpool(2)\n" \
         "  - conv(64, 3)\n  - maxpool(2)\n"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed snapshot of this working tree (try-repo needs a git repo with a HEAD)."""
    snap = tmp_path_factory.mktemp("cnncalc-src")
    ignore = shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, snap, dirs_exist_ok=True, ignore=ignore)
    git(snap, "init", "-q")
    git(snap, "add", "-A")
    git(snap, "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qm", "snap")
    return snap


def try_repo(source: Path, work: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    git(work, "init", "-q")
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(source.parent / "pre-commit-home"),
           "NO_COLOR": "1"}
    return subprocess.run([PRE_COMMIT, "try-repo", str(source), "cnncalc", "--all-files"],
                          cwd=work, capture_output=True, text=True, env=env, timeout=900)


def test_hook_passes_on_a_valid_spec(source_repo: Path, tmp_path: Path) -> None:
    proc = try_repo(source_repo, tmp_path, {"net.cnn.yaml": VALID, "README.md": "not a spec"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_hook_fails_on_a_broken_spec_with_file_and_line(source_repo: Path, tmp_path: Path
                                                         ) -> None:
    proc = try_repo(source_repo, tmp_path, {"good.cnn.yaml": VALID,
                                            "models/bad.cnn.yaml": BROKEN})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    assert "models/bad.cnn.yaml:7:5: G001 [error]" in proc.stdout


def test_hook_rejects_a_file_that_is_not_a_spec(source_repo: Path, tmp_path: Path) -> None:
    proc = try_repo(source_repo, tmp_path, {"k8s.cnn.yaml": "apiVersion: v1\nkind: Pod\n"})
    assert proc.returncode != 0
    assert "k8s.cnn.yaml:1:1: S006" in proc.stdout

"""`cnncalc check`: one line per problem, every file checked, formats, filters, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import run as cli

VALID = "name: ok\ninput: 32x32x4\nlayers:\n  - conv(16, 5, p=2)\n  - relu\n  - maxpool(2)\n"
BROKEN = "name: broken\ninput: 28x28x1\nlayers:\n  - conv(32, 3)\n  - maxpool(2)\n" \
         "  - conv(64, 3)\n  - maxpool(2)\n"
BUDGET = ("input: 224x224x3\nlayers:\n  - conv(64, 3, p=1)\n  - flatten\n  - fc(16)\n"
          "expect:\n  output: 16\n  max_params: 1M\n  max_memory: 100MB\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, text in (("ok.cnn.yaml", VALID), ("bad.cnn.yaml", BROKEN),
                       ("budget.cnn.yaml", BUDGET)):
        (tmp_path / name).write_text(text)
        out[name] = str(tmp_path / name)
    out["missing"] = str(tmp_path / "missing.cnn.yaml")
    return out


def run(*args: str) -> tuple[int, str]:
    """``cnncalc check ARGS``: (exit status, stdout)."""
    code, out, _ = cli("check", *args)
    return code, out


def test_valid_file_passes(files: dict[str, str]) -> None:
    code, out = run(files["ok.cnn.yaml"])
    assert code == 0 and out.strip().endswith("All checks passed (1 file).")


def test_one_line_per_problem_then_a_count(files: dict[str, str]) -> None:
    code, out = run(files["ok.cnn.yaml"], files["bad.cnn.yaml"])
    lines = out.strip().splitlines()
    assert code == 1
    assert lines[0].startswith(f"{files['bad.cnn.yaml']}:7:5: G001 [error] (11 − 2 + 2·0)/2")
    assert lines[-1] == "Found 1 error in 2 files."


def test_budgets_point_at_their_key_and_say_by_how_much(files: dict[str, str]) -> None:
    code, out = run(files["budget.cnn.yaml"])
    assert code == 1
    params = 3 * 3 * 3 * 64 + 64 + 224 * 224 * 64 * 16 + 16
    assert f"budget.cnn.yaml:8:3: X003 [error] params {params:,} exceeds the budget 1,000,000 by " \
           f"{params - 1_000_000:,}" in out
    assert "budget.cnn.yaml:9:3: X003 [error] memory" in out


def test_every_file_checked_even_when_one_is_unreadable(files: dict[str, str]) -> None:
    code, out = run(files["missing"], files["bad.cnn.yaml"], files["ok.cnn.yaml"])
    assert code == 2
    assert f"{files['missing']}:1:1: S008 [error] no such file" in out
    assert f"{files['bad.cnn.yaml']}:7:5: G001" in out
    assert "in 3 files" in out


def test_select_and_ignore(files: dict[str, str]) -> None:
    code, out = run(files["bad.cnn.yaml"], "--ignore", "G00")
    assert code == 0 and "G001" not in out
    code, out = run(files["bad.cnn.yaml"], "--select", "X")
    assert code == 0 and "All checks passed" in out
    code, out = run(files["bad.cnn.yaml"], "--select", "g")
    assert code == 1 and "G001" in out


def test_modes(files: dict[str, str]) -> None:
    assert run(files["bad.cnn.yaml"], "--lenient")[0] == 0
    code, _ = run(files["ok.cnn.yaml"], "--strict")
    assert code == 0  # 32 − 5 + 4 divides evenly: nothing for strict to object to


def test_json_and_github_formats(files: dict[str, str]) -> None:
    code, out = run(files["bad.cnn.yaml"], files["ok.cnn.yaml"], "--format", "json")
    data = json.loads(out)
    assert code == 1 and [f["ok"] for f in data["files"]] == [False, True]
    assert data["files"][0]["problems"][0]["location"] == {"line": 7, "column": 5}
    code, out = run(files["bad.cnn.yaml"], "--format", "github")
    assert out.startswith(f"::error file={files['bad.cnn.yaml']},line=7,col=5,title=G001::(11")


def test_files_are_never_written(files: dict[str, str]) -> None:
    before = {name: Path(p).read_bytes() for name, p in files.items() if name != "missing"}
    run(*[p for n, p in files.items() if n != "missing"], "--verify")
    assert before == {name: Path(p).read_bytes() for name, p in files.items() if name != "missing"}

"""The README's first two command lines are the set-up commands, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

import cnncalc
from tests.helpers import run

ROOT = Path(__file__).parent.parent


def test_readme_begins_with_two_setup_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block is not None and readme.index("```bash") < 40
    first, second = block.group(1).strip().splitlines()
    assert "cnncalc" in first and "32x32x3" in first
    assert second.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert second.replace("pip install -q", "pip install -q") in ci


def test_every_yaml_spec_in_the_readme_analyses_without_errors() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    specs = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "layers:" in b]
    assert len(specs) >= 2
    for text in specs:
        if "?" in text:  # a design question: it has solutions, each valid
            solved = cnncalc.solve(text)
            assert solved.ok and all(s.report.ok for s in solved.solutions), text
            continue
        report = cnncalc.analyze(text)
        assert report.ok, (text, report.errors)


def test_the_readmes_solve_example_is_what_the_command_prints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ cnncalc solve \"(.*?)\"\n(.*?)```", readme, re.S)
    assert block is not None
    code, out, _ = run("solve", block.group(1))
    assert code == 0 and out == block.group(2)

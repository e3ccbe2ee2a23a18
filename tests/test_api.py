"""The Python API: analyze, validate and the exceptions, as spec §8 promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cnncalc
from cnncalc import ArchitectureError, SpecError, SpecSyntaxError

BROKEN = "name: broken\ninput: 28x28x1\nlayers:\n  - conv(32, 3)\n  - maxpool(2)\n" \
         "  - conv(64, 3)\n  - maxpool(2)\n"


def test_exceptions_hierarchy() -> None:
    assert issubclass(SpecError, ValueError)
    assert issubclass(SpecSyntaxError, SpecError) and issubclass(ArchitectureError, SpecError)


def test_analyze_raises_only_syntax_errors() -> None:
    report = cnncalc.analyze("7x7x3 -> conv(1, 3, s=3)")
    assert not report.ok and report.problems[0].code == "G001"
    with pytest.raises(SpecSyntaxError):
        cnncalc.analyze("7x7x3 -> conv(1, 3")


def test_validate_returns_report_or_raises_with_cli_codes(tmp_path: Path) -> None:
    assert cnncalc.validate("32x32x3 -> conv(10, 5, p=2)").totals.params == 760
    f = tmp_path / "bad.cnn.yaml"
    f.write_text(BROKEN)
    with pytest.raises(ArchitectureError) as info:
        cnncalc.validate(f)
    api = [(p.code, p.location.line, p.location.column) for p in info.value.problems
           if p.location]
    cli = subprocess.run([sys.executable, "-m", "cnncalc", "check", str(f)],
                         capture_output=True, text=True).stdout
    for code, line, column in api:
        assert f"{f}:{line}:{column}: {code} " in cli
    assert api[0] == ("G001", 7, 5)


def test_to_dict_matches_the_documented_json() -> None:
    d = cnncalc.analyze("32x32x3 -> conv(10, 5, p=2)").to_dict()
    assert d["cnncalc"] == "1" and d["ok"] is True and d["input"] == {"shape": [32, 32, 3]}
    layer = d["layers"][0]
    assert layer["output_shape"] == [32, 32, 10] and layer["params"] == 760
    assert layer["location"] == {"line": 1, "column": 12}
    assert d["totals"]["params"] == 760 and d["totals"]["macs"] == 768_000


def test_package_is_typed() -> None:
    assert (Path(cnncalc.__file__).parent / "py.typed").exists()


def test_bad_options_are_value_errors() -> None:
    with pytest.raises(ValueError):
        cnncalc.analyze("8x8x1 -> relu", mode="loose")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cnncalc.analyze("8x8x1 -> relu", batch=0)

"""The command line: exit codes, streams, formats and golden tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import golden, run

LECTURE = "32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)"
MNIST = ("28x28x1 -> conv(32,3) -> relu -> maxpool(2) -> conv(64,3) -> relu -> maxpool(2)"
         " -> flatten -> dropout -> fc(10)")


@pytest.mark.parametrize(("args", "name"), [
    ((LECTURE, "--no-verify"), "lecture.txt"),
    ((MNIST, "--no-verify"), "mnist.txt"),
    ((MNIST, "--lenient", "--no-verify", "--format", "markdown"), "mnist.md"),
    ((LECTURE, "--no-verify", "--format", "csv"), "lecture.csv"),
])
def test_golden_tables(args: tuple[str, ...], name: str) -> None:
    _, out, err = run(*args)
    golden(name, out)
    assert err == ""


def test_exit_codes() -> None:
    assert run(LECTURE, "--no-verify")[0] == 0
    assert run(MNIST, "--no-verify")[0] == 1
    assert run(MNIST, "--lenient", "--no-verify")[0] == 0
    assert run("32x32x3 -> conv(10, 5")[0] == 2
    assert run("summary", "missing.yaml")[0] == 2
    assert run("--bogus-option")[0] == 2
    assert run(LECTURE, "--batch", "0")[0] == 2


def test_short_form_equals_summary() -> None:
    assert run(LECTURE, "--no-verify") == run("summary", LECTURE, "--no-verify")


def test_json_is_valid_and_nothing_else() -> None:
    code, out, err = run(MNIST, "--format", "json", "--no-verify")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["cnncalc"] == "1"
    assert set(data) >= {"name", "input", "ok", "layers", "totals", "problems"}
    assert set(data["layers"][0]) >= {
        "path", "depth", "kind", "spec", "input_shape", "output_shape", "weights", "biases",
        "params", "non_trainable", "macs", "receptive_field", "jump", "activation_bytes",
        "verified", "location"}
    assert data["totals"]["params"] == 34_826
    assert data["problems"][0]["code"] == "G001"
    assert data["problems"][0]["location"] == {"line": 1, "column": 70}
    # a syntax error still prints JSON on stdout; the explanation goes to stderr
    code, out, err = run("32x32x3 -> conv(10, 5", "--format", "json")
    assert code == 2 and json.loads(out)["problems"][0]["code"] == "S003"
    assert "never closed" in err


def test_stdin_and_files(tmp_path: Path) -> None:
    yaml_text = "input: 32x32x3\nlayers:\n  - conv(10, 5, p=2)\n"
    code, out, _ = run("-", "--format", "json", "--no-verify", stdin=yaml_text)
    assert code == 0 and json.loads(out)["totals"]["params"] == 760
    code, out, _ = run("-", "--format", "json", "--no-verify", stdin=LECTURE)
    assert code == 0 and json.loads(out)["totals"]["params"] == 26_370
    f = tmp_path / "net.yml"
    f.write_text(yaml_text)
    assert run(str(f), "--no-verify")[0] == 0


@pytest.mark.parametrize("make", ["missing", "directory", "latin1", "top-list", "yaml-error",
                                  "huge-line"])
def test_bad_files_exit_2_without_traceback(tmp_path: Path, make: str) -> None:
    f = tmp_path / "net.yaml"
    if make == "directory":
        f.mkdir()
    elif make == "latin1":
        f.write_bytes(b"input: 32x32x3\nlayers: [caf\xe9]\n")
    elif make == "top-list":
        f.write_text("- conv(10, 5)\n")
    elif make == "yaml-error":
        f.write_text("input: 32x32x3\nlayers:\n  - relu\n bad\n")
    elif make == "huge-line":
        f.write_text("input: 32x32x3\nlayers: " + "relu -> " * 130_000 + "(\n")
    code, out, err = run(str(f))
    assert code == 2 and out == ""
    assert "Traceback" not in err and "S0" in err and str(f) in err


def test_layers_lists_every_kind() -> None:
    code, out, _ = run("layers")
    for name in ("conv", "dwconv", "deconv", "maxpool", "avgpool", "gap", "adaptiveavgpool",
                 "bn", "relu", "dropout", "flatten", "fc", "pad", "upsample", "residual",
                 "concat", "repeat"):
        assert f"\n{name} " in "\n" + out
    assert code == 0 and "k_h·k_w·(C/g)·filters" in out


def test_version_and_help() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "cnncalc" in out
    assert run("summary", "--help")[0] == 0


def test_real_process_no_traceback_and_no_color_when_piped() -> None:
    proc = subprocess.run([sys.executable, "-m", "cnncalc", MNIST, "--no-verify"],
                          capture_output=True, text=True, env={**os.environ, "NO_COLOR": ""})
    assert proc.returncode == 1 and "\x1b[" not in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "cnncalc", "32x32x3 -> conv(10,"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_explain_shows_the_lecture_arithmetic() -> None:
    code, out, _ = run("explain", "7x7x3 -> conv(1, 3, s=3)")
    assert code == 1
    assert "(7 − 3 + 2·0)/3 + 1 = 2.33 → ⌊…⌋ = 2" in out
    code, out, _ = run("explain", "32x32x3 -> conv(10, 5, p=2) -> fc(10)")
    assert code == 0
    assert "height and width: (32 − 5 + 2·2)/1 + 1 = 32" in out
    assert "weights 5·5·3·10 = 750" in out and "params 760" in out
    assert "MACs 750 · 32·32 = 768,000" in out
    assert "flattens 32×32×10 = 10,240 inputs" in out


def test_rules_lists_every_code() -> None:
    from cnncalc.diagnostics import RULES
    code, out, _ = run("rules")
    assert code == 0 and all(c in out for c in RULES)


def test_summary_select_and_ignore() -> None:
    code, out, _ = run(LECTURE, "--no-verify", "--ignore", "l")
    assert code == 0 and "L001" not in out and "no problems" in out
    code, out, _ = run("7x7x3 -> conv(1, 3, s=3)", "--no-verify", "--ignore", "G001")
    assert code == 0
    code, out, _ = run(MNIST, "--no-verify", "--select", "L")
    assert code == 0 and "G001" not in out

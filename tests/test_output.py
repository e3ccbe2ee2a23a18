"""Issue 8, classes 13, 14, 15 and the output items of 19: what cnncalc writes is safe, honest
and readable whatever the spec, the file name or the terminal.

- export writes spec strings only as data (generated names through ``ast``; modules run by torch);
- nothing from a spec reaches the output unescaped (control characters, bidi overrides, lone
  surrogates), in every format; GitHub annotations follow the workflow-command escaping rules;
- ``--select``/``--ignore`` never hide an error that makes the network undefined;
- comma lists, forward pass after a failed ``expect:``, explain's block rows, non-UTF-8
  stdout, FORCE_COLOR, the G007 message for a flattening residual body.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc.cli import selected
from cnncalc.diagnostics import RULES, filterable
from cnncalc.layers import py_float
from cnncalc.output import formats
from cnncalc.output.export import to_pytorch

from .helpers import run

FAST = settings(max_examples=60, deadline=None, derandomize=True)
ROOT = Path(__file__).resolve().parents[1]

# Text as hostile as YAML can carry: every code point but surrogates (YAML cannot hold them).
HOSTILE = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
CONTROL = st.lists(st.sampled_from(
    ['"', "'", "\\", "\n", "\r", "\t", "\x1b", "\x00", "\x7f", "\x9b", "\u202e", "\u2066",
     "\u2028", "{", "}", "#", "%", ",", ":", "a", "é", "→", '"""', "'''"]), min_size=1,
    max_size=20).map("".join)


def spec_yaml(name: str, description: str | None = None,
              layers: tuple[str, ...] = ("conv(4, 3)", "relu", "gap", "fc(2)"),
              **extra: Any) -> str:
    data: dict[str, Any] = {"name": name, "input": "8x8x3", "layers": list(layers), **extra}
    if description is not None:
        data["description"] = description
    return yaml.safe_dump(data, allow_unicode=True)


def unsafe(text: str, allowed: str = "\n") -> list[str]:
    """The characters of ``text`` no terminal should receive from a spec."""
    return [ch for ch in text if formats.UNSAFE.match(ch) and ch not in allowed]


# --------------------------------------------------------------------------- 13: export

ALLOWED_TOP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign)


def check_module(source: str, name: str, description: str | None) -> None:
    tree = ast.parse(source)
    first, *rest = tree.body
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    doc = first.value.value
    assert isinstance(doc, str) and formats.clean(name) in doc and not unsafe(doc)
    for node in rest:
        if isinstance(node, ast.If):  # only `if __name__ == "__main__":`
            test = node.test
            assert isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            assert test.left.id == "__name__" and isinstance(test.comparators[0], ast.Constant)
            assert test.comparators[0].value == "__main__" and not node.orelse
            continue
        assert isinstance(node, ALLOWED_TOP), ast.dump(node)[:200]
    assigned = {n.targets[0].id: ast.literal_eval(n.value) for n in rest
                if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)}
    assert assigned == {"NAME": name, "DESCRIPTION": description}
    for line in source.splitlines():  # comments hold cleaned text only, never a line break
        assert not unsafe(line, allowed="")


@FAST
@given(name=HOSTILE, description=st.none() | HOSTILE)
def test_export_writes_names_only_as_data(name: str, description: str | None) -> None:
    report = cnncalc.analyze(spec_yaml(name, description))
    assert report.ok
    check_module(to_pytorch(report), name, description)


@FAST
@given(name=CONTROL, description=CONTROL)
def test_export_quotes_and_escapes(name: str, description: str) -> None:
    report = cnncalc.analyze(spec_yaml(name, description))
    check_module(to_pytorch(report), name, description)


def load_module(source: str) -> ModuleType:
    module = ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    return module


WEIRD = ['x"""\nraise SystemExit("injected")\n"""', "back\\slash\\", "'''\nraise SystemExit\n'''",
         "nul\x00 esc\x1b[2J bidi\u202e", "{name} {0} %s", "\\N{BULLET}\\x00\\u0041"]


@pytest.mark.parametrize("name", WEIRD)
def test_weird_names_export_modules_torch_runs(name: str) -> None:
    torch = pytest.importorskip("torch")
    code, source, err = run("export", "-", stdin=spec_yaml(name, name))
    assert code == 0, err
    module = load_module(source)  # an injected statement would raise SystemExit here
    assert module.NAME == name and module.DESCRIPTION == name
    with torch.no_grad():
        y = module.build().eval()(torch.zeros(1, 3, 8, 8))
    assert tuple(y.shape) == (1, 2)


@pytest.mark.parametrize("value", [math.inf, -math.inf, 1e-4, 0.1 + 0.2, 1e308, 5e-324, -0.0])
def test_py_float_round_trips(value: float) -> None:
    assert eval(py_float(value)) == value and math.copysign(1, eval(py_float(value))) == \
        math.copysign(1, value)
    assert math.isnan(eval(py_float(math.nan)))


def test_infinite_argument_exports_valid_code() -> None:
    report = cnncalc.analyze("8x8x3 -> leakyrelu(1e400) -> gap -> fc(2)")
    if not report.ok:  # a bound on reals may reject it: then nothing is exported at all
        assert run("export", "8x8x3 -> leakyrelu(1e400) -> gap -> fc(2)")[0] == 1
        return
    source = to_pytorch(report)
    assert "float('inf')" in source
    load_module(source)


@pytest.mark.parametrize("spec", ["16 -> lrn(3) -> fc(4)", "7 -> lrn(5, alpha=0.5, beta=1, k=2)",
                                  "4x4x2 -> flatten -> lrn(4)", "8x8x6 -> lrn(3)"])
def test_lrn_exports_what_torch_accepts_and_matches_cnncalc(spec: str) -> None:
    torch = pytest.importorskip("torch")
    import numpy as np

    from cnncalc import kernels
    report = cnncalc.analyze(spec)
    model = load_module(to_pytorch(report)).build().eval()
    shape = report.input_shape
    assert shape is not None
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    tx = torch.from_numpy(x if len(shape) == 1 else x.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        y = model(tx).numpy()
    lrn_rows = [r for r in report.layers if r.kind == "lrn"]
    if report.layers[-1].kind == "lrn" and len(shape) == 1:  # whole net is the LRN: compare
        node = lrn_rows[0].node
        assert node is not None
        want = kernels.lrn(x, node.size, node.alpha, node.beta, node.k)  # type: ignore[attr-defined]
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    out = report.totals.output_shape
    assert out is not None and y.shape[1:] == ((out[2], out[0], out[1]) if len(out) == 3 else out)


# --------------------------------------------------------------------------- 14: escapes

FORMATS = [("summary", "--format", "table"), ("summary", "--format", "markdown"),
           ("summary", "--format", "csv"), ("explain",)]


@FAST
@given(name=CONTROL, layer=CONTROL)
def test_no_control_character_reaches_any_format(name: str, layer: str) -> None:
    """A hostile name and layer text: every text format escapes them, JSON keeps them as
    data (escaped by json) and stays valid."""
    for layers in (("conv(4, 3)", "relu", "gap", "fc(2)"), ("conv(4, 3)", f"{layer}(2)")):
        text = spec_yaml(name, name, layers)
        for args in FORMATS:
            code, out, err = run(*args, "-", "--no-verify", stdin=text) if args[0] == "summary" \
                else run(*args, "-", stdin=text)
            assert code in (0, 1, 2)
            assert not unsafe(out) and not unsafe(err), (args, out, err)
        code, out, _ = run("summary", "-", "--format", "json", "--no-verify", stdin=text)
        if code != 2:
            assert json.loads(out)["name"] == name
        code, out, err = run("export", "-", stdin=text)
        assert not unsafe(out) and not unsafe(err)


def test_escape_sequences_in_check_lines(tmp_path: Path) -> None:
    bad = tmp_path / "evil\x1b[2J\u202e.yaml"
    bad.write_text(spec_yaml("n\x1b]0;pwned\x07", layers=("maxpol(2)",)))
    for fmt in ("text", "github"):
        code, out, err = run("check", str(bad), "--format", fmt)
        assert code == 1 and not unsafe(out) and not unsafe(err)
        assert "\\x1b[2J\\u202e" in out
    code, out, _ = run("check", str(bad), "--format", "json")
    assert json.loads(out)["files"][0]["file"] == str(bad)  # JSON keeps the data exactly


@settings(max_examples=30, deadline=None, derandomize=True)
@given(stem=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/\x00"),
                    min_size=1, max_size=20))
def test_generated_file_names_are_escaped_in_check(stem: str, tmp_path_factory: Any) -> None:
    f = tmp_path_factory.mktemp("names") / (stem[:40] + ".yaml")
    f.write_text("input: 7x7x3\nlayers: ['conv(1, 3, s=3)']\n")
    for fmt in ("text", "github"):
        code, out, err = run("check", str(f), "--format", fmt)
        assert code == 1 and not unsafe(out) and not unsafe(err)
    code, out, _ = run("check", str(f), "--format", "json")
    assert json.loads(out)["files"][0]["file"] == str(f)


def test_clean_escapes_exactly_the_unsafe_set() -> None:
    for n in itertools.chain(range(0x00, 0xA0), range(0x2000, 0x2070), [0x061C, 0xFEFF]):
        ch = chr(n)
        dangerous = n < 0x20 or 0x7F <= n < 0xA0 or n in (0x061C, 0x200E, 0x200F, 0x2028,
                                                           0x2029) \
            or 0x202A <= n <= 0x202E or 0x2066 <= n <= 0x2069
        assert (formats.clean(ch) != ch) == dangerous, hex(n)
        assert not unsafe(formats.clean(ch), allowed="")
    assert formats.clean("\udcff") == "\\xff" and formats.clean("\ud800") == "\\ud800"
    assert formats.clean(formats.clean("a\x1bb")) == formats.clean("a\x1bb")


@FAST
@given(HOSTILE)
def test_clean_is_idempotent_and_total(text: str) -> None:
    once = formats.clean(text)
    assert formats.clean(once) == once and not unsafe(once, allowed="")


def parse_annotation(line: str) -> tuple[dict[str, str], str]:
    head, message = line.split("::", 2)[1:]
    _, props = head.split(" ", 1)
    fields = dict(p.split("=", 1) for p in props.split(","))
    return fields, message


def unescape(text: str) -> str:
    for code, ch in (("%0A", "\n"), ("%0D", "\r"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, ch)
    return text


@FAST
@given(filename=st.text(st.sampled_from(list("ab.,:%\n\r=/ é→")), min_size=1, max_size=30),
       message=st.text(st.sampled_from(list("ab,:%\n\r= é")), max_size=30))
def test_github_annotation_escaping(filename: str, message: str) -> None:
    p = cnncalc.diagnostics.Problem(cnncalc.diagnostics.Severity.ERROR, "G001", message,
                                    location=cnncalc.diagnostics.Location(3, 4))
    line = formats.github_annotation(filename, p)
    assert "\n" not in line and "\r" not in line
    fields, text = parse_annotation(line)
    assert set(fields) == {"file", "line", "col", "title"}
    assert unescape(fields["file"]) == filename and fields["line"] == "3"
    assert unescape(text) == message


def test_json_is_utf8_with_undecodable_file_names(tmp_path: Path) -> None:
    raw = os.fsencode(str(tmp_path)) + b"/bad\xff\xfe.yaml"
    with open(raw, "w") as f:
        f.write("input: 8x8x3\nlayers: [maxpol(2)]\n")
    with open(os.fsencode(str(tmp_path)) + b"/ok\xe9.yaml", "w") as f:
        f.write("input: 8x8x3\nlayers: ['conv(4, 3)']\n")
    for fmt in ("json", "text", "github"):
        done = subprocess.run([sys.executable, "-m", "cnncalc", "check", "--format", fmt,
                               os.fsdecode(raw), os.fsdecode(raw.replace(b"bad\xff\xfe", b"ok\xe9")),
                               os.fsdecode(raw.replace(b"bad", b"gone"))],
                              capture_output=True, timeout=60, cwd=ROOT,
                              env={**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
        assert done.returncode == 2 and b"Traceback" not in done.stderr
        text = done.stdout.decode("utf-8")  # strict: must be valid UTF-8
        if fmt == "json":
            files = json.loads(text)["files"]
            assert [f["ok"] for f in files] == [False, True, False]
            assert files[0]["file"].endswith("/bad\\xff\\xfe.yaml")
        else:
            assert "/bad\\xff\\xfe.yaml" in text


# --------------------------------------------------------------------------- 15: filters

# One spec per error that leaves the network undefined (or unreadable), and its code.
UNDEFINED = {
    "S002": "8x8x3 -> conv(4, 3) @",
    "S003": "8x8x3 -> conv(4, 3))",
    "A001": "8x8x3 -> maxpol(2)",
    "A002": "8x8x3 -> conv(4, 3, strdie=2)",
    "A003": "8x8x3 -> conv(4, 3, s=1, stride=2)",
    "A004": "8x8x3 -> conv(4)",
    "A005": "8x8x3 -> relu(3)",
    "A007": "28x28x3x3x3 -> relu",
    "A006": "8x8x3 -> conv(0, 3)",
    "G003": "3x3x8 -> conv(8, 5)",
    "G004": "8x8x6 -> conv(8, 3, g=4)",
    "G005": "8x8x6 -> maxpool(2, p=2)",
    "G006": "784 -> conv(8, 3)",
    "G007": "8x8x8 -> residual([conv(16, 3, s=2, p=1)])",
    "G008": "8x8x8 -> concat([conv(8, 3)], [conv(8, 1)])",
    "G009": "3x3x1 -> deconv(1, 3, p=5)",
    "G013": "8x8x4 -> gap -> instancenorm",
}
FILTERS = [("--ignore", "A"), ("--ignore", "S"), ("--ignore", "G"), ("--select", "L"),
           ("--select", "X"), ("--ignore", "A,G,S,V"), ("--select", "L001"),
           ("--ignore", "G003,G004,G005,G006,G007,G008,G009,G013")]


@pytest.mark.parametrize("code", list(UNDEFINED))
@pytest.mark.parametrize("option", FILTERS, ids="=".join)
def test_filters_never_hide_an_undefined_network(code: str, option: tuple[str, str]) -> None:
    spec = UNDEFINED[code]
    exit_code, out, _ = run("summary", spec, "--format", "json", "--no-verify", *option)
    want = 2 if code.startswith("S") else 1
    assert exit_code == want
    data = json.loads(out)
    assert data["ok"] is False and code in {p["code"] for p in data["problems"]}


@pytest.mark.parametrize("option", FILTERS, ids="=".join)
def test_check_filters_never_hide_an_undefined_network(option: tuple[str, str],
                                                        tmp_path: Path) -> None:
    files = []
    for code, spec in UNDEFINED.items():
        files.append(tmp_path / f"{code}.txt")
        files[-1].write_text(spec + "\n")
    exit_code, out, _ = run("check", *map(str, files), "--format", "json", *option)
    assert exit_code == 2
    for code, result in zip(UNDEFINED, json.loads(out)["files"], strict=True):
        assert result["ok"] is False and code in {p["code"] for p in result["problems"]}
    for code, f in zip(UNDEFINED, files, strict=True):  # one file at a time: its own exit code
        if not code.startswith("S"):
            assert run("check", str(f), *option)[0] == 1


def test_filterable_codes_in_every_rule_and_combination() -> None:
    prefixes = sorted({c[:n] for c in RULES for n in (1, 2, 4)})
    for code in RULES:
        hidable = filterable(code)
        assert hidable == (code[0] in "LX" or code in ("G001", "G002", "G019", "G020", "V002"))
        for sel, ign in itertools.product([(), ("L",), (code,), ("Z",)],
                                          [(), (code,), (code[0],), tuple(prefixes)]):
            if not hidable:
                assert selected(code, sel, ign)


def test_filters_still_hide_lints_and_inexact_division(tmp_path: Path) -> None:
    assert run("7x7x3 -> conv(1, 3, s=3)", "--no-verify", "--ignore", "G001")[0] == 0
    code, out, _ = run("summary", "7x7x3 -> conv(1, 3, s=3) -> relu -> maxpol(2)",
                       "--no-verify", "--format", "json", "--ignore", "G,A")
    assert code == 1 and [p["code"] for p in json.loads(out)["problems"]] == ["A001"]


def test_check_json_ok_is_honest(tmp_path: Path) -> None:
    f = tmp_path / "net.yaml"
    f.write_text("input: 8x8x3\nlayers: ['maxpol(2)']\n")
    code, out, _ = run("check", str(f), "--format", "json", "--ignore", "A", "--select", "L")
    assert code == 1 and json.loads(out)["files"][0]["ok"] is False


# --------------------------------------------------------------------------- 19

def test_comma_separated_filters() -> None:
    spec = "224x224x3 -> conv(64, 7, s=2, p=3) -> conv(96, 3) -> relu -> gap -> fc(10)"
    _, out, _ = run(spec, "--no-verify", "--format", "json")
    codes = {p["code"] for p in json.loads(out)["problems"]}
    assert {"G002", "L001"} <= codes
    for option in (["--ignore", "L,G002"], ["--ignore", "l, g002"], ["--ignore", "L",
                                                                       "--ignore", "G002"]):
        _, out, _ = run(spec, "--no-verify", "--format", "json", *option)
        assert not {"G002", "L001"} & {p["code"] for p in json.loads(out)["problems"]}
    _, out, _ = run(spec, "--no-verify", "--format", "json", "--select", "G,L001")
    assert {p["code"] for p in json.loads(out)["problems"]} == {"G002", "L001"}


@pytest.mark.parametrize("bad", ["Q", "L,ZZ", "G0019"])
def test_unknown_filter_prefix_is_a_usage_error(bad: str) -> None:
    code, _, err = run("8x8x3 -> relu", "--ignore", bad)
    assert code == 2 and "matches no problem code" in err


def test_forward_pass_runs_after_a_failed_expectation() -> None:
    text = "input: 8x8x3\nlayers: ['conv(4, 3)', relu]\nexpect: {params: 1, output: 6x6x5}\n"
    code, out, _ = run("summary", "-", "--format", "json", stdin=text)
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert {p["code"] for p in data["problems"]} == {"X001", "X002"}
    assert [row["verified"] for row in data["layers"]] == [True, True]
    code, out, _ = run("summary", "-", stdin=text)
    assert code == 1 and "✓" in out and "X002" in out


def test_check_verify_runs_after_a_failed_expectation(tmp_path: Path) -> None:
    f = tmp_path / "net.yaml"
    f.write_text("input: 8x8x3\nlayers: ['conv(4, 3)']\nexpect: {params: 1}\n")
    code, out, _ = run("check", str(f), "--verify", "--max-memory", "1KB", "--format", "json")
    assert code == 1
    assert [p["code"] for p in json.loads(out)["files"][0]["problems"]] == ["X002", "V002"]


def test_explain_shows_block_labels_not_their_text() -> None:
    inner = " -> ".join(["conv(64, 3, p=1) -> bn -> relu"] * 10)
    spec = f"8x8x64 -> residual([residual([{inner}])]) -> [{inner}] * 2"
    code, out, _ = run("explain", "-", stdin=spec)
    assert code == 0
    rows = [line for line in out.splitlines() if " → " in line and ": " not in line]
    assert len(rows) == 2 + 30 + 1 + 2 * 30  # every row (blocks and layers) on its own line
    assert max(len(line) for line in rows) < 120
    assert "1  residual   8×8×64 → 8×8×64" in out and "repeat × 2" in out


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "latin-1", "utf-8"])
def test_non_utf8_stdout_degrades_instead_of_crashing(encoding: str, tmp_path: Path) -> None:
    f = tmp_path / "net.yaml"
    f.write_text("name: net ✓ → 😀\ninput: 7x7x3\nlayers: ['conv(1, 3, s=3)', relu]\n",
                 encoding="utf-8")
    g = tmp_path / "ok.yaml"
    g.write_text(spec_yaml("net ✓ → 😀 \u202e é"), encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": encoding, "NO_COLOR": "1"}
    for args in (["summary", "8x8x3 -> conv(4, 3) -> relu"], ["summary", str(f)],
                 ["explain", str(f)], ["check", str(f)], ["summary", str(f), "--format", "json"],
                 ["export", str(g)]):
        done = subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True,
                              timeout=60, env=env, cwd=ROOT)
        assert b"Traceback" not in done.stderr, (args, done.stderr[-500:])
        assert done.returncode in (0, 1), (args, done.stderr)
        text = done.stdout.decode(encoding)  # strict: what was written is in that encoding
        if args[-1] == "json":
            json.loads(text)
        if args[0] == "export":  # still a module, whose NAME is exact
            tree = ast.parse(text)
            names = [n for n in tree.body if isinstance(n, ast.Assign)]
            assert ast.literal_eval(names[0].value) == "net ✓ → 😀 \u202e é"
        if args == ["summary", "8x8x3 -> conv(4, 3) -> relu"]:
            check = "✓" if encoding == "utf-8" else " v"  # cp1252 and Latin-1 have ×, not ✓
            shape = "6x6x4" if encoding == "ascii" else "6×6×4"
            assert check in text and shape in text


def test_force_color_and_no_color_precedence() -> None:
    spec = "7x7x3 -> conv(1, 3, s=3)"
    for env, coloured in (({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "0"}, False),
                          ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
                          ({"FORCE_COLOR": "true", "TERM": "dumb"}, True), ({}, False)):
        _, out, _ = run(spec, "--no-verify", env={"NO_COLOR": "", "FORCE_COLOR": "", **env})
        assert ("\x1b[" in out) == coloured, env
    _, out, _ = run(spec, "--no-verify", "--format", "json", env={"FORCE_COLOR": "1"})
    json.loads(out)  # JSON is never coloured


def test_residual_with_fc_says_it_flattened() -> None:
    report = cnncalc.analyze("8x8x16 -> residual([conv(16, 3, p=1) -> relu -> fc(10)])")
    (p,) = report.errors
    assert (p.location.line, p.location.column, p.code) == (1, 11, "G007")  # type: ignore[union-attr]
    assert "fc(10) flattened the 8×8×16 volume" in p.message
    assert any("move fc(10) after the residual" in s and "conv(16, 1)" in s
               for s in p.suggestions)
    fixed = cnncalc.analyze("8x8x16 -> residual([conv(16, 3, p=1) -> relu -> conv(16, 1)]) "
                            "-> fc(10)")
    assert fixed.ok
    report = cnncalc.analyze("8x8x16 -> residual([conv(16, 3, p=1) -> flatten], "
                             "shortcut=[conv(16, 1)])")
    (p,) = report.errors
    assert "flatten flattened the 8×8×16 volume" in p.message

"""Hostile input (issue 8, classes 1, 4, 5, 6, 16, 19): what SPEC is, reading it, YAML aliases.

Every case goes through the CLI (or the parser) and is judged by exit code, problem code and
location; the bombs run in a subprocess with a timeout and their peak RSS is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc.diagnostics import SpecSyntaxError
from cnncalc.spec import source
from cnncalc.spec.source import MAX_SPEC_BYTES

from .helpers import run

FAST = settings(max_examples=40, deadline=None, derandomize=True)


def problem(spec: str) -> tuple[str, int | None, int | None]:
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(spec)
    p = info.value.problems[0]
    return p.code, p.location.line if p.location else None, \
        p.location.column if p.location else None


# -- class 1: long one-line specs never reach the file system --------------------------------

VGG16 = ("224x224x3 -> " + " -> ".join(
    f"[conv({c}, 3, p=1) -> relu] * {n} -> maxpool(2)"
    for c, n in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)))
    + " -> fc(4096) -> relu -> dropout(0.5) -> fc(4096) -> relu -> dropout(0.5) -> fc(1000)")
VGG16_LONG = "224x224x3 -> " + " -> ".join(
    ["conv(64, 3, p=1) -> relu"] * 2 + ["maxpool(2)"] + ["conv(128, 3, p=1) -> relu"] * 2
    + ["maxpool(2)"] + ["conv(256, 3, p=1) -> relu"] * 3 + ["maxpool(2)"]
    + ["conv(512, 3, p=1) -> relu"] * 3 + ["maxpool(2)"] + ["conv(512, 3, p=1) -> relu"] * 3
    + ["maxpool(2)", "fc(4096)", "relu", "fc(4096)", "relu", "fc(1000)"])


def test_vgg16_typed_on_one_line() -> None:
    assert len(VGG16_LONG.encode()) > 255
    code, out, err = run(VGG16_LONG, "--format", "json", "--no-verify")
    assert (code, err) == (0, "")
    assert json.loads(out)["totals"]["params"] == 138_357_544  # torchvision's VGG-16
    assert json.loads(run(VGG16, "--format", "json", "--no-verify")[1])["totals"]["params"] \
        == 138_357_544


chains = st.lists(st.sampled_from(["relu", "conv(8, 3, p=1)", "bn", "maxpool(1)", "[relu] * 2",
                                   "residual([conv(8, 3, p=1)])", "dropout(0.1)"]),
                  min_size=40, max_size=300)


@FAST
@given(chains, st.sampled_from(["summary", "explain", "export"]))
def test_long_one_line_specs_are_never_paths(layers: list[str], command: str) -> None:
    spec = "16x16x8 -> " + " -> ".join(layers)
    assert len(spec) > 255
    args = [command, spec] + (["--no-verify"] if command == "summary" else [])
    code, _, err = run(*args)
    assert code in (0, 1) and "Traceback" not in err and "File name too long" not in err


@pytest.mark.parametrize("argument", [
    "32x32x3 -> relu", "conv(1", "a" * 5000, "[relu]", "x\ny", "32x32x3 → relu", "a" * 300])
def test_spec_text_never_stats_the_file_system(monkeypatch: pytest.MonkeyPatch,
                                               argument: str) -> None:
    asked: list[str] = []
    real = os.stat

    def stat(path: str, *args: object, **kw: object) -> os.stat_result:
        asked.append(path)
        return real(path, *args, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(os, "stat", stat)
    origin = source.classify(argument)
    if any(m in argument for m in ("->", "→", "(", "[", "\n")) or len(argument) > 4096:
        assert origin.kind == "text" and asked == []
    assert origin.kind == "text"  # none of them is a file, a zoo name or stdin


@pytest.mark.parametrize("argument,kind", [
    ("-", "stdin"), ("resnet50", "zoo"), ("ResNet50", "zoo"), ("mobilenet-v2", "zoo"), ("net.yaml", "file"),
    ("nets/missing", "file"), ("my net (v2).yml", "file"), ("", "text"), ("   ", "text"),
    ("32x32x3", "text"), ("relu", "text")])
def test_classify(argument: str, kind: str) -> None:
    assert source.classify(argument).kind == kind


@pytest.mark.parametrize("argument,code,message", [
    ("a" * 300, "S008", "is not a file, a zoo network or a spec"),
    ("n" * 255 + "/x.yaml", "S008", "no such file"),
    ("x" * 5000 + ".yaml", "S008", "is not a file"),
    ("nets/missing", "S008", "no such file"),
    ("bad\x00name", "S002", "unexpected character"),
    ("resnet5", "S008", "did you mean the zoo network 'resnet50'?"),
    ("vgg-61", "S008", "did you mean the zoo network 'vgg16'?"),
    ("", "S001", "the spec is empty"),
    ("  \t ", "S001", "the spec is empty"),
])
def test_arguments_that_are_nothing(argument: str, code: str, message: str) -> None:
    status, out, err = run(argument, "--format", "json")
    assert status == 2 and "Traceback" not in err
    problems = json.loads(out)["problems"]
    assert problems[0]["code"] == code
    assert message in err and "directory" not in err


def test_zoo_lookup_is_robust() -> None:
    from cnncalc import zoo
    assert zoo.path("x" * 10_000) is None and zoo.path("a/../resnet50") is None
    assert zoo.path("RESNET50") is not None


# -- class 6: what is read: regular files only, never more than the limit ----------------------

def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    good = tmp_path / "good.yaml"
    good.write_text("input: 8x8x3\nlayers: [relu]\n")
    done = subprocess.run([sys.executable, "-m", "cnncalc", "check", str(fifo), str(good)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{fifo}:1:1: S008 [error] this is a FIFO (named pipe), not a regular file" \
        in done.stdout
    assert "Found 1 error in 2 files." in done.stdout
    code, _, err = run(str(fifo))
    assert code == 2 and "FIFO" in err


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_devices_are_refused() -> None:
    code, out, _ = run("check", "/dev/null")
    assert code == 2 and "S008 [error] this is a character device" in out


def test_directory(tmp_path: Path) -> None:
    code, out, _ = run("check", str(tmp_path))
    assert code == 2 and "S008 [error] this is a directory" in out


def test_read_stops_at_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # sparse: 8 GB of nothing, never read whole
        f.truncate(8 * 2**30)
    code, out, _ = run("check", str(big))
    assert code == 2 and "S008 [error] the file is larger than 1 MiB" in out
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"#" * MAX_SPEC_BYTES)
    assert "S001" in run("check", str(exact))[1]  # exactly the limit is read (and empty)
    exact.write_bytes(b"#" * (MAX_SPEC_BYTES + 1))
    assert "larger than 1 MiB" in run("check", str(exact))[1]


def test_stdin_is_read_up_to_the_limit() -> None:
    code, out, err = run("-", "--format", "json", stdin=b"\0" * (MAX_SPEC_BYTES + 10))
    assert code == 2 and "larger than 1 MiB" in err
    assert json.loads(out)["problems"][0]["code"] == "S008"
    code, _, err = run("-", stdin=b"input: 8x8x3\nlayers: [relu]\n\xff\n")
    assert code == 2 and "not UTF-8 text: byte 0xff at line 3, column 1" in err


def test_dev_zero_on_stdin_ends_quickly() -> None:
    with open(os.devnull if not Path("/dev/zero").exists() else "/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "cnncalc", "-"], stdin=zero,
                              capture_output=True, text=True, timeout=60)
    if Path("/dev/zero").exists():
        assert done.returncode == 2 and "larger than 1 MiB" in done.stderr


# -- class 6: a spec that starts with '-' --------------------------------------------------------

@pytest.mark.parametrize("args", [["-> relu"], ["summary", "-x.yaml"], ["check", "-bad.yaml"],
                                  ["explain", "-8x8x3 -> relu"], ["-1x1x1"]])
def test_dash_spec_suggests_double_dash(args: list[str]) -> None:
    code, _, err = run(*args)
    assert code == 2 and "must come after --" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [["--frobnicate"], ["check", "--formt", "json", "a.yaml"]])
def test_mistyped_option_is_not_told_about_double_dash(args: list[str]) -> None:
    code, _, err = run(*args)
    assert code == 2 and "No such option" in err and "must come after --" not in err


def test_double_dash_passes_a_dash_spec(tmp_path: Path) -> None:
    code, _, err = run("--", "-> relu")
    assert code == 2 and "S002 [error] expected a layer, found '->'" in err
    f = tmp_path / "-net.yaml"
    f.write_text("input: 8x8x3\nlayers: [relu]\n")
    os.chdir(tmp_path)
    assert run("check", "--", "-net.yaml")[0] == 0
    assert run("--no-verify", "--", "-net.yaml")[0] == 0
    assert "cnncalc -- " in run("--help")[1]


# -- class 4: YAML alias bombs: bounded time and memory ----------------------------------------

def laughs(levels: int, fan: int, leaf: str, flow: bool = False) -> tuple[str, str]:
    """Anchors x0..x{levels-1}, each `fan` aliases of the previous: (definitions, top alias)."""
    lines = []
    for i in range(levels):
        items = [f"*x{i - 1}"] * fan if i else [leaf] * fan
        lines.append(f"  - &x{i} [{', '.join(items)}]" if flow or i else
                     f"  - &x{i}\n" + "".join(f"    - {x}\n" for x in items).rstrip("\n"))
    return "\n".join(lines), f"*x{levels - 1}"


LONG = "a" * 100_000


def bomb(kind: str) -> str:
    """A billion-laughs variant aimed at one place the reader joins or quotes text."""
    defs = f"description: &s {LONG}\n"
    many = "[" + ", ".join(["*s"] * 2000) + "]"
    if kind == "layers":
        body, top = laughs(30, 2, "relu")
        return f"input: 8x8x1\nlayers:\n{body}\n"
    if kind == "layers-fan":
        body, top = laughs(6, 50, "relu")
        return f"input: 8x8x1\nlayers:\n{body}\n"
    if kind == "name":
        return f"{defs}name: {many}\ninput: 8x8x1\nlayers: [relu]\n"
    if kind == "input":
        return f"{defs}input: {many}\nlayers: [relu]\n"
    if kind == "expect":
        return f"{defs}input: 8x8x1\nlayers: [relu]\nexpect: {{params: {many}}}\n"
    if kind == "flow-split":
        return f"description: &s conv({LONG}\ninput: 8x8x1\nlayers: {many}\n"
    if kind == "error-message":  # the same long unknown layer name, many times
        return f"description: &s {LONG}\ninput: 8x8x1\nlayers:\n" + "  - *s\n" * 2000
    if kind == "unknown-key":
        return f"input: 8x8x1\nlayers: [relu]\n? {'k' * 100_000}\n: 1\n"
    if kind == "complex-key":
        body, top = laughs(30, 2, "relu")
        return f"input: 8x8x1\nlayers:\n{body}\n? {top}\n: 1\n"
    if kind == "complex-arg-key":
        key = ", ".join(["&x0 [relu, relu]"] + [f"&x{i} [*x{i - 1}, *x{i - 1}]"
                                                 for i in range(1, 30)])
        return f"input: 8x8x1\nlayers:\n  - conv: {{? [{key}] : 1}}\n"
    if kind == "arguments":
        return (f"{defs}input: 8x8x1\nlayers:\n  - conv: {{filters: *s, kernel: {many}}}\n")
    if kind == "mapping-args":
        body, top = laughs(20, 2, "relu")
        return f"input: 8x8x1\nlayers:\n{body}\n  - residual: {{body: {top}}}\n"
    raise AssertionError(kind)


BOMBS = ["layers", "layers-fan", "name", "input", "expect", "flow-split", "error-message",
         "unknown-key", "complex-key", "complex-arg-key", "arguments", "mapping-args"]

RUNNER = """
import resource, sys
from cnncalc.cli import main
try:
    main(sys.argv[1:], prog_name="cnncalc")
finally:
    # VmHWM is this image's own peak; ru_maxrss also counts the forking parent's (it
    # survives exec), so it is only the fallback where /proc is missing.
    try:
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"@@peak_kib={peak}", file=sys.stderr)
"""


def measured(*args: str, timeout: float = 30) -> tuple[int, str, str, int]:
    """Run the CLI in a fresh interpreter: exit code, stdout, stderr and peak RSS (MiB)."""
    if sys.platform == "win32":
        pytest.skip("resource is POSIX")
    done = subprocess.run([sys.executable, "-c", RUNNER, *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})
    err, _, peak = done.stderr.rpartition("@@peak_kib=")
    return done.returncode, done.stdout, err, int(peak) // 1024


def test_bombs_are_bounded(tmp_path: Path) -> None:
    """Every bomb file in one `check` run: each refused with its own S-code (the others are
    still checked), a good file after them passes, in bounded time and memory."""
    files = []
    for kind in BOMBS:
        f = tmp_path / f"{kind}.yaml"
        f.write_text(bomb(kind))
        assert f.stat().st_size < 400_000
        files.append(str(f))
    good = tmp_path / "good.yaml"
    good.write_text("input: 8x8x3\nlayers: [relu]\n")
    code, out, err, peak = measured("check", "--format", "json", *files, str(good), timeout=60)
    assert code == 2 and "Traceback" not in err, err
    result = {Path(f["file"]).stem: f for f in json.loads(out)["files"]}
    assert result["good"]["ok"] and result["good"]["problems"] == []
    expected = {"layers": "S009", "layers-fan": "S009", "name": "S009", "input": "S009",
                "expect": "S009", "flow-split": "S009", "error-message": "S009",
                "unknown-key": "S006", "complex-key": "S006", "complex-arg-key": "S006",
                "arguments": "S009", "mapping-args": "S009"}
    for kind, code_ in expected.items():
        problems = result[kind]["problems"]
        assert [p["code"] for p in problems][:1] == [code_], (kind, problems)
        assert all(len(p["message"]) < 400 for p in problems), kind
    assert peak < 200, f"peak RSS {peak} MiB"
    assert len(out) < 100_000


@pytest.mark.parametrize("kind", ["name", "flow-split", "complex-key"])
def test_bomb_in_summary_every_format(tmp_path: Path, kind: str) -> None:
    f = tmp_path / "bomb.yaml"
    f.write_text(bomb(kind))
    for fmt in ("table", "json"):
        code, out, err, peak = measured(str(f), "--format", fmt)
        assert code == 2 and "Traceback" not in err and peak < 200
        assert len(err) < 5_000
        if fmt == "json":
            assert json.loads(out)["problems"][0]["code"] in ("S006", "S009")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(levels=st.integers(2, 40), fan=st.integers(2, 12),
       where=st.sampled_from(["layers", "name", "input", "expect", "arg", "flow", "key"]),
       leaf=st.sampled_from(["relu", "conv(8, 3", LONG[:5000], "8"]))
def test_generated_bombs_stop_at_the_budget(levels: int, fan: int, where: str, leaf: str) -> None:
    """In-process: whatever the bomb's shape, the reader stops at its node or text budget
    (or the structure is refused) — it never expands more than the budget. The budgets are
    shrunk 20× here so each example is quick; memory must shrink with them."""
    import time
    import tracemalloc

    from cnncalc.spec import yamlspec
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yamlspec, "MAX_NODES", 5_000)
        patch.setattr(yamlspec, "MAX_TEXT", 50_000)
        bomb_once(levels, fan, where, leaf, time, tracemalloc)


def bomb_once(levels: int, fan: int, where: str, leaf: str, time: Any, tracemalloc: Any) -> None:
    body, top = laughs(levels, fan, leaf, flow=where == "flow")
    doc = f"input: 8x8x1\nlayers:\n{body}\n"
    extra = {"layers": "", "name": f"name: {top}\n", "input": "", "expect":
             f"expect: {{output: {top}}}\n", "arg": f"mode: {top}\n",
             "flow": f"name: [{top}, {top}]\n", "key": f"? {top}\n: 1\n"}[where]
    if where == "input":
        doc = doc.replace("input: 8x8x1\n", f"input: {top}\n")
    tracemalloc.start()
    start = time.perf_counter()
    try:
        cnncalc.analyze(doc + extra)
    except SpecSyntaxError as exc:
        assert exc.problems[0].code.startswith("S")
        assert all(len(p.message) < 400 for p in exc.problems)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < 5
    assert peak < 15 * 2**20


# -- class 16: duplicate keys in every mapping --------------------------------------------------

@pytest.mark.parametrize("doc,where", [
    ("input: 8x8x3\nlayers: [relu]\nexpect:\n  params: 1\n  params: 2\n", (5, 3)),
    ("input: 8x8x3\nlayers: [relu]\nexpect: {params: 0, macs: 0, params: 0}\n", (3, 30)),
    ("input: 8x8x3\nlayers:\n  - conv: {filters: 10, filters: 12, kernel: 3}\n", (3, 25)),
    ("input: {height: 8, width: 8, height: 9, channels: 3}\nlayers: [relu]\n", (1, 30)),
    ("input: 8x8x3\nlayers:\n  - repeat: 2\n    layers: relu\n    layers: bn\n", (5, 5)),
    ("input: 8x8x3\nlayers: [relu]\ninput: 8x8x3\n", (3, 1)),
])
def test_duplicate_keys_are_refused(doc: str, where: tuple[int, int]) -> None:
    code, line, column = problem(doc)
    assert (code, (line, column)) == ("S006", where)
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(doc)
    assert "given twice" in info.value.problems[0].message


@FAST
@given(st.lists(st.sampled_from(["params", "macs", "flops", "max_params", "non_trainable"]),
                min_size=2, max_size=6))
def test_duplicate_expect_keys_generated(keys: list[str]) -> None:
    doc = "input: 8x8x3\nlayers: [relu]\nexpect:\n" + "".join(f"  {k}: 0\n" for k in keys)
    if len(set(keys)) == len(keys):
        assert cnncalc.analyze(doc).ok
        return
    second = next(i for i, k in enumerate(keys) if k in keys[:i])
    assert problem(doc) == ("S006", 4 + second, 3)


# -- class 19: small ones ------------------------------------------------------------------------

@pytest.mark.parametrize("call,rank", [("conv3d(3, 3)", 3), ("Conv1d(3, 3)", 1),
                                       ("maxpool3d(3)", 3), ("BatchNorm1d", 1),
                                       ("Conv3DTranspose(3, 3)", 3), ("AveragePooling1D(3)", 1),
                                       ("adaptiveavgpool3d(3)", 3)])
def test_rank_explicit_aliases_on_another_rank_are_g010(call: str, rank: int) -> None:
    """v2: rank-explicit aliases are accepted and checked: on a 2-D input they are a located
    G010 that names the rank they need, with the layer under its 2-D alias as the fix (never
    did-you-mean)."""
    r = cnncalc.analyze(f"9x9x3 -> {call}")
    (p,) = r.errors
    assert p.code == "G010" and f"needs a {rank}-D" in p.message and "is 2-D (H×W×C)" in p.message
    assert not any("did you mean" in s for s in p.suggestions)
    assert (p.location.line, p.location.column) == (1, 10)
    fixed = p.suggestions[0]  # the whole layer under its 2-D name: conv2d(3, 3)
    assert fixed.split("(")[0].lower().endswith("2d") and cnncalc.analyze(f"9x9x3 -> {fixed}").ok


def test_2d_aliases_still_work() -> None:
    assert cnncalc.analyze("8x8x3 -> conv2d(3, 3) -> maxpool2d(2)").ok
    assert "did you mean 'conv'" in str(cnncalc.analyze("8x8x3 -> conf(3, 3)").errors)


@pytest.mark.parametrize("doc,fix", [
    ("description: ResNet: a residual net\ninput: 8x8x3\nlayers: [relu]\n",
     'description: "ResNet: a residual net"'),
    ('name: a "b": c\ninput: 8x8x3\nlayers: [relu]\n', "name: 'a \"b\": c'"),
])
def test_mapping_values_error_suggests_quoting(doc: str, fix: str) -> None:
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(doc)
    p = info.value.problems[0]
    assert p.code == "S005" and p.location is not None and p.location.line == 1
    assert any(fix in s for s in p.suggestions), p.suggestions


def test_summary_and_check_report_the_same_syntax_error(tmp_path: Path) -> None:
    f = tmp_path / "net.yaml"
    f.write_text("input: 8x8x3\nlayers: [relu]\nexpect: {params: 0, params: 0}\n")
    code, out, err = run(str(f), "--format", "json")
    code2, out2, _ = run("check", "--format", "json", str(f))
    assert code == code2 == 2
    assert json.loads(out)["problems"] == json.loads(out2)["files"][0]["problems"]
    assert f"{f}:3:21: S006" in err


# -- the API reads the same way ------------------------------------------------------------------

class Endless:
    """A stream that never ends (``/dev/zero``) and records what was asked of it."""

    def __init__(self) -> None:
        self.asked = 0

    def read(self, n: int = -1) -> bytes:
        assert n >= 0, "read the whole stream"
        self.asked += n
        return b"\0" * n


def test_stream_read_asks_for_the_limit_plus_one_byte() -> None:
    stream = Endless()
    with pytest.raises(SpecSyntaxError) as info:
        source.read(source.classify("-"), stdin=stream)  # type: ignore[arg-type]
    assert stream.asked == MAX_SPEC_BYTES + 1 and info.value.problems[0].code == "S008"


def test_api_refuses_oversized_text_and_special_files(tmp_path: Path) -> None:
    assert problem("8x8x3" + " " * MAX_SPEC_BYTES)[0] == "S008"
    assert cnncalc.analyze("8x8x3" + " " * (MAX_SPEC_BYTES - 10)).ok
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "p")
        with pytest.raises(SpecSyntaxError) as info:
            cnncalc.analyze(tmp_path / "p")
        assert "FIFO" in info.value.problems[0].message


@FAST
@given(st.text(min_size=1, max_size=400), st.sampled_from(["->", "(", "[", "\n", "→", ")"]),
       st.integers(0, 400))
def test_text_with_a_spec_mark_is_never_probed(text: str, mark: str, at: int) -> None:
    argument = text[:at] + mark + text[at:]
    if argument.lower().endswith((".yaml", ".yml")) and "->" not in argument \
            and "\n" not in argument:
        return  # `net (v2).yaml` is a file name
    original = os.stat

    def forbidden(*args: object, **kw: object) -> os.stat_result:
        raise AssertionError(f"stat({args[0]!r})")
    os.stat = forbidden  # type: ignore[assignment]
    try:
        origin = source.classify(argument)
    finally:
        os.stat = original
    assert origin.kind == "text" or argument == "-"


def test_budgets_are_not_spent_twice_on_flow_lists() -> None:
    """A flow list's items are pre-scanned (for the S007 split) and then read: counted once."""
    doc = "input: 8x8x3\nlayers: [" + ", ".join(["relu"] * 60_000) + "]\n"
    assert len(cnncalc.analyze(doc).layers) == 60_000
    doc = "input: 8x8x3\nlayers: [" + ", ".join(["relu"] * 100_001) + "]\n"
    assert problem(doc)[0] == "S009"
    text = "relu" + " " * 700_000  # 0.7 MiB of text in a flow list: counted once, < 1 MiB
    assert cnncalc.analyze(f"input: 8x8x3\nlayers: ['{text}']\n").ok

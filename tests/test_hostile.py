"""Hostile input, through the real command: no traceback, no hang, no runaway memory, the
exit code of spec §7, valid JSON where JSON was asked for, no terminal control characters,
nothing written.

Every case runs through every command a user or a hook would point at it — ``summary`` in
each format, ``check`` in each format, ``explain``, ``export`` to PyTorch and to JSON — in a
forked child with a time limit and its peak RSS measured (``tests/sandbox.py``). The cases
are hand-written reproducers of each class in issue 8, and hypothesis-generated specs with a
fixed budget (derandomized, so CI is repeatable).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from sandbox import Run, Sandbox

from cnncalc.layers import LAYERS

MAX_MEMORY = 64 * 2**20
"""--max-memory for every summary: the forward pass must stay inside it."""
ANALYSIS_ALLOWANCE = 400 * 2**20
"""Peak RSS an analysis (no forward pass) may add to the forked baseline, for specs the limits
accept; the largest cases here (100,000 rows) need far less."""

CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
"""C0 controls but tab and newline, DEL, C1 controls and bidi overrides, as UTF-8 bytes."""

VGG16 = ("224x224x3 -> [conv(64, 3, p=1) -> relu] * 2 -> maxpool(2) -> [conv(128, 3, p=1) -> relu]"
         " * 2 -> maxpool(2) -> [conv(256, 3, p=1) -> relu] * 3 -> maxpool(2) -> [conv(512, 3, "
         "p=1) -> relu] * 3 -> maxpool(2) -> [conv(512, 3, p=1) -> relu] * 3 -> maxpool(2) -> "
         "fc(4096) -> relu -> dropout -> fc(4096) -> relu -> dropout -> fc(1000)")

BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)])
"""Billion laughs: 9⁹ scalars from nine lines (keys a..i, each nine aliases of the one before)."""


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    """A one-line spec, or YAML text (written to a ``.yaml`` file)."""
    exits: tuple[int, ...] = (0, 1, 2)
    """The exit statuses §7 allows for this case (summary and check agree on them)."""
    yaml: bool = False
    extra: tuple[str, ...] = ()
    """Extra options for summary (and check where they apply)."""
    seconds: float = 20.0


def yaml_case(id: str, text: str, exits: tuple[int, ...] = (0, 1, 2), **kw: object) -> Case:
    return Case(id, text, exits, yaml=True, **kw)  # type: ignore[arg-type]


CASES: list[Case] = [
    # 1. long one-line specs are specs, not file names
    Case("vgg16-one-line", VGG16, (0,)),
    Case("300-relus", "8x8x3 -> " + " -> ".join(["relu"] * 300), (0,)),
    Case("long-garbage", "a" * 5000, (2,)),
    Case("long-zoo-like", "resnet" * 100, (2,)),
    Case("long-bad-layer", "8x8x3 -> " + "x" * 4000 + "(1)", (1,)),
    # 2. no loop runs as long as a number in the spec
    Case("stride-1e300", "8x8x3 -> conv(8, 3, s=1e300)", (1,)),
    Case("adaptive-1e300", "8x8x3 -> adaptiveavgpool(1e300)", (1,)),
    Case("stride-1e5", "8x8x3 -> conv(8, 3, s=100000)", (0,)),  # lost 5 ≤ gap 99,997: a note
    Case("pool-stride-1e5", "8x8x3 -> maxpool(3, s=100000)", (0,)),
    Case("avgpool-stride-huge", "8x8x3 -> avgpool(2, s=2147483647)", (0,)),
    Case("dilation-1e5", "8x8x3 -> conv(8, 3, d=100000)", (1,)),
    Case("kernel-1e5", "8x8x3 -> conv(8, 100000)", (1,)),
    Case("kernel-pair-huge", "8x8x3 -> conv(8, 1x2147483647, s=1x2147483647)", (1,)),
    Case("adaptive-large-valid", "100000x100000x3 -> adaptiveavgpool(99999)", (0, 1)),
    Case("groups-huge-channels", "8x8x1000000 -> conv(999999, 1, g=7)", (1,)),
    Case("multiplier-1e6", "8x8x3 -> dwconv(3, m=1000000)", (0,)),
    Case("multiplier-huge", "8x8x3 -> dwconv(3, m=2147483647, p=1)", (0, 1)),
    Case("deconv-stride-1e5", "8x8x3 -> deconv(8, 3, s=100000)", (0, 1)),
    Case("deconv-kernel-1e5", "8x8x3 -> deconv(8, 100000, s=99999)", (0, 1)),
    Case("upsample-1e5", "8x8x3 -> upsample(100000) -> gap -> fc(10)", (0,)),
    Case("pad-1e5", "8x8x3 -> pad(100000) -> conv(8, 3, s=7)", (0, 1)),
    Case("lrn-1e8", "1x1x1 -> lrn(100000000)", (0,)),
    Case("lrn-huge-channels", "4x4x100000 -> lrn(99999)", (0,)),
    Case("maxpool-4000", "4000x4000x1 -> maxpool(4000)", (0,)),
    Case("avgpool-4000", "4000x4000x1 -> avgpool(4000)", (0,)),
    Case("identity-100k", "1x1x8 -> [identity] * 99999", (0,), seconds=30),
    Case("identity-past-row-limit", "1x1x8 -> [identity] * 100000", (2,)),
    Case("conv-on-1x1-20k", "1x1x8 -> [conv(8, 3, p=1)] * 20000", (0,), seconds=30),
    Case("relu-stack-30k", "8x8x8 -> [relu -> relu] * 15000", (0,), seconds=30),
    Case("nested-repeats-past-limit", "8x8x8 -> [[[relu] * 100] * 100] * 100", (2,)),
    Case("dropout-stack", "8 -> [dropout(0.95)] * 5000", (0,), seconds=30),
    Case("softmax-chain", "8 -> [softmax] * 5000", (0,), seconds=30),
    # 3. huge numbers are bounded with a clear error, never a traceback
    Case("filters-1e9999999", "8x8x3 -> conv(1e9999999, 3)", (1,)),
    Case("fc-1e200-twice", "8 -> fc(1e200) -> fc(1e200)", (1,)),
    Case("fc-1e3000", "8 -> fc(1e3000)", (1,)),
    Case("fc-5000-digits", "8 -> fc(" + "9" * 5000 + ")", (1,)),
    Case("empty-repeat-1e300", "8x8x3 -> [] * 1e300", (1, 2)),
    Case("relu-repeat-1e300", "8x8x3 -> [relu] * 1e300", (1, 2)),
    Case("repeat-1e9999999", "8x8x3 -> [relu] * 1e9999999", (1, 2)),
    Case("pool-stride-1e300", "8x8x3 -> maxpool(1, s=1e300)", (1,)),
    Case("input-1e400", "1e400x1e400x3 -> relu", (1, 2)),
    Case("input-many-digits", "9" * 400 + "x1x1 -> relu", (1,)),
    Case("padding-1e300", "8x8x3 -> conv(8, 3, p=1e300)", (1,)),
    Case("slope-1e400", "8x8x3 -> leakyrelu(1e400)", (0, 1)),
    Case("eps-1e-400", "8x8x3 -> bn(eps=1e-400)", (0, 1)),
    Case("alpha-huge", "8x8x3 -> elu(1e308)", (0, 1)),
    Case("dropout-near-one", "8x8x3 -> dropout(0.99999999999999999999999)", (1,)),
    Case("negative-filters", "8x8x3 -> conv(-1, 3)", (1,)),
    Case("zero-stride", "8x8x3 -> conv(8, 3, s=0)", (1,)),
    Case("exponent-suffix", "8x8x3 -> conv(1e3G, 1)", (1,)),
    Case("budget-1e9999999", "input: 8x8x3\nlayers: [relu]\nexpect:\n  max_params: 1e9999999\n",
         (1, 2), yaml=True),
    Case("budget-digits", "input: 8x8x3\nlayers: [relu]\nexpect:\n  macs: " + "9" * 5000 + "\n",
         (1, 2), yaml=True),
    Case("batch-400-digits", "8x8x3 -> relu", (2,), extra=("--batch", "9" * 400)),
    Case("batch-large", "8x8x3 -> relu", (0, 2), extra=("--batch", "1000000000000")),
    Case("max-memory-1e400", "8x8x3 -> relu", (2,), extra=("--max-memory", "1e400GB")),
    Case("depth-400-digits", "8x8x3 -> relu", (0, 2), extra=("--depth", "9" * 400)),
    # 4. YAML alias bombs
    yaml_case("bomb-in-layers", BOMB + "\ninput: 8x8x3\nlayers: *i\n", (2,)),
    yaml_case("bomb-in-name", BOMB + "\ninput: 8x8x3\nname: *i\nlayers: [relu]\n", (2,)),
    yaml_case("bomb-in-input", BOMB + "\ninput: *i\nlayers: [relu]\n", (2,)),
    yaml_case("bomb-in-description", BOMB + "\ninput: 8x8x3\ndescription: *i\nlayers: [relu]\n",
              (2,)),
    yaml_case("bomb-in-expect", BOMB + "\ninput: 8x8x3\nlayers: [relu]\nexpect:\n  output: *i\n",
              (2,)),
    yaml_case("bomb-as-key", BOMB + "\n? *i\n: 1\ninput: 8x8x3\nlayers: [relu]\n", (2,)),
    yaml_case("bomb-as-layer-key", BOMB + "\ninput: 8x8x3\nlayers:\n  - ? *i\n    : 1\n", (2,)),
    yaml_case("bomb-in-argument", BOMB + "\ninput: 8x8x3\nlayers:\n  - conv: {filters: *i}\n",
              (2,)),
    yaml_case("bomb-in-mode", BOMB + "\ninput: 8x8x3\nmode: *i\nlayers: [relu]\n", (2,)),
    yaml_case("complex-key", "input: 8x8x3\n? [a, b]\n: 1\nlayers: [relu]\n", (2,)),
    yaml_case("complex-key-in-expect", "input: 8x8x3\nlayers: [relu]\nexpect:\n  ? {a: 1}\n  : 1\n",
              (2,)),
    yaml_case("wide-aliases", "x: &x " + "y" * 10000 + "\ninput: 8x8x3\nlayers: ["
              + ", ".join(["*x"] * 2000) + "]\n", (1, 2)),
    yaml_case("flow-split-aliases", "x: &x 'conv(8,'\ninput: 8x8x3\nlayers: ["
              + ", ".join(["*x"] * 3000) + "]\n", (2,)),
    yaml_case("deep-nesting", "input: 8x8x3\nlayers: " + "[" * 500 + "relu" + "]" * 500 + "\n",
              (2,)),
    yaml_case("deep-residuals", "input: 8x8x3\nlayers:\n" + "".join(
        "  " * i + "- residual:\n" + "  " * i + "    body:\n" for i in range(100)) + "  " * 100
        + "  - relu\n", (1, 2)),
    # 5./6. what the argument is, and unreadable input
    Case("empty-spec", "", (2,)),
    Case("only-spaces", "   ", (2,)),
    Case("only-arrow", "->", (2,)),
    # 13./14. spec text that is code or terminal control
    yaml_case("name-is-code", 'name: "x\\"\\"\\"\\nimport os; os.system(\'echo pwned\')\\n\\"\\"\\""\n'
              "input: 8x8x3\nlayers: [relu]\n", (0,)),
    yaml_case("name-backslashes", 'name: "a\\\\b\\\\"\ndescription: "\\\\\\"\'\'\'"\n'
              "input: 8x8x3\nlayers: [relu]\n", (0,)),
    yaml_case("name-escape", 'name: "\\e[31mred\\e[0m\\a\\b\\u009b2J\\u202egnp.exe"\n'
              "description: \"\\e]0;title\\a\"\ninput: 8x8x3\nlayers: [relu]\n", (0,)),
    Case("layer-name-escape", "8x8x3 -> re\x1b[31mlu", (1, 2)),
    Case("layer-name-bidi", "8x8x3 -> \u202erelu", (1, 2)),
    Case("layer-name-nul", "8x8x3 -> relu\x00", (1, 2)),
    Case("argument-escape", "8x8x3 -> conv(8, 3, s=\x1b[2J)", (1, 2)),
    Case("lone-surrogate-name", "8x8x3 -> r\udcffelu", (1, 2)),
    yaml_case("inf-slope", "input: 8x8x3\nlayers:\n  - leakyrelu: .inf\n", (0, 1)),
    yaml_case("lrn-on-vector", "input: 64\nlayers:\n  - lrn\n", (0, 1)),
    # 15. filters never hide what makes the output undefined
    Case("ignore-A-unknown", "8x8x3 -> foo", (1,), extra=("--ignore", "A")),
    Case("select-L-unknown", "8x8x3 -> foo", (1,), extra=("--select", "L")),
    Case("ignore-G-mismatch", "8x8x3 -> residual([conv(8, 3)])", (1,), extra=("--ignore", "G")),
    Case("ignore-comma", "8x8x3 -> conv(10, 3) -> relu -> relu", (0,), extra=("--ignore", "L,G002")),
    # 16. duplicate expect keys
    yaml_case("duplicate-expect", "input: 8x8x3\nlayers: [relu]\nexpect:\n  params: 0\n  params: 1\n",
              (2,)),
    yaml_case("duplicate-argument-key", "input: 8x8x3\nlayers:\n  - conv: {filters: 8, filters: 9, "
              "kernel: 3}\n", (1, 2)),
    # 19. small ones
    Case("zoo-typo", "resnet5", (2,)),
    Case("conv3d", "8x8x3 -> conv3d(8, 3)", (1,)),
    yaml_case("colon-in-description", "input: 8x8x3\ndescription: a net: with colon\n"
              "layers: [relu]\n", (2,)),
    # 20. named tensors (spec §9): many names, many routes, deep scopes, wide joins
    Case("names-routes-5k", "8x8x4 -> " + " -> ".join(
        f"conv(4, 1) as n{i} -> @n{i}" for i in range(2500)), (0,), seconds=30),
    Case("unknown-names-2k", "8x8x4 -> conv(4, 1) as a -> " + " -> ".join(
        f"@b{i}" for i in range(2000)), (1,), seconds=30),
    Case("add-1000-names", "8x8x4 -> conv(4, 1) as a -> add(" + "@a, " * 999 + "@a)", (0,)),
    Case("concat-2000-routes", "8x8x4 -> conv(4, 1) as a -> concat(" + "@a, " * 1999 + "@a)",
         (0,)),
    Case("scopes-60-deep", "8x8x4 -> conv(4, 1) as a -> " + "[" * 60 + "@a -> conv(4, 1) as b"
         + "]" * 60 + " -> @a", (0,)),
    Case("routes-in-repeat", "8x8x4 -> conv(4, 1) as a -> [@a -> conv(4, 1) as b -> add(@b)] "
         "* 3000", (0,), seconds=30),
    # 14. unknowns (`?`): every command refuses them where they stand; solve is bounded
    Case("unknown-everywhere",
         "?x?x? -> conv(?, ?, s=?, p=?, d=?, g=?) -> maxpool(?, s=?, p=?) -> fc(?)", (1,)),
    Case("unknown-huge-range", "?x?x3 -> conv(8, 3, p=?)", (1,),
         extra=("--ignore", "L")),
    Case("unknown-repeated-50000", "8x8x3 -> [conv(8, 3, p=?)] * 50000", (1,), seconds=30),
    Case("unknown-name-is-code", "8x8x3 -> conv(8, 3, p=?__import__) -> conv(8, 3, s=?os)",
         (1,)),
    Case("unknown-control-characters", "8x8x3 -> conv(8, 3, p=?\x1b[2J)", (2,)),
    Case("unknown-in-expression", "8x8x3 -> conv(2*?, 3)", (2,)),
    Case("unknown-repeat-count", "8x8x3 -> relu * ?", (1,)),
    Case("unknown-huge-numbers", "2147483647x1x1 -> conv(?, 1, s=?) -> [conv(?, 1)] * 9", (1,)),
    yaml_case("unknown-yaml-lone", "input: 8x8x3\nlayers:\n  - conv: {filters: 8, kernel: ?}\n",
              (2,)),
    yaml_case("unknown-yaml-alias", "input: '?x8x3'\nlayers:\n  - &a conv(8, 3, p=?)\n"
              + "".join("  - *a\n" for _ in range(30)), (1,)),
    yaml_case("unknown-in-block", "input: 32x32x3\nblocks:\n  down(w): conv(w, 3, s=?, p=?)\n"
              "layers:\n  - down(?) * 12\n", (1,)),
]

SUMMARY_FORMATS = ("table", "json", "markdown", "csv")
CHECK_FORMATS = ("text", "json", "github")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path_factory.mktemp("sandbox"))
    yield box
    box.close()


@pytest.fixture(scope="module")
def baseline(sandbox: Sandbox) -> int:
    return sandbox.baseline_rss()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if ".capture" not in p.parts}


def assert_sane(run: Run, allowed: tuple[int, ...], peak_limit: int, seconds: float,
                json_out: bool = False) -> None:
    where = f"{run.args[:3]!r}"
    assert not run.timed_out, f"{where} hung (killed after {seconds} s)"
    assert not run.traceback, f"{where} crashed:\n{run.stderr.decode('utf-8', 'replace')[-2000:]}"
    assert run.exit_code in allowed, (
        f"{where} exited {run.exit_code}, expected {allowed}:\n"
        f"{run.stderr.decode('utf-8', 'replace')[-1500:]}")
    assert run.peak_rss <= peak_limit, f"{where} peaked at {run.peak_rss / 2**20:.0f} MiB"
    for stream in (run.stdout, run.stderr):
        stream.decode("utf-8")  # valid UTF-8, or this raises
        bad = CONTROL.search(stream)
        assert bad is None, f"{where} printed a control character {bad.group()!r}"
    if json_out:
        json.loads(run.stdout)


def filters_of(extra: tuple[str, ...]) -> tuple[str, ...]:
    """The --select/--ignore options among a case's extra options (check takes those too)."""
    out: list[str] = []
    for i, option in enumerate(extra[:-1]):
        if option in ("--ignore", "--select"):
            out += [option, extra[i + 1]]
    return tuple(out)


def commands(spec: str, path: Path, extra: tuple[str, ...]) -> Iterator[list[str]]:
    """Every command a case goes through."""
    mem = ("--max-memory", f"{MAX_MEMORY}")
    filters = filters_of(extra)
    for fmt in SUMMARY_FORMATS:
        yield ["summary", spec, "--format", fmt, *mem, *extra]
    for fmt in CHECK_FORMATS:
        yield ["check", str(path), "--format", fmt, *filters]
    yield ["check", str(path), "--verify", *mem, *filters]
    yield ["explain", spec]
    yield ["export", spec]
    yield ["export", spec, "--to", "json"]
    yield ["solve", spec, "--format", "json"]
    yield ["solve", spec, "--range", "1..1048576"]


def run_case(sandbox: Sandbox, baseline: int, case: Case, workdir: Path) -> list[Run]:
    path = workdir / ("spec.yaml" if case.yaml else "spec.txt")
    path.write_bytes(case.text.encode("utf-8", "surrogateescape"))
    spec = str(path) if case.yaml else case.text
    before = snapshot(workdir)
    summary_only = len(filters_of(case.extra)) < len(case.extra)
    runs = []
    for argv in commands(spec, path, case.extra):
        run = sandbox.run(*argv, cwd=workdir, timeout=case.seconds)
        allowed = case.exits if argv[0] == "summary" or not summary_only else (0, 1, 2)
        if argv[0] == "solve":  # solved (0), none works (1), too large or unreadable (2)
            allowed = (0, 1, 2)
        json_out = "json" in argv and (argv[0] == "check" or bool(run.stdout))
        assert_sane(run, allowed, baseline + MAX_MEMORY + ANALYSIS_ALLOWANCE, case.seconds,
                    json_out)
        if argv[0] == "export" and "--to" not in argv and run.exit_code == 0:
            assert_safe_module(run.stdout.decode("utf-8"))
        runs.append(run)
    assert snapshot(workdir) == before, "a command wrote into the working directory"
    return runs


def assert_safe_module(source: str) -> None:
    """Exported PyTorch source parses, and its top level only imports, defines and assigns:
    nothing from the spec can run on import."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.If):  # `if __name__ == "__main__":`
            test = node.test
            assert (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
                    and test.left.id == "__name__"), ast.dump(test)
            continue
        assert isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef
                          | ast.Assign | ast.AnnAssign), ast.dump(node)[:200]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hand_written(sandbox: Sandbox, baseline: int, case: Case, tmp_path: Path) -> None:
    run_case(sandbox, baseline, case, tmp_path)


# --------------------------------------------------------------------------- files and streams

def test_fifo_is_not_read(sandbox: Sandbox, tmp_path: Path) -> None:
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    good = tmp_path / "good.yaml"
    good.write_text("input: 8x8x3\nlayers: [relu]\n")
    run = sandbox.run("check", str(fifo), str(good), cwd=tmp_path, timeout=10)
    assert_sane(run, (2,), 2**31, 10)
    assert b"S008" in run.stdout + run.stderr


@pytest.mark.parametrize("source", ["/dev/zero", "/dev/urandom"])
def test_endless_stdin(sandbox: Sandbox, baseline: int, source: str, tmp_path: Path) -> None:
    run = sandbox.run("-", stdin=Path(source), cwd=tmp_path, timeout=10)
    assert_sane(run, (2,), baseline + 64 * 2**20, 10)


def test_huge_sparse_file(sandbox: Sandbox, baseline: int, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(8 * 2**30)
    for argv in (["check", str(big)], ["summary", str(big)], ["explain", str(big)]):
        run = sandbox.run(*argv, cwd=tmp_path, timeout=10)
        assert_sane(run, (2,), baseline + 64 * 2**20, 10)
        assert b"S008" in run.stdout + run.stderr


def test_directory_and_missing(sandbox: Sandbox, tmp_path: Path) -> None:
    for argv in (["check", str(tmp_path)], ["check", str(tmp_path / "no.yaml")],
                 ["summary", str(tmp_path / "no.yaml")], [""], ["summary", ""]):
        run = sandbox.run(*argv, cwd=tmp_path, timeout=10)
        assert_sane(run, (2,), 2**31, 10)


def test_empty_spec_is_not_a_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    run = sandbox.run("", cwd=tmp_path, timeout=10)
    assert run.exit_code == 2
    assert b"directory" not in run.stderr


def test_dash_spec_needs_double_dash(sandbox: Sandbox, tmp_path: Path) -> None:
    run = sandbox.run("-8x8x3 -> relu", cwd=tmp_path, timeout=10)
    assert_sane(run, (2,), 2**31, 10)
    assert b"--" in run.stderr
    run = sandbox.run("summary", "--", "-8x8x3 -> relu", cwd=tmp_path, timeout=10)
    assert_sane(run, (1, 2), 2**31, 10)


def test_github_annotations_escape_file_names(sandbox: Sandbox, tmp_path: Path) -> None:
    name = tmp_path / "a,b:c%d.yaml"
    name.write_text("input: 8x8x3\nlayers:\n  - foo\n")
    run = sandbox.run("check", "--format", "github", str(name), cwd=tmp_path, timeout=10)
    assert_sane(run, (1,), 2**31, 10)
    line = run.stdout.decode().splitlines()[0]
    props = line.split("::")[1]
    file_prop = props.split(" ", 1)[1].split(",line=")[0]
    assert file_prop.startswith("file=") and "," not in file_prop and ":" not in file_prop[5:]
    assert "%2C" in file_prop and "%3A" in file_prop and "%25" in file_prop


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "latin-1"])
def test_narrow_stdout_encoding(sandbox: Sandbox, encoding: str, tmp_path: Path) -> None:
    for argv in (["32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)"],
                 ["explain", "8x8x3 -> conv(8, 3, s=2)"], ["resnet18", "--format", "markdown"]):
        run = sandbox.run(*argv, cwd=tmp_path, timeout=20, encoding=encoding)
        assert not run.traceback, run.stderr.decode("utf-8", "replace")[-1500:]
        assert run.exit_code in (0, 1)


# --------------------------------------------------------------------------- generated

HOSTILE_NUMBERS = ["0", "1", "2", "3", "-1", "2.5", "1e300", "1e9999999", "1e-400", "100000",
                   "2147483647", "2147483648", "9" * 60, "1.5G", "0x3", "3x0", "1x99999",
                   "same", "valid", "true", "nan", "inf", "-0", "1e3G", "\x1b[0m", "?", "?n",
                   "?x?"]
KINDS = sorted({kind.name for kind in LAYERS.values()
                if kind.name not in ("repeat", "residual", "concat")})
KEYS = ["s", "p", "d", "g", "m", "op", "k", "ceil", "bias", "eps", "affine", "alpha", "beta"]


@st.composite
def hostile_layer(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(KINDS))
    args = draw(st.lists(st.sampled_from(HOSTILE_NUMBERS), max_size=3))
    keys = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(HOSTILE_NUMBERS)),
                         max_size=2))
    inner = ", ".join([*args, *(f"{k}={v}" for k, v in keys)])
    layer = f"{kind}({inner})" if inner else kind
    if draw(st.booleans()) and draw(st.booleans()):
        layer = f"[{layer}] * {draw(st.sampled_from(HOSTILE_NUMBERS))}"
    return layer


@st.composite
def hostile_spec(draw: st.DrawFn) -> str:
    inp = draw(st.sampled_from(["8x8x3", "1x1x1", "224x224x3", "64", "100000x1x1",
                                "2147483647x1x1", "1e300x1x1", "3x224x224"]))
    layers = draw(st.lists(hostile_layer(), min_size=1, max_size=4))
    if draw(st.booleans()):
        body = " -> ".join(layers[:2])
        layers = [f"residual([{body}])", *layers[2:]]
    return " -> ".join([inp, *layers])


FAST = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FAST
@given(spec=hostile_spec())
def test_generated_specs(sandbox: Sandbox, baseline: int, spec: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.txt"
    path.write_text(spec, encoding="utf-8")
    limit = baseline + MAX_MEMORY + ANALYSIS_ALLOWANCE
    for argv, json_out in (
            (["summary", spec, "--format", "json", "--max-memory", str(MAX_MEMORY)], True),
            (["check", str(path)], False), (["export", spec], False),
            (["solve", spec, "--format", "json"], True)):
        run = sandbox.run(*argv, cwd=tmp_path, timeout=20)
        assert_sane(run, (0, 1, 2), limit, 20, json_out)
        if argv[0] == "export" and run.exit_code == 0:
            assert_safe_module(run.stdout.decode("utf-8"))


NAMES = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def yaml_quoted(text: str) -> str:
    """A YAML double-quoted scalar holding exactly ``text`` (every character outside
    printable ASCII as a \\u or \\U escape, which YAML reads back as that character)."""
    out = []
    for ch in text:
        n = ord(ch)
        if 0x20 <= n < 0x7F and ch not in '"\\':
            out.append(ch)
        else:
            out.append(f"\\u{n:04x}" if n <= 0xFFFF else f"\\U{n:08x}")
    return '"' + "".join(out) + '"'


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=NAMES, description=NAMES)
def test_generated_names(sandbox: Sandbox, name: str, description: str, tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(f"name: {yaml_quoted(name)}\ndescription: {yaml_quoted(description)}\n"
                    "input: 8x8x3\nlayers:\n  - conv(8, 3)\n  - relu\n", encoding="utf-8")
    for argv, json_out in ((["summary", str(path), "--no-verify"], False),
                           (["summary", str(path), "--no-verify", "--format", "markdown"], False),
                           (["summary", str(path), "--no-verify", "--format", "json"], True),
                           (["export", str(path)], False)):
        run = sandbox.run(*argv, cwd=tmp_path, timeout=20)
        assert_sane(run, (0,), 2**31, 20, json_out)
        if argv[0] == "export":
            assert_safe_module(run.stdout.decode("utf-8"))


YAML_PIECES = ["&a", "*a", "&b", "*b", "[", "]", "{", "}", ":", ",", "- ", "\n", "  ", "? ",
               "relu", "conv(8, 3)", "8x8x3", "input", "layers", "expect", "name", "'", '"',
               "!!python/object:os.system", "!!str", "|", ">", "#", "residual", "body"]


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(YAML_PIECES), max_size=40))
def test_generated_yaml(sandbox: Sandbox, pieces: list[str], tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("input: 8x8x3\nlayers:\n  - " + "".join(pieces) + "\n", encoding="utf-8")
    run = sandbox.run("check", str(path), "--format", "json", cwd=tmp_path, timeout=20)
    assert_sane(run, (0, 1, 2), 2**31, 20, True)

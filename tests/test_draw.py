"""``cnncalc draw`` (spec §11): the SVG is standalone, safe and stable, a real renderer
(resvg) draws every zoo network, no two labels and no two boxes overlap (from the layout's
own geometry), DOT and Mermaid are well formed, and the CLI keeps its exit codes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pytest

import cnncalc
from cnncalc import zoo
from cnncalc.diagnostics import Severity
from cnncalc.output.draw import draw
from cnncalc.output.draw.geometry import Box, Glyph, Label, Layout
from cnncalc.output.draw.graph import build, safe
from cnncalc.output.draw.layout import MAX_WIDTH, layout
from cnncalc.output.draw.svg import FONT
from cnncalc.output.formats import elide
from cnncalc.spec.oneline import MAX_NAME

ROOT = Path(__file__).resolve().parent.parent
CNNCALC = str(Path(sys.executable).with_name("cnncalc"))
DEPTHS = {None, 1, 2}


def zoo_text(name: str) -> str:
    return (ROOT / "cnncalc" / "zoo" / f"{name}.yaml").read_text(encoding="utf-8")


def geometry(spec: str, depth: int | None = None) -> Layout:
    return layout(build(cnncalc.analyze(spec), depth))


def overlaps(rects: Iterable[tuple[tuple[int, int, int, int], object]]
             ) -> list[tuple[object, object]]:
    """Every pair of rectangles sharing some area (a sweep along x: near-linear)."""
    items = sorted(rects, key=lambda r: r[0][0])
    found, active = [], []
    for (x0, y0, x1, y1), what in items:
        active = [a for a in active if a[0][2] > x0]
        for (ax0, ay0, _ax1, ay1), other in active:
            if ay0 < y1 and y0 < ay1 and ax0 < x1:
                found.append((what, other))
        active.append(((x0, y0, x1, y1), what))
    return found


def assert_no_overlap(lay: Layout) -> None:
    shapes: list[Box | Glyph] = [*lay.boxes, *lay.glyphs]
    assert not overlaps((s.bounds(), s) for s in shapes), "two boxes overlap"
    assert not overlaps((t.bounds(), t) for t in lay.labels), "two labels overlap"
    things: list[Box | Glyph | Label] = [*shapes, *lay.labels]
    mixed = overlaps((t.bounds(), t) for t in things)
    assert not [(a, b) for a, b in mixed if isinstance(a, Label) != isinstance(b, Label)], \
        "a label overlaps a box"
    for t in lay.labels:
        x0, y0, x1, y1 = t.bounds()
        assert 0 <= x0 and x1 <= lay.width and 0 <= y0 and y1 <= lay.height, t


def assert_safe_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        assert tag not in ("script", "foreignObject", "image", "a", "use", "style"), tag
        for name, value in el.attrib.items():
            assert not name.rsplit("}", 1)[-1].lower().startswith("on"), name
            assert "href" not in name.lower(), name
            assert "url(" not in value and "javascript:" not in value.lower(), value
    assert root.get("font-family") == FONT and FONT.endswith("sans-serif")
    return root


def test_overlap_checker_can_fail() -> None:
    a, b = Label(0, 0, 10, 10, "a", 10, "size"), Label(5, 5, 10, 10, "b", 10, "size")
    assert overlaps([(a.bounds(), a), (b.bounds(), b)]) == [(b, a)]
    c = Label(10, 0, 10, 10, "c", 10, "size")  # touching is not overlapping
    assert overlaps([(a.bounds(), a), (c.bounds(), c)]) == []


# --------------------------------------------------------------------------- every zoo network

ZOO_CASES = [(name, d) for name in zoo.names() for d in sorted(DEPTHS, key=lambda d: d or 0)]


@pytest.mark.parametrize(("name", "depth"), ZOO_CASES)
def test_zoo_draws(name: str, depth: int | None) -> None:
    resvg = pytest.importorskip("resvg_py")
    report = cnncalc.analyze(zoo_text(name))
    lay = layout(build(report, depth))
    assert_no_overlap(lay)
    svg = draw(report, depth=depth)
    assert_safe_svg(svg)
    png = bytes(resvg.svg_to_bytes(svg_string=svg))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert draw(report, depth=depth) == svg


def test_same_bytes_in_fresh_processes() -> None:
    """No hash order, no time, no memory address reaches the picture."""
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([CNNCALC, "draw", "googlenet", "--depth", "2"], capture_output=True,
                             env=env, check=True)
        outs.add(run.stdout)
    assert len(outs) == 1


def test_lecture_networks_read_in_one_row() -> None:
    """LeNet-5, the lecture's example and VGG-16 left to right: no row wraps."""
    for name in ("lenet5", "cs231n", "vgg16"):
        lay = geometry(zoo_text(name))
        assert not [a for a in lay.arrows if len(a.points) == 6], name  # a row's wrap
        assert lay.width <= MAX_WIDTH + 100


def test_long_networks_wrap_into_rows() -> None:
    lay = geometry(zoo_text("densenet121"))
    assert lay.width <= MAX_WIDTH + 400
    assert len([a for a in lay.arrows if len(a.points) == 6]) >= 2
    assert lay.height > 3 * 200


def test_depth_folds_blocks_into_one_box() -> None:
    report = cnncalc.analyze(zoo_text("resnet50"))
    folded = layout(build(report, 1))
    assert not folded.glyphs  # every residual is one box at depth 1
    blocks = [r for r in report.layers if r.depth == 1 and r.is_block]
    # bottleneck(64) * 3, then per stage a strided call and a repeat: 1 + 2 + 2 + 2 blocks
    assert sum(b.style == "folded" for b in folded.boxes) == len(blocks) == 7
    full = layout(build(report))
    assert len(full.glyphs) == 16  # one ⊕ per bottleneck
    assert {g.text for g in full.glyphs} == {"⊕"}


def test_sizes_follow_a_log_scale() -> None:
    """H up, W into the page, C along the flow; bigger is bigger, within clamps."""
    lay = geometry("224x224x3 -> conv(64, 3, p=1) -> maxpool(2) -> conv(256, 1) -> gap -> "
                   "flatten -> fc(10)")
    image, wide, pooled, deep, gap, flat, out = lay.boxes
    assert image.h > pooled.h and image.dx > pooled.dx and image.w < wide.w < deep.w
    assert gap.h < pooled.h and flat.dx == flat.dy == 0 and flat.w < image.w
    assert out.h < flat.h
    clip = geometry("16x112x112x3 -> relu").boxes[0]
    assert clip.copies == 3
    audio = geometry("16000x1 -> conv(8, 3)").boxes[0]
    assert audio.h > 5 * audio.w and audio.dy <= 2


def test_blocks_and_routes() -> None:
    spec = ("32x32x8 -> conv(8, 3, p=1) as a -> residual([conv(8, 3, p=1) -> bn]) -> relu -> "
            "concat([], @a, [conv(4, 1)]) -> gate([gap -> conv(20, 1) -> sigmoid]) -> "
            "split([], [conv(10, 1)]) -> conv(8, 1) -> add(@a)")
    lay = geometry(spec)
    assert [g.text for g in lay.glyphs] == ["⊕", "concat", "⊗", "concat", "⊕"]
    assert sum(a.route for a in lay.arrows) == 2
    assert sum(b.style == "route" for b in lay.boxes) == 2
    assert_no_overlap(lay)
    captions = [t.text for t in lay.labels if t.role == "caption"]
    assert "conv 3×3, 8 as a" in captions and "relu" in captions and "@a" in captions


def test_problems_are_marked_on_their_layer() -> None:
    spec = "8x8x3 -> conv(4, 3, s=2) -> relu -> fc(10)"
    lay = geometry(spec)
    conv = lay.boxes[1]
    assert conv.severity is Severity.ERROR
    codes = [t for t in lay.labels if t.role == "code"]
    assert [(t.text, t.severity) for t in codes] == [("G001", Severity.ERROR)]
    assert codes[0].y + codes[0].h <= conv.bounds()[1]  # above its box
    lenient = layout(build(cnncalc.analyze(spec, mode="lenient")))
    assert lenient.boxes[1].severity is Severity.WARNING
    svg = draw(cnncalc.analyze(spec))
    assert 'stroke="#c62828"' in svg
    folded = layout(build(cnncalc.analyze("8x8x3 -> residual([conv(4, 3, s=2)])"), 1))
    assert [t.text for t in folded.labels if t.role == "code"] == ["G001 G007"]


# --------------------------------------------------------------------------- random and hostile

def test_random_specs_from_the_differential_generator() -> None:
    pytest.importorskip("torch")
    from tests.test_against_torch import generate

    for seed in range(40):
        spec = generate(seed).spec
        report = cnncalc.analyze(spec)
        for depth in (None, 1):
            lay = layout(build(report, depth))
            assert_no_overlap(lay)
        assert_safe_svg(draw(report))


HOSTILE = ['"quoted" <b>&amp;</b> \' &', "\u202egnp.exe", "tab\there\x1b[2Jnew\nline", "x" * 300,
           "\U0001f600 wide 漢字 names", "]]> <!-- --> <?xml?>", "\ufffe\uffff"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names(name: str) -> None:
    quoted = '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                           for c in name) + '"'
    longest = "n" * MAX_NAME  # the longest tensor name the grammar takes
    spec = (f"name: {quoted}\ninput: 16x16x3\nlayers:\n  - conv(8, 3) as {longest}\n"
            f"  - relu\n  - concat([], @{longest})\n")
    report = cnncalc.analyze(spec)
    for fmt in ("svg", "dot", "mermaid"):
        text = draw(report, fmt)
        assert "\u202e" not in text and "\x1b" not in text and "\ufffe" not in text
    svg = draw(report)
    root = assert_safe_svg(svg)
    title = next(el for el in root.iter() if el.get("font-weight") == "bold")
    shown = safe(name)  # control and bidi characters as visible escapes, then elided
    assert title.text == (shown if len(shown) <= 160 else elide(shown, 160))
    assert_no_overlap(layout(build(report)))
    check_mermaid(draw(report, "mermaid"))


def test_ten_thousand_rows_draw_within_the_analysis_budget() -> None:
    spec = "64x64x8 -> " + " -> ".join(["conv(8, 3, p=1) -> relu"] * 5000)
    start = time.perf_counter()
    report = cnncalc.analyze(spec)
    analysed = time.perf_counter() - start
    assert len(report.layers) == 10_000
    start = time.perf_counter()
    svg = draw(report)
    drawn = time.perf_counter() - start
    assert drawn < max(1.0, 1.5 * analysed), (drawn, analysed)
    lay = geometry("64x64x8 -> " + " -> ".join(["conv(8, 3, p=1) -> relu"] * 500))
    assert lay.width <= MAX_WIDTH + 200
    assert svg.count("<rect") >= 5000


def test_a_block_wider_than_a_row_is_folded() -> None:
    body = " -> ".join(["conv(8, 3, p=1)"] * 1999 + ["conv(8, 3, s=2)"])
    spec = f"64x64x8 -> residual([{body}]) -> relu -> residual([conv(8, 3, p=1)])"
    start = time.perf_counter()
    report = cnncalc.analyze(spec)
    analysed = time.perf_counter() - start
    start = time.perf_counter()
    lay = layout(build(report))
    assert time.perf_counter() - start < max(1.0, 1.5 * analysed)
    assert lay.width <= MAX_WIDTH + 200
    box = lay.boxes[1]  # no shape (G007: the body changed it), so drawn as unknown
    assert "(folded: wider than a row)" in box.tip and len(lay.boxes) == 4
    assert box.severity is Severity.ERROR  # the G001 inside is still marked, with G007
    assert [t.text for t in lay.labels if t.role == "code"] == ["G001 G007"]
    assert [g.text for g in lay.glyphs] == ["⊕"]  # the narrow block is still drawn open
    assert_no_overlap(lay)
    fine = layout(build(cnncalc.analyze(spec.replace("s=2", "p=1"))))
    assert [b.style for b in fine.boxes].count("folded") == 1 and fine.width <= MAX_WIDTH + 200


# --------------------------------------------------------------------------- DOT and Mermaid

NODE = re.compile(r'  ([vj]\d+)(\["[^"]*"\]|\(\("[^"]*"\)\))')
EDGE = re.compile(r'  ([vj]\d+) (-->|-\.->)(\|"[^"]*"\|)? ([vj]\d+)')
CLASS = re.compile(r"  (classDef [a-z]+ [a-z0-9:#,-]+|class [vj]\d+(,[vj]\d+)* [a-z]+)")


def check_mermaid(text: str) -> None:
    """A syntax check of the subset the writer uses: a header, node definitions with quoted
    labels holding no raw quote, edges between defined nodes, class lines."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    defined: set[str] = set()
    for line in lines[1:]:
        if m := NODE.fullmatch(line):
            assert m.group(1) not in defined
            defined.add(m.group(1))
        elif m := EDGE.fullmatch(line):
            assert m.group(1) in defined and m.group(4) in defined, line
        else:
            assert CLASS.fullmatch(line), line
        for label in re.findall(r'"([^"]*)"', line):
            assert not re.search(r"[<>&`|\\]", label.replace("<br/>", "")), label
            assert not re.search(r"#(?!quot;|lt;|gt;|amp;|35;|92;|124;|96;)", label), label


def test_mermaid_checker_can_fail() -> None:
    for bad in ('flowchart LR\n  v0["a"b"]\n', 'flowchart LR\n  v0["a"]\n  v0 --> v1\n',
                'graph\n  v0["a"]\n', 'flowchart LR\n  v0["<script>"]\n'):
        with pytest.raises(AssertionError):
            check_mermaid(bad)


@pytest.mark.parametrize("name", ["cs231n", "resnet18", "googlenet", "shufflenet_v2_x0_5"])
def test_mermaid_is_well_formed(name: str) -> None:
    report = cnncalc.analyze(zoo_text(name))
    for depth in (None, 1, 2):
        check_mermaid(draw(report, "mermaid", depth))


def test_mermaid_marks_problems() -> None:
    text = draw(cnncalc.analyze("8x8x3 -> conv(4, 3, s=2) -> relu"), "mermaid")
    check_mermaid(text)
    assert "  class v1 error" in text and 'v1["3×3×4<br/>G001"]' in text


@pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                    reason="Graphviz `dot` is not installed here (.ci/run installs it; in CI "
                    "its absence fails)")
def test_dot_is_accepted_by_graphviz() -> None:  # pragma: no cover - needs dot
    for name in zoo.names():
        for depth in (None, 2):
            text = draw(cnncalc.analyze(zoo_text(name)), "dot", depth)
            run = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True,
                                 check=False)
            assert run.returncode == 0, (name, run.stderr)


def test_dot_structure() -> None:
    text = draw(cnncalc.analyze(zoo_text("resnet18")), "dot")
    assert text.startswith("digraph cnncalc {\n") and text.endswith("}\n")
    assert text.count("{") == text.count("}") == 1
    nodes = set(re.findall(r"^  ([vj]\d+) \[", text, re.M))
    for a, b in re.findall(r"^  ([vj]\d+) -> ([vj]\d+)", text, re.M):
        assert a in nodes and b in nodes
    for label in re.findall(r'label="((?:[^"\\]|\\.)*)"', text):
        assert "\n" not in label


# --------------------------------------------------------------------------- the command

def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CNNCALC, *args], capture_output=True, text=True, input=stdin,
                          check=False, encoding="utf-8")


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    ok = run("draw", "8x8x3 -> conv(4, 3) -> relu")
    assert ok.returncode == 0 and ok.stderr == "" and ok.stdout.startswith("<?xml")
    bad = run("draw", "8x8x3 -> conv(4, 3, s=2)")
    assert bad.returncode == 1 and "G001" in bad.stdout and bad.stderr == ""
    syntax = run("draw", "8x8x3 -> conv(4, 3")
    assert syntax.returncode == 2 and syntax.stdout == "" and "S003" in syntax.stderr
    out = tmp_path / "net.svg"
    wrote = run("draw", "lenet5", "-o", str(out), "--depth", "1")
    assert wrote.returncode == 0 and wrote.stdout == ""
    assert out.read_text(encoding="utf-8") == draw(cnncalc.analyze(zoo_text("lenet5")), depth=1)
    nowhere = run("draw", "lenet5", "-o", str(tmp_path / "missing" / "x.svg"))
    assert nowhere.returncode == 2 and "cannot write the picture" in nowhere.stderr
    assert run("draw", "lenet5", "--format", "png").returncode == 2
    mermaid = run("draw", "resnet18", "--format", "mermaid", "--depth", "1")
    assert mermaid.returncode == 0
    check_mermaid(mermaid.stdout)
    piped = run("draw", "-", "--format", "dot", stdin="8x8x3 -> relu")
    assert piped.returncode == 0 and piped.stdout.startswith("digraph")


def test_cli_draw_never_imports_numpy() -> None:
    probe = ("import sys, runpy; sys.argv = ['cnncalc', 'draw', 'resnet50', '--depth', '2']\n"
             "try:\n    runpy.run_module('cnncalc', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('numpy' in sys.modules, 'rich' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert proc.stderr.strip().splitlines()[-1] == "False False"


# --------------------------------------------------------------------------- README pictures

DOCS = {  # file in docs/ -> the command's arguments after `cnncalc draw`
    "lenet5.svg": ["lenet5"],
    "resnet50-depth1.svg": ["resnet50", "--depth", "1"],
    "inception.svg": ["googlenet", "--depth", "2"],
}


@pytest.mark.parametrize("name", sorted(DOCS))
def test_readme_pictures_are_up_to_date(name: str) -> None:
    """Regenerate with: cnncalc draw ARGS -o docs/NAME (the README shows each command)."""
    args = DOCS[name]
    proc = run("draw", *args)
    assert proc.returncode == 0
    assert (ROOT / "docs" / name).read_text(encoding="utf-8") == proc.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"cnncalc draw {' '.join(args)} -o docs/{name}" in readme
    assert f"(docs/{name})" in readme

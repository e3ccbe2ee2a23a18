"""``cnncalc sizes`` / :func:`cnncalc.input_sizes`: every accepted input size, exactly.

The reference is the definition itself, by brute force: the spec with that input size walked
by :func:`cnncalc.analysis.walk` in the mode, ``.ok``. Hand arithmetic for the lecture cases.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

import cnncalc
from cnncalc.analysis import walk
from cnncalc.design import pieces
from cnncalc.design.compact import Progression, compact
from cnncalc.design.sizes import InputSizes, input_sizes
from cnncalc.diagnostics import without_fixes
from cnncalc.spec.build import Spec
from cnncalc.spec.parse import read_spec

from .helpers import run
from .test_against_torch import generate

ZOO = Path(cnncalc.__file__).parent / "zoo"
LECTURE = "32x32x3 -> conv(8, 3) -> maxpool(2)"


def spec_of(text: str) -> Spec:
    """A zoo network by name, or the spec's text."""
    path = ZOO / f"{text}.yaml"
    return read_spec(path.read_text() if text.isidentifier() and path.exists() else text)[0]


def brute(spec: Spec, mode: str, axis: int, lo: int, hi: int) -> set[int]:
    """The definition, one size at a time."""
    inp = spec.input
    assert inp is not None
    out = set()
    with without_fixes():
        for n in range(lo, hi + 1):
            if walk(replace(spec, input=(*inp[:axis], n, *inp[axis + 1:])), mode).ok:
                out.add(n)
    return out


def listed(result: InputSizes, axis: int) -> set[int]:
    return {n for p in result.axes[axis].accepted for n in range(p.first, p.last + 1, p.step)}


def assert_exact(spec: Spec, mode: str, lo: int, hi: int, expect: bool = True) -> InputSizes:
    if not expect:
        spec = replace(spec, expect=())
    result = input_sizes(spec, mode, range=(lo, hi))  # type: ignore[arg-type]
    assert spec.input is not None
    for axis in range(len(spec.input) - 1):
        want = brute(spec, mode, axis, lo, hi)
        assert listed(result, axis) == want, (mode, axis, sorted(listed(result, axis) ^ want))
        assert result.axes[axis].count == len(want)
        assert result.axes[axis].smallest == min(want, default=None)
    return result


# --------------------------------------------------------------------------- brute force

@pytest.mark.parametrize("chunk", range(12))
def test_random_specs_match_brute_force(chunk: int) -> None:
    """≥ 200 random specs of the torch differential generator (1-D, 2-D, 3-D, blocks, named
    skips, user blocks), each in one mode, on sizes 1..40."""
    for seed in range(chunk * 22, chunk * 22 + 22):
        spec = spec_of(generate(seed).spec)
        assert spec.input is not None
        if len(spec.input) == 1:
            continue  # a flat vector: no spatial axes (tested below)
        assert_exact(spec, ("default", "strict", "lenient")[seed % 3], 1, 40)


ZOO_NAMES = sorted(p.stem for p in ZOO.glob("*.yaml"))


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_zoo_matches_brute_force(name: str) -> None:
    """Every zoo network on 1..160, its architecture alone (the `expect:` block pins the
    MACs, so the size) in default mode, and with its `expect:` block in strict mode."""
    spec = spec_of(name)
    assert_exact(spec, "default", 1, 160, expect=False)
    assert_exact(spec, "strict", 1, 48)


# --------------------------------------------------------------------------- by hand

def test_lecture_conv_then_pool_by_hand() -> None:
    """conv 3 (no padding) gives n − 2; maxpool(2) needs it even (else a row is lost: G001,
    an error in default and strict mode) and ≥ 2: n = 4, 6, 8, …; lenient: every n ≥ 4."""
    for mode in ("default", "strict"):
        r = input_sizes(LECTURE, mode, range=(1, 1024))
        assert [a.accepted for a in r.axes] == [(Progression(4, 2, 511),)] * 2
        assert r.smallest == (4, 4, 3)
    r = input_sizes(LECTURE, "lenient", range=(1, 1024))
    assert r.axes[0].accepted == (Progression(4, 1, 1021),) and r.axes[0].count == 1021


def test_unet_multiples_of_16() -> None:
    """Four 2×2 pools on padded 3×3 convs: every pool needs an even size, and each skip the
    up-conv's exact size, so n = 16k; the zoo's `expect:` pins 256."""
    for mode in ("default", "strict", "lenient"):
        r = input_sizes(ZOO / "unet.yaml", mode, range=(1, 1024), expect=False)
        assert [a.accepted for a in r.axes] == [(Progression(16, 16, 64),)] * 2
    r = input_sizes(ZOO / "unet.yaml", range=(1, 1024))
    assert [a.accepted for a in r.axes] == [(Progression(256, 1, 1),)] * 2


def test_resnet50_smallest() -> None:
    """The stem conv 7/2 with padding 3 fits any n ≥ 1 (n + 6 ≥ 7) and every later window
    is padded to fit a 1×1 map: 1 is the smallest. With the zoo's `expect: macs`, only
    sizes giving the stem's 112 = ⌊(n + 6 − 7)/2⌋ + 1: n = 223, 224."""
    r = input_sizes(ZOO / "resnet50.yaml", expect=False)
    assert r.smallest == (1, 1, 3) and r.axes[0].accepted == (Progression(1, 1, 1024),)
    r = input_sizes(ZOO / "resnet50.yaml")
    assert [a.accepted for a in r.axes] == [(Progression(223, 1, 2),)] * 2
    assert r.smallest == (223, 223, 3)


def test_resnet50_500x375() -> None:
    r = input_sizes(ZOO / "resnet50.yaml", size=(500, 375))
    assert r.size is not None and not r.size.ok and r.size.problem is not None
    assert r.size.problem.code == "X002"  # the pinned MACs
    assert r.size.suggestion == (224, 224, 3)
    assert walk(replace(spec_of("resnet50"), input=r.size.suggestion)).ok
    r = input_sizes(ZOO / "resnet50.yaml", size=(500, 375), expect=False)
    assert r.size is not None and r.size.ok and r.ok
    code, out, err = run("sizes", "resnet50", "--size", "500x375", "--strict", "--no-expect")
    assert code == 1 and err == ""
    assert "error G002 (layer 1, line 11:5): (500 − 7 + 2·3)/2 + 1 = 250.5" in out


def test_size_nearest_sizes() -> None:
    """conv 3 then maxpool 2 in strict mode: 31 fails (29 is odd: the pool never reads a
    row, G001); 30 and 32 are the nearest on that axis; the other axis' 16 is fine."""
    r = input_sizes(LECTURE, "strict", size=(31, 16))
    assert r.size is not None and not r.size.ok
    assert [(n.axis, n.below, n.above) for n in r.size.nearest] == [("height", 30, 32)]
    assert r.size.suggestion in ((30, 16, 3), (32, 16, 3))
    assert r.size.problem is not None and r.size.problem.code == "G001"
    code, out, _ = run("sizes", LECTURE, "--strict", "--size", "31x16")
    assert code == 1 and "height 31: nearest accepted 30 below, 32 above" in out
    assert run("sizes", LECTURE, "--size", "30")[0] == 0


# --------------------------------------------------------------------------- output

def test_text_output() -> None:
    code, out, err = run("sizes", LECTURE)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "input 32×32×3, default mode, sizes 1..1024",
        "height: 4, 6, 8, … (multiples of 2) from 4 to 1024  (511 sizes, smallest 4)",
        "width:  4, 6, 8, … (multiples of 2) from 4 to 1024  (511 sizes, smallest 4)",
        "smallest input: 4×4×3"]
    code, out, _ = run("sizes", "9x9x1 -> conv(1, 3, s=2)", "--strict", "--range", "1..40")
    assert code == 0 and "height: 3, 5, 7, … (2k + 1) from 3 to 39" in out
    code, out, _ = run("sizes", "9x9x1 -> conv(1, 3, s=2)", "--lenient", "--range", "1..40")
    assert "height: 3–40  (38 sizes" in out
    code, out, _ = run("sizes", "9x9x1 -> relu", "--range", "1..40")
    assert "height: 1–40 (every size)" in out


def test_nothing_accepted_names_the_layer() -> None:
    code, out, err = run("sizes", "32x32x3 -> conv(8, 3, s=2)", "--strict")
    assert code == 1 and err == ""
    assert "height: none in 1..1024 — e.g. 32×32×3:" in out
    assert "error G001 (layer 1, line 1:12): (32 − 3 + 2·0)/2 + 1 = 15.5" in out


def test_json_output() -> None:
    code, out, err = run("sizes", LECTURE, "--format", "json", "--size", "31x16", "--strict")
    assert code == 1 and err == ""
    data = json.loads(out)
    assert data == input_sizes(LECTURE, "strict", size=(31, 16)).to_dict()
    assert data["cnncalc"] == "1" and data["mode"] == "strict" and data["range"] == [1, 1024]
    assert data["input"] == {"shape": [32, 32, 3]}
    assert data["axes"][0]["accepted"] == [{"first": 4, "last": 1024, "step": 2}]
    assert data["axes"][0]["count"] == 511 and data["axes"][0]["smallest"] == 4
    assert data["smallest"] == [4, 4, 3]
    assert data["size"]["ok"] is False and data["size"]["problem"]["code"] == "G001"
    assert data["size"]["nearest"]["axes"] == [
        {"axis": "height", "size": 31, "below": 30, "above": 32, "others": "given"}]
    ok = json.loads(run("sizes", LECTURE, "--format", "json")[1])
    assert ok["size"] is None and ok["name"] is None


# --------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize(("args", "message"), [
    (("--range", "5..2"), "the range 5..2 is empty"),
    (("--range", "0..9"), "sizes start at 1"),
    (("--range", "a..b"), "is not a range"),
    (("--range", "1..9999999999"), "the largest size a spec may give"),
    (("--size", "3x3x3"), "a size gives 2 whole numbers"),
    (("--size", "0"), "a size gives 2 whole numbers"),
    (("--size", "big"), "is not a size"),
])
def test_bad_arguments(args: tuple[str, ...], message: str) -> None:
    code, out, err = run("sizes", LECTURE, *args)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_flat_vector_and_unreadable_specs() -> None:
    code, out, err = run("sizes", "100 -> fc(10)")
    assert code == 2 and out == "" and "is a flat vector: it has no spatial axes" in err
    assert run("sizes", "32x32x3 -> conv(8,")[0] == 2
    assert run("sizes", "missing.yaml")[0] == 2
    with pytest.raises(cnncalc.SpecSyntaxError):
        cnncalc.input_sizes("32x32x3 -> conv(8,")
    with pytest.raises(ValueError, match="empty"):
        cnncalc.input_sizes(LECTURE, range=(9, 2))
    with pytest.raises(ValueError, match="mode"):
        cnncalc.input_sizes(LECTURE, "loose")  # type: ignore[arg-type]


def test_api_is_exported() -> None:
    assert "input_sizes" in cnncalc.__all__ and cnncalc.input_sizes is input_sizes
    r = cnncalc.input_sizes(LECTURE, range=(1, 12))
    assert r.to_dict()["axes"][1] == {"axis": "width", "accepted": [
        {"first": 4, "last": 12, "step": 2}], "count": 5, "smallest": 4, "rejected": None}
    with pytest.raises(AttributeError):
        r.smallest = None  # type: ignore[misc]  # frozen


# --------------------------------------------------------------------------- bounded work

def timed(*args: str) -> tuple[float, tuple[int, str, str]]:
    start = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - start, result


def test_huge_range_is_answered_exactly_and_fast() -> None:
    net = "33x33x3 -> conv(8, 3, s=2) -> maxpool(2)"
    seconds, (code, out, _) = timed("sizes", net, "--strict", "--range", "1..2147483647")
    assert code == 0 and seconds < 5
    # (n − 3)/2 + 1 = m exact: n odd; m = (n − 1)/2 even for the pool: n = 4k + 1, n ≥ 5
    assert "height: 5, 9, 13, … (4k + 1) from 5 to 2147483645" in out
    r = input_sizes(net, "strict", range=(1_000_000_000, 1_000_000_100))
    assert listed(r, 0) == brute(spec_of(net), "strict", 0, 1_000_000_000, 1_000_000_100)


def test_huge_strides_and_kernels_never_hang() -> None:
    """A stride of a million: sizes are split into runs of the window (exact, inexact but
    only what the stride skips anyway, losing input), not into a million residues."""
    net = "3x3x3 -> conv(8, 3, s=999983)"
    seconds, (code, out, err) = timed("sizes", net, "--range", "1..2147483647", "--strict")
    assert (code, err) == (0, "") and seconds < 20
    # (n − 3)/999983 + 1 exact: n = 999983k + 3, the last 3 + 2147·999983
    assert "height: 3, 999986, 1999969, … (999983k + 3) from 3 to 2146963504" in out
    for lo, hi in ((1, 40), (999_950, 1_000_050), (2_146_963_480, 2_146_963_520)):
        for mode in ("strict", "default"):
            r = input_sizes(net, mode, range=(lo, hi))
            assert listed(r, 0) == brute(spec_of(net), mode, 0, lo, hi), (mode, lo)
    seconds, (code, out, err) = timed(
        "sizes", "64x64x3 -> conv(8, 1000001, s=999999, p=2) -> conv(4, 3, s=1000000)",
        "--range", "1..2147483647", "--lenient")
    assert seconds < 20 and "Traceback" not in err and code == 1  # the 64 of the other axis
    assert "the 1000001-pixel window is larger than the padded input height 64" in out


@pytest.mark.parametrize("chunk", range(3))
def test_runs_match_brute_force(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The windows' runs (:meth:`~cnncalc.layers.base.Node.size_runs`), used on every
    period here, on random specs: the same sizes as one walk per size."""
    monkeypatch.setattr(pieces, "RESIDUES", 1)
    for seed in range(600 + chunk * 25, 625 + chunk * 25):
        spec = spec_of(generate(seed).spec)
        assert spec.input is not None
        if len(spec.input) > 1:
            assert_exact(spec, ("default", "strict", "lenient")[seed % 3], 1, 40)


def test_work_limit_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces, "MAX_WORK", 50)
    with pytest.raises(pieces.TooLarge, match="narrower --range"):
        input_sizes(ZOO / "resnet18.yaml")


def test_oversized_outputs_split_at_their_limit() -> None:
    """An upsample past 2⁶³ − 1 elements (A006) rejects the largest sizes only."""
    spec = spec_of("9x9x1000000 -> upsample(100000)")
    r = input_sizes(spec, range=(1, 2_000_000_000))
    # n·n'·10¹⁰·… : 9·10⁵ columns × n·10⁵ rows × 10⁶ channels ≤ 2⁶³ − 1
    limit = (2**63 - 1) // (900_000 * 100_000 * 1_000_000)
    assert r.axes[0].accepted == (Progression(1, 1, limit),)


def test_compact_periodic_tails() -> None:
    pieces_ = [Progression(1, 1, 15), Progression(16, 16, 10), *(
        Progression(r, 16, 9) for r in range(17, 32))]
    assert compact(pieces_[1:2], pieces_, 1, 160) == [Progression(16, 16, 10)]
    assert compact(pieces_[1:], pieces_, 1, 160) == [Progression(16, 1, 145)]


@pytest.mark.parametrize("name", ["resnet50", "convnext_small", "googlenet", "squeezenet1_1",
                                  "unet", "yolo_tiny3"])
def test_zoo_needs_no_size_by_size_walks(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model covers the zoo on 1..1024: no piece falls back to one walk per size, and
    the walks stay far fewer than the sizes (auto shortcuts built for tiny maps are peeled)."""
    tried: list[int] = []
    monkeypatch.setattr(pieces.Axis, "brute", lambda self, p: tried.append(p.count) or [])
    spec = replace(spec_of(name), expect=())
    walks = pieces.Walks(spec, spec.mode or "default")
    assert spec.input is not None
    for axis in range(len(spec.input) - 1):
        pieces.Axis(walks, spec.input, axis).solve(1, 1024)
    assert tried == [] and len(walks.cache) < 1024


def test_ten_thousand_rows_in_a_few_walks() -> None:
    """A 10,000-row chain: the spec's own size is walked once for both axes, then one more
    size per axis and the smallest input — four walks (bench_cli.py times the process)."""
    spec = spec_of("64x64x16" + " -> conv(16, 3, p=1) -> bn -> relu" * 3333)
    start = time.perf_counter()
    r = input_sizes(spec)
    assert time.perf_counter() - start < 10
    assert [a.accepted for a in r.axes] == [(Progression(1, 1, 1024),)] * 2
    assert r.smallest == (1, 1, 16)

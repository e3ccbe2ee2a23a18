"""Named tensors (spec §9): ``as NAME``, ``@NAME`` routes, ``concat`` with ``@name`` branches,
``add(@a, …)``, lexical scopes, several outputs, and the forward pass keeping named tensors.

Truth is hand arithmetic and torch itself (reference modules written here in plain torch)."""

from __future__ import annotations

import csv
import io
import json
import random as random_module
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import cnncalc
from cnncalc.forward import Pass, plan
from cnncalc.output.export import to_pytorch
from tests.helpers import leaf, run
from tests.test_export import build

UNET = ("64x64x1 -> conv(8, 3, p=1) -> relu -> conv(8, 3, p=1) -> relu as e1 -> maxpool(2)"
        " -> conv(16, 3, p=1) -> relu as e2 -> maxpool(2) -> conv(32, 3, p=1) -> relu"
        " -> deconv(16, 2, s=2) -> concat([], @e2) -> conv(16, 3, p=1) -> relu"
        " -> deconv(8, 2, s=2) -> concat([], @e1) -> conv(8, 3, p=1) -> relu -> conv(2, 1)")


class TorchUNet(nn.Module):
    """UNET above, in plain torch."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.mid = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(32, 16, 2, stride=2))
        self.dec2 = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.ReLU(),
                                  nn.ConvTranspose2d(16, 8, 2, stride=2))
        self.dec1 = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        y = self.dec2(torch.cat([self.mid(e2), e2], 1))
        return self.dec1(torch.cat([y, e1], 1))


def test_unet_skips_match_torch() -> None:
    report = cnncalc.analyze(UNET, verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    ref = TorchUNet()
    assert report.totals.params == sum(p.numel() for p in ref.parameters())
    assert list(ref(torch.zeros(1, 1, 64, 64)).shape) == [1, 2, 64, 64]
    assert report.totals.output_shape == (64, 64, 2)
    assert report.totals.outputs == ((64, 64, 2),)  # every skip is consumed by its concat
    e1 = next(r for r in report.layers if r.tensor == "e1")
    assert (e1.kind, e1.output_shape) == ("relu", (64, 64, 8))


def test_route_continues_from_the_named_tensor_and_leaves_a_head() -> None:
    # YOLO-style: a head on the deep map, then a route back to an earlier map for a second head
    spec = ("32x32x3 -> conv(16, 3, s=2, p=1) as x -> conv(32, 3, s=2, p=1) -> conv(18, 1)"
            " -> @x -> conv(18, 1)")
    report = cnncalc.analyze(spec, verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    route = leaf(report, "4")
    assert (route.spec, route.input_shape, route.output_shape) == ("@x", (16, 16, 16),
                                                                   (16, 16, 16))
    assert (route.params, route.macs, route.activation_bytes) == (0, 0, 0)
    # the receptive field and jump are x's again: 3, then jump 2
    assert (route.receptive_field, route.jump) == ((3, 3), (2, 2))
    assert report.totals.outputs == ((8, 8, 18), (16, 16, 18))  # produced order, main last
    assert report.totals.output_shape == (16, 16, 18)


def test_two_heads_are_both_outputs_in_json_and_footer() -> None:
    spec = "16x16x4 -> conv(8, 3, p=1) as f -> gap -> fc(10) -> @f -> conv(2, 1)"
    code, out, _ = run("summary", "--no-verify", spec)
    assert code == 0 and "Outputs (2): 10, 16×16×2" in out
    code, out, _ = run("summary", "--no-verify", "--format", "json", spec)
    data = json.loads(out)
    assert data["totals"]["outputs"] == [[10], [16, 16, 2]]
    assert [r["name"] for r in data["layers"]] == ["f", None, None, None, None]
    code, out, _ = run("summary", "--no-verify", "--format", "json", "8x8x3 -> conv(4, 3)")
    assert json.loads(out)["totals"]["outputs"] == [[6, 6, 4]]  # always present
    code, out, _ = run("summary", "--no-verify", "8x8x3 -> conv(4, 3)")
    assert "Outputs" not in out  # one output: the footer's Output line says it


def test_a_named_tensor_read_later_is_consumed_and_not_an_output() -> None:
    report = cnncalc.analyze("8x8x4 -> conv(4, 1) as a -> conv(4, 1) as b -> @a -> add(@b)")
    # b is followed by a route, but add reads it: one output
    assert report.ok and report.totals.outputs == ((8, 8, 4),)


def test_repetition_has_its_own_scope_and_outputs() -> None:
    spec = "8x8x4 -> [conv(4, 1) as a -> conv(6, 1) -> @a -> relu] * 3"
    report = cnncalc.analyze(spec, verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    assert report.totals.outputs == ((8, 8, 6),) * 3 + ((8, 8, 4),)


def test_add_sums_the_current_tensor_and_the_named_ones() -> None:
    spec = "8x8x4 -> conv(4, 3, p=1) as a -> conv(4, 3, p=1) as b -> conv(4, 1) -> add(@a, @b)"
    report = cnncalc.analyze(spec, verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    add = leaf(report, "4")
    assert (add.spec, add.output_shape) == ("add(@a, @b)", (8, 8, 4))
    assert add.params == 0
    # the larger receptive field of the three: b's 5
    assert add.receptive_field == (5, 5)
    bad = cnncalc.analyze("8x8x4 -> conv(4, 3) as a -> conv(4, 1) -> add(@input)")
    assert [(p.code, p.location.line, p.location.column) for p in bad.errors] == [
        ("G007", 1, 43)]
    assert "6×6×4, 8×8×4" in bad.errors[0].message  # both shapes shown


def test_concat_branch_reads_a_tensor_as_it_is() -> None:
    report = cnncalc.analyze("8x8x4 -> conv(6, 3, p=1) as a -> maxpool(2) -> "
                             "upsample(2) -> concat([], @a, @input)", verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    assert report.totals.output_shape == (8, 8, 16)  # 6 + 6 + 4
    bad = cnncalc.analyze("8x8x4 -> conv(6, 3) as a -> maxpool(2) -> concat([], @a)")
    assert [(p.code, p.location.column) for p in bad.errors] == [("G008", 43)]
    assert "3×3×6, 6×6×6" in bad.errors[0].message


ERRORS = [
    # (spec, [(line, column, code)], the fix's spec or None)
    ("8x8x3 -> conv(4, 1) as enc1 -> @enc2", [(1, 32, "G014")],
     "8x8x3 -> conv(4, 1) as enc1 -> @enc1"),
    ("8x8x3 -> conv(4, 1) as a -> conv(4, 1) as a", [(1, 43, "G015")],
     "8x8x3 -> conv(4, 1) as a -> conv(4, 1) as a2"),
    ("8x8x3 -> [conv(4, 1) as a] -> @a", [(1, 31, "G016")], None),
    ("8x8x3 -> concat([conv(4, 1) as a], [@a])", [(1, 37, "G016")], None),
    ("8x8x3 -> [conv(4, 1) as a] * 2 -> @a", [(1, 35, "G016")], None),
    ("8x8x3 -> @b -> conv(4, 1) as b", [(1, 10, "G016")], None),
    ("8x8x3 -> conv(4, 1) as input", [(1, 24, "G015")], None),
    ("8x8x3 -> conv(4, 1) as a -> add(@a, @c)", [(1, 37, "G014")], None),
]


@pytest.mark.parametrize(("spec", "where", "fixed"), ERRORS)
def test_name_errors_are_located(spec: str, where: list[tuple[int, int, str]],
                                 fixed: str | None) -> None:
    report = cnncalc.analyze(spec)
    assert [(p.location.line, p.location.column, p.code) for p in report.errors] == where
    if fixed is not None:
        assert report.errors[0].suggestions
        assert cnncalc.analyze(fixed).ok  # the fix, re-analysed


def test_did_you_mean_names_the_visible_tensor() -> None:
    report = cnncalc.analyze("8x8x3 -> conv(4, 1) as enc1 -> @enc2")
    assert report.errors[0].suggestions == ("did you mean '@enc1'?",)
    out = cnncalc.analyze("8x8x3 -> [conv(4, 1) as enc1] -> @enc1").errors[0]
    assert "line 1, column 25" in out.message  # where the out-of-scope name is defined


@pytest.mark.parametrize(("spec", "column", "words"), [
    ("8x8x3 -> conv(4, 1) as", 23, "a tensor name after 'as'"),
    ("8x8x3 -> @ -> conv(4, 1)", 12, "a tensor name after '@'"),
    ("8x8x3 as x -> conv(4, 1)", 7, "cannot be named"),
    ("8x8x3 -> conv(4, 1) as " + "n" * 65, 24, "longer than 64"),
])
def test_name_syntax_errors(spec: str, column: int, words: str) -> None:
    code, _, err = run("summary", "--no-verify", spec)
    assert code == 2 and f":1:{column}: S002" in err and words in err


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_yaml_as_key_quoted_routes_and_expect_outputs(tmp_path: Path) -> None:
    spec = write(tmp_path, """\
input: 16x16x4
layers:
  - conv: {filters: 8, kernel: 3, padding: 1}
    as: f
  - gap -> fc(10)
  - "@f"
  - conv(2, 1) as head
  - concat: ["[]", "@f"]
expect:
  outputs: [10, [16, 16, 10]]
""")
    report = cnncalc.analyze(Path(spec), verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    assert report.totals.outputs == ((10,), (16, 16, 10))
    assert leaf(report, "1").tensor == "f" and leaf(report, "5").tensor == "head"
    wrong = write(tmp_path, Path(spec).read_text().replace("[16, 16, 10]", "[16, 16, 2]"))
    report = cnncalc.analyze(Path(wrong))
    assert [(p.code, p.location.line) for p in report.errors] == [("X001", 10)]
    assert "got [10, 16×16×10]" in report.errors[0].message


@pytest.mark.parametrize(("item", "fix"), [
    ("- @f -> conv(2, 1)", "- '@f -> conv(2, 1)'"),
    ("- [conv(8, 1) -> relu] * 2 as x", "- '[conv(8, 1) -> relu] * 2 as x'"),
])
def test_yaml_traps_say_quote_the_item(tmp_path: Path, item: str, fix: str) -> None:
    spec = write(tmp_path, f"input: 16x16x4\nlayers:\n  - conv(8, 1) as f\n  {item}\n")
    code, out, _ = run("check", spec)
    assert code == 2 and ":4:" in out and "S005" in out and fix in out
    quoted = write(tmp_path, f"input: 16x16x4\nlayers:\n  - conv(8, 1) as f\n  {fix}\n")
    assert run("check", quoted)[0] == 0  # the fix, re-analysed


def test_yaml_as_key_takes_one_name(tmp_path: Path) -> None:
    spec = write(tmp_path, "input: 16x16x4\nlayers:\n  - conv: 8\n    as: [a, b]\n")
    code, out, _ = run("check", spec)
    assert code == 2 and ":4:9: S006" in out


def test_rows_round_trip_through_their_text() -> None:
    report = cnncalc.analyze("8x8x4 -> conv(4, 1) as a -> [relu -> conv(4, 1)] * 2 as b"
                             " -> concat([], @a) -> conv(4, 1) -> add(@b)")
    assert report.ok
    text = "8x8x4 -> " + " -> ".join(
        r.node.written() for r in report.layers if r.parent is None and r.node)
    again = cnncalc.analyze(text)
    assert again.ok and again.totals == report.totals


def test_forward_pass_keeps_named_tensors_only_until_their_last_reader() -> None:
    report = cnncalc.analyze(UNET)
    rows = report.layers
    kept = [r.tensor for r in rows if r.keep]
    assert kept == ["e1", "e2"]
    assert [r.spec for r in rows if r.release] == ["@e2", "@e1"]
    run_ = Pass(report, lambda: None)
    x = run_.rng.standard_normal((1, 64, 64, 1)).astype("float32")
    run_.group(report.spec.layers, report.roots, x)
    assert run_.kept == {} and all(run_.verified)


def test_memory_plan_counts_a_tensor_kept_for_a_route() -> None:
    body = "64x64x8 -> conv(8, 3, p=1) -> conv(8, 3, p=1) -> conv(8, 3, p=1)"
    without = plan(cnncalc.analyze(body + " -> relu")).peak_bytes
    kept = plan(cnncalc.analyze(body + " -> add(@input)")).peak_bytes
    assert kept - without == 64 * 64 * 8 * 4  # the input, alive through every conv


def test_check_exit_codes_with_names(tmp_path: Path) -> None:
    # concat doubles the channels: add of @a no longer fits
    bad = write(tmp_path, "input: 8x8x3\nlayers: conv(4, 1) as a -> @a -> concat([], @a) -> "
                "add(@a, @a)\n")
    code, out, _ = run("check", bad)
    assert code == 1 and ":2:52: G007" in out
    good = write(tmp_path, "input: 8x8x3\nlayers: conv(4, 1) as a -> @a -> add(@a, @a)\n")
    assert run("check", good)[0] == 0


# ------------------------------------------------------------------ export: forward() in torch

GRAPHS = [
    UNET,
    "32x32x3 -> conv(16, 3, s=2, p=1) as x -> conv(32, 3, s=2, p=1) -> conv(18, 1)"
    " -> @x -> conv(18, 1)",
    "8x8x4 -> [conv(4, 1) as a -> conv(6, 1) -> @a -> relu] * 3 -> add(@input)",
    "8x8x4 -> conv(8, 3, p=1) as a -> residual([conv(8, 1) -> add(@a)])"
    " -> split([conv(4, 1) -> add(@input)], [concat([], [])]) -> bn as b"
    " -> gate([gap -> conv(12, 1) -> sigmoid]) -> concat(@a, @b, [])",
    "16x16x4 -> conv(8, 3, p=1) as f -> gap -> fc(10) -> @f -> conv(2, 1) -> @input",
]


def torch_counts(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int, list[list[int]]]:
    """(params, conv/linear MACs, every output's shape HWC) measured by torch."""
    macs = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            macs += mod.weight.numel() * out[0, 0].numel()
        elif isinstance(mod, nn.ConvTranspose2d):
            macs += mod.weight.numel() * inp[0][0, 0].numel()
        elif isinstance(mod, nn.Linear):
            macs += mod.weight.numel() * (out[0].numel() // mod.out_features)

    for m in model.modules():
        m.register_forward_hook(hook)
    with torch.no_grad():
        ys = model(torch.zeros(1, shape[-1], *shape[:-1]))
    ys = ys if isinstance(ys, tuple) else (ys,)
    outs = [[*y.shape[2:], y.shape[1]] if y.dim() > 2 else [y.shape[1]] for y in ys]
    return sum(p.numel() for p in model.parameters()), macs, outs


@pytest.mark.parametrize("spec", GRAPHS)
def test_export_writes_a_forward_that_torch_runs_with_the_counts(spec: str) -> None:
    report = cnncalc.analyze(spec, verify=True)
    assert report.ok and all(r.verified for r in report.layers)
    source = to_pytorch(report)
    assert "class Network(nn.Module)" in source and "def forward(" in source
    params, macs, outs = torch_counts(build(source), report.input_shape or ())
    assert (params, macs) == (report.totals.params, report.totals.macs)
    assert outs == [list(o or ()) for o in report.totals.outputs]


def test_export_of_the_unet_matches_the_torch_reference() -> None:
    model = build(to_pytorch(cnncalc.analyze(UNET)))
    ref = TorchUNet().eval()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    # same weights in the same order: the same function
    with torch.no_grad():
        for a, b in zip(model.parameters(), ref.parameters(), strict=True):
            a.copy_(b)
        x = torch.randn(2, 1, 64, 64)
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)


def test_a_network_without_names_still_exports_as_one_sequential() -> None:
    assert "class Network" not in to_pytorch(cnncalc.analyze("8x8x3 -> conv(4, 1) -> relu"))


def test_lints_follow_the_graph() -> None:
    # a YOLO-style head ends in a softmax, then a route goes back: the softmax is an output
    # (no L004), and the head's 255 filters are pinned by the output (no L001)
    spec = ("32x32x3 -> conv(16, 3, p=1) as x -> relu -> conv(255, 1) -> softmax -> @x"
            " -> conv(16, 1)")
    report = cnncalc.analyze(spec)
    assert report.ok and report.totals.outputs == ((32, 32, 255), (32, 32, 16))
    assert [p.code for p in report.problems if p.code in ("L004", "L001")] == []
    # in a plain chain the same softmax is flagged
    plain = cnncalc.analyze("32x32x3 -> conv(16, 3, p=1) -> relu -> softmax -> conv(16, 1)")
    assert "L004" in [p.code for p in plain.problems]


FIXABLE = [
    "9x9x3 -> conv(4, 2, s=2) as a -> conv(4, 1) -> add(@a)",
    "9x9x3 -> conv(4, 2, s=2) as a -> @input -> conv(4, 3, s=2) -> add(@a)",
    "9x9x3 -> conv(4, 2, s=2) -> conv(4, 1) as a -> @a -> conv(2, 1)",
    "9x9x3 -> conv(4, 2, s=2) -> conv(4, 1) -> @input -> conv(2, 1)",
    "9x9x3 -> conv(4, 2, s=2) -> conv(4, 1) -> concat([], @input)",
    "9x9x3 -> [conv(4, 2, s=2) -> relu] * 1 as a -> conv(4, 1) -> concat([], @a)",
]


@pytest.mark.parametrize("spec", FIXABLE)
def test_every_fix_shown_near_named_tensors_reanalyses_clean(spec: str) -> None:
    """Each fix of the G001 on the first conv, applied to the spec's text and analysed
    again, removes it and brings no error the spec did not have (independently of the
    verifier in cnncalc/fixes.py, which must have dropped any fix that breaks a reader)."""
    report = cnncalc.analyze(spec)
    first = next(p for p in report.errors if p.code == "G001")
    before = {(p.code, p.path) for p in report.errors} - {("G001", "1")}
    for fix in first.suggestions:
        if fix.startswith("input size"):
            sizes = fix.split()[2::2][:2]  # "input size 8 or 10 instead of 9"
            fixed = [spec.replace("9x9x3", f"{n}x{n}x3", 1) for n in sizes]
        else:
            fixed = [spec.replace("conv(4, 2, s=2)", fix.split(" → ")[0], 1)]
        for text in fixed:
            again = cnncalc.analyze(text)
            after = {(p.code, p.path) for p in again.errors}
            assert ("G001", "1") not in after and after <= before, (fix, text, after)


# ------------------------------------------- random graphs: routes, concats and adds vs torch


class Program:
    """A random 2-D graph of named tensors, written as a one-line spec and run by plain torch
    alongside: the reference for shapes, outputs, params and values."""

    def __init__(self, seed: int) -> None:
        rng = self.rng = random_module.Random(seed)
        side, channels = rng.choice((8, 12, 16)), rng.choice((1, 3, 4))
        self.items: list[str] = []
        self.steps: list[tuple[str, Any]] = []  # what the reference does, one per item
        self.convs = nn.ModuleList()
        self.input = (side, side, channels)
        self.shape = self.input
        self.tensor = -1  # ids in production order; -1 the input
        self.produced = 0
        self.named: dict[str, tuple[int, tuple[int, int, int]]] = {"input": (-1, self.input)}
        self.dangling: set[int] = set()
        self.read: set[int] = set()
        self.shapes: dict[int, tuple[int, int, int]] = {}
        for _ in range(rng.randint(3, 14)):
            self.step()

    def new(self, shape: tuple[int, int, int]) -> None:
        self.shape, self.tensor = shape, self.produced
        self.shapes[self.tensor] = shape
        self.produced += 1

    def step(self) -> None:
        rng = self.rng
        h, w, c = self.shape
        same = [n for n, (t, s) in self.named.items() if s == self.shape and t != self.tensor]
        beside = [n for n, (_, s) in self.named.items() if s[:2] == self.shape[:2]]
        choice = rng.choice(["conv", "conv", "down", "relu", "name", "name", "route", "concat",
                             "add"])
        if choice == "name" and self.items and not self.items[-1].count(" as ") \
                and self.tensor >= 0 and self.tensor not in {t for t, _ in self.named.values()}:
            name = f"t{len(self.named)}"
            self.items[-1] += f" as {name}"
            self.named[name] = (self.tensor, self.shape)
        elif choice == "route" and self.items:
            name = rng.choice(list(self.named))
            self.dangling.add(self.tensor)
            self.read.add(self.named[name][0])
            self.items.append(f"@{name}")
            self.steps.append(("route", name))
            self.tensor, self.shape = self.named[name]
        elif choice == "concat" and beside:
            names = rng.sample(beside, rng.randint(1, min(2, len(beside))))
            self.read.update(self.named[n][0] for n in names)
            self.items.append(f"concat([], {', '.join('@' + n for n in names)})")
            self.steps.append(("concat", names))
            self.new((h, w, c + sum(self.named[n][1][2] for n in names)))
        elif choice == "add" and same:
            names = rng.sample(same, rng.randint(1, min(2, len(same))))
            self.read.update(self.named[n][0] for n in names)
            self.items.append(f"add({', '.join('@' + n for n in names)})")
            self.steps.append(("add", names))
            self.new(self.shape)
        elif choice == "relu":
            self.items.append("relu")
            self.steps.append(("relu", None))
            self.new(self.shape)
        elif choice == "down" and h >= 4:
            filters = rng.randint(1, 8)
            self.items.append(f"conv({filters}, 3, s=2, p=1)")
            self.steps.append(("conv", len(self.convs)))
            self.convs.append(nn.Conv2d(c, filters, 3, stride=2, padding=1))
            self.new(((h - 1) // 2 + 1, (w - 1) // 2 + 1, filters))
        else:
            filters, k = rng.choice((c, c, rng.randint(1, 8))), rng.choice((1, 3))
            self.items.append(f"conv({filters}, {k}, p={k // 2})")
            self.steps.append(("conv", len(self.convs)))
            self.convs.append(nn.Conv2d(c, filters, k, padding=k // 2))
            self.new((h, w, filters))

    @property
    def spec(self) -> str:
        return " -> ".join(["x".join(map(str, self.input)), *self.items])

    def outputs(self) -> tuple[tuple[int, int, int], ...]:
        extra = sorted(self.dangling - self.read - {-1, self.tensor})
        return (*(self.shapes[t] for t in extra), self.shape)

    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The reference: the same program in plain torch; every output, main one last."""
        by_id: dict[int, torch.Tensor] = {-1: x}
        names: dict[str, int] = {"input": -1}
        ids = iter(range(self.produced))
        cur, tensor = x, -1
        for (kind, arg), item in zip(self.steps, self.items, strict=True):
            if kind == "route":
                tensor = names[arg]
                cur = by_id[tensor]
            else:
                if kind == "conv":
                    cur = self.convs[arg](cur)
                elif kind == "relu":
                    cur = torch.relu(cur)
                elif kind == "concat":
                    cur = torch.cat([cur, *(by_id[names[n]] for n in arg)], 1)
                else:
                    cur = cur + sum(by_id[names[n]] for n in arg)
                tensor = next(ids)
                by_id[tensor] = cur
            if " as " in item:
                names[item.split(" as ")[1]] = tensor
        extra = sorted(self.dangling - self.read - {-1, tensor})
        return [*(by_id[t] for t in extra), cur]


@pytest.mark.parametrize("seed", range(60))
def test_random_graphs_against_torch(seed: int) -> None:
    prog = Program(seed)
    report = cnncalc.analyze(prog.spec, verify=True)
    assert report.ok and all(r.verified for r in report.layers), prog.spec
    assert report.totals.outputs == prog.outputs(), prog.spec
    assert report.totals.params == sum(p.numel() for p in prog.convs.parameters())
    model = build(to_pytorch(report))
    with torch.no_grad():
        for mine, ref in zip(model.parameters(), prog.convs.parameters(), strict=True):
            mine.copy_(ref)
        x = torch.randn(2, prog.input[2], *prog.input[:2])
        ys = model(x)
        ys = list(ys) if isinstance(ys, tuple) else [ys]
        refs = prog.run(x)
        assert [list(y.shape[1:]) for y in ys] == [[s[2], s[0], s[1]] for s in prog.outputs()]
        for y, r in zip(ys, refs, strict=True):
            torch.testing.assert_close(y, r)  # float32's documented default tolerances


def test_csv_rows_carry_the_tensor_name_in_the_last_column() -> None:
    code, out, _ = run("summary", "8x8x4 -> conv(4, 3, p=1) as a -> relu -> add(@a)", "--no-verify",
                       "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0])[-1] == "name"
    assert [(r["kind"], r["name"]) for r in rows] == [("conv", "a"), ("relu", ""), ("add", ""), ("route", "")]

"""``summary --by kind|stage`` and ``--columns`` (issue 13, deliverable 3): each breakdown's
columns add up to the report's totals on every zoo network, and the columns the table, the
Markdown and the CSV show are the ones asked for, with exact values."""

from __future__ import annotations

import csv
import io
import json

import pytest

import cnncalc
from cnncalc import zoo
from cnncalc.breakdown import breakdown
from tests.helpers import run


@pytest.mark.parametrize("name", zoo.names())
@pytest.mark.parametrize("by", ["kind", "stage"])
def test_breakdowns_add_up_to_the_totals(name: str, by: str) -> None:
    found = zoo.path(name)
    assert found is not None
    report = cnncalc.analyze(found)
    shares = breakdown(report, by)
    t = report.totals
    assert sum(s.params for s in shares) == t.params
    assert sum(s.non_trainable for s in shares) == t.non_trainable
    assert sum(s.macs for s in shares) == t.macs
    assert sum(s.activation_bytes for s in shares) == t.activation_bytes
    if by == "stage":
        top = [r for r in report.layers if r.parent is None and r.source is None]
        assert [s.name.split(" ")[0] for s in shares] == [r.path for r in top]
        assert [s.params for s in shares] == [r.params for r in top]
    else:
        assert len({s.name for s in shares}) == len(shares)


def test_by_kind_of_the_lecture_net_by_hand() -> None:
    report = cnncalc.analyze("32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)")
    got = {s.name: (s.layers, s.params, s.macs, s.activation_bytes)
           for s in breakdown(report, "kind")}
    assert got == {"conv": (1, 760, 750 * 32 * 32, 32 * 32 * 10 * 4),
                   "relu": (1, 0, 0, 32 * 32 * 10 * 4), "maxpool": (1, 0, 0, 16 * 16 * 10 * 4),
                   "fc": (1, 16 * 16 * 10 * 10 + 10, 16 * 16 * 10 * 10, 40)}


def test_by_in_every_format() -> None:
    code, out, _ = run("summary", "resnet18", "--no-verify", "--by", "kind")
    assert code == 0
    assert out.splitlines()[1].split() == ["Kind", "Layers", "Params", "%", "MACs", "%",
                                           "Activations", "%"]
    conv = next(line for line in out.splitlines() if line.startswith("conv "))
    assert conv.split()[1:3] == ["20", "11,166,912"]
    code, out, _ = run("summary", "resnet18", "--no-verify", "--by", "stage", "--format", "json")
    data = json.loads(out)
    groups = data["breakdown"]["groups"]
    assert data["breakdown"]["by"] == "stage"
    assert sum(g["params"] for g in groups) == data["totals"]["params"] == 11_689_512
    assert abs(sum(g["macs_share"] for g in groups) - 1) < 1e-9
    code, out, _ = run("summary", "resnet18", "--no-verify", "--by", "kind", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sum(int(r["params"]) for r in rows) == 11_689_512
    code, out, _ = run("summary", "resnet18", "--no-verify", "--by", "kind", "--format",
                       "markdown")
    assert out.splitlines()[2].startswith("| Kind | Layers | Params |")
    code, _, err = run("summary", "resnet18", "--no-verify", "--by", "knid")
    assert code == 2 and "'knid' is not one of 'kind', 'stage'" in err


LECTURE = "32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2, s=2) -> fc(10)"


def test_columns_added_removed_and_listed() -> None:
    _, out, _ = run("summary", LECTURE, "--no-verify", "--columns",
                       "+input,+kernel,+stride,+memory,+jump,-rf,-biases")
    header = out.splitlines()[0].split()
    assert header == ["#", "Layer", "Output", "Weights", "Params", "MACs", "Input", "Kernel",
                      "Stride", "Memory", "Jump"]
    pool = next(line for line in out.splitlines() if "maxpool" in line).split()
    assert pool[1:] == ["maxpool(2,", "s=2)", "16×16×10", "0", "0", "0", "32×32×10", "2×2",
                        "2×2", "10.24", "KB", "2"]
    _, out, _ = run("summary", LECTURE, "--no-verify", "--columns", "input,output,flops",
                       "--format", "markdown")
    assert out.splitlines()[0] == "| # | Layer | Input | Output | FLOPs |"
    assert out.splitlines()[2] == "| 1 | conv(10, 5, p=2) | 32×32×3 | 32×32×10 | 1.54M |"
    _, out, _ = run("summary", LECTURE, "--no-verify", "--columns", "kernel,stride,memory",
                       "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["path", "kind", "spec", "kernel", "stride", "memory"]
    assert (rows[0]["kernel"], rows[0]["stride"], rows[0]["memory"]) == ("5x5", "1x1", "40960")
    assert (rows[1]["kernel"], rows[3]["memory"]) == ("", "40")


@pytest.mark.parametrize("columns, message", [
    ("+inptu", "unknown column 'inptu': did you mean input? the columns are input, output,"),
    ("input,-rf", "either +name/-name changes to the default columns or a plain list"),
    (",", "--columns needs column names"),
])
def test_bad_columns_are_usage_errors_listing_the_valid_ones(columns: str, message: str) -> None:
    code, out, err = run("summary", LECTURE, "--no-verify", "--columns", columns)
    assert (code, out) == (2, "")
    assert message in err


def test_kernel_and_stride_columns_cover_every_sliding_window() -> None:
    spec = ("8x8x4 -> conv(4, 1x3, s=2x1, p=0x1) -> dwconv(3, p=1) -> maxpool(2) -> "
            "deconv(4, 3, s=2, p=1, output_padding=1) -> upsample(2) -> relu")
    _, out, _ = run("summary", spec, "--no-verify", "--columns", "kernel,stride", "--format", "csv")
    rows = [(r["kind"], r["kernel"], r["stride"]) for r in csv.DictReader(io.StringIO(out))]
    assert rows == [("conv", "1x3", "2x1"), ("dwconv", "3x3", "1x1"), ("maxpool", "2x2", "2x2"),
                    ("deconv", "3x3", "2x2"), ("upsample", "", ""), ("relu", "", "")]


def test_a_breakdown_under_macs_as_counts_and_names_the_tools_macs() -> None:
    code, out, _ = run("summary", "resnet18", "--no-verify", "--by", "kind", "--macs-as", "thop",
                       "--format", "json")
    data = json.loads(out)
    groups = data["breakdown"]["groups"]
    assert code == 0 and data["macs_as"] == "thop"
    assert sum(g["macs"] for g in groups) == data["totals"]["macs"] == data["conventions"]["thop"]
    _, out, _ = run("summary", "resnet18", "--no-verify", "--by", "kind", "--macs-as", "thop")
    assert "MACs (thop)" in out.splitlines()[1]

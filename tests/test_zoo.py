"""The zoo reproduces torchvision exactly; receptive fields match independent arithmetic."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cnncalc
from cnncalc import zoo
from cnncalc.cli import main

from .helpers import golden, run

# Measured with PyTorch/torchvision (copied from shared/reference/torchvision.json).
REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]
NAMES = {"cs231n": "cs231n_conv_example"}
OWN_TRUTH = {"m5", "unet", "yolo_tiny3"}
"""Zoo networks torchvision does not have; each is built in plain torch by its own test
(tests/test_audio.py, tests/test_zoo_graphs.py)."""
MEASURED = [n for n in zoo.names() if n not in OWN_TRUTH]


def test_zoo_has_every_reference_model() -> None:
    assert sorted(NAMES.get(n, n) for n in MEASURED) == sorted(REFERENCE)
    assert OWN_TRUTH <= set(zoo.names())


@pytest.mark.parametrize("name", MEASURED)
def test_matches_torchvision_exactly(name: str) -> None:
    ref = REFERENCE[NAMES.get(name, name)]
    path = zoo.path(name)
    assert path is not None
    r = cnncalc.analyze(path)
    assert r.ok, r.errors
    assert r.input_shape == tuple(int(n) for n in ref["input"].split("x"))
    assert (r.totals.params, r.totals.non_trainable, r.totals.macs) == (
        ref["params"], ref["non_trainable"], ref["macs"])
    assert list(r.totals.output_shape or ()) == ref["output"]
    # its own expect: block says the same (and is checked: a wrong one fails)
    keys = {e.key: e.value for e in r.spec.expect} if r.spec else {}
    assert keys["params"] == ref["params"] and keys["macs"] == ref["macs"]


@pytest.mark.parametrize("name", zoo.names())
def test_rows_add_up_to_totals(name: str) -> None:
    path = zoo.path(name)
    assert path is not None
    r = cnncalc.analyze(path)
    for level in (lambda row: row.depth == 1, lambda row: not row.is_block):
        rows = [row for row in r.layers if level(row)]
        assert sum(row.params or 0 for row in rows) == r.totals.params
        assert sum(row.macs or 0 for row in rows) == r.totals.macs
        assert sum(row.non_trainable or 0 for row in rows) == r.totals.non_trainable


def test_wrong_expectation_fails(tmp_path: Path) -> None:
    path = zoo.path("resnet18")
    assert path is not None
    f = tmp_path / "r18.yaml"
    f.write_text(path.read_text().replace("params: 11689512", "params: 11689513"))
    r = cnncalc.analyze(f)
    assert [p.code for p in r.errors] == ["X002"]


def rf(spec: str) -> list[tuple[tuple[int, int] | None, tuple[int, int] | None]]:
    return [(row.receptive_field, row.jump) for row in cnncalc.analyze(spec).layers]


def test_vgg16_receptive_field() -> None:
    path = zoo.path("vgg16")
    assert path is not None
    r = cnncalc.analyze(path)
    convs = [row for row in r.layers if row.kind == "conv"]
    pools = [row for row in r.layers if row.kind == "maxpool"]
    assert len(convs) == 13 and len(pools) == 5
    # google-research/receptive_field: VGG-16 conv5_3 196, pool5 212, jump 32.
    assert convs[-1].receptive_field == (196, 196) and convs[-1].jump == (16, 16)
    assert pools[-1].receptive_field == (212, 212) and pools[-1].jump == (32, 32)


def test_dilated_convs_and_1x1() -> None:
    # Three 3×3 convs with dilation 1, 2, 4: 1 + 2·1 + 2·2 + 2·4 = 15.
    out = rf("64x64x8 -> conv(8, 3, p=1) -> conv(8, 3, p=2, d=2) -> conv(8, 3, p=4, d=4)")
    assert [r for r, _ in out] == [(3, 3), (7, 7), (15, 15)]
    out = rf("64x64x8 -> conv(8, 3, s=2, p=1) -> conv(4, 1) -> flatten -> fc(10)")
    assert out[1] == out[0] == ((3, 3), (2, 2))   # a 1×1 conv leaves it unchanged
    assert out[2] == (None, None) and out[3] == (None, None)  # undefined after flatten


def test_rf_of_block_is_the_larger_branch() -> None:
    out = rf("32x32x8 -> concat([conv(8, 1)], [conv(8, 5, p=2)]) -> residual([conv(16, 3, p=1)])")
    assert out[0] == ((5, 5), (1, 1)) and out[3] == ((7, 7), (1, 1))


def test_cli_by_name_and_zoo_listing() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["summary", "resnet50", "--format", "json", "--no-verify"])
    assert res.exit_code == 0 and json.loads(res.stdout)["totals"]["params"] == 25_557_032
    res = runner.invoke(main, ["zoo", "--format", "json"])
    listed = {m["name"]: m for m in json.loads(res.stdout)}
    assert listed["vgg16"]["macs"] == REFERENCE["vgg16"]["macs"]


def test_depth_folds_blocks_and_rows_still_add_up() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["resnet18", "--depth", "1", "--format", "csv", "--no-verify"],
                        env={"NO_COLOR": "1"})
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and all(row["depth"] == "1" for row in rows)
    assert sum(int(row["params"]) for row in rows) == REFERENCE["resnet18"]["params"]
    assert sum(int(row["macs"]) for row in rows) == REFERENCE["resnet18"]["macs"]


def test_golden_resnet18(tmp_path: Path) -> None:
    golden("resnet18_depth1.txt", run("resnet18", "--depth", "1", "--no-verify")[1])
    golden("resnet18.json", run("resnet18", "--format", "json", "--no-verify")[1])

"""The report's rows know their place in the tree: ``parent`` and ``Report.children`` agree
with the dotted paths and depths the walker writes."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnncalc
from cnncalc import zoo

SPECS = [
    "8x8x3 -> conv(4, 3) -> relu",
    "8x8x3 -> [conv(4, 3, p=1) -> relu] * 3 -> residual(conv(3, 3, p=1), []) -> gap",
    "8x8x3 -> concat([conv(2, 1)], [conv(2, 3, p=1) -> [relu] * 2]) -> flatten -> fc(2)",
    *(zoo.path(name) for name in ("resnet18", "googlenet")),
]


@pytest.mark.parametrize("spec", SPECS)
def test_parent_links_match_paths(spec: str | Path) -> None:
    report = cnncalc.analyze(spec)
    index = {row.path: i for i, row in enumerate(report.layers)}
    for i, row in enumerate(report.layers):
        parts = row.path.split(".")
        if len(parts) == 1:
            assert row.parent is None and row.depth == 1
        else:
            assert row.parent == index[".".join(parts[:-2])]
            assert row.depth == report.layers[row.parent].depth + 1
            assert i in report.children[row.parent]
    assert sum(map(len, report.children)) == sum(r.parent is not None for r in report.layers)

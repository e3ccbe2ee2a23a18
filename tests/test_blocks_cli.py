"""``cnncalc blocks``: the built-in block library listed with signature, source and example
(spec §10), by (exit code, stdout, stderr); and ``explain`` of a call showing its values."""

from __future__ import annotations

import json

import yaml

from cnncalc.spec.library import NAMES, PATH
from tests.helpers import run


def test_blocks_lists_every_library_block_with_its_source_and_example() -> None:
    code, out, err = run("blocks")
    assert code == 0 and err == ""
    shipped = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    for key in shipped["blocks"]:
        name = key.split("(")[0]
        assert f"\n{key}\n" in f"\n{out}\n", name  # the signature as a heading
        assert f"    {key}:" in out  # the YAML source, indented
        assert f'cnncalc summary "{shipped["examples"][name]}"' in out
    assert out.count("example: ") == len(NAMES)


def test_blocks_name_shows_one_and_json_is_machine_readable() -> None:
    code, out, _ = run("blocks", "MBConv")
    assert code == 0 and out.startswith("mbconv(out, kernel=3, stride=1, expand=6)\n")
    assert "se(max(1, C // 4), act=silu)" in out and "bottleneck" not in out
    code, out, _ = run("blocks", "--format", "json")
    entries = json.loads(out)
    assert [e["name"] for e in entries] == list(NAMES)
    assert {tuple(sorted(e)) for e in entries} == {("example", "name", "signature", "source")}


def test_an_unknown_block_name_is_a_usage_error_with_did_you_mean() -> None:
    code, out, err = run("blocks", "botleneck")
    assert (code, out) == (2, "")
    assert "no library block 'botleneck': did you mean bottleneck?" in err
    code, _, err = run("blocks", "zzz")
    assert code == 2 and "the library's blocks are basicblock, bottleneck" in err


def test_explain_shows_a_calls_arguments_input_and_body() -> None:
    code, out, _ = run("explain", "56x56x64 -> bottleneck(128, stride=2)")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("1  bottleneck(128, stride=2)   56×56×64 → 28×28×512")
    assert lines[1].strip() == "bottleneck(128, stride=2): planes=128, stride=2, groups=1, " \
        "base_width=64"  # the defaults too
    assert "conv(128, 3, s=2, p=1, bias=false)" in lines[2]
    code, out, _ = run("explain", "8x8x16 -> se(4)")
    assert "the call's input: C=16, H=8, W=8" in out
    assert "→ [gate([gap -> conv(4, 1) -> relu -> conv(16, 1) -> sigmoid])]" in out


def test_a_hostile_block_name_is_shown_escaped_and_cut() -> None:
    code, out, err = run("blocks", "\x1b[2Jse\u202e" + "x" * 5000)
    assert (code, out) == (2, "")
    assert "\x1b" not in err and "\u202e" not in err
    assert "no library block '\\x1b[2Jse\\u202exxx" in err and len(err) < 400

"""The verification pass: every row verified, memory-bounded skipping, mismatches are loud."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc import layers, zoo
from cnncalc.cli import main
from cnncalc.forward import estimate_peak_bytes

SPECS = [
    "32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)",
    "17x13x4 -> conv(8, 3x5, s=2, p=same) -> dwconv(3, s=2, p=1, m=2) -> bn -> relu6 "
    "-> deconv(6, 3, s=2, p=1, op=1) -> avgpool(3, s=2, p=1, ceil=true) -> lrn(3)",
    "9x9x6 -> conv(6, 3, g=3, d=2, p=2) -> maxpool(2, ceil=true) -> pad(1) -> upsample(2) "
    "-> adaptiveavgpool(3x2) -> flatten -> dropout -> fc(7) -> gelu -> softmax",
    "16x16x8 -> residual([conv(8, 3, p=1) -> bn -> leakyrelu(0.1) -> conv(8, 3, p=1)]) "
    "-> residual([conv(16, 3, s=2, p=1)], shortcut=[conv(16, 1, s=2) -> bn]) "
    "-> concat([conv(4, 1)], [maxpool(3, s=1, p=1)], []) -> [prelu -> elu -> silu] * 2 "
    "-> hardswish -> sigmoid -> tanh -> identity -> globalmaxpool -> gap -> fc(3)",
]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("batch", [1, 3])
def test_every_row_verified(spec: str, batch: int) -> None:
    r = cnncalc.analyze(spec, verify=True, batch=batch)
    assert r.ok, r.errors
    assert [row.verified for row in r.layers] == [True] * len(r.layers)


@pytest.mark.parametrize("name", ["lenet5", "cs231n", "googlenet", "mobilenet_v2"])
def test_zoo_verified(name: str) -> None:
    path = zoo.path(name)
    assert path is not None
    r = cnncalc.analyze(path, verify=True)
    assert all(row.verified for row in r.layers)


def test_too_big_is_skipped_with_a_note_and_never_allocates() -> None:
    spec = "4096x4096x64 -> conv(64, 3, p=1) -> fc(100000)"
    r = cnncalc.analyze(spec, verify=True, max_memory=2**30)
    assert [row.verified for row in r.layers] == [None, None]
    (note,) = [p for p in r.problems if p.code == "V002"]
    assert note.severity.value == "note" and "MiB" in note.message
    assert estimate_peak_bytes(r) > 2**30


def test_estimate_covers_the_largest_layer() -> None:
    r = cnncalc.analyze("224x224x3 -> conv(64, 3, p=1) -> flatten -> fc(4096)")
    fc_weights = 224 * 224 * 64 * 4096 * 4
    assert estimate_peak_bytes(r) >= fc_weights


def test_a_wrong_formula_is_reported_as_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    real = layers.Upsample.output_shape
    monkeypatch.setattr(layers.Upsample, "output_shape",
                        lambda self, inp: (real(self, inp)[0] + 1, *real(self, inp)[1:]))
    r = cnncalc.analyze("8x8x3 -> upsample(2) -> relu", verify=True)
    bugs = [p for p in r.problems if p.code == "V001"]
    assert [b.path for b in bugs] == ["1", "2"]  # the upsample, and the relu fed by it
    assert bugs[0].severity.value == "error" and "bug in cnncalc" in bugs[0].message
    assert r.layers[0].verified is False and not r.ok


def test_cli_runs_it_by_default_and_not_with_no_verify() -> None:
    runner = CliRunner()
    spec = SPECS[0]
    out = json.loads(runner.invoke(main, [spec, "--format", "json"]).stdout)
    assert all(row["verified"] is True for row in out["layers"])
    out = json.loads(runner.invoke(main, [spec, "--format", "json", "--no-verify"]).stdout)
    assert all(row["verified"] is None for row in out["layers"])
    table = runner.invoke(main, [spec], env={"NO_COLOR": "1"}).stdout
    assert "✓" in table.splitlines()[0]
    res = runner.invoke(main, [spec, "--max-memory", "1KB", "--format", "json"])
    assert json.loads(res.stdout)["problems"][-1]["code"] == "V002"


# --------------------------------------------------------------------------- issue 8

TIME_BOUND = [
    "1x1x1 -> lrn(1e8)",
    "4000x4000x1 -> maxpool(4000)",
    "2000x2000x1 -> avgpool(999, s=1)",
    "1x1x1 -> adaptiveavgpool(100000x1)",
    "1x1x1 -> deconv(1, 20000)",
    "64x64x3 -> conv(3, 2001, p=1000)",
    "64x64x8 -> dwconv(2001, p=1000)",
    "8x8x3 -> conv(8, 3, p=same, d=5000)",
    "1000000 -> lrn(999999)",
]


@pytest.mark.parametrize("spec", TIME_BOUND)
def test_adversarial_passes_finish_in_time(spec: str) -> None:
    """Every adversarial pass either runs vectorised or is skipped (V002): never a hang."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "cnncalc", "summary", spec, "--format", "json"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    codes = [p["code"] for p in report["problems"] if p["code"].startswith("V")]
    assert codes in ([], ["V002"]), report["problems"]
    if not codes:
        assert all(row["verified"] for row in report["layers"])


def test_analyze_verify_has_a_default_memory_cap() -> None:
    r = cnncalc.analyze("20000x20000x64 -> relu", verify=True)  # 100 GB of activations
    (note,) = [p for p in r.problems if p.code == "V002"]
    assert "2,048.0 MiB allowed" in note.message and note.severity.value == "note"
    assert r.ok and all(row.verified is None for row in r.layers)


def test_running_out_of_memory_is_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise MemoryError
    monkeypatch.setattr(layers.ReLU, "forward", boom)
    r = cnncalc.analyze("8x8x3 -> conv(4, 3) -> relu", verify=True)
    assert [(p.severity.value, p.code, p.path) for p in r.problems] == [("note", "V002", "2")]
    assert "ran out of memory" in r.problems[0].message and r.problems[0].suggestions
    assert r.ok
    res = CliRunner().invoke(main, ["8x8x3 -> conv(4, 3) -> relu", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["problems"][0]["code"] == "V002"


@pytest.mark.parametrize("exc", [ValueError("x"), FloatingPointError("y"), OverflowError("z"),
                                 IndexError("w"), TypeError("v")])
def test_a_failing_kernel_is_a_v001_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                    exc: Exception) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise exc
    monkeypatch.setattr(layers.ReLU, "forward", boom)
    r = cnncalc.analyze("8x8x3 -> relu", verify=True)
    assert [(p.code, p.path) for p in r.problems] == [("V001", "1")]


def test_work_budget_skips_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnncalc import forward
    monkeypatch.setattr(forward, "MAX_WORK", 1e4)
    r = cnncalc.analyze("64x64x3 -> conv(16, 3) -> relu", verify=True)
    (note,) = r.problems
    assert note.code == "V002" and "would take" in note.message and note.path == "1"


def test_blas_threads_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnncalc import forward
    monkeypatch.setattr(forward.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    for others, configured, want in [(0, 8, 4), (1, 8, 3), (3, 8, 1), (9, 8, 1), (0, 2, 2)]:
        monkeypatch.setattr(forward, "_others_running", lambda o=others: o)
        assert forward.blas_threads(configured) == want


def _layer_text(draw: st.DrawFn) -> str:
    k = draw(st.integers(1, 9))
    s = draw(st.integers(1, 12))
    p = draw(st.sampled_from(["0", "1", "same", str(k // 2), "40"]))
    d = draw(st.integers(1, 30))
    c = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["conv", "dwconv", "deconv", "maxpool", "avgpool",
                                 "adaptiveavgpool", "lrn", "conv_g"]))
    if kind == "conv":
        return f"conv({c}, {k}, s={s}, p={p}, d={d})"
    if kind == "conv_g":
        return f"conv(4, {k}, s={s}, p={p}, g=2)"
    if kind == "dwconv":
        return f"dwconv({k}, s={s}, p={p}, d={d}, m={c})"
    if kind == "deconv":
        return f"deconv({c}, {k}, s={s}, p={draw(st.integers(0, k // 2))}, d={d % 3 + 1})"
    if kind in ("maxpool", "avgpool"):
        pad = draw(st.integers(0, k // 2))
        ceil = draw(st.booleans())
        return f"{kind}({k}, s={s}, p={pad}, ceil={'true' if ceil else 'false'})"
    if kind == "adaptiveavgpool":
        return f"adaptiveavgpool({draw(st.integers(1, 40))}x{draw(st.integers(1, 40))})"
    return f"lrn({draw(st.integers(1, 100))})"


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    layers = [_layer_text(draw) for _ in range(draw(st.integers(1, 3)))]
    return f"{h}x{w}x4 -> " + " -> ".join(layers)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(spec_texts())
def test_generated_layers_verify_within_their_memory_plan(spec: str) -> None:
    """Random windows, strides, paddings, dilations: every valid network's pass verifies
    every row (the kernels' own output sizes agree with the formulas), raises nothing,
    and NumPy's traced allocations stay within the plan's estimate."""
    import tracemalloc

    from cnncalc.forward import SLACK_BYTES, plan, verify_report
    report = cnncalc.analyze(spec)
    if not report.ok:
        return
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        verified = verify_report(report)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    codes = [p.code for p in verified.problems if p.code.startswith("V")]
    assert codes in ([], ["V002"]), (spec, verified.problems)
    if not codes:
        assert all(row.verified for row in verified.layers), spec
        # without the slack the plan adds for chunk temporaries, plus the pass's fixed
        # allocations (the random block: a float64 draw and its float32 copy)
        assert peak <= plan(report).peak_bytes - SLACK_BYTES + (1 << 20), spec


def test_a_network_too_large_to_estimate_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnncalc import forward

    def huge(*args: object) -> forward.Cost:
        return forward.Cost(0, 10**400 * forward.WORK_MAC)  # float overflow
    monkeypatch.setattr(forward, "layer_cost", huge)
    r = cnncalc.analyze("8x8x3 -> relu", verify=True)
    assert [(p.code, p.severity.value) for p in r.problems] == [("V002", "note")]


@pytest.fixture
def blas_threads_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The BLAS thread counts in force whenever the pass runs a relu."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    seen: list[int] = []
    real = layers.ReLU.forward

    def spy(self: layers.ReLU, x: object, w: object) -> object:
        seen.extend(i["num_threads"] for i in threadpoolctl.threadpool_info()
                    if i["user_api"] == "blas")
        return real(self, x, w)  # type: ignore[arg-type]
    monkeypatch.setattr(layers.ReLU, "forward", spy)
    return seen


def test_the_pass_runs_with_the_chosen_blas_threads(monkeypatch: pytest.MonkeyPatch,
                                                    blas_threads_seen: list[int]) -> None:
    from cnncalc import forward
    seen = blas_threads_seen
    monkeypatch.setattr(forward, "blas_threads", lambda configured: 1)
    r = cnncalc.analyze("512x512x64 -> relu", verify=True)
    assert r.layers[0].verified and seen and set(seen) == {1}


# --------------------------------------------------------------------------- BLAS's buffers

MIB = 2**20


@pytest.mark.parametrize(("node", "inp", "gemm"), [
    # fc(flatten=false): positions x C times C x units, per image of the batch (2 here)
    (layers.FC(48, flatten=False), (256, 256, 32), 4 * 32 * (2 * 65536 + 48)),
    # fc on a volume: one row per image of the whole flattened input
    (layers.FC(10), (7, 7, 64), 4 * 3136 * (2 + 10)),
    # a 1x1 stride-1 conv is one GEMM over every cell: cells x C times C x F
    (layers.Conv(64, (1,)), (32, 32, 16), 4 * 16 * (2 * 1024 + 64)),
    # depthwise: multiply-adds, no GEMM
    (layers.DepthwiseConv((3,)), (32, 32, 16), 0),
    # deconv: one tap's GEMM on a chunk of input rows (the whole 8x8 input fits one chunk)
    (layers.Deconv(8, (3,), stride=(2,)), (8, 8, 4), 4 * 4 * (2 * 64 + 8)),
])
def test_gemm_operand_bytes_by_hand(node: layers.Layer, inp: tuple[int, ...], gemm: int) -> None:
    out = node.output_shape(inp)
    assert node.cost(inp, out, 2).gemm == gemm


def test_the_plan_counts_each_blas_thread_s_buffer() -> None:
    from cnncalc.forward import BLAS_BUFFER_BYTES, plan
    # 256x256x64 -> conv(64, 1): one GEMM with 16 MiB of input (+16 KiB of weights)
    gemm = 4 * 64 * (65536 + 64)
    report = cnncalc.analyze("256x256x64 -> conv(64, 1) -> relu")
    without = cnncalc.analyze("256x256x64 -> relu -> relu")  # same buffers, no GEMM
    need = plan(report)
    assert gemm < BLAS_BUFFER_BYTES
    # the conv's step: input + output + weights + slack, plus one thread's buffer
    assert need.peak_bytes >= plan(without).peak_bytes + gemm
    for t in range(1, 5):
        assert need.peak_at(t) == need.peak_at(1) + (t - 1) * gemm
        assert need.threads_within(need.peak_at(t), 8) == t
        assert need.threads_within(need.peak_at(t) - 1, 8) == max(1, t - 1)
    assert need.threads_within(0, 8) == 1  # never fewer than one
    assert need.peak_at(1) == need.peak_bytes
    # a GEMM larger than the buffer: one buffer per thread
    big = plan(cnncalc.analyze("512x512x64 -> conv(64, 1)"))
    assert big.peak_at(3) - big.peak_at(2) == BLAS_BUFFER_BYTES
    # no GEMM, no threads counted
    assert plan(without).peak_at(8) == plan(without).peak_bytes
    # the peak before a small GEMM: more threads leave it where it is
    early = plan(cnncalc.analyze("256x256x64 -> relu -> gap -> fc(10)"))
    assert early.peak_row is not None and early.peak_row.kind == "relu"
    assert early.peak_at(1) == early.peak_at(2) == early.peak_bytes


@pytest.mark.parametrize("room", [1, 2])
def test_the_pass_uses_only_the_blas_threads_the_budget_has_room_for(
        monkeypatch: pytest.MonkeyPatch, blas_threads_seen: list[int], room: int) -> None:
    import threadpoolctl

    from cnncalc import forward
    configured = max(i["num_threads"] for i in threadpoolctl.threadpool_info()
                     if i["user_api"] == "blas")
    seen = blas_threads_seen
    monkeypatch.setattr(forward, "blas_threads", lambda configured: configured)  # no load
    monkeypatch.setattr(forward, "_cpus", lambda: 8)
    spec = "256x256x64 -> conv(64, 1) -> relu"
    budget = forward.plan(cnncalc.analyze(spec)).peak_at(room)
    r = cnncalc.analyze(spec, verify=True, max_memory=budget)
    assert all(row.verified for row in r.layers)
    assert seen and set(seen) == {min(room, configured)}

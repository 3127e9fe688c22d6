"""Speed harness: implementations checked equal before timing; checkpointing, compile, bf16."""
import collections
import math

import pytest
import torch
from conftest import tiny

import vidtr
from benchmark.measure import speed as sp

SMALL = dict(embed_dims=32, num_heads=4, img_size=32)


def test_speed_compares_implementations_on_the_same_weights(tmp_path):
    df = sp.speed(["vidtr_s_8x8", "cvidtr_s_8x8"], batches=(1, 2), iters=2, warmup=1, progress=False, overrides=SMALL)
    assert len(df) == 2 * 3 * 2 and set(df["impl"]) == {"released", "math", "sdpa"}
    assert (df[df["impl"] == "released"]["speedup_vs_released"] == 1.0).all()
    assert (df["max_abs_diff"] < 1e-4).all() and (df["latency_ms"] > 0).all()
    assert (df["tmac_per_s"] > 0).all() and (df["matmul_fraction"] > 0).all()
    assert (df["matmul_tmac_per_s"] > 0).all() and (df["mlp_matmul_tmac_per_s"] > 0).all()
    assert (df["matmul_fraction"] == df["tmac_per_s"] / df["matmul_tmac_per_s"]).all()
    csv, md = sp.write(df, None, str(tmp_path), "vidtr-bench speed --test")
    header = csv.read_text().splitlines()[0]
    for col in ("model", "impl", "device", "dtype", "mode", "batch", "latency_ms", "throughput", "peak_mem_mb",
                "tmac_per_s"):
        assert col in header.split(",")
    text = md.read_text()
    assert "cpu" in text and "4096x4096" in text and "vidtr-bench speed --test" in text


def test_train_mode_times_full_steps():
    df = sp.speed(["vidtr_s_8x8"], mode="train", impls=("sdpa",), iters=1, warmup=1, progress=False, overrides=SMALL)
    assert len(df) == 1 and df["latency_ms"].iloc[0] > 0


def test_a_wrong_implementation_is_caught_before_timing(monkeypatch):
    real = vidtr.vidtr._attend

    def broken(q, k, v, drop, impl, need_map=False):
        out, attn = real(q, k, v, drop, impl, need_map)
        return (out * 1.5 if impl == "math" else out), attn

    monkeypatch.setattr(vidtr.vidtr, "_attend", broken)
    df = sp.speed(["vidtr_s_8x8"], iters=1, warmup=0, progress=False, overrides=SMALL).set_index("impl")
    assert "attn_impl=math differs from attn_impl=released" in df.loc["math", "error"]
    assert df.loc["math", ["latency_ms", "throughput", "speedup_vs_released"]].isna().all()  # never timed
    assert df.loc["sdpa", "latency_ms"] > 0 and not df.loc["sdpa", "error"]  # the others still are


def test_gradient_checkpointing_gives_the_same_gradients():
    kw = tiny("cvidtr_s_8x8", drop_rate=0.0, attn_drop_rate=0.0)
    a = vidtr.build_backbone("cvidtr_s_8x8", **kw).train()
    b = vidtr.build_backbone("cvidtr_s_8x8", grad_checkpointing=True, **kw).train()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 8, 32, 32)
    a(x).square().sum().backward()
    b(x).square().sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        if pa.grad is not None:
            torch.testing.assert_close(pa.grad, pb.grad, atol=1e-5, rtol=1e-4)


def test_bf16_autocast_stays_close_to_fp32():
    model = vidtr.build_backbone("vidtr_s_8x8", **tiny("vidtr_s_8x8")).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x).float()
    rel = (low - ref).norm() / ref.norm()
    assert rel < 0.05, float(rel)  # bf16 keeps 8 bits of mantissa: ~1e-2 relative after 12 layers


@pytest.mark.slow
def test_compiled_and_eager_models_agree():
    model = vidtr.build_backbone("vidtr_s_8x8", depth=2, **tiny("vidtr_s_8x8")).eval()
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model)(x)
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


def test_std_topk_overhead_is_measured():
    r = sp.std_topk_overhead("cpu", iters=2)
    assert r["plain_ms"] > 0 and r["std_topk_ms"] > 0 and r["overhead"] > -1
    assert r["temporal_plain_ms"] > 0 and r["temporal_std_topk_ms"] > 0


def _op_counts(model, x) -> collections.Counter:
    from torch.profiler import profile

    with profile() as prof, torch.no_grad():
        model(x)
    return collections.Counter(e.name for e in prof.events())


@pytest.mark.parametrize("name", ["vidtr_s_8x8", "cvidtr_s_8x8", "vanilla_tr_8x8"])
def test_released_structure_materialises_maps_and_copies_where_sdpa_does_not(name):
    """The baseline really is another computation: bmm-materialised maps and permute copies
    (or nn.MultiheadAttention's own function for joint layers), no fused kernel."""
    kw = dict(SMALL, drop_rate=0.0, attn_drop_rate=0.0)
    released = vidtr.build_backbone(name, attn_impl="released", **kw).eval()
    fused = vidtr.build_backbone(name, attn_impl="sdpa", **kw).eval()
    fused.load_state_dict(released.state_dict())
    x = torch.randn(1, 3, 8, 32, 32)
    ops_r, ops_f = _op_counts(released, x), _op_counts(fused, x)
    assert ops_r["aten::scaled_dot_product_attention"] == 0 and ops_r["aten::bmm"] > 0
    assert ops_f["aten::scaled_dot_product_attention"] > 0
    assert ops_r["aten::clone"] > ops_f["aten::clone"]  # batch 1: the fast path copies nothing it need not
    with torch.no_grad():
        torch.testing.assert_close(released(x), fused(x), atol=1e-5, rtol=1e-4)


def test_joint_layers_of_the_baseline_run_through_torch_multihead_attention(monkeypatch):
    calls = []
    real = torch.nn.functional.multi_head_attention_forward
    monkeypatch.setattr(torch.nn.functional, "multi_head_attention_forward",
                        lambda *a, **k: calls.append(k["need_weights"]) or real(*a, **k))
    model = vidtr.build_backbone("cvidtr_s_8x8", attn_impl="released", **SMALL).eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 8, 32, 32))
    assert calls == [True] * 6  # layers 6-11 are joint in C-VidTr-S; maps materialised as released


def test_mfu_uses_the_bf16_peak_and_the_train_step_count():
    df = sp.speed(["vidtr_s_8x8"], mode="train", impls=("sdpa",), iters=1, warmup=0, progress=False,
                  overrides=SMALL, peak_tflops=1.0)
    row = df.iloc[0]
    assert row["mfu"] == pytest.approx(2 * row["tmac_per_s"] / 1.0)
    gmacs = row["tmac_per_s"] * row["latency_ms"] / 3  # tmac_per_s = 3 x count x batch / time
    assert gmacs == pytest.approx(cx_count(), rel=1e-6)
    assert "MFU: 2 x fvcore count x 3 per step" in sp.summary(df, None, "cmd")


def cx_count():
    from benchmark.measure import flops as cx

    model = vidtr.build_backbone("vidtr_s_8x8", **dict(SMALL, drop_rate=0.0, attn_drop_rate=0.0)).eval()
    return cx.count_flops(model, torch.randn(1, 3, 8, 32, 32)).gflops


def test_known_gpus_have_their_dense_bf16_peak():
    assert sp.bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert sp.bf16_peak_tflops("NVIDIA H100 PCIe") == 756.5
    assert sp.bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert math.isnan(sp.bf16_peak_tflops("cpu (x86_64, 2 threads)"))  # no peak is made up
    assert math.isnan(sp.bf16_peak_tflops("NVIDIA GeForce GTX 1080"))


def test_memory_ratio_pairs_separable_and_joint_rows_of_the_same_impl_batch_and_frames():
    import pandas as pd

    rows = [("vanilla_tr_8x8", "joint", 16, "sdpa", 1, 7000.0),
            ("vidtr_s_8x8", "temporal_spatial", 16, "sdpa", 1, 2000.0),
            ("vanilla_tr_8x8", "joint", 16, "released", 1, 30000.0),
            ("vidtr_s_8x8", "temporal_spatial", 16, "released", 1, 6000.0),
            ("vidtr_s_8x8", "temporal_spatial", 8, "sdpa", 1, 1000.0)]  # no joint row at T=8: unpaired
    df = pd.DataFrame(rows, columns=["model", "attention", "frames", "impl", "batch", "peak_mem_mb"])
    r = sp.memory_ratios(df).set_index("impl")
    assert len(r) == 2
    assert r.loc["sdpa", "joint_over_model"] == pytest.approx(3.5)
    assert r.loc["released", "joint_over_model"] == pytest.approx(5.0)


def test_tf32_is_refused_off_the_gpu():
    with pytest.raises(ValueError, match="CUDA fp32"):
        sp.speed(["vidtr_s_8x8"], tf32="fast", iters=1, warmup=0, progress=False, overrides=SMALL)


def test_runs_of_other_settings_write_other_files(tmp_path):
    kw = dict(impls=("sdpa",), iters=1, warmup=0, progress=False, overrides=dict(SMALL, depth=1))
    runs = {"a": sp.speed(["vidtr_s_8x8"], **kw), "b": sp.speed(["vidtr_s_8x8"], compile=True, **kw),
            "c": sp.speed(["vidtr_s_8x8"], **dict(kw, overrides=dict(SMALL, depth=1, num_frames=4))),
            "d": sp.speed(["vidtr_s_8x8"], mode="train", grad_checkpointing=True, **kw)}
    files = {k: sp.write(df, None, str(tmp_path), k) for k, df in runs.items()}
    assert len({p.name for paths in files.values() for p in paths}) == 8
    assert "_T4_" in files["c"][0].name and "_ckpt_" in files["d"][0].name
    for k, (csv, md) in files.items():
        assert f"`{k}`" in md.read_text()


def test_a_batch_that_does_not_fit_is_a_row_and_no_speedup_is_made_of_it(monkeypatch):
    real = sp._peak_step_mb

    def oom_for_released(c, *a):
        if c.impl == "released":
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(c, *a)

    monkeypatch.setattr(sp, "_peak_step_mb", oom_for_released)
    df = sp.speed(["vidtr_s_8x8"], iters=1, warmup=0, progress=False, overrides=SMALL).set_index("impl")
    assert df.loc["released", "error"] == "out of memory" and math.isinf(df.loc["released", "latency_ms"])
    assert df.loc["sdpa", "latency_ms"] > 0 and df["speedup_vs_released"].isna().all()
    assert "OOM" in sp.summary(df.reset_index(), None, "cmd")

"""Speed harness: implementations checked equal before timing; checkpointing, compile, bf16."""
import pytest
import torch
import vidtr
from benchmark import speed as sp
from conftest import tiny

SMALL = dict(embed_dims=32, num_heads=4, img_size=32)


def test_speed_compares_implementations_on_the_same_weights(tmp_path):
    df = sp.speed(["vidtr_s_8x8", "cvidtr_s_8x8"], batches=(1, 2), iters=2, warmup=1, progress=False, overrides=SMALL)
    assert len(df) == 2 * 3 * 2 and set(df["impl"]) == {"released", "math", "sdpa"}
    assert (df[df["impl"] == "released"]["speedup_vs_released"] == 1.0).all()
    assert (df["max_abs_diff"] < 1e-4).all() and (df["latency_ms"] > 0).all()
    assert (df["tflops"] > 0).all() and (df["matmul_fraction"] > 0).all()
    assert df.attrs["matmul_tflops"] > 0
    b2 = df[(df["batch"] == 2)]
    assert ((b2["throughput"] - 2 / (b2["latency_ms"] / 1e3)).abs() < 1e-6).all()
    csv, md = sp.write(df, None, str(tmp_path), "vidtr-bench speed --test")
    header = csv.read_text().splitlines()[0]
    for col in ("model", "impl", "device", "dtype", "mode", "batch", "latency_ms", "throughput", "peak_mem_mb", "tflops"):
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
    with pytest.raises(AssertionError, match="attn_impl=math differs"):
        sp.speed(["vidtr_s_8x8"], iters=1, warmup=0, progress=False, overrides=SMALL)


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

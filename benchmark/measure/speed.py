"""``vidtr-bench speed``: latency, throughput, peak memory and achieved FLOP/s of each attention
implementation, measured side by side in one process on the same weights, with outputs checked
equal before anything is timed. FLOPs follow the complexity tables (fvcore: one multiply-add
is one FLOP); a large fp32/bf16 matmul measured in the same run is the reference rate."""
from __future__ import annotations

import math
import statistics
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..files import write_output
from ..formatting import number, render_table
from ..provenance import device_name, versions_line
from . import flops as cx
from . import timing
from .memory import peak_bytes

IMPLS = ("released", "math", "sdpa")  # the released code's structure first: the baseline
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
COLUMNS = ["model", "attention", "frames", "impl", "device", "dtype", "matmul_precision", "mode", "batch", "compiled",
           "latency_ms", "latency_min_ms", "latency_max_ms", "throughput", "peak_mem_mb", "tmac_per_s", "mfu",
           "matmul_fraction", "matmul_tmac_per_s", "mlp_matmul_tmac_per_s", "speedup_vs_released", "max_abs_diff",
           "error"]  # tmac_per_s: tera multiply-adds per second (fvcore's count / latency)
TF32 = ("none", "fast", "all")  # which implementations may run fp32 matmuls as TF32 on a GPU

# Dense bf16 tensor-core peaks (TFLOP/s, one multiply-add = 2 FLOPs, no sparsity) from the
# vendors' data sheets, matched against torch.cuda.get_device_name(); --peak-tflops overrides.
BF16_PEAK_TFLOPS = {"H200": 989.4, "H100 PCIe": 756.5, "H100": 989.4, "A100": 312.0, "L40S": 362.1,
                    "A10G": 70.0, "V100": 125.0}
# and plain fp32 (no TF32: PyTorch leaves TF32 matmuls off by default), for runs without mixed precision
FP32_PEAK_TFLOPS = {"H200": 66.9, "H100 PCIe": 51.2, "H100": 66.9, "A100": 19.5, "L40S": 91.6, "A10G": 31.2,
                    "V100": 15.7}


def bf16_peak_tflops(gpu: str) -> float:
    """The dense bf16 peak of a known GPU (fp16 for the V100, which has no bf16), else NaN."""
    for key, peak in BF16_PEAK_TFLOPS.items():  # ordered: "H100 PCIe" before "H100"
        if key in gpu:
            return peak
    return float("nan")


# Reference matmuls timed in the same rounds as the models: a large square one, and VidTr-S's
# MLP shape (8 x 197 tokens by 768 -> 3072), as (m, k, n).
REFERENCE_MATMULS = {"matmul": (4096, 4096, 4096), "mlp_matmul": (8 * 197, 768, 3072)}


def _matmul(device: torch.device, dtype: torch.dtype, m: int, k: int, n: int):
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    return lambda: a @ b


@contextmanager
def _matmul_precision(device: torch.device, tf32: bool):
    """TF32 for fp32 matmuls and convolutions on a GPU, restored afterwards."""
    if device.type != "cuda":
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _with_precision(fn, device: torch.device, tf32: bool):
    def call():
        with _matmul_precision(device, tf32):
            return fn()
    return call


def _autocast(device: torch.device, dtype: torch.dtype):
    return nullcontext() if dtype == torch.float32 else torch.autocast(device.type, dtype=dtype)


def _step(model, x, mode: str, device, dtype, optimizer=None):
    if mode == "infer":
        def fn():
            with torch.no_grad(), _autocast(device, dtype):
                return model(x)
        return fn

    def fn():  # one training step: forward, backward, optimizer step
        with _autocast(device, dtype):
            loss = model(x).float().square().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return fn


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class _Candidate:
    """One attention implementation of one model, weights shared with the others."""
    impl: str
    model: torch.nn.Module
    runner: object  # the model, or its torch.compile wrapper
    max_abs_diff: float
    tf32: bool
    error: str = ""  # set when its output differs from the released structure's: never timed


def _build_checked(name: str, impls, dev, kw: dict, compile: bool, tf32: str) -> tuple[dict, float]:
    """Every implementation of ``name`` on the same weights, each checked against the first
    (the released structure) in fp32 before anything is timed; and the fvcore count (G MACs)."""
    import vidtr

    counted = vidtr.build_backbone(name, **dict(kw, attn_impl="sdpa")).eval()  # one count for all impls
    clip = _clip(counted, 1)
    gmacs = cx.count_flops(counted, clip).gflops
    built, ref = {}, None
    for impl in impls:
        model = vidtr.build_backbone(name, **dict(kw, attn_impl=impl))
        model.load_state_dict(counted.state_dict())
        model = model.to(dev).eval()
        with torch.no_grad():
            out = model(clip.to(dev)).float().cpu()
        ref = out if ref is None else ref
        diff = float((out - ref).abs().max())
        error = (f"attn_impl={impl} differs from attn_impl={impls[0]} by {diff:.3g}: not timed"
                 if diff > 1e-3 * max(1.0, float(ref.abs().max())) else "")
        built[impl] = _Candidate(impl, model, torch.compile(model) if compile else model, diff,
                                 tf32 == "all" or (tf32 == "fast" and impl != "released"), error)
    return built, gmacs


def _peak_step_mb(c: _Candidate, step, x: Tensor, dev, warmup: int) -> float:
    """Warm-up (and compilation); on a GPU, the peak memory of this implementation alone: its
    own weights and input plus what its step allocated on top of everything resident."""
    def warm():
        with _matmul_precision(dev, c.tf32):
            for _ in range(max(warmup, 1)):
                step()

    if dev.type != "cuda":  # the CPU's peak would need the profiler on every warm-up step
        warm()
        return float("nan")
    own = _nbytes(c.model.parameters()) + _nbytes(c.model.buffers()) + _nbytes([x])
    return (own + peak_bytes(warm, dev)) / 2**20


def _measure(built: dict, batch: int, mode: str, dev, dt, warmup: int, iters: int) -> tuple[dict, dict]:
    """Peak memory of each implementation alone, then latencies timed round-robin (one call of
    each implementation and of each reference matmul per round) so that drift in clocks or
    load hits all of them alike. Returns (impl -> dict(times, peak_mb), or None where the batch
    did not fit; (reference name, tf32) -> tera multiply-adds per second)."""
    live = [c for c in built.values() if not c.error]
    x = _clip(built[next(iter(built))].model, batch).to(dev)
    steps, result = {}, {}
    for c in live:
        c.model.train(mode == "train")
        opt = torch.optim.SGD(c.model.parameters(), lr=1e-4) if mode == "train" else None
        steps[c.impl] = _step(c.runner, x, mode, dev, dt, opt)

    def free(key) -> None:  # an implementation that ran out of memory gives its gradients back
        if key in built:
            result[key] = None
            for p in built[key].model.parameters():
                p.grad = None
            if dev.type == "cuda":
                torch.cuda.empty_cache()

    for c in live:
        result[c.impl] = dict(times=[])
        if not timing.fits(lambda: result[c.impl].update(peak_mb=_peak_step_mb(c, steps[c.impl], x, dev, warmup)),
                           dev):
            free(c.impl)
    # the reference matmuls, at each matmul precision the implementations use
    refs = {(name, t32): _matmul(dev, dt, *shape) for name, shape in REFERENCE_MATMULS.items()
            for t32 in {c.tf32 for c in built.values()}}
    fns = {c.impl: _with_precision(steps[c.impl], dev, c.tf32) for c in live if result[c.impl] is not None}
    fns.update({key: _with_precision(fn, dev, key[1]) for key, fn in refs.items()})
    times = timing.round_robin(fns, dev, iters, on_oom=free)
    for c in live:
        if result[c.impl] is not None:
            result[c.impl]["times"] = times[c.impl]
    for c in live:
        c.model.eval()
    rates = {key: math.prod(REFERENCE_MATMULS[key[0]]) / statistics.median(times[key]) / 1e9 for key in refs}
    return result, rates


def _compile_budget():
    """Every implementation, model and batch size is one more dynamo cache entry on VidTr's
    forward: allow them all, and fail loudly rather than fall back to eager while a row says
    'compiled'."""
    import torch._dynamo

    torch._dynamo.reset()
    cfg = torch._dynamo.config
    cfg.recompile_limit = max(cfg.recompile_limit, 64)
    cfg.fail_on_recompile_limit_hit = True


def speed(models: list[str], *, device: str = "cpu", dtype: str = "fp32", batches=(1,), mode: str = "infer",
          impls=IMPLS, compile: bool = False, iters: int = 5, warmup: int = 2, grad_checkpointing: bool = False,
          progress: bool = True, overrides: Optional[dict] = None, tf32: str = "none",
          peak_tflops: Optional[float] = None) -> pd.DataFrame:
    """One row per (model, implementation, batch). ``overrides``: VidTrSpec fields for every
    model (``num_frames``; the tests use small ones). ``tf32``: on a GPU, let fp32 matmuls run
    as TF32 for no implementation, for all but ``released`` (``fast``), or for ``all``.
    ``peak_tflops``: dense bf16 peak for MFU (default: looked up from the GPU's name).
    An implementation whose output differs from the released structure's gets a row with
    ``error`` and no timing; a batch that does not fit gets ``inf`` latency and memory."""
    from tqdm import tqdm

    if tf32 not in TF32:
        raise ValueError(f"tf32={tf32!r}: expected one of {TF32}")
    if tf32 != "none" and (device != "cuda" or dtype != "fp32"):
        raise ValueError("tf32 is a CUDA fp32 matmul mode: use it with --device cuda --dtype fp32")
    impls = tuple(impls)
    dev = torch.device(device)
    dt = DTYPES[dtype]
    peak = peak_tflops if peak_tflops else bf16_peak_tflops(device_name(dev))
    kw = dict(overrides or {}, drop_rate=0.0, attn_drop_rate=0.0, grad_checkpointing=grad_checkpointing)
    rows = []
    bar = tqdm(total=len(models) * len(batches), disable=not progress, unit="batch")
    for name in models:
        if compile:
            _compile_budget()
        bar.set_description(f"{name}: build + check")
        built, gmacs = _build_checked(name, impls, dev, kw, compile, tf32)
        spec = next(iter(built.values())).model.spec
        for batch in batches:
            bar.set_description(f"{name} batch {batch}")
            measured, rates = _measure(built, batch, mode, dev, dt, warmup, iters)
            for c in built.values():
                info = dict(model=name, attention=spec.temporal_mode, frames=spec.num_frames, impl=c.impl,
                            device=device, dtype=dtype, matmul_precision="tf32" if c.tf32 else "ieee", mode=mode,
                            batch=batch, compiled=compile, max_abs_diff=c.max_abs_diff, error=c.error,
                            matmul_tmac_per_s=rates[("matmul", c.tf32)],
                            mlp_matmul_tmac_per_s=rates[("mlp_matmul", c.tf32)])
                m = measured.get(c.impl)
                if c.error:
                    rows.append(info)
                    continue
                if m is None:  # recorded as a row: the batch does not fit
                    rows.append(dict(info, latency_ms=float("inf"), peak_mem_mb=float("inf"), error="out of memory"))
                    continue
                lat = statistics.median(m["times"])
                work = gmacs * batch * (3 if mode == "train" else 1)  # backward ~ 2x forward
                tmacs = work / (lat / 1e3) / 1e3
                rows.append(dict(info, latency_ms=lat, latency_min_ms=min(m["times"]),
                                 latency_max_ms=max(m["times"]), throughput=batch / (lat / 1e3),
                                 peak_mem_mb=m["peak_mb"], tmac_per_s=tmacs, mfu=2 * tmacs / peak,
                                 matmul_fraction=tmacs / info["matmul_tmac_per_s"]))
            bar.update()
        del built
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    bar.close()
    df = pd.DataFrame(rows).reindex(columns=COLUMNS)
    timed = df["latency_ms"].where(np.isfinite(df["latency_ms"]))  # NaN for untimed and out-of-memory rows
    base = timed[df["impl"] == "released"].groupby([df["model"], df["batch"]]).first()
    df["speedup_vs_released"] = [base.get((m, b), float("nan")) / lat for m, b, lat in
                                 zip(df["model"], df["batch"], timed)]
    df.attrs.update(device=device_name(dev), dtype=dtype, mode=mode, peak_tflops=peak, tf32=tf32,
                    frames=(overrides or {}).get("num_frames"), grad_checkpointing=grad_checkpointing)
    return df


def _clip(model, batch: int) -> torch.Tensor:
    s = model.spec
    return torch.randn(batch, s.in_channels, s.num_frames, s.img_size, s.img_size)


def std_topk_overhead(device: str = "cpu", T: int = 8, iters: int = 5) -> dict:
    """std-topK pooling (keep T-2) against no pooling at the same input T, VidTr-S size:
    the whole layer (pooling also shortens what follows it) and the temporal attention alone
    (T x T maps + std + top-k + gather against fused attention). Target: at most 10% more."""
    import vidtr
    from vidtr.vidtr import Block

    dev = torch.device(device)
    spec = vidtr.resolve_spec("cvidtr_s_8x8", dict(drop_rate=0.0, attn_drop_rate=0.0, num_frames=T))
    plain, pooled = Block(spec, "temporal_spatial").to(dev).eval(), Block(spec, "temporal_spatial", "std_topk", T - 2)
    pooled.load_state_dict(plain.state_dict())
    pooled = pooled.to(dev).eval()
    x = torch.randn(1, T, spec.num_patches, spec.embed_dims, device=dev)
    cls = torch.randn(1, 1, spec.embed_dims, device=dev)
    q, k, v = (torch.randn(1, spec.num_heads, spec.num_patches, T, spec.embed_dims // spec.num_heads, device=dev)
               for _ in range(3))
    with torch.no_grad():
        times = timing.round_robin({"plain": lambda: plain(x, cls, None), "pooled": lambda: pooled(x, cls, None),
                                    "plain_t": lambda: plain.attn._temporal(q, k, v),
                                    "pooled_t": lambda: pooled.attn._temporal(q, k, v)}, dev, iters, warmup=2)
    t = {k: statistics.median(v) for k, v in times.items()}
    return dict(plain_ms=t["plain"], std_topk_ms=t["pooled"], overhead=t["pooled"] / t["plain"] - 1,
                temporal_plain_ms=t["plain_t"], temporal_std_topk_ms=t["pooled_t"],
                temporal_overhead=t["pooled_t"] / t["plain_t"] - 1)


def memory_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Peak training memory of each separable model over the joint model's at the same
    implementation, batch and frames (Table 4b's comparison), one row per pair."""
    ok = df[np.isfinite(df["peak_mem_mb"].astype(float))]  # measured: neither NaN (CPU, untimed) nor OOM
    joint = ok[ok["attention"] == "joint"]
    rows = []
    for _, j in joint.iterrows():
        same = ok[(ok["attention"] != "joint") & (ok["impl"] == j["impl"]) & (ok["batch"] == j["batch"])
                  & (ok["frames"] == j["frames"])]
        for _, r in same.iterrows():
            rows.append(dict(model=r["model"], joint=j["model"], impl=r["impl"], batch=r["batch"], frames=r["frames"],
                             peak_mem_mb=r["peak_mem_mb"], joint_peak_mem_mb=j["peak_mem_mb"],
                             joint_over_model=j["peak_mem_mb"] / r["peak_mem_mb"]))
    return pd.DataFrame(rows)


def _span(values: pd.Series) -> str:
    lo, hi = values.min(), values.max()
    return f"{lo:.1f}" if abs(hi - lo) < 0.05 else f"{lo:.1f}-{hi:.1f}"


def summary(df: pd.DataFrame, overhead: Optional[dict], command: str) -> str:
    a = df.attrs
    precision = {"none": "", "fast": " (fp32 matmuls as TF32 for every implementation but released)",
                 "all": " (fp32 matmuls as TF32)"}[a.get("tf32", "none")]
    lines = [f"# VidTr speed: {a['mode']}, {a['dtype']}{precision}", "",
             f"_device {a['device']}; {versions_line()}; measured {time.strftime('%Y-%m-%d')}_", "",
             f"Command: `{command}`", "",
             f"Reference: a 4096x4096 {a['dtype']} matmul, timed in the same rounds as each model's implementations, "
             f"ran at {_span(df['matmul_tmac_per_s'] * 1e3)} G multiply-adds/s "
             "(VidTr-S's MLP shape, 1576x768 @ 768x3072: "
             f"{_span(df['mlp_matmul_tmac_per_s'] * 1e3)}); 'of matmul' is each row's achieved rate "
             "(fvcore count / latency) "
             "over the 4096x4096 rate of its own rounds."]
    has_mfu = not pd.isna(a.get("peak_tflops", float("nan")))
    if has_mfu:
        lines += [f"MFU: 2 x fvcore count{' x 3' if a['mode'] == 'train' else ''} per "
                  f"{'step' if a['mode'] == 'train' else 'forward'} / time / dense bf16 peak "
                  f"({a['peak_tflops']:.0f} TFLOP/s)."]
    shown = pd.DataFrame({
        "model": df["model"], "T": df["frames"], "impl": df["impl"], "batch": df["batch"],
        "latency ms (min-max)": [number(m) + ("" if pd.isna(lo) else f" ({lo:.1f}-{hi:.1f})") for m, lo, hi in
                                 zip(df["latency_ms"], df["latency_min_ms"], df["latency_max_ms"])],
        "clips/s": df["throughput"].map(lambda v: number(v, 2)),
        "G MAC/s": (df["tmac_per_s"] * 1e3).map(number),
        "of matmul": df["matmul_fraction"].map(lambda v: number(100 * v, 0, unit="%")),
        "MFU": df["mfu"].map(lambda v: number(100 * v, 1, unit="%")),
        "vs released": df["speedup_vs_released"].map(lambda v: number(v, 2, unit="x")),
        "peak MB": df["peak_mem_mb"].map(lambda v: number(v, 0))})
    if not has_mfu:
        shown = shown.drop(columns="MFU")
    if df["error"].fillna("").astype(bool).any():
        shown["error"] = df["error"].fillna("")
    lines += ["", render_table(shown, "md"), ""]
    ratios = memory_ratios(df) if a["mode"] == "train" else pd.DataFrame()
    if len(ratios):
        lines += ["Peak memory, joint over separable (Table 4b; paper: 3.3x less for VidTr):", ""]
        lines += [f"- {r.model} vs {r.joint}, T={r.frames}, batch {r.batch}, {r.impl}: {r.peak_mem_mb:.0f} MB vs "
                  f"{r.joint_peak_mem_mb:.0f} MB ({r.joint_over_model:.2f}x)" for r in ratios.itertuples()]
        lines += [""]
    if overhead:
        lines += [f"std-topK (keep 6 of 8 frames) vs no pooling at T=8, VidTr-S size, batch 1: whole layer "
                  f"{overhead['std_topk_ms']:.1f} ms vs {overhead['plain_ms']:.1f} ms "
                  f"({100 * overhead['overhead']:+.1f}%; "
                  "the pooled layer's spatial attention and MLP see 6 frames); temporal attention alone "
                  f"{overhead['temporal_std_topk_ms']:.2f} ms vs {overhead['temporal_plain_ms']:.2f} ms "
                  f"({100 * overhead['temporal_overhead']:+.1f}%).", ""]
    return "\n".join(lines) + "\n"


def write(df: pd.DataFrame, overhead: Optional[dict], out_dir: str, command: str) -> list[Path]:
    """``speed_<mode>_<dtype>[_T<frames>][_tf32-<which>][_compiled][_ckpt]_<cpu|cuda>.{csv,md}``
    under ``out_dir``: runs of other settings never replace each other's files."""
    a = df.attrs
    parts = ["speed", a["mode"], a["dtype"]]
    parts += [f"T{a['frames']}"] if a.get("frames") else []
    parts += [f"tf32-{a['tf32']}"] if a.get("tf32", "none") != "none" else []
    parts += ["compiled"] if df["compiled"].any() else []
    parts += ["ckpt"] if a.get("grad_checkpointing") else []
    stem = "_".join(parts + ["cpu" if "cpu" in a["device"] else "cuda"])
    out = Path(out_dir)
    return [write_output(out / f"{stem}.csv", df.to_csv(index=False)),
            write_output(out / f"{stem}.md", summary(df, overhead, command))]

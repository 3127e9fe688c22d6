"""``vidtr-bench speed``: latency, throughput, peak memory and achieved FLOP/s of each attention
implementation, measured side by side in one process on the same weights, with outputs checked
equal before anything is timed. FLOPs follow the complexity tables (fvcore: one multiply-add
is one FLOP); a large fp32/bf16 matmul measured in the same run is the reference rate."""
from __future__ import annotations

import platform
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import pandas as pd
import torch

from . import complexity as cx

IMPLS = ("released", "math", "sdpa")  # the released code's structure first: the baseline
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
COLUMNS = ["model", "impl", "device", "dtype", "mode", "batch", "compiled", "latency_ms", "latency_min_ms",
           "latency_max_ms", "throughput", "peak_mem_mb", "tflops", "matmul_fraction", "speedup_vs_released",
           "max_abs_diff"]


def matmul_tflops(device: torch.device, dtype: torch.dtype, n: int = 4096, iters: int = 3) -> float:
    """Rate of one large square matmul, in tera multiply-adds per second (the FLOP convention here)."""
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    t = cx.latency_ms(lambda: a @ b, device, warmup=1, iters=iters)["median"]
    return n ** 3 / (t / 1e3) / 1e12


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


def _peak_mb(device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")


def speed(models: list[str], device: str = "cpu", dtype: str = "fp32", batches=(1,), mode: str = "infer",
          impls=IMPLS, compile: bool = False, iters: int = 5, warmup: int = 2, grad_checkpointing: bool = False,
          progress: bool = True, overrides: Optional[dict] = None) -> pd.DataFrame:
    """One row per (model, implementation, batch). ``overrides``: VidTrSpec fields for every
    model (the tests use small ones)."""
    import vidtr
    from tqdm import tqdm

    dev = torch.device(device)
    dt = DTYPES[dtype]
    rate = matmul_tflops(dev, dt)
    rows = []
    jobs = [(m, i) for m in models for i in impls]
    bar = tqdm(jobs, disable=not progress, unit="impl")
    refs: dict = {}
    for name, impl in bar:
        bar.set_description(f"{name} [{impl}]")
        kw = dict(overrides or {}, attn_impl=impl, drop_rate=0.0, attn_drop_rate=0.0,
                  grad_checkpointing=grad_checkpointing)
        model = vidtr.build_backbone(name, **kw)
        if name not in refs:  # one set of weights and one check clip per model, shared by every implementation
            refs[name] = dict(state=model.state_dict(), clip=_clip(model, 1),
                              gmacs=cx.count_flops(model.eval(), _clip(model, 1)).gflops)
        model.load_state_dict(refs[name]["state"])
        model = model.to(dev).eval()
        check = refs[name]["clip"].to(dev)
        with torch.no_grad():  # fp32 agreement with the released structure, before any timing
            out = model(check).float().cpu()
        refs[name].setdefault("out", out)
        diff = float((out - refs[name]["out"]).abs().max())
        if diff > 1e-3 * max(1.0, float(refs[name]["out"].abs().max())):
            raise AssertionError(f"{name}: attn_impl={impl} differs from the released structure by {diff}")
        runner = torch.compile(model) if compile else model
        for batch in batches:
            x = _clip(model, batch).to(dev)
            if mode == "train":
                model.train()
            opt = torch.optim.SGD(model.parameters(), lr=1e-4) if mode == "train" else None
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(dev)
            try:
                lat = cx.latency_ms(_step(runner, x, mode, dev, dt, opt), dev, warmup, iters) if mode == "infer" \
                    else _timed_train(_step(runner, x, mode, dev, dt, opt), dev, warmup, iters)
            except torch.OutOfMemoryError:
                rows.append(dict(model=name, impl=impl, device=device, dtype=dtype, mode=mode, batch=batch,
                                 compiled=compile, latency_ms=float("inf")))
                continue
            work = refs[name]["gmacs"] * batch * (3 if mode == "train" else 1)  # backward ~ 2x forward
            tflops = work / (lat["median"] / 1e3) / 1e3
            rows.append(dict(model=name, impl=impl, device=device, dtype=dtype, mode=mode, batch=batch,
                             compiled=compile, latency_ms=lat["median"], latency_min_ms=lat["min"],
                             latency_max_ms=lat["max"], throughput=batch / (lat["median"] / 1e3),
                             peak_mem_mb=_peak_mb(dev), tflops=tflops, matmul_fraction=tflops / rate,
                             max_abs_diff=diff))
            model.eval()
        del model, runner
    df = pd.DataFrame(rows).reindex(columns=COLUMNS)
    base = df[df["impl"] == "released"].set_index(["model", "batch"])["latency_ms"]
    df["speedup_vs_released"] = [base.get((m, b), float("nan")) / lat for m, b, lat in
                                 zip(df["model"], df["batch"], df["latency_ms"])]
    df.attrs.update(matmul_tflops=rate, device=_device_name(dev), dtype=dtype, mode=mode)
    return df


def _timed_train(fn, dev, warmup, iters) -> dict:
    import statistics

    times = []
    for i in range(warmup + iters):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return dict(median=statistics.median(times), min=min(times), max=max(times))


def _clip(model, batch: int) -> torch.Tensor:
    s = model.spec
    return torch.randn(batch, s.in_channels, s.num_frames, s.img_size, s.img_size)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def std_topk_overhead(device: str = "cpu", T: int = 8, iters: int = 5) -> dict:
    """Latency of one VidTr-S-sized layer with std-topK pooling (keep T-2) against the same
    layer without pooling, at the same input T (the target: at most 10% more)."""
    import vidtr
    from vidtr.vidtr import Block

    dev = torch.device(device)
    spec = vidtr.zoo.resolve_spec("cvidtr_s_8x8", dict(drop_rate=0.0, attn_drop_rate=0.0, num_frames=T))
    plain, pooled = Block(spec, "temporal_spatial").to(dev).eval(), Block(spec, "temporal_spatial", "std_topk", T - 2)
    pooled.load_state_dict(plain.state_dict())
    pooled = pooled.to(dev).eval()
    x = torch.randn(1, T, spec.num_patches, spec.embed_dims, device=dev)
    cls = torch.randn(1, 1, spec.embed_dims, device=dev)
    t_plain = cx.latency_ms(lambda: plain(x, cls, None), dev, 2, iters)["median"]
    t_pool = cx.latency_ms(lambda: pooled(x, cls, None), dev, 2, iters)["median"]
    return dict(plain_ms=t_plain, std_topk_ms=t_pool, overhead=t_pool / t_plain - 1)


def summary(df: pd.DataFrame, overhead: Optional[dict], command: str) -> str:
    import mmengine
    import timm

    a = df.attrs
    lines = [f"# VidTr speed: {a['mode']}, {a['dtype']}", "",
             f"_device {a['device']}; torch {torch.__version__}, mmengine {mmengine.__version__}, "
             f"timm {timm.__version__}; measured {time.strftime('%Y-%m-%d')}_", "",
             f"Command: `{command}`", "",
             f"Reference: a 4096x4096 {a['dtype']} matmul runs at {a['matmul_tflops'] * 1e3:.1f} G multiply-adds/s "
             "in this run; 'of matmul' is each model's achieved rate (fvcore count / latency) over it.", ""]
    shown = pd.DataFrame({
        "model": df["model"], "impl": df["impl"], "batch": df["batch"],
        "latency ms (min-max)": [f"{m:.1f} ({lo:.1f}-{hi:.1f})" for m, lo, hi in
                                 zip(df["latency_ms"], df["latency_min_ms"], df["latency_max_ms"])],
        "clips/s": df["throughput"].map(lambda v: f"{v:.2f}"),
        "G MAC/s": (df["tflops"] * 1e3).map(lambda v: f"{v:.1f}"),
        "of matmul": df["matmul_fraction"].map(lambda v: f"{100 * v:.0f}%"),
        "vs released": df["speedup_vs_released"].map(lambda v: f"{v:.2f}x"),
        "peak MB": df["peak_mem_mb"].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}")})
    lines += [shown.to_markdown(index=False, disable_numparse=True), ""]
    if overhead:
        lines += [f"std-topK layer vs plain separable layer at T=8 (VidTr-S size): {overhead['std_topk_ms']:.1f} ms vs "
                  f"{overhead['plain_ms']:.1f} ms ({100 * overhead['overhead']:+.1f}%)", ""]
    return "\n".join(lines) + "\n"


def write(df: pd.DataFrame, overhead: Optional[dict], out_dir: str, command: str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"speed_{df.attrs['mode']}_{df.attrs['dtype']}_{'cuda' if 'cpu' not in df.attrs['device'] else 'cpu'}"
    csv, md = out / f"{stem}.csv", out / f"{stem}.md"
    df.to_csv(csv, index=False)
    md.write_text(summary(df, overhead, command))
    return [csv, md]

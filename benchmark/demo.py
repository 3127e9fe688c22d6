"""The built-in mini benchmark (``make demo``): a mini Table 4b (spatial-only with and without
temporal positions, joint, temporal-spatial, spatial-temporal) and a mini Table 4d (std-topK,
average and 1D-conv pooling) with small VidTr models trained from scratch on real clips
whose classes need temporal order (:mod:`benchmark.demo_data`), launched, recorded and
reported through the same code as the paper's tables. CPU, no download, minutes."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from .job import read_record
from .metrics import per_class_accuracy
from .report import Cell, accuracy_flops_figure
from .runs import DATA_ROOT, RunSpec

CONFIG = "benchmark/configs/demo.py"
POOL = dict(pool_layers=(1, 2), pool_keep=(4, 2))  # T 8 -> 4 -> 2 in layers 1 and 2 of 4
ROWS = [  # (mini table, row label, backbone overrides)
    ("4b", "spatial only, no temporal positions", dict(temporal_mode="spatial_only", temporal_pos_embed=False)),
    ("4b", "spatial only", dict(temporal_mode="spatial_only")),
    ("4b", "joint (vanilla)", dict(temporal_mode="joint")),
    ("4b", "temporal then spatial", dict()),
    ("4b", "spatial then temporal", dict(temporal_mode="spatial_temporal")),
    ("4d", "temporal average pooling", dict(pool="avg", **POOL)),
    ("4d", "1D convolution", dict(pool="conv1d", **POOL)),
    ("4d", "std topK pooling", dict(pool="std_topk", **POOL)),
]
DATA = dict(size=32, frames=8, stride=2)  # clips: 8 frames of 32x32, 2 source frames apart


def demo_runs(data_root: str, seed: int = 0, epochs: Optional[int] = None) -> list[RunSpec]:
    common = {}
    for split, ann in (("train", "train"), ("test", "test")):
        common[f"{split}_dataloader.dataset.ann_file"] = f"{DATA_ROOT}/{ann}_list.txt"
        common[f"{split}_dataloader.dataset.data_prefix"] = {"video": DATA_ROOT}
    if epochs is not None:  # a shorter schedule (the test suite's 1-epoch demo): constant rate
        common["train_cfg.max_epochs"] = epochs
        common["param_scheduler"] = []
    return [RunSpec("demo", f"{table}: {label}", "vidtr_s_8x8", CONFIG, "demo", seed,
                    overrides={**common, **{f"model.backbone.{k}": v for k, v in extra.items()}}, data_root=data_root)
            for table, label, extra in ROWS]


def build_data(data_root: Path, clips: int, seed: int) -> dict:
    from .demo_data import build_demo_dataset

    return build_demo_dataset(data_root, clips_per_source_per_class=clips, seed=seed, **DATA)


def forward_backward_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Two-way forced choice on the forward and backward test clips: is the true one of the
    two scored higher? A model blind to frame order scores a clip and its reversal alike, so
    it gets exactly one of each such pair right: 50%."""
    fwd, bwd = 0, 1
    keep = (labels == fwd) | (labels == bwd)
    pred = np.where(scores[keep, fwd] > scores[keep, bwd], fwd, bwd)
    return float(100.0 * np.mean(pred == labels[keep]))


def complexity(spec: RunSpec, latency_iters: int = 5) -> dict:
    """fvcore GFLOPs, parameters and CPU latency (batch 1) of one demo model."""
    import torch
    from mmengine.config import Config

    from . import complexity as cx
    from .runs import REPO
    from vidtr import build, init_weights_quietly

    cfg = Config.fromfile(str(REPO / spec.config))
    cfg.merge_from_dict({k: v for k, v in spec.overrides.items() if k.startswith("model.")})
    model = build(cfg.model.to_dict())
    init_weights_quietly(model)
    model.eval()
    b = model.backbone.spec
    x = torch.randn(1, 1, 3, b.num_frames, b.img_size, b.img_size)
    scores = cx.ScoresOf(model)
    flops = cx.count_flops(scores, x)
    lat = cx.latency_ms(lambda: scores(x), torch.device("cpu"), warmup=2, iters=latency_iters)
    return dict(gflops=flops.gflops, params_m=cx.params_m(model), latency_ms=lat["median"])


def run_demo(out_dir: str = "results/demo", workdir: Optional[str] = None, data_root: Optional[str] = None,
             seed: int = 0, executor: str = "local", cluster: Optional[str] = None, epochs: Optional[int] = None,
             clips: int = 20, progress: bool = True, wait_s: float = 3600) -> pd.DataFrame:
    from .launch import launch
    from .runs import bench_home

    t0 = time.time()
    home = bench_home(workdir)
    root = Path(data_root) if data_root else home / "data" / "demo"
    data = build_data(root, clips, seed)
    print(f"demo data: {data['num_train']} train / {data['num_test']} test clips of real video in {root}")
    specs = demo_runs(str(root), seed, epochs)
    launch("demo", specs, home, executor, cluster, progress=progress)
    deadline = time.time() + wait_s
    while executor == "slurm" and not all(read_record(home, s) for s in specs):
        if time.time() > deadline:
            raise TimeoutError("demo runs did not finish on the cluster in time")
        time.sleep(2)
    out = Path(out_dir)
    (out / "records").mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in specs:
        rec = read_record(home, spec)
        table, label = spec.row.split(": ", 1)
        row = dict(table=table, model=label, run_id=spec.run_id)
        if rec is not None:
            with np.load(rec["scores_file"]) as z:
                scores, labels = z["scores"], z["labels"]
            per_class = per_class_accuracy(scores, labels, len(data["classes"]))
            row.update(top1=rec["metrics"]["top1"], mean_class=rec["metrics"]["mean_class"],
                       fwd_bwd=forward_backward_accuracy(scores, labels),
                       per_class="/".join(f"{v:.0f}" for v in per_class), config_hash=rec["config_hash"],
                       code_version=rec["code_version"], train_s=rec["wall_time_s"])
            shutil.copy(Path(rec["scores_file"]).parent / "record.json", out / "records" / f"{spec.run_id}.json")
        row.update(complexity(spec))
        rows.append(row)
    df = pd.DataFrame(rows)
    df.to_csv(out / "demo.csv", index=False)
    (out / "table.md").write_text(render(df, data, time.time() - t0))
    fig_df = pd.DataFrame([dict(model=r["model"], gflops=Cell(ours=r["gflops"]), top1=Cell(ours=r.get("top1")),
                                latency_ms=Cell(ours=r["latency_ms"]),
                                family=f"mini Table {r['table']}") for r in rows])
    fig_df.attrs["table"] = "demo"
    accuracy_flops_figure(fig_df, out / "figure", reference=(100.0 / len(data["classes"]), "chance"))
    print(f"wrote {out / 'table.md'}, {out / 'demo.csv'}, {out / 'figure.png'} and {out / 'records'}/ "
          f"in {time.time() - t0:.0f} s")
    return df


def render(df: pd.DataFrame, data: dict, elapsed: float) -> str:
    def fmt(v, d=1):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{d}f}"

    chance = 100.0 / len(data["classes"])
    lines = ["# vidtr-bench demo: mini Tables 4b and 4d on real clips", "",
             f"Classes: {', '.join(data['classes'])} (chance {chance:.0f}%), cut from the same source frames; "
             f"{data['num_train']} train / {data['num_test']} test clips of 8 frames at 32x32, split by time within "
             "each source (see benchmark/demo_data.py). Models: 4 layers, width 96, 8x8 patches, trained from "
             "scratch on the CPU. 'fwd/bwd' is the two-way forced choice between forward and backward on those "
             "test clips (50% = blind to frame order); 'per class' is the top-1 of each class in that order.", ""]
    for table, title in (("4b", "mini Table 4b: temporal modelling"), ("4d", "mini Table 4d: down-sampling")):
        part = df[df["table"] == table]
        shown = pd.DataFrame({
            "model": part["model"], "top-1": [fmt(v) for v in part.get("top1", [])],
            "mean class": [fmt(v) for v in part.get("mean_class", [])],
            "fwd/bwd": [fmt(v) for v in part.get("fwd_bwd", [])],
            "per class": list(part.get("per_class", ["-"] * len(part))),
            "GFLOPs": [fmt(v, 3) for v in part["gflops"]], "params (M)": [fmt(v, 2) for v in part["params_m"]],
            "CPU latency (ms)": [fmt(v) for v in part["latency_ms"]]})
        lines += [f"## {title}", "", shown.to_markdown(index=False, disable_numparse=True), ""]
    lines += ["Runs behind the cells (records in records/):", ""]
    lines += [f"- {r.model}: {r.run_id}" for r in df.itertuples()]
    train = df["train_s"].sum() if "train_s" in df else float("nan")
    lines += ["", f"Training and testing: {train:.0f} s in all (from the records); this invocation: {elapsed:.0f} s "
                  "(finished runs are not run again)."]
    return "\n".join(lines) + "\n"

"""The built-in mini benchmark (``make demo``): a mini Table 4b (spatial-only with and without
temporal positions, joint, temporal-spatial, spatial-temporal) and a mini Table 4d (std-topK,
average and 1D-conv pooling) with small VidTr models trained from scratch on real clips
whose classes need temporal order (:mod:`benchmark.demo_data`): a generated table, launched,
recorded and reported through the same code as the paper's tables. CPU, no download, minutes."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from .metrics import per_class_accuracy
from .paper import Row, Table
from .records import read_record, write_output
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
SECTIONS = {"4b": "mini Table 4b: temporal modelling", "4d": "mini Table 4d: down-sampling"}
DATA = dict(size=32, frames=8, stride=2)  # clips: 8 frames of 32x32, 2 source frames apart
CLASSES = 4  # forward, backward, fast, frozen (benchmark.demo_data)
DEFAULT_DATA = "data/demo"  # under the bench home
TABLE = Table("demo", "mini Tables 4b and 4d on real clips", "demo", CLASSES,
              ("top1", "mean_class", "gflops", "params_m", "latency_ms"),
              tuple(Row(f"{t}: {label}", "vidtr_s_8x8", "8x1", 8, 1, 32) for t, label, _ in ROWS))


def runs(data_root: str, seed: int = 0, epochs: Optional[int] = None) -> list[RunSpec]:
    common = {}
    for split, ann in (("train", "train"), ("test", "test")):
        common[f"{split}_dataloader.dataset.ann_file"] = f"{DATA_ROOT}/{ann}_list.txt"
        common[f"{split}_dataloader.dataset.data_prefix"] = {"video": DATA_ROOT}
    if epochs is not None:  # a shorter schedule (the test suite's 1-epoch demo): constant rate
        common["train_cfg.max_epochs"] = epochs
        common["param_scheduler"] = []
    return [RunSpec("demo", row.label, row.model, CONFIG, "demo", seed,
                    overrides={**common, **{f"model.backbone.{k}": v for k, v in extra.items()}}, data_root=data_root)
            for row, (_, _, extra) in zip(TABLE.rows, ROWS)]


def prepare_data(data_root: str, seed: int = 0, clips: int = 20) -> dict:
    from .demo_data import build_demo_dataset

    return build_demo_dataset(Path(data_root), clips_per_source_per_class=clips, seed=seed, **DATA)


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

    from vidtr import build, init_weights_quietly

    from . import REPO, timing
    from . import complexity as cx

    cfg = Config.fromfile(str(REPO / spec.config))
    cfg.merge_from_dict({k: v for k, v in spec.overrides.items() if k.startswith("model.")})
    model = build(cfg.model.to_dict())
    init_weights_quietly(model)
    model.eval()
    b = model.backbone.spec
    x = torch.randn(1, 1, 3, b.num_frames, b.img_size, b.img_size)
    scores = cx.ScoresOf(model)
    flops = cx.count_flops(scores, x)
    lat = timing.latency(lambda: scores(x), torch.device("cpu"), warmup=2, iters=latency_iters)
    return dict(gflops=flops.gflops, params_m=cx.params_m(model), latency_ms=lat["median"])


def run_demo(out_dir: str = "results/demo", workdir: Optional[str] = None, data_root: Optional[str] = None,
             seed: int = 0, executor: str = "local", cluster: Optional[str] = None, epochs: Optional[int] = None,
             clips: int = 20, progress: bool = True, wait_s: float = 3600) -> pd.DataFrame:
    """Build the data, launch the demo table's runs (finished ones are not rerun), count each
    model, and write the table (through the report code), ``demo.csv``, the figure and the records."""
    from .launch import launch
    from .report import accuracy_flops_figure, table_frame
    from .runs import bench_home, default_data_root

    t0 = time.time()
    home = bench_home(workdir)
    root = data_root or default_data_root("demo", home)
    data = prepare_data(root, seed, clips)
    print(f"demo data: {data['num_train']} train / {data['num_test']} test clips of real video in {root}")
    specs = runs(root, seed, epochs)
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
    write_output(out / "demo.csv", df.to_csv(index=False))
    # the complexity columns reach the table as the paper tables' do: a CSV of row -> figures
    cx = pd.DataFrame({"row": [s.row for s in specs], "gflops": df["gflops"], "params_m": df["params_m"],
                       "latency_ms": df["latency_ms"]})
    write_output(out / "table_demo.csv", cx.to_csv(index=False))
    table = table_frame("demo", specs, home, complexity_dir=out)
    table["fwd/bwd"], table["per class"] = df.get("fwd_bwd"), df.get("per_class", "-")
    table.attrs["extra"] = ["fwd/bwd", "per class"]
    write_output(out / "table.md", render(table, data, df.get("train_s"), time.time() - t0))
    table["family"] = [f"mini Table {t}" for t in df["table"]]
    table["model"] = df["model"]
    accuracy_flops_figure(table, out / "figure", reference=(100.0 / len(data["classes"]), "chance"))
    print(f"wrote {out / 'table.md'}, {out / 'demo.csv'}, {out / 'figure.png'} and {out / 'records'}/ "
          f"in {time.time() - t0:.0f} s")
    return df


def render(table: pd.DataFrame, data: dict, train_s: Optional[pd.Series], elapsed: float) -> str:
    """The demo's page: what the data is, then each mini table as the report renders tables."""
    from .report import render as render_table

    chance = 100.0 / len(data["classes"])
    lines = ["# vidtr-bench demo: mini Tables 4b and 4d on real clips", "",
             f"Classes: {', '.join(data['classes'])} (chance {chance:.0f}%), cut from the same source frames; "
             f"{data['num_train']} train / {data['num_test']} test clips of 8 frames at 32x32, split by time within "
             "each source (see benchmark/demo_data.py). Models: 4 layers, width 96, 8x8 patches, trained from "
             "scratch on the CPU. 'fwd/bwd' is the two-way forced choice between forward and backward on those "
             "test clips (50% = blind to frame order); 'per class' is the top-1 of each class in that order; "
             "latency is CPU, batch 1.", ""]
    for key, title in SECTIONS.items():
        part = table[table["model"].str.startswith(f"{key}: ")].copy()
        part["model"] = part["model"].str.split(": ", n=1).str[1]
        part.attrs.update(table.attrs, heading=title)
        lines += [render_table(part, "md")]
    train = float(train_s.sum()) if train_s is not None else float("nan")
    lines += [f"Training and testing: {train:.0f} s in all (from the records); this invocation: {elapsed:.0f} s "
              "(finished runs are not run again)."]
    return "\n".join(lines) + "\n"

"""The demo's table: mini Tables 4b and 4d as rows (a VidTr variant each, on the ``camera`` or
``burst`` task), each trained with :data:`SEEDS` seeds, each seed a run of its own; registered as
the generated table ``demo`` (``vidtr-bench launch/status/report --table demo``)."""
from __future__ import annotations

from typing import Optional

from ..runs.spec import DATA_ROOT, RunSpec
from ..runs.tables import GeneratedTable, register
from ..tables.paper import Row, Table

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


def runs(data_root: str, seed: int = 0, epochs: Optional[int] = None) -> list[RunSpec]:
    """The runs of every row for one seed (``vidtr-bench`` runs :data:`SEEDS` seeds by default)."""
    from .camera import TASKS

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
        specs.append(RunSpec("demo", row.label, row.model, CONFIGS[task], f"demo-{task}", seed, overrides=overrides,
                             data_root=data_root))
    return specs


def build_data(data_root: str, seed: int = 0, clips: int = WINDOWS, test_windows: Optional[int] = None) -> dict:
    """Both tasks' datasets under ``data_root`` (reused when already built with these parameters).
    ``clips``: rendered training clips per class per source group (each also written reversed)."""
    from .data import build_demo_dataset
    from .sources import load_sources

    sources = load_sources()  # decoded once for both tasks (a few seconds); the manifests check them
    return {task: build_demo_dataset(data_root, task, windows=clips, seed=seed, sources=sources,
                                     test_windows=test_windows, **DATA) for task in ("camera", "burst")}


GENERATED = register(GeneratedTable(TABLE, DEFAULT_DATA, build_data, runs, default_seeds=tuple(range(SEEDS))))

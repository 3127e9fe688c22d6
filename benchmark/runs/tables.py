"""Which runs a table needs: a paper-table row becomes one or more runs (a model on each of
its datasets, the Kinetics-400 runs fine-tunes start from, an ensemble's members and the
ensemble), in launch order; generated tables (smoke, demo) register their own runs here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..tables import catalogue
from ..tables.paper import TABLES, Row, Table, select
from .config import load_config
from .recipes import DENSE_SAMPLERS, dataset_overrides, fidelity_samplers, with_cfg_options
from .spec import CHECKPOINT_OF, RunSpec

# Table 6 columns -> datasets; other tables run on their table's dataset
TABLE6_DATASETS = {"charades_map": "charades", "ssv2_top1": "sthv2", "ucf_top1": "ucf101", "hmdb_top1": "hmdb51"}
TABLE_DATASET = {"k400": "kinetics400", "k700": "kinetics700", "charades": "charades"}


def _input_rate(text: str) -> Optional[int]:
    """Frame interval of an input written "16x4" / "(32+8)x2"; None for TSN-style inputs."""
    m = re.search(r"x(\d+)$", text.strip())
    return int(m.group(1)) if m else None


def _resampled(pipeline: list, clip_len: int, rate: Optional[int]) -> Optional[list]:
    """The pipeline with its dense sampler (SampleFrames or SpreadSampleFrames) set to
    ``clip_len`` x ``rate``; None if it already is. A 2D model's TSN-style sampler (one frame
    from each of ``num_clips`` segments: TSM's "8f TSN") is left alone: its frames are its
    segments, not a clip length."""
    out, changed = [], False
    for t in pipeline:
        tsn_2d = t.get("clip_len") == 1 and t.get("num_clips", 1) > 1
        if t["type"] in DENSE_SAMPLERS and not tsn_2d and (t["clip_len"], t["frame_interval"]) != (
                clip_len, rate or t["frame_interval"]):
            t = dict(t, clip_len=clip_len, frame_interval=rate or t["frame_interval"])
            changed = True
        out.append(t)
    return out if changed else None


def _present(cfg, overrides: dict) -> dict:
    """The overrides a config can take: zoo test-only configs (X3D) have no training or
    validation to point at a dataset or schedule."""
    absent = {k for k in ("train_dataloader", "val_dataloader", "val_evaluator", "train_cfg", "param_scheduler")
              if k not in cfg}
    return {k: v for k, v in overrides.items() if k.split(".")[0] not in absent}


def _model_run(table: Table, row: Row, model: str, frames: int, dataset: str, data_root: str,
               protocol: str, seed: int, k400_runs: dict) -> RunSpec:
    config = catalogue.get(model).config_rel
    cfg = load_config(config)
    depends, load_from = (), None
    if dataset != "kinetics400":  # fine-tuned from this model's Kinetics-400 run
        k400 = k400_runs.setdefault(model, RunSpec(table.id, f"{model} (K400)", model, config, "kinetics400", seed,
                                                   overrides=_present(cfg, dataset_overrides("kinetics400")),
                                                   data_root=data_root))
        # resolved by the job from that run's record once it has finished
        depends, load_from = (k400.run_id,), f"{CHECKPOINT_OF}{k400.run_id}"
    pipelines = {f"{split}_pipeline": cfg[f"{split}_dataloader"].dataset.pipeline
                 for split in ("train", "val") if cfg.get(f"{split}_dataloader")}  # zoo test-only configs: none
    overrides = dataset_overrides(dataset, protocol, frames, cfg.test_dataloader.dataset.pipeline, load_from,
                                  **pipelines)
    rate = _input_rate(row.input)
    for split in ("train", "val", "test"):  # the row's input (e.g. A.2's I3D at 16x4) over the config's
        if not cfg.get(f"{split}_dataloader"):  # zoo test-only configs (X3D): evaluation runs only
            continue
        key = f"{split}_dataloader.dataset.pipeline"
        resampled = _resampled(overrides.get(key, cfg[f"{split}_dataloader"].dataset.pipeline), frames, rate)
        if resampled is not None:
            overrides[key] = resampled
    overrides = _present(cfg, fidelity_samplers(config, dataset, overrides))
    return RunSpec(table.id, row.label, model, config, dataset, seed, protocol, overrides, depends, data_root=data_root)


def _paper_runs(table_id: str, data_root: str, rows: Optional[list] = None, seed: int = 0) -> list[RunSpec]:
    """Every run a paper table needs, dependencies first (the K400 runs fine-tuning starts from,
    ensemble members), in launch order."""
    runs: dict[str, RunSpec] = {}
    k400_runs: dict[str, RunSpec] = {}
    for table, row in select(table_id, rows):
        protocol = "single_pass" if table.id == "A.1" and row.views == 1 else "30view"
        if table.id == "6":
            datasets = [TABLE6_DATASETS[m] for m in row.paper if m in TABLE6_DATASETS]
        else:
            datasets = [TABLE_DATASET[table.dataset]]
        for dataset in datasets:
            if row.model:
                spec = _model_run(table, row, row.model, row.frames, dataset, data_root, protocol, seed, k400_runs)
                runs.setdefault(spec.run_id, spec)
            elif row.members:
                members = []
                for m in row.members:
                    mrow = Row(f"{row.label}: {m.model} {m.frames}f", m.model,
                               f"{m.frames}x{m.interval}" if m.interval else f"{m.frames}", m.frames, row.views, m.res)
                    spec = _model_run(table, mrow, m.model, m.frames, dataset, data_root, protocol, seed, k400_runs)
                    runs.setdefault(spec.run_id, spec)
                    members.append(spec.run_id)
                ens = RunSpec(table.id, row.label, "", "", dataset, seed, protocol, depends_on=tuple(members),
                              members=tuple(members), data_root=data_root)
                runs.setdefault(ens.run_id, ens)
    k400_ids = {k.run_id for k in k400_runs.values()}
    return list(k400_runs.values()) + [r for r in runs.values() if r.run_id not in k400_ids]


@dataclass(frozen=True)
class GeneratedTable:
    """A table of our own, on data it generates (the smoke table, the demo): its rows as a
    :class:`Table` without paper values, where its data goes under the bench home, how to build
    that data (``build_data(data_root, seed, **options)``), its runs for one seed
    (``runs(data_root, seed, **options)``) and the seeds it runs when none are asked for. Each
    registers itself with :func:`register` when its module is imported; the command line imports
    them."""
    table: Table
    default_data: str
    build_data: Callable
    runs: Callable
    default_seeds: tuple = (0,)


_GENERATED: dict[str, GeneratedTable] = {}


def register(generated: GeneratedTable) -> GeneratedTable:
    _GENERATED[generated.table.id] = generated
    return generated


def table_ids() -> list[str]:
    return list(TABLES) + list(_GENERATED)


def find_table(table_id: str) -> Table:
    """A paper table, or one of the generated tables (smoke, demo) registered so far."""
    if table_id in _GENERATED:
        return _GENERATED[table_id].table
    if table_id not in TABLES:
        raise KeyError(f"unknown table {table_id!r}; valid tables: {', '.join(table_ids())}")
    return TABLES[table_id]


def default_data_root(table_id: str, home: Path) -> str:
    """Where a generated table writes its data when no data root is given ("" for the paper's)."""
    return str(home / _GENERATED[table_id].default_data) if table_id in _GENERATED else ""


def build_table_data(table_id: str, data_root: str, seed: int = 0, **options) -> None:
    """Write a generated table's data under ``data_root`` on first use (paper tables: nothing)."""
    if table_id in _GENERATED:
        Path(data_root).mkdir(parents=True, exist_ok=True)
        _GENERATED[table_id].build_data(data_root, seed, **options)


def table_seeds(table_id: str, seed: Optional[int] = None, seeds=None) -> list[int]:
    """The seeds asked for: ``seeds``, else ``[seed]``, else the table's own (paper tables: 0;
    the demo: three)."""
    if seeds:
        return list(dict.fromkeys(seeds))
    if seed is not None:
        return [seed]
    return list(_GENERATED[table_id].default_seeds) if table_id in _GENERATED else [0]


def table_runs(table_id: str, data_root: str = "", rows: Optional[list] = None, seed: Optional[int] = None,
               cfg_options: Optional[dict] = None, *, seeds=None, **options) -> list[RunSpec]:
    """The runs of any table for each seed (:func:`table_seeds`; a seed is an axis: each seed is a
    run of its own), only the rows asked for and what they depend on, in launch order.
    ``options``: a generated table's own (the smoke table's ``epochs``); ``cfg_options``: mmengine
    overrides for every run."""
    find_table(table_id)
    specs: dict = {}
    for s in table_seeds(table_id, seed, seeds):
        if table_id in _GENERATED:
            these = _GENERATED[table_id].runs(data_root, s, **options)
        else:
            these = _paper_runs(table_id, data_root, rows, s)
        for spec in with_cfg_options(these, cfg_options or {}):
            specs.setdefault(spec.run_id, spec)
    specs = list(specs.values())
    if rows and table_id in _GENERATED:
        known = list(dict.fromkeys(s.row for s in specs))
        bad = [r for r in rows if r not in known]
        if bad:
            raise KeyError(f"table {table_id} has no row(s) {bad}; valid rows: {', '.join(known)}")
        specs = with_dependencies(specs, {s.run_id for s in specs if s.row in rows})
    return specs


def with_dependencies(specs: list[RunSpec], chosen: set) -> list[RunSpec]:
    """The specs in ``chosen`` and every run they depend on (an ensemble's members, the Kinetics-400
    run a fine-tune starts from), in launch order: a row asked for brings what it needs."""
    by_id = {s.run_id: s for s in specs}
    needed, todo = set(), list(chosen)
    while todo:
        run_id = todo.pop()
        if run_id not in needed and run_id in by_id:
            needed.add(run_id)
            todo += list(by_id[run_id].depends_on)
    return [s for s in specs if s.run_id in needed]

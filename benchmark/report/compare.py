"""``vidtr-bench compare RUN RUN [RUN ...]``: what differs between runs: their resolved configs
(the config each run directory holds, as mmengine's Runner dumped it when the run started),
their metrics side by side with the difference from the first run, and their curves together."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd

from ..files import write_output
from ..formatting import number, render_table
from .curves import curves_figure, curves_frame, find_run

# record fields shown beside the metrics (what makes two runs' numbers comparable or not)
RUN_FIELDS = (("num_test_videos", "test videos", 0), ("total_batch", "total batch", 0),
              ("wall_time_s", "wall time (s)", 0))
RUN_DIR = "<run dir>"  # a run's own directory in config values (work_dir, bad_videos_file): not a difference


def run_config(wd: Path):
    """The config a run ran with: the ``.py`` file mmengine's Runner dumped into its directory."""
    from mmengine.config import Config

    dumped = sorted(p for p in wd.glob("*.py"))
    if not dumped:
        raise FileNotFoundError(f"run {wd.name} has no config file in {wd}: it has not started yet")
    return Config.fromfile(str(dumped[0]))


def flatten(value, prefix: str = "") -> dict:
    """A config as dotted keys (list items by index: ``train_dataloader.dataset.pipeline.1.clip_len``),
    so that a difference names the one key that differs."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        items = enumerate(value)
    else:
        return {prefix: value}
    out = {}
    for k, v in items:
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _text(value) -> str:
    return "(absent)" if value is _ABSENT else repr(value)


_ABSENT = object()


def config_differences(configs: dict) -> pd.DataFrame:
    """Keys whose values differ between the runs (``configs``: run id -> flattened config), one row
    a key, one column a run; a run's own directory is written ``<run dir>`` so it is not a difference."""
    keys = sorted(set().union(*configs.values()))
    rows = []
    for key in keys:
        values = [cfg.get(key, _ABSENT) for cfg in configs.values()]
        if any(v != values[0] for v in values[1:]):
            rows.append({"key": key, **{run: _text(v) for run, v in zip(configs, values)}})
    return pd.DataFrame(rows, columns=["key", *configs])


def _normalised(cfg, wd: Path) -> dict:
    flat = flatten(cfg.to_dict())
    own = str(wd.resolve())
    return {k: v.replace(own, RUN_DIR) if isinstance(v, str) else v for k, v in flat.items()}


def _record(wd: Path) -> Optional[dict]:
    path = wd / "record.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise ValueError(f"{path}: not a JSON record (a corrupt record: launch moves it aside)") from None


def metrics_table(records: dict) -> pd.DataFrame:
    """Metrics (percent) and run facts of each run side by side; with a difference column per run
    after the first: that run minus the first ('difference' for two runs)."""
    runs = list(records)
    diff_title = (lambda run: "difference") if len(runs) == 2 else (lambda run: f"{run} minus first")  # noqa: E731
    names = list(dict.fromkeys(m for r in records.values() if r for m in r.get("metrics", {})))
    rows = []
    for m in names:
        vals = [(r or {}).get("metrics", {}).get(m) for r in records.values()]
        row = {"metric": m, **{run: number(v, 2) for run, v in zip(runs, vals)}}
        for run, v in list(zip(runs, vals))[1:]:
            row[diff_title(run)] = number(None if v is None or vals[0] is None else v - vals[0], 2, sign=True)
        rows.append(row)
    for key, title, digits in RUN_FIELDS:
        vals = [(r or {}).get(key) for r in records.values()]
        if any(v is not None for v in vals):
            row = {"metric": title, **{run: number(v, digits) for run, v in zip(runs, vals)}}
            rows.append(row)
    return pd.DataFrame(rows).fillna("")


def compare(runs: list[str], home: Path, out: Optional[Path] = None, say=print) -> str:
    """The comparison as Markdown (printed; with ``out``, also ``compare.md`` and the curves figure
    ``compare_curves.png/pdf`` there)."""
    if len(runs) < 2:
        raise ValueError(f"compare needs two runs or more, got {len(runs)}")
    dirs = {find_run(r, home).name: find_run(r, home) for r in runs}
    if len(dirs) < len(runs):
        raise ValueError(f"a run is named twice: {runs}")
    configs = {run: _normalised(run_config(wd), wd) for run, wd in dirs.items()}
    diffs = config_differences(configs)
    records = {run: _record(wd) for run, wd in dirs.items()}
    lines = [f"# Comparing {', '.join(dirs)}", "", "## Config keys that differ", ""]
    lines += [render_table(diffs, "md") if len(diffs) else "(none: the same resolved config)", ""]
    lines += ["## Metrics (percent) and runs", ""]
    missing = [run for run, rec in records.items() if rec is None]
    table = metrics_table(records)
    lines += [render_table(table, "md") if len(table) else "(no run has a record yet)", ""]
    if missing:
        lines += [f"No record yet (not finished): {', '.join(missing)}.", ""]
    try:
        frame = curves_frame(list(dirs.values()), home)
    except FileNotFoundError as e:  # a run that logged nothing: the rest of the comparison stands
        frame, why = None, str(e)
    if out is not None:
        if frame is not None:
            for p in curves_figure(frame, out / "compare_curves"):
                say(f"wrote {p}")
            lines += ["## Curves", "", "![curves](compare_curves.png)", ""]
        else:
            lines += [f"No curves: {why}", ""]
    text = "\n".join(lines)
    say(text)
    if out is not None:
        say(f"wrote {write_output(out / 'compare.md', text)}")
    return text

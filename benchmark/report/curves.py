"""Training curves of chosen runs (``vidtr-bench curves``), from mmengine's scalar logs in their
run directories: ``<run dir>/<time>/vis_data/scalars.json``, one JSON object a line, written by
the configs' ``LocalVisBackend`` (one folder per attempt: a resumed run continues in a new one).

Read here rather than with mmaction2's ``analyze_logs.py plot_curve``, which expects mmaction2
0.x's text logs (it fails on mmengine's with an ``IndexError`` on ``mode``)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..runs.spec import run_dir

SCALARS = "vis_data/scalars.json"
# what the panels show: (column, label); training values are per iteration, validation per epoch
LOSS = ("loss", "training loss (cross-entropy)")
TRAIN_TOP1 = ("top1_acc", "top-1 on training batches (%)")
VAL_TOP1 = ("acc/top1", "validation top-1 (%)")


def find_run(run: str, home: Path) -> Path:
    """A run's directory: a run id under ``<home>/runs``, or a directory path."""
    path = Path(run)
    if path.is_dir() and ((path / "run_spec.json").exists() or any(path.glob("*/" + SCALARS))):
        return path
    wd = run_dir(home, run)
    if not wd.is_dir():
        raise FileNotFoundError(f"no run {run!r}: neither a run directory nor a run id under {home / 'runs'}")
    return wd


def scalar_log(wd: Path) -> pd.DataFrame:
    """Every scalar a run logged, one row per logged step: ``split`` ('train' per iteration, 'val'
    per epoch), ``epoch`` (fractional in training: 1.0 ends the first epoch, 1.5 is half-way
    through the second), the logged values, accuracies in percent. Attempts are read in time order
    and a step logged twice (before an interruption and again after resuming) keeps the later value."""
    rows = []
    for attempt, path in enumerate(sorted(wd.glob("*/" + SCALARS))):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a killed job: the rest is still worth drawing
                if n == len(path.read_text().splitlines()):
                    continue
                raise ValueError(f"{path}:{n}: not a JSON line: {line[:80]!r}") from None
            split = "train" if "loss" in entry or "lr" in entry else "val"
            rows.append(dict(entry, split=split, attempt=attempt))
    if not rows:
        raise FileNotFoundError(f"run {wd.name} has no scalar log ({wd}/<time>/{SCALARS}): it has not trained yet, "
                                "or its config logs no scalars")
    df = pd.DataFrame(rows).drop_duplicates(["split", "step"], keep="last").sort_values(["split", "step"])
    df["epoch"] = df["epoch"].astype(float) if "epoch" in df else float("nan")
    train = df["split"] == "train"
    if train.any():  # the position of each iteration within its epoch
        per_epoch = df[train].groupby("epoch")["step"].transform(lambda s: s - s.min() + 1)
        size = df[train].groupby("epoch")["step"].transform("count")
        df.loc[train, "epoch"] = df.loc[train, "epoch"] - 1 + per_epoch / size
    df.loc[~train, "epoch"] = df.loc[~train, "step"]  # mmengine logs validation at step = epoch
    for col in [c for c in df.columns if c.endswith("top1_acc") or c.endswith("top5_acc")]:
        df[col] = 100 * df[col]  # mmaction2's training accuracies are fractions; its val metrics are percent
    return df.reset_index(drop=True)


def curves_frame(runs: list[str], home: Path) -> pd.DataFrame:
    """The scalar logs of several runs in one long frame, the run's id in ``run``."""
    frames = []
    for run in runs:
        wd = find_run(run, home)
        frames.append(scalar_log(wd).assign(run=wd.name))
    return pd.concat(frames, ignore_index=True)


def curves_figure(df: pd.DataFrame, out_stem: Path, smooth: int = 1) -> list[Path]:
    """Loss and top-1 of each run against epochs, one colour a run: training loss per iteration
    (a rolling mean over ``smooth`` iterations), training-batch top-1 dashed and validation top-1
    with markers where the runs validated. PNG and PDF."""
    from .figures import save_figure, use_style

    plt, sns = use_style()
    val = df[df["split"] == "val"]
    has_val = VAL_TOP1[0] in val.columns and val[VAL_TOP1[0]].notna().any()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    palette = dict(zip(df["run"].unique(), sns.color_palette(n_colors=df["run"].nunique())))
    for run, part in df[df["split"] == "train"].groupby("run", sort=False):
        part = part.sort_values("epoch")
        if LOSS[0] in part:
            ax_loss.plot(part["epoch"], part[LOSS[0]].rolling(smooth, min_periods=1).mean(), color=palette[run],
                         label=run)
        if TRAIN_TOP1[0] in part:
            ax_acc.plot(part["epoch"], part[TRAIN_TOP1[0]].rolling(smooth, min_periods=1).mean(), color=palette[run],
                        ls="--", alpha=0.7, label=f"{run} (training batches)")
    if has_val:
        for run, part in val.dropna(subset=[VAL_TOP1[0]]).groupby("run", sort=False):
            ax_acc.plot(part["epoch"], part[VAL_TOP1[0]], color=palette[run], marker="o", label=f"{run} (validation)")
    ax_loss.set(xlabel="epoch", ylabel=LOSS[1], title="training loss"
                + (f" (rolling mean of {smooth} iterations)" if smooth > 1 else ""))
    ax_acc.set(xlabel="epoch", ylabel="top-1 (%)", ylim=(-2, 102),
               title="top-1: training batches (dashed)" + (", validation (markers)" if has_val else ""))
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(2, len(labels)),
               fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: iterations, epochs, the last training loss (mean of the last epoch), the best
    validation top-1 and its epoch."""
    out = []
    for run, part in df.groupby("run", sort=False):
        train, val = part[part["split"] == "train"], part[part["split"] == "val"]
        last = train[train["epoch"] > train["epoch"].max() - 1] if len(train) else train
        row = {"run": run, "iterations": len(train), "epochs": float(train["epoch"].max()) if len(train) else None,
               "last-epoch loss": float(last[LOSS[0]].mean()) if LOSS[0] in last and len(last) else None}
        if VAL_TOP1[0] in val and val[VAL_TOP1[0]].notna().any():
            best = val.loc[val[VAL_TOP1[0]].idxmax()]
            row.update({"best val top-1 (%)": float(best[VAL_TOP1[0]]), "at epoch": int(best["epoch"])})
        out.append(row)
    return pd.DataFrame(out)


def write_curves(runs: list[str], home: Path, out_stem: Path, smooth: int = 1, say=print) -> list[Path]:
    """``vidtr-bench curves``: the figure of ``runs`` (ids or directories) and a summary printed."""
    from ..formatting import number, render_table

    df = curves_frame(runs, home)
    table = summary(df)
    shown = table.astype(object).map(lambda v: number(v, 3) if isinstance(v, float) else ("-" if v is None else v))
    say(render_table(shown, "md"))
    paths = curves_figure(df, out_stem, smooth)
    for p in paths:
        say(f"wrote {p}")
    return paths

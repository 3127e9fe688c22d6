"""Figures, each written as PNG (for reading) and PDF (for papers), all in one style
(:func:`use_style`, :func:`log_axis`, :func:`label_points`): Figure 3 (accuracy vs GFLOPs vs
latency, ours beside the paper's) and the per-class gains of Table A.4; the curves, the
transformers figure and the demo's use the same helpers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..tables.paper import METRICS

# the dataset a table's accuracies are measured on, as an axis label says it
DATASET_NAMES = {"k400": "Kinetics-400", "k700": "Kinetics-700", "charades": "Charades", "smoke": "smoke clips",
                 "demo": "demo clips"}
VIDTR_RED = "#d62728"  # the VidTr family's colour in every figure


def use_style():
    """The one look of every figure the project draws (seaborn's whitegrid, paper-sized text),
    on the Agg backend (no display needed). Returns (pyplot, seaborn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", font_scale=1.15, rc={"legend.frameon": False})
    return plt, sns


def log_axis(ax, axis: str = "x") -> None:
    """A log axis whose ticks read as plain numbers at 1, 2 and 5 of each decade (10, 20, 50,
    100, ...), so a range of one decade or less still has several labelled ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    which = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    which.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    which.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    which.set_minor_formatter(NullFormatter())


def label_points(ax, xs, ys, labels, fontsize: float = 7.5, **text_kwargs) -> list:
    """Point labels moved apart until none overlaps another or a point (adjustText), each joined
    to its point by a thin line when it had to move."""
    from adjustText import adjust_text

    texts = [ax.text(x, y, str(t), fontsize=fontsize, **text_kwargs) for x, y, t in zip(xs, ys, labels)]
    if texts:
        adjust_text(texts, x=list(xs), y=list(ys), ax=ax, expand=(1.15, 1.4), force_text=(0.3, 0.5),
                    arrowprops=dict(arrowstyle="-", color="0.5", lw=0.5))
    return texts


def save_figure(fig, out_stem: Path) -> list[Path]:
    """PNG (for reading) and PDF (for papers) of one figure."""
    import matplotlib.pyplot as plt

    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    for p in paths:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def _size_legend(ax, values, scale: float, base: float, unit: str):
    """Legend entries that give marker sizes a scale: three round values across the data's range."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    steps = sorted({float(f"{v:.1g}") for v in np.linspace(lo, hi, 3)} - {0.0})
    return [ax.scatter([], [], s=base + scale * v, facecolors="none", edgecolors="0.4", label=f"{v:g} {unit}")
            for v in steps]


def accuracy_flops_figure(df: pd.DataFrame, out_stem: Path, accuracy: str = "top1",
                          reference: Optional[tuple] = None) -> list[Path]:
    """Figure 3: accuracy vs GFLOPs, latency as marker size (with a scale); paper values hollow,
    ours filled; the VidTr family in red; labels placed without overlap; legends outside the
    data. Writes PNG and PDF."""
    from matplotlib.lines import Line2D

    from ..runs.tables import find_table

    plt, sns = use_style()
    points = []
    for _, r in df.iterrows():
        g, a = r.get("gflops"), r.get(accuracy)
        lat = r.get("latency_ms")
        family = r["family"]
        if g is not None and a is not None and g.paper is not None and a.paper is not None:
            points.append(dict(model=r["model"], gflops=g.paper, acc=a.paper, source="paper", family=family,
                               latency=(lat.paper if lat is not None and lat.paper else np.nan)))
        if g is not None and a is not None and g.ours is not None and a.ours is not None:
            points.append(dict(model=r["model"], gflops=g.ours, acc=a.ours, source="ours", family=family,
                               latency=(lat.ours if lat is not None and lat.ours else np.nan)))
    data = pd.DataFrame(points)
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    families = list(dict.fromkeys(data["family"])) if not data.empty else []
    others = [c for c in sns.color_palette("tab10").as_hex() if c != VIDTR_RED]
    palette = {f: (VIDTR_RED if f == "VidTr family" else others[i % len(others)]) for i, f in enumerate(families)}
    legends = []
    if not data.empty:
        known = data["latency"].notna().any()
        lat = data["latency"].fillna(data["latency"].median() if known else 1.0)
        base, scale = 25.0, 250.0 / max(float(lat.max()), 1e-9)
        for (source, family), part in data.groupby(["source", "family"]):
            ax.scatter(part["gflops"], part["acc"], s=base + scale * lat[part.index],
                       facecolors=palette[family] if source == "ours" else "none", edgecolors=palette[family],
                       linewidths=1.5, alpha=0.8, zorder=3)
        label_points(ax, data["gflops"], data["acc"], data["model"])
        if reference is not None:
            ax.axhline(reference[0], color="grey", ls="--", lw=1)
            ax.annotate(reference[1], (ax.get_xlim()[0], reference[0]), fontsize=7, color="grey",
                        xytext=(4, 3), textcoords="offset points")
        kinds = [Line2D([], [], ls="", marker="o", markerfacecolor=palette[f], markeredgecolor=palette[f], label=f)
                 for f in families]
        kinds += [Line2D([], [], ls="", marker="o", markerfacecolor="none", markeredgecolor="0.4", label="paper"),
                  Line2D([], [], ls="", marker="o", markerfacecolor="0.4", markeredgecolor="0.4", label="ours")]
        legends.append(ax.legend(handles=kinds, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="model"))
        if known:
            ax.add_artist(legends[-1])
            legends.append(ax.legend(handles=_size_legend(ax, data["latency"].dropna(), scale, base, "ms"),
                                     loc="upper left", bbox_to_anchor=(1.01, 0.55), title="marker size: latency",
                                     labelspacing=1.3, borderpad=0.8))
    else:
        ax.text(0.5, 0.5, "no rows with both GFLOPs and accuracy yet", ha="center", transform=ax.transAxes)
    dataset = DATASET_NAMES.get(find_table(df.attrs["table"]).dataset, find_table(df.attrs["table"]).dataset)
    ax.set_xlabel("GFLOPs per view (one multiply-add = one FLOP)")
    ax.set_ylabel(f"{METRICS.get(accuracy, accuracy)} (%), {dataset}")
    ax.set_title(f"Table {df.attrs['table']}: accuracy vs compute vs latency")
    return save_figure(fig, out_stem)


def per_class_figure(gains: pd.DataFrame, out_stem: Path, label_a: str, label_b: str) -> list[Path]:
    """Table A.4: the classes with the largest top-1 gain and loss of run A over run B."""
    plt, _ = use_style()
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(gains) + 1.2))
    colours = ["tab:green" if g >= 0 else "tab:red" for g in gains["gain"]]
    ax.barh(gains["class"], gains["gain"], color=colours)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"top-1 difference, {label_a} minus {label_b} (percentage points)")
    ax.set_ylabel("class")
    ax.set_title("Table A.4: classes with the largest gain and loss")
    return save_figure(fig, out_stem)

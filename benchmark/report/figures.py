"""Figures, each written as PNG (for reading) and PDF (for papers): Figure 3 (accuracy vs GFLOPs
vs latency, ours beside the paper's) and the per-class gains of Table A.4."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..tables.paper import METRICS


def save_figure(fig, out_stem: Path) -> list[Path]:
    """PNG (for reading) and PDF (for papers) of one figure."""
    import matplotlib.pyplot as plt

    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    for p in paths:
        fig.savefig(p, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def accuracy_flops_figure(df: pd.DataFrame, out_stem: Path, accuracy: str = "top1",
                          reference: Optional[tuple] = None) -> list[Path]:
    """Figure 3: accuracy vs GFLOPs, latency as marker size; paper values hollow, ours filled;
    the VidTr family in its own colour. Writes PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

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
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    families = list(dict.fromkeys(data["family"])) if not data.empty else []
    colours = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    palette = {f: ("tab:red" if f == "VidTr family" else colours[(i + 1) % 4]) for i, f in enumerate(families)}
    if not data.empty:
        lat = data["latency"].fillna(data["latency"].median() if data["latency"].notna().any() else 1.0)
        scale = 250.0 / max(float(lat.max()), 1e-9)
        for (source, family), part in data.groupby(["source", "family"]):
            sizes = 30 + scale * lat[part.index]
            ax.scatter(part["gflops"], part["acc"], s=sizes, label=f"{family} ({source})",
                       facecolors=palette[family] if source == "ours" else "none", edgecolors=palette[family],
                       linewidths=1.5, alpha=0.8)
            for _, p in part.iterrows():
                ax.annotate(p["model"], (p["gflops"], p["acc"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        if reference is not None:
            ax.axhline(reference[0], color="grey", ls="--", lw=1)
            ax.annotate(reference[1], (ax.get_xlim()[0], reference[0]), fontsize=7, color="grey",
                        xytext=(4, 3), textcoords="offset points")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="marker size: latency",
                  title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no rows with both GFLOPs and accuracy yet", ha="center", transform=ax.transAxes)
    ax.set_xlabel("GFLOPs per view")
    ax.set_ylabel(METRICS.get(accuracy, accuracy))
    ax.set_title(f"Table {df.attrs['table']}: accuracy vs GFLOPs vs latency (hollow: paper, filled: ours)")
    return save_figure(fig, out_stem)


def per_class_figure(gains: pd.DataFrame, out_stem: Path, label_a: str, label_b: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(gains) + 1.2))
    colours = ["tab:green" if g >= 0 else "tab:red" for g in gains["gain"]]
    ax.barh(gains["class"], gains["gain"], color=colours)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"top-1 difference, {label_a} minus {label_b} (points)")
    return save_figure(fig, out_stem)

"""The video transformers after VidTr, measured alike (``vidtr-bench complexity --table
transformers``): every row counted here by the same code at its published input, beside the
figures its authors published.

Per row: the input of one view and the views of the published test protocol (read from the
config's test pipeline by :mod:`benchmark.tables.catalogue`); GFLOPs per view and per video by
fvcore (every matmul, einsum and SDPA; :func:`.flops.count_flops`); GFLOPs per view by a
module-hook counter (only ``nn.Linear`` / ``nn.Conv*`` modules the forward pass calls:
:func:`.flops.count_module_hooks`, the convention the VidTr paper's figures follow); parameters;
latency of one view at batch 1 (:mod:`.timing`); the published GFLOPs and top-1, read from the
installed mmaction2 wheel's ``metafile.yml`` files (VidTr: from the paper's tables in
:mod:`benchmark.tables.paper`). A row that cannot be built or counted is listed
with the reason instead of numbers.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import pandas as pd

from ..files import write_output
from ..formatting import number, render_table
from ..report.figures import VIDTR_RED, label_points, log_axis, save_figure, use_style
from ..tables import catalogue
from ..tables.paper import TABLES
from . import flops as cx
from . import timing
from .complexity import Options, header_line
from .memory import train_step_peak_memory_gb

# The rows, in order: every video transformer with a config in the mmaction2 wheel that builds
# without custom code (a baselines/configs/ file each), then the VidTr family.
ROWS = [
    "mvit_s_16x4", "mvit_b_32x3",
    "videomae_b_16x4", "videomae_l_16x4",
    "videomaev2_s_16x4", "videomaev2_b_16x4",
    "uniformer_s_16x4", "uniformer_b_16x4",
    "uniformerv2_b16_u8",
    "swin_t_32x2", "swin_s_32x2", "swin_b_32x2",
    "timesformer_divst", "timesformer_jointst", "timesformer_spaceonly",
    "vidtr_s_8x8", "vidtr_m_16x4", "vidtr_l_32x2", "cvidtr_s_8x8", "cvidtr_m_16x4", "vanilla_tr_8x8",
]
VIDTR_FAMILY = "VidTr"
COLUMNS = ["model", "family", "config", "input", "res", "views", "protocol", "gflops", "gflops_video",
           "gflops_module_hook", "module_hook_fraction", "gflops_paper_convention", "params_m", "latency_ms",
           "latency_min_ms", "latency_max_ms", "throughput", "throughput_batch", "peak_mem_gb", "device",
           "published_gflops", "published_gflops_video", "published_top1", "published_top1_uncertain",
           "published_params_m", "published_views", "published_source", "published_diff_pct",
           "hook_uncalled_modules", "unsupported_ops", "note"]
OFF_BY_PCT = 5.0  # a VidTr row whose patch-token count differs more from the paper's figure is named
STEM = "transformers"
FIGURE_STEM = "transformers_accuracy_gflops"


# --- published figures ---------------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    gflops: Optional[float]
    top1: Optional[float]
    params_m: Optional[float]
    views: Optional[int]
    source: str  # where the figures were read
    family: str  # the metafile's collection ("MViT", "Swin", ...) or "VidTr"
    top1_uncertain: bool = False


def _amount(text, units=None) -> Optional[float]:
    """'64G' -> 64.0 (in G), '34.5M' -> 34.5 (in M); a bare number is taken as given."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)\s*", str(text))
    if not m:
        return None
    scale = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "": None}
    value, unit = float(m.group(1)), m.group(2)
    if units is None or not unit:
        return value
    return value * scale[unit] / scale[units]


@lru_cache(maxsize=None)
def read_metafile(family_dir: str) -> dict:
    """A family's ``metafile.yml`` from the installed wheel (read only)."""
    import yaml

    import baselines

    path = baselines.wheel_config_dir() / family_dir / "metafile.yml"
    with open(path) as f:
        return yaml.safe_load(f)


def metafile_entry(zoo_config: str) -> tuple[dict, str]:
    """The metafile entry of a zoo config (``recognition/<family>/<stem>.py``): the entry named
    like the config, else one whose ``Config`` is that file; Kinetics-400 results first."""
    family_dir, stem = str(Path(zoo_config).parent), Path(zoo_config).stem
    meta = read_metafile(family_dir)
    models = meta.get("Models", [])
    by_name = [m for m in models if m.get("Name") == stem]
    by_config = [m for m in models if Path(str(m.get("Config", ""))).name.split(".py")[0] == stem]
    found = by_name or by_config
    if not found:
        raise KeyError(f"no entry for {stem} in {family_dir}/metafile.yml")
    k400 = [m for m in found if any(r.get("Dataset") == "Kinetics-400" for r in m.get("Results", []))]
    collection = (meta.get("Collections") or [{}])[0].get("Name", family_dir.split("/")[-1])
    return (k400 or found)[0], collection


def _published_mmaction(name: str) -> Published:
    import baselines

    zoo = baselines.zoo_config(name)
    entry, collection = metafile_entry(zoo)
    meta = entry.get("Metadata", {})
    results = entry.get("Results", [])
    result = next((r for r in results if r.get("Dataset") == "Kinetics-400"), results[0] if results else {})
    top1 = result.get("Metrics", {}).get("Top 1 Accuracy")
    params = meta.get("Parameters", meta.get("params"))
    return Published(_amount(meta.get("FLOPs"), "G"), float(top1) if top1 is not None else None,
                     _amount(params, "M"), catalogue.get(name).views,
                     f"mmaction2 {zoo.split('/')[1]}/metafile.yml: {entry['Name']}", collection)


def _published_vidtr(name: str) -> Published:
    rows = [(t, r) for t in TABLES.values() for r in t.rows if r.model == name and "gflops" in r.paper]
    if not rows:
        return Published(None, None, None, None, "not in the paper's tables", VIDTR_FAMILY)
    both = [(t, r) for t, r in rows if "top1" in r.paper]
    table, row = (both or rows)[0]
    top1 = row.paper.get("top1")
    return Published(row.paper["gflops"].value, top1.value if top1 else None, None, row.views,
                     f"VidTr paper, Table {table.id}: {row.label}", VIDTR_FAMILY,
                     bool(top1 and top1.uncertain))


def published(name: str) -> Published:
    """The published GFLOPs (per view), top-1 and parameters of a row, read, never typed."""
    return _published_vidtr(name) if catalogue.get(name).is_vidtr else _published_mmaction(name)


# --- measuring one row ---------------------------------------------------------------------

def _config_name(entry: catalogue.Model) -> str:
    if entry.is_vidtr:
        return entry.config_rel
    import baselines

    return Path(baselines.zoo_config(entry.name)).stem


def describe(name: str) -> dict:
    """What a row is, before anything is built: input, views, configs, published figures."""
    entry = catalogue.get(name)
    # frames x frame interval; uniform sampling (one frame from each of `frames` segments) has no interval
    inp = f"{entry.frames} uniform" if entry.sampling == "UniformSample" else f"{entry.frames}x{entry.frame_interval}"
    rec = dict(model=name, config=_config_name(entry), input=inp, res=entry.crop,
               views=entry.views, protocol=f"{entry.clips}x{entry.crops}")
    pub = published(name)
    rec.update(family=pub.family, published_gflops=pub.gflops, published_top1=pub.top1,
               published_top1_uncertain=pub.top1_uncertain, published_params_m=pub.params_m,
               published_views=pub.views, published_source=pub.source)
    if pub.gflops is not None and pub.views:
        rec["published_gflops_video"] = pub.gflops * pub.views
    return rec


@contextmanager
def _quiet_mmengine():
    import logging

    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _build_vidtr_released(name: str):
    """The VidTr with the released code's attention structure (projections as ``x @ W.t() + b``
    from raw weights, as in the authors' code): what the paper's module counter saw."""
    import vidtr

    return vidtr.build_recognizer(name, attn_impl="released").eval()


def _patterns(names: list, most: int = 3) -> str:
    """Module names with layer indices folded: 'blocks.*.attn.qkv, blocks.*.attn.proj'."""
    folded = dict.fromkeys(re.sub(r"\.\d+(?=\.|$)", ".*", n).removeprefix("recognizer.backbone.") for n in names)
    shown = list(folded)[:most]
    return ", ".join(shown) + (", ..." if len(folded) > most else "")


def measure_row(name: str, opts: Options, step=lambda what: None) -> dict:
    """Count, time and describe one row at its published input (one view, batch 1)."""
    import torch

    rec = describe(name)
    entry = catalogue.get(name)
    step("build")
    with _quiet_mmengine():  # some backbones log INFO lines per layer while they are built
        model = entry.build().eval()
    x = entry.view()
    step("fvcore + module hooks")
    if entry.is_vidtr:
        # counted on the released structure, whose projections are raw weights as in the authors'
        # code (fvcore's count equals the fast path's: tested); timed on the fast path
        released = _build_vidtr_released(name)
        full, hooks = cx.count_flops_and_module_hooks(cx.ScoresOf(released), x)
        rec["gflops_paper_convention"] = hooks.recount(cx.vidtr_patch_positions(released.backbone)).gflops
        del released
    else:
        full, hooks = cx.count_flops_and_module_hooks(cx.ScoresOf(model), x)
    scores = cx.ScoresOf(model)
    rec.update(gflops=full.gflops, gflops_video=full.gflops * entry.views, gflops_module_hook=hooks.gflops,
               module_hook_fraction=hooks.gflops / full.gflops, params_m=cx.params_m(model),
               hook_uncalled_modules=len(hooks.uncalled),
               unsupported_ops="; ".join(f"{k} x{v}" for k, v in sorted(full.unsupported.items())))
    if rec.get("published_gflops"):
        rec["published_diff_pct"] = 100.0 * (full.gflops / rec["published_gflops"] - 1.0)
    notes = ["counted on the released structure"] if entry.is_vidtr else []
    if hooks.uncalled:
        notes.append(f"{len(hooks.uncalled)} Linear/Conv not called as modules: {_patterns(hooks.uncalled)}")
    device = torch.device(opts.device)
    rec["device"] = opts.device
    step("latency")
    scores.to(device)
    xd = x.to(device)
    # the counting pass warmed the model up; VidTr's timed model (the fast path) gets one untimed call
    lat = timing.latency(lambda: scores(xd), device, opts.warmup + int(entry.is_vidtr), opts.iters)
    if lat:
        rec.update(latency_ms=lat["median"], latency_min_ms=lat["min"], latency_max_ms=lat["max"])
    if opts.throughput:
        step("throughput")
        with torch.no_grad():
            rec["throughput"], rec["throughput_batch"] = timing.throughput(
                scores, lambda b: entry.view(batch=b), device, max_batch=64 if device.type == "cuda" else 4)
    if opts.memory:
        step("memory")
        rec["peak_mem_gb"] = train_step_peak_memory_gb(scores, x, device)
    rec["_unsupported"] = full.unsupported
    rec["note"] = "; ".join(notes)
    return rec


def measure_or_reason(name: str, opts: Options, step=lambda what: None) -> dict:
    """:func:`measure_row`, or the row listed with the reason it could not be built or counted."""
    try:
        return measure_row(name, opts, step)
    except Exception as e:  # noqa: BLE001  (a row that cannot be built or counted is listed, not fatal)
        rec = describe(name)
        rec["note"] = f"not measured: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
        return rec


def check_rows(rows: Optional[list]) -> list:
    rows = list(rows or ROWS)
    unknown = [r for r in rows if r not in catalogue.names()]
    if unknown:
        raise KeyError(f"unknown model(s) {unknown} for --table transformers; valid rows: {', '.join(ROWS)}")
    return rows


def transformers_frame(rows: Optional[list] = None, opts: Options = Options(), progress: bool = True) -> pd.DataFrame:
    """One row per model, counted and timed alike; a progress bar names the row and the step."""
    from tqdm import tqdm

    rows = check_rows(rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    bar = tqdm(rows, disable=not progress, unit="model", dynamic_ncols=True)
    records = []
    for name in bar:
        records.append(measure_or_reason(name, opts, lambda what, n=name: bar.set_description(f"{n}: {what}")))
    df = pd.DataFrame.from_records(records)
    df.attrs["unsupported_ops"] = dict(sum((r.get("_unsupported", Counter()) for r in records), Counter()))
    df.attrs["load"] = (load, os.getloadavg()[0] if load is not None else None)
    df = df.reindex(columns=COLUMNS).astype({"published_top1_uncertain": "boolean"}, errors="ignore")
    return df


# --- what the table shows ------------------------------------------------------------------

def _pairs_reordered(df: pd.DataFrame, a: str, b: str) -> list[tuple]:
    """Pairs of rows that column ``a`` orders one way and column ``b`` the other (ties in ``a``
    count as no order); each as (row x, row y) with x below y in ``a``."""
    rows = df.dropna(subset=[a, b])
    out = []
    for x in rows.itertuples():
        for y in rows.itertuples():
            if getattr(x, a) < getattr(y, a) and getattr(x, b) > getattr(y, b):
                out.append((x, y))
    return out


def _pareto(df: pd.DataFrame, cost: str) -> list[str]:
    """Models no other row beats on both published top-1 and ``cost`` (lower is better)."""
    rows = df.dropna(subset=[cost, "published_top1"])
    front = []
    for r in rows.itertuples():
        beaten = any(getattr(o, cost) <= getattr(r, cost) and o.published_top1 >= r.published_top1
                     and (getattr(o, cost), o.published_top1) != (getattr(r, cost), r.published_top1)
                     for o in rows.itertuples())
        if not beaten:
            front.append(r.model)
    return front


def findings(df: pd.DataFrame) -> list[str]:
    """Plain statements computed from the table (nothing typed in)."""
    out = []
    m = df.dropna(subset=["gflops"])
    if m.empty:
        return ["No row was measured."]
    frac = m.dropna(subset=["module_hook_fraction"]).sort_values("module_hook_fraction", kind="stable")
    if len(frac):
        lo, hi = frac.iloc[0], frac.iloc[-1]
        out.append(f"A module-hook counter sees between {lo.module_hook_fraction:.2f} ({lo.model}) and "
                   f"{hi.module_hook_fraction:.2f} ({hi.model}) of fvcore's full count: it misses the attention "
                   "products everywhere, and also the projections where they are not called as nn.Linear modules "
                   f"(nn.MultiheadAttention, the released VidTr): "
                   + ", ".join(f"{r.model} {r.module_hook_fraction:.2f}" for r in frac.itertuples()) + ".")
    vt = m[m["family"] == VIDTR_FAMILY].dropna(subset=["gflops_paper_convention", "published_gflops"])
    if len(vt):
        off = (vt["gflops_paper_convention"] / vt["published_gflops"] - 1).abs() * 100
        close, far = vt[off <= OFF_BY_PCT], vt[off > OFF_BY_PCT]
        text = (f"The VidTr paper's figures are the module-hook count over patch tokens only (class-token rows and "
                f"columns left out; within {OFF_BY_PCT:g}%: "
                + ", ".join(f"{r.model} {r.gflops_paper_convention:.1f} vs {r.published_gflops:g}"
                            for r in close.itertuples()) + ")")
        if len(far):
            text += "; not for " + ", ".join(f"{r.model} ({r.gflops_paper_convention:.1f} vs {r.published_gflops:g})"
                                              for r in far.itertuples())
        out.append(text + ". fvcore's full count is " + ", ".join(
            f"{r.gflops / r.published_gflops:.2f}x" for r in vt.itertuples()) + " the paper's figures, in that order.")
    flips = _pairs_reordered(m, "published_gflops", "gflops")
    if flips:
        out.append("Rankings that change when everyone is counted the same way (published GFLOPs per view -> "
                   "fvcore here): " + "; ".join(
                       f"{x.model} {x.published_gflops:g} < {y.model} {y.published_gflops:g} published, "
                       f"but {x.gflops:.1f} > {y.gflops:.1f} counted" for x, y in flips) + ".")
    else:
        out.append("No two rows with published GFLOPs change order when counted the same way.")
    view_video = _pairs_reordered(m, "gflops", "gflops_video")
    if view_video:
        moved = Counter(x.model for x, _ in view_video)
        out.append(f"Per video (x views) the order changes for {len(view_video)} pairs: the rows with many views "
                   "cost more than their per-view figure suggests, most of all "
                   + ", ".join(f"{k} ({int(m.set_index('model').loc[k, 'views'])} views, overtakes {v})"
                               for k, v in moved.most_common(4)) + ".")
    for cost, what in (("gflops", "per view"), ("gflops_video", "per video")):
        front = _pareto(m, cost)
        if front:
            out.append(f"Best published top-1 for the compute counted here, {what} (no other row is both cheaper "
                       f"and more accurate): {', '.join(front)}.")
    return out


# --- rendering -----------------------------------------------------------------------------

def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    def col(name, digits=1):
        return [number(float(v) if pd.notna(v) else None, digits) for v in df[name]]

    out = pd.DataFrame({
        "model": df["model"], "family": df["family"],
        "input": [f"{i}, {r}²" for i, r in zip(df["input"], df["res"])], "views": df["protocol"],
        "GFLOPs/view": col("gflops"), "GFLOPs/video": col("gflops_video", 0),
        "module hooks": col("gflops_module_hook"), "hooks/full": col("module_hook_fraction", 2),
        "paper conv.": col("gflops_paper_convention"), "params (M)": col("params_m"),
    })
    lat_title = f"{(df['device'].dropna().iloc[0] if df['device'].notna().any() else 'cpu').upper()} ms/view"
    out[lat_title] = col("latency_ms", 0)
    for extra, title, digits in (("throughput", "clips/s", 1), ("peak_mem_gb", "train mem GB", 2)):
        if df[extra].notna().any():
            out[title] = col(extra, digits)
    out["published GFLOPs"] = col("published_gflops")
    out["diff %"] = [number(float(v) if pd.notna(v) else None, 1, sign=True) for v in df["published_diff_pct"]]
    out["published top-1"] = [number(float(v) if pd.notna(v) else None, 1) + ("?" if u is True else "")
                              for v, u in zip(df["published_top1"], df["published_top1_uncertain"])]
    out["note"] = df["note"].fillna("")
    return out


EXPLAIN = (
    "One view at batch 1 at the config's test crop; 'views' is the published test protocol (clips x crops) read "
    "from the config's test pipeline, and 'GFLOPs/video' the per-view count times the views. One multiply-add = "
    "one FLOP. 'GFLOPs/view' is fvcore's full count (every matmul, einsum and scaled-dot-product attention; "
    "nn.MultiheadAttention's fast path turned off while counting). 'module hooks' counts only nn.Linear / nn.Conv* "
    "modules that the forward pass calls (forward hooks), at every position: the convention of the VidTr paper's "
    "counter; VidTr rows are hooked on the released code's structure, whose attention projections are raw weights "
    "(as in nn.MultiheadAttention), so only the stem, the MLPs and the head are seen. 'paper conv.' is that count "
    "over patch tokens only (class-token rows and columns left out), which is what the VidTr paper prints. "
    "Latency: median of the timed calls of one view at batch 1 through the round-robin timing harness (the "
    "counting pass, or for VidTr one untimed call of its fast path, comes first). "
    "'published' figures are read from the installed mmaction2 wheel's metafile.yml files (per view; '-' where the "
    "metafile has none) and, for VidTr, from the paper's tables; 'diff %' is our fvcore count against them.")
# the optional columns, and how to ask for them: a table without one says so
OPTIONAL = {"throughput": "throughput (--throughput)", "peak_mem_gb": "training memory (--device cuda --memory)"}


def render(df: pd.DataFrame, fmt: str, env: str) -> str:
    title = "Video transformers measured alike: one counter, one protocol"
    if fmt == "csv":
        return render_table(df, "csv")
    shown = display_frame(df)
    if fmt == "tex":
        shown = shown.drop(columns=["note"])
        body = render_table(shown, "tex")
        return f"% {title}\n% {env}\n% needs \\usepackage{{booktabs}}\n" + body
    if fmt != "md":
        raise ValueError(f"unknown format {fmt!r}; valid: csv, md, tex")
    missing = [what for col, what in OPTIONAL.items() if not df[col].notna().any()]
    explain = EXPLAIN + (f" Not measured in this run: {' and '.join(missing)}." if missing else "")
    lines = [f"# {title}", "", f"_{env}_", "", render_table(shown, "md"), "", explain, "",
             "## What the table shows", ""]
    lines += [f"- {s}" for s in findings(df)]
    lines += ["", f"![accuracy vs GFLOPs]({FIGURE_STEM}.png)", "", "## Configs and sources", ""]
    lines += [f"- {r.model}: `{r.config}`; published: {r.published_source}" for r in df.itertuples()]
    unsupported = df.attrs.get("unsupported_ops", {})
    if unsupported:
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(unsupported.items()))
        lines += ["", f"Operators fvcore did not count (element-wise, pooling, shape ops; per row in the CSV): {ops}"]
    return "\n".join(lines) + "\n"


def figure(df: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Published top-1 against GFLOPs counted here, per view and per video (filled), with the
    published GFLOPs (hollow, joined to ours) where there is one; the VidTr family in red; log
    GFLOPs axes with 1-2-5 ticks, labels placed without overlap, the legend below the panels.
    Draws from the table's frame or its CSV alike (``figure(pd.read_csv(...), stem)``)."""
    from matplotlib.lines import Line2D

    plt, sns = use_style()
    data = df.dropna(subset=["gflops", "published_top1"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), sharey=True)
    families = list(dict.fromkeys(data["family"]))
    others = [c for c in sns.color_palette("tab10").as_hex() if c != VIDTR_RED]
    colour = {f: (VIDTR_RED if f == VIDTR_FAMILY else others[i % len(others)]) for i, f in enumerate(families)}
    for ax, ours, theirs, what in ((axes[0], "gflops", "published_gflops", "per view"),
                                   (axes[1], "gflops_video", "published_gflops_video", "per video (x views)")):
        for fam in families:
            part = data[data["family"] == fam]
            ax.scatter(part[ours], part["published_top1"], color=colour[fam], s=45, zorder=3)
            pub = part.dropna(subset=[theirs])
            ax.scatter(pub[theirs], pub["published_top1"], facecolors="none", edgecolors=colour[fam], s=45, zorder=3)
            for r in pub.itertuples():
                ax.plot([getattr(r, theirs), getattr(r, ours)], [r.published_top1] * 2, color=colour[fam], lw=0.8,
                        alpha=0.6, zorder=2)
        log_axis(ax, "x")
        label_points(ax, data[ours], data["published_top1"], data["model"], fontsize=7)
        ax.set_xlabel(f"GFLOPs {what}, counted here by fvcore")
        ax.set_title(what)
    axes[0].set_ylabel("published top-1 (%), Kinetics-400")
    handles = [Line2D([], [], ls="", marker="o", color=colour[f], label=f) for f in families]
    handles += [Line2D([], [], ls="", marker="o", markerfacecolor="0.4", markeredgecolor="0.4",
                       label="GFLOPs counted here"),
                Line2D([], [], ls="-", marker="o", markerfacecolor="none", markeredgecolor="0.4", color="0.6",
                       label="as published (joined to ours)")]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.02), ncol=min(6, len(handles)))
    fig.suptitle("Video transformers: published accuracy vs compute counted alike")
    fig.tight_layout()
    return save_figure(fig, out_stem)


def write_table(opts: Options, *, fmt: str = "md", out: Optional[Path] = None, rows: Optional[list] = None,
                progress: bool = True, say=print) -> pd.DataFrame:
    """``vidtr-bench complexity --table transformers``: the table printed as ``fmt``, or written
    to ``out`` as ``transformers.md``, ``.tex`` and ``.csv`` (one measurement, every format) with
    its figure."""
    import sys

    df = transformers_frame(rows, opts, progress)  # checks the rows before measuring anything
    load = df.attrs.get("load") or (None, None)
    env = header_line(opts)
    if load[0] is not None:
        env += (f"; CPU load average {load[0]:.1f} at the start, {load[1]:.1f} at the end on {os.cpu_count()} cores "
                "(latency measured while other work ran is noisy)")
    if out is None:
        say(render(df, fmt, env), end="")
    else:
        for f in dict.fromkeys([fmt, "md", "tex", "csv"]):
            say(f"wrote {write_output(out / f'{STEM}.{f}', render(df, f, env))}")
        for p in figure(df, out / FIGURE_STEM):
            say(f"wrote {p}")
    if df.attrs.get("unsupported_ops") and progress:
        ops = ", ".join(sorted(df.attrs["unsupported_ops"]))
        print(f"table transformers: fvcore did not count these operators: {ops}", file=sys.stderr)
    return df


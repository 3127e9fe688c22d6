"""The complexity columns of the paper's tables (``vidtr-bench complexity --table ...``): one
pandas frame per table, rendered as CSV, Markdown and LaTeX from the same data."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import pandas as pd
import torch

from ..files import write_output
from ..formatting import number, render_table
from ..provenance import device_name, versions_line
from ..tables import catalogue
from ..tables.paper import TABLES, Row, Table, select
from . import flops as cx
from . import timing
from .memory import train_step_peak_memory_gb

COLUMNS = ["table", "row", "model", "input", "res", "views", "gflops", "gflops_total", "gflops_paper_convention",
           "paper_gflops", "paper_uncertain", "ratio_full_to_paper_convention", "diff_pct", "params_m",
           "latency_ms", "latency_min_ms", "latency_max_ms", "throughput", "throughput_batch", "peak_mem_gb",
           "peak_mem_gb_materialised", "paper_memory_gb", "device", "note"]
OFF_BY_PCT = 5.0  # rows whose count differs from the paper by more than this are listed


@dataclass(frozen=True)
class Options:
    device: str = "cpu"
    latency: bool = False
    throughput: bool = False
    memory: bool = False
    iters: int = 5
    warmup: int = 2


@dataclass
class Measured:
    gflops: float
    paper_convention: Optional[float]
    params_m: float
    latency: Optional[dict] = None
    throughput: Optional[tuple] = None
    peak_mem_gb: Optional[float] = None
    peak_mem_gb_materialised: Optional[float] = None
    unsupported: Counter = field(default_factory=Counter)


@lru_cache(maxsize=4)
def _model(name: str, num_classes: int):
    return catalogue.build(name, num_classes).eval()


@lru_cache(maxsize=None)
def measure_view(name: str, frames: int, res: int, num_classes: int, opts: Options) -> Measured:
    """Complexity of one view of ``name`` at ``frames`` x ``res``^2 (cached per input)."""
    entry = catalogue.get(name)
    model = _model(name, num_classes)
    x = entry.view(frames, res)
    flops = cx.count_flops(cx.ScoresOf(model), x)
    paper = cx.count_paper_convention(model.backbone, x[:, 0]) if entry.is_vidtr else None
    out = Measured(flops.gflops, paper, cx.params_m(model), unsupported=flops.unsupported)
    device = torch.device(opts.device)
    if opts.latency or opts.throughput:
        scores = cx.ScoresOf(model).to(device)
        if opts.latency:
            xd = x.to(device)
            out.latency = timing.latency(lambda: scores(xd), device, opts.warmup, opts.iters)
        if opts.throughput:
            out.throughput = timing.throughput(scores, lambda b: entry.view(frames, res, b), device,
                                               max_batch=64 if device.type == "cuda" else 4)
        scores.cpu()
    if opts.memory and entry.is_vidtr:
        import vidtr

        clip = x[:, 0]
        for impl, attr in (("sdpa", "peak_mem_gb"), ("math", "peak_mem_gb_materialised")):
            backbone = vidtr.build_backbone(name, attn_impl=impl)
            setattr(out, attr, train_step_peak_memory_gb(backbone, clip, device))
            del backbone
    return out


def _row_frame(table: Table, row: Row, opts: Options) -> dict:
    rec = dict(table=table.id, row=row.label, model=row.model or " + ".join(m.model for m in row.members) or "",
               input=row.input, res=row.res, views=row.views, device=opts.device, note=row.note)
    if "gflops" in row.paper:
        rec["paper_gflops"] = row.paper["gflops"].value
        rec["paper_uncertain"] = row.paper["gflops"].uncertain
    if "memory_gb" in row.paper:
        rec["paper_memory_gb"] = row.paper["memory_gb"].value
    parts = [(row.model, row.frames, row.res)] if row.model else [(m.model, m.frames, m.res) for m in row.members]
    if not parts:
        return rec
    measured = [measure_view(name, frames, res, table.num_classes, opts) for name, frames, res in parts]
    rec["gflops"] = sum(m.gflops for m in measured)
    rec["gflops_total"] = rec["gflops"] * row.views
    rec["params_m"] = sum(m.params_m for m in measured)
    # the paper's convention for a row with a VidTr part: its VidTr parts counted as the paper counts
    # them, the others (an ensemble's I3D) by fvcore, which is what the paper's counter sees of a CNN;
    # one number, shown as 'paper conv.' here and as 'GFLOPs' in the reports, and compared with the paper
    if any(m.paper_convention is not None for m in measured):
        rec["gflops_paper_convention"] = sum(m.gflops if m.paper_convention is None else m.paper_convention
                                             for m in measured)
        rec["ratio_full_to_paper_convention"] = rec["gflops"] / rec["gflops_paper_convention"]
    comparable = rec.get("gflops_paper_convention", rec["gflops"])
    if rec.get("paper_gflops"):
        rec["diff_pct"] = 100.0 * (comparable / rec["paper_gflops"] - 1.0)
    if all(m.latency for m in measured):
        rec["latency_ms"] = sum(m.latency["median"] for m in measured)
        rec["latency_min_ms"] = sum(m.latency["min"] for m in measured)
        rec["latency_max_ms"] = sum(m.latency["max"] for m in measured)
    if all(m.throughput for m in measured) and len(measured) == 1:
        rec["throughput"], rec["throughput_batch"] = measured[0].throughput
    for attr in ("peak_mem_gb", "peak_mem_gb_materialised"):
        if all(getattr(m, attr) is not None for m in measured):
            rec[attr] = sum(getattr(m, attr) for m in measured)
    rec["_unsupported"] = sum((m.unsupported for m in measured), Counter())
    return rec


def complexity_frame(table_id: str, rows: Optional[list] = None, opts: Options = Options(),
                     progress: bool = True) -> pd.DataFrame:
    """One row per paper row of the selected table(s); a progress bar names the row."""
    from tqdm import tqdm

    pairs = select(table_id, rows)
    bar = tqdm(pairs, disable=not progress, unit="row", dynamic_ncols=True)
    records = []
    for table, row in bar:
        bar.set_description(f"table {table.id}: {row.label}")
        records.append(_row_frame(table, row, opts))
    df = pd.DataFrame.from_records(records)
    unsupported = sum((r.get("_unsupported", Counter()) for r in records), Counter())
    df = df.reindex(columns=COLUMNS)
    df.attrs["unsupported_ops"] = dict(unsupported)
    return df


def header_line(opts: Options) -> str:
    """The device, dtype, batch and library versions a complexity table names under its title."""
    dev = f"cuda ({device_name(opts.device)})" if opts.device == "cuda" else device_name("cpu")
    return f"device {dev}, dtype fp32, batch 1; {versions_line()}"


def off_by_more(df: pd.DataFrame, pct: float = OFF_BY_PCT) -> pd.DataFrame:
    return df[df["diff_pct"].abs() > pct]


def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The human-facing columns with rounding, dashes for missing values."""
    cols = {"row": "model", "input": "input", "views": "views", "gflops": "GFLOPs (fvcore)",
            "gflops_paper_convention": "GFLOPs (paper conv.)", "paper_gflops": "GFLOPs (paper)",
            "diff_pct": "diff %", "ratio_full_to_paper_convention": "full / paper conv.",
            "params_m": "params (M)"}
    for extra, title in (("latency_ms", "latency (ms)"), ("throughput", "clips/s"),
                         ("peak_mem_gb", "train mem GB (SDPA)"),
                         ("peak_mem_gb_materialised", "train mem GB (maps)"), ("paper_memory_gb", "mem GB (paper)")):
        if df[extra].notna().any():
            cols[extra] = title
    out = pd.DataFrame({title: df[col] for col, title in cols.items()})
    paper = [(number(v, 0) + ("?" if u is True else "")) if pd.notna(v) else "-"
             for v, u in zip(df["paper_gflops"], df["paper_uncertain"])]
    out["GFLOPs (paper)"] = paper
    for col in out.columns:
        if col in ("model", "input", "views", "GFLOPs (paper)"):
            continue
        digits = 2 if col == "full / paper conv." else 1
        out[col] = [number(float(v) if pd.notna(v) else None, digits) for v in out[col]]
    out["note"] = df["note"].fillna("")
    return out


def render(df: pd.DataFrame, fmt: str, title: str, env: str) -> str:
    if fmt == "csv":
        return render_table(df, "csv")
    shown = display_frame(df)
    off = off_by_more(df)
    unsupported = df.attrs.get("unsupported_ops", {})
    if fmt == "md":
        lines = [f"# {title}", "", f"_{env}_", "", render_table(shown, "md"), ""]
        lines.append("GFLOPs per view; one multiply-add = one FLOP. 'paper conv.' counts only the MLP linear "
                     "layers and the patch stem over patch tokens, which is what the paper's VidTr figures match "
                     "(an ensemble: its VidTr members so, the others by fvcore); 'diff %' compares it (or the "
                     "fvcore count for rows without a VidTr) with the paper, as `report` does. The paper's "
                     "counter sees only nn.Linear / nn.Conv modules: the released VidTr's attention projections "
                     "are a raw parameter and a custom linear, so they are left out, while timm's T2T-ViT has "
                     "them as nn.Linear, so the paper's T2T figure counts them (the T2T row's note).")
        if len(off):
            lines += ["", f"Rows more than {OFF_BY_PCT:g}% off the paper:", ""]
            lines += [f"- {r.row} (table {r.table}): {r.diff_pct:+.1f}%" for r in off.itertuples()]
        if unsupported:
            ops = ", ".join(f"{k} x{v}" for k, v in sorted(unsupported.items()))
            lines += ["", f"Operators fvcore did not count (element-wise and shape ops): {ops}"]
        return "\n".join(lines) + "\n"
    if fmt == "tex":
        body = render_table(shown.drop(columns=["note"]), "tex")
        return f"% {title}\n% {env}\n% needs \\usepackage{{booktabs}}\n" + body
    raise ValueError(f"unknown format {fmt!r}; valid: csv, md, tex")


def write(df: pd.DataFrame, out_dir: Path, stem: str, fmt: str, title: str, env: str) -> list[Path]:
    """Write ``stem.<fmt>`` (and always ``stem.csv``, the data behind it); report replaced files."""
    return [write_output(out_dir / f"{stem}.{f}", render(df, f, title, env)) for f in dict.fromkeys([fmt, "csv"])]


def write_tables(table_id: str, opts: Options, *, rows: Optional[list] = None, fmt: str = "md",
                 out: Optional[Path] = None, progress: bool = True, say=print) -> list[pd.DataFrame]:
    """``vidtr-bench complexity``: the complexity of one table, or ``all`` (plus
    ``all_tables.csv``), printed or written to ``out``; operators fvcore did not count named."""
    import sys

    select(table_id, rows)  # validates the table and rows before any model is built
    env = header_line(opts)
    frames = []
    for tid in list(TABLES) if table_id == "all" else [table_id]:
        df = complexity_frame(tid, rows, opts, progress=progress)
        frames.append(df)
        title = f"Table {tid}: {TABLES[tid].title} - complexity"
        if out is None:
            say(render(df, fmt, title, env), end="")
        else:
            for path in write(df, out, f"table_{tid.replace('.', '')}", fmt, title, env):
                say(f"wrote {path}")
        if df.attrs.get("unsupported_ops") and progress:
            ops = ", ".join(sorted(df.attrs["unsupported_ops"]))
            print(f"table {tid}: fvcore did not count these operators: {ops}", file=sys.stderr)
    if out is not None and len(frames) > 1:
        say(f"wrote {write_output(out / 'all_tables.csv', pd.concat(frames).to_csv(index=False))}")
    return frames

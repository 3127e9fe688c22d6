"""Reports: run records + complexity data -> the paper's tables with our value, the paper's
value and the difference per metric (Markdown and LaTeX), provenance beside each table,
Figure 3 (:mod:`.figures`) and the per-class error analysis. Reports read records and CSVs,
never logs."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..files import write_output
from ..formatting import number, render_table
from ..runs.metrics import over_seeds
from ..runs.records import read_record
from ..runs.spec import RunSpec
from ..runs.state import status
from ..runs.tables import find_table, table_runs
from ..tables import catalogue
from ..tables.paper import METRICS, TABLES, Row
from .figures import accuracy_flops_figure, per_class_figure

# table metric -> (dataset of the run that measures it, record metric); None: from complexity
RUN_METRICS = {"top1": (None, "top1"), "top5": (None, "top5"), "map": (None, "map"),
               "charades_map": ("charades", "map"), "ssv2_top1": ("sthv2", "top1"),
               "ucf_top1": ("ucf101", "top1"), "hmdb_top1": ("hmdb51", "top1")}
ABLATIONS = ("4a", "4b", "4c", "4d", "4e", "4f")


@dataclass
class Cell:
    ours: Optional[float] = None  # the mean over seeds, when several seeds ran
    paper: Optional[float] = None
    uncertain: bool = False
    state: str = ""  # "running", "pending", "failed", ... when there is no value yet
    test_videos: Optional[int] = None  # of the run behind a run metric: videos it was tested on
    total_batch: Optional[int] = None  # and its total batch size (all GPUs), when its record has it
    seeds: dict = field(default_factory=dict)  # seed -> (value, run id), every seed's own

    @property
    def diff(self) -> Optional[float]:
        return None if self.ours is None or self.paper is None else self.ours - self.paper

    def add_seed(self, seed: int, value: Optional[float], run_id: str) -> None:
        """One seed's value: ``ours`` becomes the mean over the seeds so far (``over_seeds``)."""
        if value is None:
            return
        self.seeds[seed] = (value, run_id)
        self.ours = over_seeds(v for v, _ in self.seeds.values())[0]

    def text(self, digits: int) -> str:
        """The cell as Markdown shows it: '77.7' for one seed, '77.7 ± 0.2 (3)' for several."""
        mean, sd, n = over_seeds(v for v, _ in self.seeds.values())
        if n < 2:
            return number(self.ours, digits)
        return f"{number(mean, digits)} ± {number(sd, digits)} ({n})"


def _records(specs: list[RunSpec], home: Path) -> dict:
    return {s.run_id: rec for s in specs if (rec := read_record(home, s)) is not None}


def _complexity(table_id: str, complexity_dir: Optional[Path]) -> pd.DataFrame:
    path = (complexity_dir or Path()) / f"table_{table_id.replace('.', '')}.csv"
    return pd.read_csv(path).set_index("row") if complexity_dir and path.exists() else pd.DataFrame()


def _family(row: Row) -> str:
    """The figure's colour: the VidTr family (a VidTr, or an ensemble with one) or the others."""
    models = [row.model] if row.model else [m.model for m in row.members]
    return "VidTr family" if any(catalogue.get(m).is_vidtr for m in models) else "other"


def table_frame(table_id: str, specs: list[RunSpec], home: Path, complexity_dir: Optional[Path] = None) -> pd.DataFrame:
    """One row per table row: for each metric, ours / paper / difference, plus run provenance."""
    table = find_table(table_id)
    records = _records(specs, home)
    states = {r["run_id"]: r for r in status(table_id, specs, home, all_tables=True)}
    cx = _complexity(table_id, complexity_dir)
    main_specs: dict = {}
    for s in specs:  # the runs that score a row on a dataset, one per seed (ensembles: the ensemble)
        main_specs.setdefault((s.row, s.dataset), {}).setdefault(s.seed, s)
    out = []
    for row in table.rows:
        rec = dict(model=row.label, input=row.input, family=_family(row))
        provenance = []
        for metric in table.metrics:
            ref = row.paper.get(metric)
            cell = Cell(paper=ref.value if ref else None, uncertain=bool(ref and ref.uncertain))
            if metric in RUN_METRICS or metric == "mean_class":
                dataset, key = RUN_METRICS.get(metric, (None, metric))
                by_seed = next((by for (label, ds), by in main_specs.items()
                                if label == row.label and (dataset is None or ds == dataset)), {})
                for seed, spec in sorted(by_seed.items()):
                    r = records.get(spec.run_id)
                    if r is not None:
                        cell.add_seed(seed, r["metrics"].get(key), spec.run_id)
                        cell.test_videos, cell.total_batch = r.get("num_test_videos"), r.get("total_batch")
                        st = states.get(spec.run_id) or {}
                        flag = f", STALE: {st['error']}" if st.get("state") == "done (stale)" else ""
                        provenance.append(f"{spec.run_id} (config {r['config_hash']}, code {r['code_version']}{flag})")
                        for i, mm in enumerate((r.get("members") or {}).values(), 1):
                            col = f"member {i} {METRICS.get(metric, metric)}"
                            rec[col] = rec.get(col, []) + [mm.get(key)]
                    elif not cell.state:
                        cell.state = (states.get(spec.run_id) or {}).get("state", "")
            elif not cx.empty and row.label in cx.index:
                c = cx.loc[row.label]
                if metric == "gflops":
                    v = c.get("gflops_paper_convention")
                    cell.ours = float(v) if pd.notna(v) else (float(c["gflops"]) if pd.notna(c["gflops"]) else None)
                elif metric == "memory_gb" and pd.notna(c.get("peak_mem_gb_materialised")):
                    cell.ours = float(c["peak_mem_gb_materialised"])
                elif metric in ("latency_ms", "params_m") and pd.notna(c.get(metric)):
                    cell.ours = float(c[metric])
            rec[metric] = cell
        rec["runs"] = "; ".join(dict.fromkeys(provenance))
        rec["note"] = row.note
        out.append(rec)
    df = pd.DataFrame(out)
    df.attrs.update(table=table_id, metrics=table.metrics, title=table.title, extra=[], note=table.note)
    return df


def _digits(metric: str, v: Optional[float]) -> int:
    """One decimal, except the demo's tiny models (under a GFLOP, a few hundred thousand weights)."""
    small = v is not None and 0 < abs(v) < 1 and metric in ("gflops", "params_m")
    return (3 if metric == "gflops" else 2) if small else 1


def _run_groups(metrics) -> dict:
    """Run metric -> the prefix of its run's columns (test videos, total batch), given on the last
    metric each run measures: '' where one run measures the table's accuracies, else the
    dataset's name (Table 6: 'Charades ', 'SSv2 ', ...)."""
    groups = {m: RUN_METRICS.get(m, (None, m))[0] for m in metrics if m in RUN_METRICS or m == "mean_class"}
    several = len(set(groups.values())) > 1
    last = {g: m for m, g in groups.items()}  # dicts keep order: the group's last metric wins
    return {m: (METRICS.get(m, m).split()[0] + " " if several else "") for g, m in last.items()}


def display(df: pd.DataFrame) -> pd.DataFrame:
    """Cells -> three columns per metric: ours, paper, difference (dash when missing); after a
    run's accuracies, the number of videos it was tested on and its total batch size (a reason a
    number may differ from the paper's); then the ensemble members' metrics and any extra
    columns a table adds (``df.attrs['extra']``)."""
    out = pd.DataFrame({"model": df["model"], "input": df["input"]})
    groups = _run_groups(df.attrs["metrics"])
    group_cells: dict = {}
    for metric in df.attrs["metrics"]:
        name = METRICS.get(metric, metric)
        cells = df[metric]
        out[name] = [c.state if c.ours is None and c.state in ("running", "pending", "submitted")
                     else c.text(_digits(metric, c.ours)) for c in cells]
        if any(c.paper is not None for c in cells):
            out[f"{name} (paper)"] = [number(c.paper) + ("?" if c.uncertain else "") for c in cells]
            out[f"{name} diff"] = [number(c.diff, sign=True) for c in cells]
        if metric in RUN_METRICS or metric == "mean_class":  # the run's columns after its last metric
            group = RUN_METRICS.get(metric, (None, metric))[0]
            group_cells[group] = [c if c.test_videos is not None else prev
                                  for c, prev in zip(cells, group_cells.get(group, [Cell()] * len(cells)))]
            if metric in groups:
                run = group_cells[group]
                out[f"{groups[metric]}test videos"] = [number(c.test_videos, 0) for c in run]
                out[f"{groups[metric]}total batch"] = [number(c.total_batch, 0) for c in run]
    for col in [c for c in df.columns if c.startswith("member ")]:  # a member's metric, over the seeds
        out[col] = [number(over_seeds(v)[0]) if isinstance(v, list) else "-" for v in df[col]]
    for col in df.attrs.get("extra", []):
        out[col] = [v if isinstance(v, str) else number(v) for v in df[col]]
    return out


def seed_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Every value behind a table, one line per (row, metric, seed): the CSV a reader recomputes
    means and spreads from. Complexity metrics (no seed) have an empty seed."""
    out = []
    for _, r in df.iterrows():
        for metric in df.attrs["metrics"]:
            cell = r[metric]
            base = dict(table=df.attrs["table"], row=r["model"], input=r["input"], metric=metric, paper=cell.paper)
            if cell.seeds:
                out += [dict(base, seed=seed, ours=v, run_id=run_id)
                        for seed, (v, run_id) in sorted(cell.seeds.items())]
            else:
                out.append(dict(base, seed=None, ours=cell.ours, run_id=""))
    return pd.DataFrame(out, columns=["table", "row", "input", "metric", "seed", "ours", "paper", "run_id"]).astype(
        {"seed": "Int64"})


FOOTNOTE = ("Ours / paper / difference per metric; '-' is a run or value that does not exist yet, '?' a paper "
            "cell the OCR leaves uncertain. GFLOPs: the paper's counting convention wherever a VidTr is counted "
            "(an ensemble: its VidTr members so, the others by fvcore), fvcore otherwise, as `complexity` shows "
            "them ('paper conv.'; see results/complexity/ and docs/complexity.md). 'test videos' and 'total batch' "
            "(over all GPUs) are the run's: fewer test videos than the paper had, or another batch size, is a "
            "reason a number may differ from the paper's. With several seeds a cell reads 'mean ± standard "
            "deviation (seeds)', each seed a run of its own.")


def select_rows(df: pd.DataFrame, rows: Optional[list], strict: bool = True) -> pd.DataFrame:
    """``report --rows``: only these rows, in the table's order; an unknown label is an error
    naming the valid ones (``strict=False``, for ``--table all``: labels a table lacks are skipped)."""
    if not rows:
        return df
    unknown = [r for r in rows if r not in set(df["model"])]
    if unknown and strict:
        raise KeyError(f"table {df.attrs['table']} has no row(s) {unknown}; valid rows: {', '.join(df['model'])}")
    out = df[df["model"].isin(rows)].reset_index(drop=True)
    out.attrs = df.attrs
    return out


def select_columns(shown: pd.DataFrame, columns: Optional[list], table_id: str = "") -> pd.DataFrame:
    """``report --columns``: the model column, then each name asked for: a metric (its id, e.g.
    ``top1``, or its title, ``top-1``) brings its ours / paper / difference columns, any other name
    the displayed column of that name (``input``, ``test videos``, ``top-1 diff``; any case)."""
    if not columns:
        return shown
    keep = ["model"]
    for name in columns:
        title = METRICS.get(name, name)
        if title in METRICS.values():
            found = [c for c in shown.columns if c in (title, f"{title} (paper)", f"{title} diff")]
        else:
            found = [c for c in shown.columns if c.lower() == name.lower()]
        if not found:
            raise KeyError(f"table {table_id} has no column {name!r}; valid: {', '.join(shown.columns[1:])} "
                           f"(or a metric id: {', '.join(k for k, v in METRICS.items() if v in shown.columns)})")
        keep += found
    return shown[list(dict.fromkeys(keep))]


def render(df: pd.DataFrame, fmt: str, columns: Optional[list] = None, footnote: bool = True) -> str:
    """One table as Markdown (title, table, the footnote unless ``footnote=False``, notes, the runs
    behind the cells), a LaTeX tabular with the same facts as comments, or CSV (every seed's value)."""
    if fmt == "csv":
        return render_table(seed_rows(df), "csv")
    shown = select_columns(display(df), columns, df.attrs["table"])
    title = df.attrs.get("heading") or f"Table {df.attrs['table']}: {df.attrs['title']}"
    prov = [f"- {m}: {r}" for m, r in zip(df["model"], df["runs"]) if r]
    notes = [f"- {m}: {n}" for m, n in zip(df["model"], df["note"]) if n]
    if fmt == "md":
        lines = [f"## {title}", "", render_table(shown, "md")]
        if footnote:
            lines += ["", FOOTNOTE]
        if df.attrs.get("note"):
            lines += ["", df.attrs["note"]]
        if notes:
            lines += ["", "Notes:", ""] + notes
        lines += ["", "Runs behind the cells:", ""] + (prov or ["- none yet"])
        return "\n".join(lines) + "\n"
    if fmt == "tex":
        body = render_table(shown, "tex")
        comment = "\n".join(f"% {p[2:]}" for p in prov) or "% runs behind the cells: none yet"
        if df.attrs.get("note"):
            comment += f"\n% {df.attrs['note']}"
        return f"% {title}\n% needs \\usepackage{{booktabs}}\n{comment}\n{body}"
    raise ValueError(f"unknown format {fmt!r}; valid: md, tex, csv")


def write_table(df: pd.DataFrame, out_dir: Path, stem: str, fmt: str, columns: Optional[list] = None) -> Path:
    return write_output(out_dir / f"{stem}.{fmt}", render(df, fmt, columns))


def per_class_gain(record_a: dict, record_b: dict, classes: Optional[list] = None, top: int = 5) -> pd.DataFrame:
    """Table A.4: per-class top-1 of run A minus run B from their saved scores; the ``top``
    largest gains and losses."""
    from ..runs.ensemble import record_scores
    from ..runs.metrics import per_class_accuracy

    a, b = record_scores(record_a), record_scores(record_b)
    if not np.array_equal(a["videos"], b["videos"]) or not np.array_equal(a["labels"], b["labels"]):
        raise ValueError(f"runs {record_a['run_id']} and {record_b['run_id']} scored different videos")
    n = a["scores"].shape[1]
    acc_a = per_class_accuracy(a["scores"], a["labels"], n)
    acc_b = per_class_accuracy(b["scores"], b["labels"], n)
    names = classes or [str(i) for i in range(n)]
    df = pd.DataFrame({"class": names, "a": acc_a, "b": acc_b, "gain": acc_a - acc_b}).dropna()
    df = df.sort_values("gain", ascending=False, kind="stable")
    picked = pd.concat([df.head(top), df.tail(top)]).drop_duplicates("class")
    picked.attrs.update(a=record_a["run_id"], b=record_b["run_id"])
    return picked


def write_reports(table_id: str, home: Path, *, out: Optional[Path] = None, fmt: str = "md",
                  complexity_dir: Path = Path("results/complexity"), data_root: str = "",
                  runs: Optional[tuple] = None, classes: Optional[Path] = None, top: int = 5,
                  cfg_options: Optional[dict] = None, seeds=None, rows: Optional[list] = None,
                  columns: Optional[list] = None, say=print) -> None:
    """``vidtr-bench report``: one table (printed, or written to ``out``), or ``all`` of the
    paper's (the six Table 4 ablations in one file, their footnote once, Figure 3 beside Table 2,
    Table A.4); ``rows`` / ``columns`` keep only those (:func:`select_rows`, :func:`select_columns`)."""
    ids = list(TABLES) + ["A.4"] if table_id == "all" else [table_id]
    ablations = []  # with 'all', the six Table 4 ablations go into one page, written once
    frames = {}
    for tid in ids:
        if tid != "A.4":
            specs = table_runs(tid, data_root, cfg_options=cfg_options, seeds=seeds)
            df = table_frame(tid, specs, home, complexity_dir)
            frames[tid] = select_rows(df, rows, strict=table_id != "all")
    if rows and not any(len(df) for df in frames.values()):
        raise KeyError(f"no table has row(s) {rows}")
    for tid in ids:
        if tid == "A.4":
            per_class_report(home, out, runs=runs, classes=classes, top=top, say=say)
            continue
        df = frames[tid]
        if table_id == "all" and rows and df.empty:
            continue
        if out is None:
            say(render(df, fmt, columns), end="")
            continue
        if tid in ABLATIONS and table_id == "all":
            ablations.append(render(df, fmt, columns, footnote=False) + "\n")
        else:
            stem = "table_" + tid.replace(".", "")
            say(f"wrote {write_table(df, out, stem, fmt, columns)}")
        if find_table(tid).figure:
            for p in accuracy_flops_figure(df, out / find_table(tid).figure):
                say(f"wrote {p}")
    if ablations and out is not None:
        head = f"# Table 4: ablations\n\n{FOOTNOTE}\n\n" if fmt == "md" else ""
        say(f"wrote {write_output(out / f'ablations.{fmt}', head + ''.join(ablations))}")


def per_class_report(home: Path, out: Optional[Path], *, runs: Optional[tuple] = None, classes: Optional[Path] = None,
                     top: int = 5, say=print) -> None:
    """Table A.4 from two finished runs (default: Table 2's VidTr-S and I3D50)."""
    if runs:
        run_a, run_b = runs
    else:
        by_row = {s.row: s.run_id for s in table_runs("2", "", rows=["VidTr-S", "I3D50"])}
        run_a, run_b = by_row["VidTr-S"], by_row["I3D50"]
    rec_a, rec_b = read_record(home, run_a), read_record(home, run_b)
    missing = [r for r, rec in ((run_a, rec_a), (run_b, rec_b)) if rec is None]
    if missing:
        say(f"Table A.4: run(s) {missing} have no record yet; nothing to compare")
        return
    names = [ln.strip() for ln in Path(classes).read_text().splitlines() if ln.strip()] if classes else None
    gains = per_class_gain(rec_a, rec_b, names, top=top)
    shown = pd.DataFrame({"class": gains["class"], rec_a["row"]: [number(v) for v in gains["a"]],
                          rec_b["row"]: [number(v) for v in gains["b"]],
                          "gain": [number(v, sign=True) for v in gains["gain"]]})
    text = (f"## Table A.4: per-class top-1, {rec_a['row']} minus {rec_b['row']}\n\n" + render_table(shown, "md")
            + f"\n\nRuns: {run_a} vs {run_b}.\n")
    if out is None:
        say(text, end="")
        return
    say(f"wrote {write_output(out / 'table_A4.md', text)}")
    for p in per_class_figure(gains, out / "figure_per_class", rec_a["row"], rec_b["row"]):
        say(f"wrote {p}")

"""Looking before running: ``vidtr-bench config`` (the fully resolved mmengine config of a
table row's runs, as mmaction2's ``print_config.py`` prints one) and ``vidtr-bench
check-data`` (every dataset a table needs: annotation lines, missing, empty, truncated,
undecodable and too-short videos, and the count beside the paper's, before GPU hours are
spent). Both read the runs' configs as the job builds them (:func:`.job.build_config`),
with the data root placeholder as written (``config --data-root`` and ``--dump`` fill it)."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..data.datasets import EXPECTED_VIDEOS as EXPECTED
from ..files import atomic_write
from ..formatting import render_table
from .spec import CHECKPOINT_OF, DATA_ROOT, RunSpec, run_dir
from .tables import table_runs

# the data root of a dumped config when none is given: the plain configs' default ($VIDTR_DATA_ROOT or data)
DEFAULT_DATA_ROOT = "data"
COUNT_TOLERANCE = 0.05  # more than this short of the expected count: said so in the summary
PROBLEMS = ("missing", "empty", "truncated", "unreadable")  # kinds of a video that cannot be used


# --- config ------------------------------------------------------------------------------

def row_runs(table_id: str, row: str, dataset: Optional[str] = None, seeds=None,
             cfg_options: Optional[dict] = None, model: Optional[str] = None) -> list[RunSpec]:
    """The runs of one table row (its ensemble members and the Kinetics-400 runs its fine-tunes
    start from included), only those on ``dataset`` / of ``model`` when given; one-line errors
    for an unknown row, dataset or model."""
    specs = table_runs(table_id, "", [row], cfg_options=cfg_options, seeds=seeds)
    for what, value, key in (("dataset", dataset, "dataset"), ("model", model, "model")):
        if value is not None:
            have = list(dict.fromkeys(getattr(s, key) for s in specs if getattr(s, key)))
            specs = [s for s in specs if getattr(s, key) == value]
            if not specs:
                raise KeyError(f"row {row!r} of table {table_id} has no run with {what} {value!r}; "
                               f"its runs': {', '.join(have)}")
    return specs


def run_config(spec: RunSpec, home: Path, data_root: Optional[str] = None, runs: Optional[list] = None):
    """The run's config as the job builds it; None for an ensemble, which has no config. Without
    ``data_root``, ``{data_root}`` and a fine-tune's ``checkpoint-of:`` stay as written (what the
    run is); with it, both are filled as the job fills them, so the config runs as it is
    (mmaction2's ``train.py``): the data root, and the checkpoint of the run a fine-tune starts
    from (its record's; before that run has finished, the path its last epoch will be saved at,
    found among ``runs``)."""
    from .job import build_config

    if not spec.config:
        return None
    cfg = build_config(spec, home, resolve=False)
    if data_root is None:
        return cfg
    by_id = {s.run_id: s for s in runs or []}

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(fill(v) for v in value)
        if isinstance(value, str) and value.startswith(CHECKPOINT_OF):
            return _checkpoint_of(value[len(CHECKPOINT_OF):], home, by_id)
        return value.replace(DATA_ROOT, data_root) if isinstance(value, str) else value

    cfg.merge_from_dict({k: fill(v) for k, v in spec.overrides.items()}, allow_list_keys=True)
    return cfg


def _checkpoint_of(run_id: str, home: Path, runs: dict) -> str:
    """The checkpoint a finished run left (its record's), else the one its last epoch will write."""
    from .records import read_record

    rec = read_record(home, run_id)
    if rec is not None and rec.get("checkpoint"):
        return rec["checkpoint"]
    upstream = runs.get(run_id)
    epochs = (run_config(upstream, home).get("train_cfg") or {}).get("max_epochs") if upstream else None
    return str(run_dir(home, run_id) / (f"epoch_{epochs}.pth" if epochs else "last_checkpoint"))


def _header(spec: RunSpec, data_root: Optional[str], home: Path) -> str:
    head = f"# run {spec.run_id}: table {spec.table}, row {spec.row!r}, dataset {spec.dataset}, seed {spec.seed}"
    if spec.members:
        return (head + f"\n# an ensemble of runs {', '.join(spec.members)}: their saved scores averaged, "
                "no config of its own\n")
    head += f"\n# {spec.config} with the run's overrides"
    if data_root is None:
        return head + f"; {DATA_ROOT} is filled at run time (give --data-root to fill it here)\n"
    head += f"; data root {data_root}"
    for dep in spec.depends_on:
        from .records import read_record

        if read_record(home, dep) is None:
            head += f"\n# load_from: the checkpoint run {dep} will write; launch it first"
    return head + "\n"


def show_config(table_id: str, row: str, home: Path, *, dataset: Optional[str] = None, dump: Optional[Path] = None,
                seeds=None, cfg_options: Optional[dict] = None, model: Optional[str] = None,
                data_root: Optional[str] = None, say=print) -> list[RunSpec]:
    """``vidtr-bench config``: each matching run's config (``cfg.pretty_text``), or with ``dump``
    the one matching run's config written as a Python config file that ``Config.fromfile`` reads
    and mmaction2's ``train.py`` / ``test.py`` run: no placeholder left in it (``data_root``, or
    ``data`` as in the plain configs, fills the data root; a fine-tune's start is a path)."""
    specs = row_runs(table_id, row, dataset, seeds, cfg_options, model)
    every = table_runs(table_id, "", [row], cfg_options=cfg_options, seeds=seeds)  # the runs fine-tunes start from
    if dump is not None:
        models = [s for s in specs if s.config]
        if len(models) != 1:
            what = ", ".join(f"{s.run_id} ({s.model} on {s.dataset})" for s in models) or "none (an ensemble)"
            raise ValueError(f"--dump writes one config, but {len(models)} runs with a config match: {what}; "
                             "pick one with --dataset, --model and/or --seed")
        spec = models[0]
        dump = Path(dump)
        if dump.suffix != ".py":
            raise ValueError(f"--dump {dump}: give a .py file (a Python config, as mmengine dumps one)")
        dump.parent.mkdir(parents=True, exist_ok=True)
        root = data_root or DEFAULT_DATA_ROOT
        cfg = run_config(spec, home, root, every)
        atomic_write(dump, _header(spec, root, home) + cfg.pretty_text)
        say(f"wrote {dump} (run {spec.run_id})")
        return [spec]
    for spec in specs:
        cfg = run_config(spec, home, data_root, every)
        say(_header(spec, data_root, home) + (cfg.pretty_text if cfg is not None else ""))
    return specs


# --- check-data --------------------------------------------------------------------------

@dataclass
class ListNeed:
    """One annotation list a table needs, and what its runs ask of it."""
    dataset: str
    name: str  # "train" / "val": the list's split (its file name without <dataset>_ and _list_videos.txt)
    ann_file: str
    prefix: str
    multi_class: bool
    num_classes: Optional[int]
    max_bad_fraction: float = 0.05
    window: int = 1  # frames a video needs for clips without repeats (_frames_needed), the largest asked
    tested: bool = False  # a val/test split reads it: one undecodable video stops the run
    runs: set = field(default_factory=set)


def _frames_needed(pipeline) -> int:
    """Frames a video needs for a clip without repeated frames: the window mmaction2's SampleFrames
    spans (clip_len x frame_interval), or clip_len for the released sampler (which spreads a clip
    over a shorter video) and TSN-style segments; 1 for a pipeline without a sampler (the demo
    decodes whole clips)."""
    import vidtr

    try:
        view = vidtr.view_of(pipeline or [])
    except ValueError:
        return 1
    return view["clip_len"] if view["sampler"] == "SpreadSampleFrames" else view["window"]


def data_needs(specs: list[RunSpec], home: Path, data_root: str) -> dict[str, ListNeed]:
    """The annotation lists (by path) the runs read, from their resolved configs."""
    from ..data.datasets import ann_path, head_num_classes, run_datasets, video_prefix

    needs: dict[str, ListNeed] = {}
    fill = lambda v: v.replace(DATA_ROOT, data_root) if isinstance(v, str) else v  # noqa: E731
    for spec in specs:
        cfg = run_config(spec, home)
        if cfg is None:
            continue
        for split, ds in run_datasets(cfg):
            ann = ann_path(ds, fill)
            prefix = video_prefix(ds, fill)
            name = Path(ann).name.removesuffix(".txt").removesuffix("_list_videos").removeprefix(f"{spec.dataset}_")
            need = needs.setdefault(ann, ListNeed(spec.dataset, name, ann, prefix, bool(ds.get("multi_class")),
                                                  head_num_classes(cfg), ds.get("max_bad_fraction", 0.05)))
            need.window = max(need.window, _frames_needed(ds.get("pipeline")))
            need.tested |= split != "train"
            need.runs.add(spec.run_id)
    return needs


def probe_videos(paths: list[str]) -> list[tuple[str, str, int, str]]:
    """(path, kind, frames, reason) per video, kind one of ok / missing / empty / truncated /
    unreadable. Opened by path (decord crashes the process on a truncated file read from
    memory); a file shorter than its container declares is not decoded at all; the first,
    middle and last frames are decoded."""
    import decord

    from ..data.containers import shortfall

    out = []
    for path in paths:
        try:
            if not os.path.isfile(path):
                out.append((path, "missing", 0, "missing"))
                continue
            size = os.path.getsize(path)
            if size == 0:
                out.append((path, "empty", 0, "zero bytes"))
                continue
            short = shortfall(path)
            if short:
                out.append((path, "truncated", 0, f"truncated: {short}"))
                continue
            vr = decord.VideoReader(path, num_threads=1)
            n = len(vr)
            if n == 0:
                out.append((path, "unreadable", 0, "no frames"))
                continue
            vr.get_batch(sorted({0, n // 2, n - 1})).asnumpy()
            out.append((path, "ok", n, ""))
        except Exception as e:  # noqa: BLE001 - decord's errors have no common base class
            first = (str(e).splitlines() or [""])[0][:200]
            out.append((path, "unreadable", 0, f"{type(e).__name__}: {first}"))
    return out


def probe_all(paths: list[str], workers: int, progress: bool = True, chunk: int = 32) -> dict:
    """:func:`probe_videos` over a process pool; path -> (kind, frames, reason). Should a worker
    die, the videos it and the queue still held are 'unreadable (not checked: ...)'."""
    from tqdm import tqdm

    results: dict = {}
    chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
    bar = tqdm(total=len(paths), unit="video", disable=not progress, dynamic_ncols=True, desc="videos")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(probe_videos, c): c for c in chunks}
        for fut in as_completed(futures):
            try:
                done = fut.result()
            except BrokenProcessPool as e:
                done = [(p, "unreadable", 0, f"not checked: a worker process died ({e})") for p in futures[fut]]
            for path, kind, frames, reason in done:
                results[path] = (kind, frames, reason)
            bar.update(len(done))
    bar.close()
    return results


@dataclass
class ListReport:
    need: ListNeed
    listed: int = 0
    counts: dict = field(default_factory=dict)  # kind -> videos
    short: int = 0
    bad: list = field(default_factory=list)  # (path, reason)
    error: str = ""  # the list itself cannot be read
    blocking: list = field(default_factory=list)  # why a run on it cannot run

    @property
    def expected(self) -> Optional[tuple]:
        return EXPECTED.get(self.need.dataset, {}).get(self.need.name)


def assess(need: ListNeed, entries: list, results: dict) -> ListReport:
    """What a list's videos mean for its runs: the dataset drops missing videos at load and
    fails above ``max_bad_fraction``; training skips undecodable ones (same limit); testing
    stops at the first; a video shorter than the window runs with repeated frames."""
    rep = ListReport(need, listed=len(entries), counts={k: 0 for k in ("ok",) + PROBLEMS})
    for rel, _ in entries:
        path = os.path.join(need.prefix, rel)
        kind, frames, reason = results[path]
        rep.counts[kind] += 1
        if kind != "ok":
            rep.bad.append((path, reason))
        elif frames < need.window:
            rep.short += 1
            rep.bad.append((path, f"short: {frames} frames, the sampling window is {need.window}"))
    limit = need.max_bad_fraction * rep.listed
    unusable = sum(rep.counts[k] for k in PROBLEMS)
    if rep.counts["missing"] > limit:
        rep.blocking.append(f"{rep.counts['missing']} missing videos are over the {need.max_bad_fraction:.0%} the "
                            "dataset allows at load")
    elif unusable > limit:
        rep.blocking.append(f"{unusable} unusable videos are over the {need.max_bad_fraction:.0%} training allows")
    if need.tested and unusable - rep.counts["missing"]:
        rep.blocking.append(f"testing stops at the first of its {unusable - rep.counts['missing']} undecodable "
                            "video(s)")
    if rep.counts["ok"] == 0:
        rep.blocking.append("no usable video")
    return rep


def check_data(table_id: str, home: Path, data_root: str, *, rows: Optional[list] = None,
               seed: Optional[int] = None, seeds=None,
               cfg_options: Optional[dict] = None, workers: Optional[int] = None, bad_list: Optional[Path] = None,
               progress: bool = True, say=print) -> list[ListReport]:
    """``vidtr-bench check-data``: every list file the table's runs read, parsed and its videos
    probed in a process pool; a summary printed, every bad video written to ``bad_list``."""
    from ..data.datasets import AnnotationError, read_list_file

    specs = table_runs(table_id, data_root, rows, seed, cfg_options, seeds=seeds)
    needs = data_needs(specs, home, data_root)
    reports, entries = [], {}
    for ann, need in needs.items():
        try:
            entries[ann] = read_list_file(ann, need.multi_class, need.num_classes, max_errors=5, unique=need.tested)
        except (AnnotationError, FileNotFoundError) as e:
            rep = ListReport(need, error=str(e))
            rep.blocking.append(str(e))
            reports.append(rep)
    paths = list(dict.fromkeys(os.path.join(needs[ann].prefix, rel) for ann, es in entries.items() for rel, _ in es))
    say(f"table {table_id}: {len(needs)} annotation list(s), {len(paths)} videos to check with "
        f"{workers or os.cpu_count()} worker(s)")
    results = probe_all(paths, workers or os.cpu_count() or 1, progress) if paths else {}
    reports += [assess(needs[ann], es, results) for ann, es in entries.items()]
    reports.sort(key=lambda r: (r.need.dataset, r.need.name))
    say(summary(table_id, reports))
    if bad_list is not None:
        bad_list = Path(bad_list)
        bad_list.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{r.need.dataset}\t{r.need.name}\t{p}\t{why}" for r in reports for p, why in r.bad]
        atomic_write(bad_list, "# dataset\tlist\tvideo\tproblem\n" + "".join(f"{ln}\n" for ln in lines))
        say(f"wrote {bad_list} ({len(lines)} video(s))")
    return reports


def summary(table_id: str, reports: list[ListReport], examples: int = 5) -> str:
    import pandas as pd

    def expected(r):
        if r.expected is None:
            return "-"
        n, _ = r.expected
        diff = f" ({100.0 * (r.listed / n - 1):+.1f}%)" if r.listed else ""
        return f"{n:,}{diff}"

    rows = [{"dataset": r.need.dataset, "list": r.need.name, "listed": f"{r.listed:,}" if not r.error else "-",
             "expected": expected(r), **{k: r.counts.get(k, 0) for k in PROBLEMS},
             "short": r.short, "window": r.need.window, "runs": len(r.need.runs),
             "can run": "no" if r.blocking else "yes"} for r in reports]
    lines = [render_table(pd.DataFrame(rows), "md") if rows else "(no lists)", ""]
    sources = {f"{r.need.dataset} {r.need.name}: {r.expected[1]}" for r in reports if r.expected}
    if sources:
        lines += ["expected: " + "; ".join(sorted(sources)), ""]
    for r in reports:
        where = f"{r.need.dataset} {r.need.name} ({r.need.ann_file})"
        if r.expected and r.listed and r.listed < (1 - COUNT_TOLERANCE) * r.expected[0]:
            lines.append(f"{where}: {r.listed:,} listed, {r.expected[0] - r.listed:,} fewer than the paper's "
                         f"{r.expected[0]:,}: accuracy may differ from the paper's for that reason")
        for reason in r.blocking:
            lines.append(f"{where}: CANNOT RUN: {reason}")
        for path, why in r.bad[:examples]:
            lines.append(f"  {path}: {why}")
        if len(r.bad) > examples:
            lines.append(f"  ... and {len(r.bad) - examples} more (see the list file)")
    if any(r.short for r in reports):
        lines.append("short videos still run, with repeated frames: mmaction2's SampleFrames fills the window past "
                     "their end (out_of_bound_opt: 'loop' unless the recipe sets 'repeat_last', as for UCF-101 and "
                     "HMDB-51)")
    blocked = sum(1 for r in reports if r.blocking)
    lines.append(f"table {table_id}: " + (f"{blocked} list(s) cannot run" if blocked else "every list can run"))
    return "\n".join(lines)


def exit_code(reports: list[ListReport]) -> int:
    return 1 if any(r.blocking for r in reports) else 0

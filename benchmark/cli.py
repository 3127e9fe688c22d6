"""``vidtr-bench``: one command per job. ``vidtr-bench complexity --table 2 --format md``.

A dispatcher: each subcommand has an adder (its options) and a handler that checks what only the
machine can tell, calls one function of the module that does the job with the parsed options,
and prints what it wrote. Nothing heavy is imported before a handler runs, so ``--help`` is quick.
Mistakes of the user's (an unknown name, a missing file, a bad value) end in one line naming
them; ``--debug`` shows the traceback instead."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

WORKDIR_HELP = "root of run directories (default $VIDTR_BENCH_HOME or ./work)"


# --- option types ----------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0 (numpy and torch take no negative "
                                         f"seed), got {value}")
    return value


def _positive_ints(text: str) -> list[int]:
    return [_positive_int(t) for t in text.split(",")]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {value}")
    return value


class _CfgOptions(argparse.Action):
    """mmengine's ``DictAction`` (imported only when the option is given), but a malformed item
    is an argparse error, not a traceback."""

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction

        bad = [v for v in values if "=" not in v]
        if bad:
            parser.error(f"{option_string}: expected KEY=VALUE items, got {bad}")
        DictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)


# --- shared options --------------------------------------------------------------------------

def _options(p, *, table_help=None, workdir=False, quiet=False, cfg_options=False, seed=False, rows=False,
             data_root=False) -> None:
    """The options several subcommands share, declared once."""
    if table_help:
        p.add_argument("--table", required=True, help=table_help)
    if rows:
        p.add_argument("--rows", nargs="+", help="only these row labels")
    if workdir:
        p.add_argument("--workdir", help=WORKDIR_HELP)
    if data_root:
        p.add_argument("--data-root", help="dataset root (default $VIDTR_DATA_ROOT; smoke/demo: under the workdir)")
    if seed:  # a seed is an axis: each seed a run of its own
        g = p.add_mutually_exclusive_group()
        g.add_argument("--seed", type=_seed, help="one seed (default: the table's own: 0; the demo's 0 1 2)")
        g.add_argument("--seeds", type=_seed, nargs="+", metavar="SEED",
                       help="several seeds, each a run of its own; reports show mean ± std (n)")
    if cfg_options:
        p.add_argument("--cfg-options", nargs="+", action=_CfgOptions, default={}, metavar="KEY=VALUE",
                       help="mmengine config overrides for every selected run, as mmaction2's tools take them "
                            "(e.g. train_dataloader.batch_size=6); they are part of each run's definition")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress bar")


RUN_TABLE = "paper table id (2, 4b, A.2, ...), 'smoke' or 'demo'"


def _run_options(p) -> None:
    """A table's runs: which table and rows, where runs and data live, seed and overrides."""
    _options(p, table_help=RUN_TABLE, rows=True, workdir=True, data_root=True, seed=True, cfg_options=True)


# --- helpers of the handlers -----------------------------------------------------------------

def _register_generated_tables() -> None:
    """The generated tables register themselves on import (smoke, demo); the command line is
    where table ids are read, so it imports them."""
    from . import smoke  # noqa: F401
    from .demo import table  # noqa: F401


def _home_and_data(args, need_data: bool):
    """The bench home, and the data root: ``--data-root``, else ``$VIDTR_DATA_ROOT``, else the
    generated table's default under the home (checked to exist when a paper table needs it)."""
    from .data.datasets import DATA_ROOT_ENV, resolve_data_root
    from .runs.spec import bench_home
    from .runs.tables import default_data_root, find_table

    home = bench_home(args.workdir)
    find_table(args.table)  # a clear error for an unknown table before looking for data
    default = default_data_root(args.table, home)
    if need_data and not default:
        return home, str(resolve_data_root(args.data_root, must_exist=True).resolve())
    given = args.data_root or os.environ.get(DATA_ROOT_ENV)
    if given and Path(given).expanduser().exists() and not Path(given).expanduser().is_dir():
        raise NotADirectoryError(f"dataset root {given} is a file, not a directory (from --data-root or "
                                 f"${DATA_ROOT_ENV})")
    # absolute: a run's config and record name where its data was, whatever the launch's directory
    return home, str(Path(given).expanduser().resolve()) if given else default


def _table_runs(args, data_root: str):
    from .runs.tables import table_runs

    return table_runs(args.table, data_root, args.rows, args.seed, args.cfg_options, seeds=args.seeds)


# --- complexity ------------------------------------------------------------------------------

def _add_complexity(sub) -> None:
    c = sub.add_parser("complexity", help="FLOPs, params, latency and memory of a paper table's rows")
    c.add_argument("--table", required=True, help="table id (1, 2, 3, 4a-4f, 5, 6, A.1, A.2, A.3), 'all', or "
                                                  "'transformers' (the video transformers measured alike)")
    c.add_argument("--rows", nargs="+", help="only these row labels (as the paper prints them; transformers: "
                                             "model names)")
    c.add_argument("--format", choices=["md", "tex", "csv"], default="md")
    c.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    c.add_argument("--out", help="write table_<id>.<format> (+ .csv) here instead of printing")
    c.add_argument("--latency", action="store_true", help="time batch-1 inference per view")
    c.add_argument("--throughput", action="store_true", help="clips/s at the largest batch that fits")
    c.add_argument("--memory", action="store_true", help="peak GPU memory of one training step (cuda)")
    c.add_argument("--iters", type=_positive_int, help="timed runs per measurement (median reported; default 5, "
                                                        "transformers 2)")
    c.add_argument("--warmup", type=int, help="untimed runs first (default 2, transformers 0)")
    _options(c, quiet=True)
    c.set_defaults(func=_complexity)


def _complexity(args) -> int:
    if args.memory and args.device != "cuda":
        raise ValueError("--memory measures GPU training memory; add --device cuda")
    from .measure import complexity as cx

    out = Path(args.out) if args.out else None
    transformers = args.table == "transformers"  # latency is a column there: always timed
    opts = cx.Options(device=args.device, latency=args.latency or transformers, throughput=args.throughput,
                      memory=args.memory, iters=args.iters or (2 if transformers else 5),
                      warmup=args.warmup if args.warmup is not None else (0 if transformers else 2))
    if transformers:
        from .measure import transformers as tt

        tt.write_table(opts, fmt=args.format, out=out, rows=args.rows, progress=not args.quiet)
    else:
        cx.write_tables(args.table, opts, rows=args.rows, fmt=args.format, out=out, progress=not args.quiet)
    return 0


# --- launch, status --------------------------------------------------------------------------

def _add_launch(sub) -> None:
    la = sub.add_parser("launch", help="train and test a table's runs (local by default, or on Slurm)")
    _run_options(la)
    la.add_argument("--executor", choices=["local", "slurm", "debug"], default="local")
    la.add_argument("--cluster", help="Slurm cluster profile: a name in slurm/profiles/ or a YAML path")
    la.add_argument("--dry-run", action="store_true", help="print the runs and sbatch parameters; submit nothing")
    la.add_argument("--force", action="store_true",
                    help="rerun finished runs (the previous attempt is kept in previous-<time>/)")
    la.add_argument("--wait", action="store_true",
                    help="stay until the runs end (progress bar of runs done); exit 1 if any failed")
    la.add_argument("--poll", type=_positive_int, default=30, help="with --wait: seconds between looks at the queue")
    _options(la, quiet=True)
    la.set_defaults(func=_launch)


def _launch(args) -> int:
    from .runs.launch import launch, wait
    from .runs.tables import build_table_data, table_seeds

    home, data_root = _home_and_data(args, need_data=not args.dry_run)
    specs = _table_runs(args, data_root)
    if not args.dry_run:
        build_table_data(args.table, data_root, table_seeds(args.table, args.seed, args.seeds)[0])
    # --force with --rows reruns those rows, not the finished runs they depend on
    force = {s.run_id for s in specs if s.row in args.rows} if args.force and args.rows else args.force
    results = launch(args.table, specs, home, executor=args.executor, cluster=args.cluster, dry_run=args.dry_run,
                     force=force, progress=not args.quiet)
    if args.wait and not args.dry_run:  # local runs are finished by now; Slurm's are followed here
        return 0 if wait(args.table, specs, home, args.poll, progress=not args.quiet) else 1
    return 1 if any(isinstance(v, BaseException) for v in results.values()) else 0


def _add_status(sub) -> None:
    st = sub.add_parser("status", help="each run of a table: pending, running, done or failed")
    _run_options(st)
    st.set_defaults(func=_status)


def _status(args) -> int:
    from .formatting import text_columns
    from .runs.state import status

    home, data_root = _home_and_data(args, need_data=False)
    lines = []
    for r in status(args.table, _table_runs(args, data_root), home):
        details = r["metrics"] or (f"job {r['job_id']}" if r["job_id"] else "")
        if r["state"] == "failed":
            details = f"log {r['log'] or '-'}: {r['error']}"
        elif r["error"]:  # why a job waits (Slurm's pending reason), why the state is unknown, or stale
            details = f"{details}: {r['error']}" if details else r["error"]
        lines.append([r["run_id"], r["row"], r["state"], details])
    print(text_columns(["run", "row", "state", "details"], lines))
    return 0


# --- report, config, check-data --------------------------------------------------------------

def _add_report(sub) -> None:
    rp = sub.add_parser("report", help="a table's results beside the paper's (Markdown/LaTeX), and figures")
    rp.add_argument("--table", required=True, help="table id, 'smoke', 'demo', 'A.4' (per-class analysis) or 'all'")
    rp.add_argument("--format", choices=["md", "tex", "csv"], default="md",
                    help="csv: one line per row, metric and seed (every seed's value)")
    rp.add_argument("--out", help="write files here (default: print)")
    rp.add_argument("--complexity", default="results/complexity", help="where `complexity` wrote its CSVs")
    rp.add_argument("--runs", nargs=2, metavar=("RUN_A", "RUN_B"), help="Table A.4: compare these two run ids")
    rp.add_argument("--classes", help="Table A.4: class names, one per line in label order")
    rp.add_argument("--top", type=_positive_int, default=5, help="Table A.4: classes with the largest gain and loss")
    rp.add_argument("--rows", nargs="+", metavar="ROW", help="only these rows (labels as the paper prints them)")
    rp.add_argument("--columns", nargs="+", metavar="COLUMN",
                    help="only these columns after 'model': a metric (top1, gflops, or its title 'top-1': ours, "
                         "paper, difference) or a column's title ('input', 'test videos')")
    _options(rp, workdir=True, cfg_options=True, seed=True)
    rp.set_defaults(func=_report)


def _report(args) -> int:
    from .report.tables import write_reports
    from .runs.spec import bench_home

    write_reports(args.table, bench_home(args.workdir), out=Path(args.out) if args.out else None, fmt=args.format,
                  complexity_dir=Path(args.complexity), runs=args.runs, classes=args.classes, top=args.top,
                  cfg_options=args.cfg_options, seeds=args.seeds or ([args.seed] if args.seed is not None else None),
                  rows=args.rows, columns=args.columns)
    return 0


def _add_config(sub) -> None:
    cf = sub.add_parser("config", help="the resolved mmengine config of a table row's runs (as print_config.py)")
    _options(cf, table_help=RUN_TABLE)
    cf.add_argument("--row", required=True, help="a row label, as the paper prints it")
    cf.add_argument("--dataset", help="only the run on this dataset (e.g. ucf101 for a Table 6 row)")
    cf.add_argument("--model", help="only the run of this model (e.g. one member of an ensemble row)")
    cf.add_argument("--dump", help="write the one matching run's config to this .py file, ready for mmaction2's "
                                   "train.py/test.py (data root: --data-root, $VIDTR_DATA_ROOT, else 'data')")
    _options(cf, workdir=True, data_root=True, seed=True, cfg_options=True)
    cf.set_defaults(func=_config)


def _config(args) -> int:
    from .data.datasets import DATA_ROOT_ENV
    from .runs.preflight import show_config
    from .runs.spec import bench_home
    from .runs.tables import default_data_root, table_seeds

    home = bench_home(args.workdir)
    given = args.data_root or os.environ.get(DATA_ROOT_ENV)
    data_root = str(Path(given).expanduser().resolve()) if given else (default_data_root(args.table, home) or None)
    show_config(args.table, args.row, home, dataset=args.dataset, dump=Path(args.dump) if args.dump else None,
                seeds=table_seeds(args.table, args.seed, args.seeds), cfg_options=args.cfg_options, model=args.model,
                data_root=data_root)
    return 0


def _add_check_data(sub) -> None:
    cd = sub.add_parser("check-data", help="count and probe every video a table's runs need, before training")
    _run_options(cd)
    cd.add_argument("--workers", type=_positive_int, help="processes probing videos (default: all cores)")
    cd.add_argument("--list", help="write the bad videos here (default <workdir>/check-data/table_<id>.txt)")
    _options(cd, quiet=True)
    cd.set_defaults(func=_check_data)


def _check_data(args) -> int:
    from .runs.preflight import check_data, exit_code

    home, data_root = _home_and_data(args, need_data=True)
    bad_list = Path(args.list) if args.list else home / "check-data" / f"table_{args.table.replace('.', '')}.txt"
    reports = check_data(args.table, home, data_root, rows=args.rows, seed=args.seed, seeds=args.seeds,
                         cfg_options=args.cfg_options,
                         workers=args.workers, bad_list=bad_list, progress=not args.quiet)
    return exit_code(reports)


def _add_plan(sub) -> None:
    pl = sub.add_parser("plan", help="what a table will cost before it is launched: distinct runs, order, GPU-hours")
    pl.add_argument("--table", required=True, help="paper table id (2, 4b, A.2, ...) or 'all'")
    pl.add_argument("--cluster", help="a cluster profile with gpu_type (v100x64, a100x8, ... or a YAML path): "
                                      "GPU-hours and wall time on its GPUs")
    pl.add_argument("--format", choices=["md", "csv"], default="md")
    pl.add_argument("--out", help="write plan_<table>.<format> here instead of printing")
    _options(pl, workdir=True, seed=True, quiet=True)
    pl.set_defaults(func=_plan)


def _plan(args) -> int:
    from .measure.plan import write_plan
    from .runs.spec import bench_home

    write_plan(args.table, bench_home(args.workdir), seeds=args.seeds or [args.seed or 0], cluster=args.cluster,
               fmt=args.format, out=Path(args.out) if args.out else None, progress=not args.quiet)
    return 0


# --- curves, compare ------------------------------------------------------------------------

def _add_curves(sub) -> None:
    cu = sub.add_parser("curves", help="loss and top-1 curves of runs, from their mmengine scalar logs")
    cu.add_argument("runs", nargs="+", metavar="RUN", help="run ids (as launch/status print them) or run directories")
    cu.add_argument("--out", default="curves", help="figure file stem: writes STEM.png and STEM.pdf (default ./curves)")
    cu.add_argument("--smooth", type=_positive_int, default=1, help="rolling mean over this many iterations")
    _options(cu, workdir=True)
    cu.set_defaults(func=_curves)


def _curves(args) -> int:
    from .report.curves import write_curves
    from .runs.spec import bench_home

    write_curves(args.runs, bench_home(args.workdir), Path(args.out), smooth=args.smooth)
    return 0


def _add_compare(sub) -> None:
    co = sub.add_parser("compare", help="two runs or more: config keys that differ, metrics side by side, curves")
    co.add_argument("runs", nargs="+", metavar="RUN", help="run ids (as launch/status print them) or run directories")
    co.add_argument("--out", help="also write compare.md and compare_curves.png/pdf here "
                                  "(default <workdir>/compare/<run ids>)")
    _options(co, workdir=True)
    co.set_defaults(func=_compare)


def _compare(args) -> int:
    from .report.compare import compare
    from .runs.spec import bench_home

    home = bench_home(args.workdir)
    out = Path(args.out) if args.out else home / "compare" / "__".join(Path(r).name for r in args.runs)[:200]
    compare(args.runs, home, out)
    return 0


# --- rollout, demo, speed --------------------------------------------------------------------

def _add_rollout(sub) -> None:
    ro = sub.add_parser("rollout", help="attention rollout of a VidTr on a video (PNG grid and GIF)")
    ro.add_argument("video")
    ro.add_argument("--model", required=True, help="a VidTr name (separable or joint)")
    ro.add_argument("--checkpoint", help="an mmengine checkpoint of our runs, or the authors' released weights")
    ro.add_argument("--config", help="the config the checkpoint was trained with (a run's own: work/runs/<id>/"
                                     "<config>.py), when its model is not the named one at full size")
    ro.add_argument("--trust-checkpoint", action="store_true", help="allow a checkpoint that needs unpickling")
    ro.add_argument("--out", required=True)
    ro.add_argument("--layers", type=_positive_int, nargs="+", default=[4, 8, 12])
    ro.add_argument("--fraction", type=_fraction, default=0.3, help="fraction of the mask highlighted")
    ro.set_defaults(func=_rollout)


def _rollout(args) -> int:
    from .report.rollout import rollout_figure

    for p in rollout_figure(args.video, args.model, args.out, checkpoint=args.checkpoint, config=args.config,
                            layers=tuple(args.layers), fraction=args.fraction, trust=args.trust_checkpoint):
        print(f"wrote {p}")
    return 0


def _add_demo(sub) -> None:
    de = sub.add_parser("demo", help="the built-in mini benchmark: mini Tables 4b/4d on real clips, on the CPU")
    de.add_argument("--out", default="results/demo")
    de.add_argument("--data-root", help="where to build the demo clips (default <workdir>/data/demo)")
    de.add_argument("--executor", choices=["local", "slurm", "debug"], default="local")
    de.add_argument("--cluster", help="Slurm cluster profile (with --executor slurm)")
    de.add_argument("--epochs", type=_positive_int, help="training epochs per model (default: the demo config's)")
    de.add_argument("--clips", type=_positive_int, default=20,
                    help="rendered training clips per class per source group (each also written reversed)")
    de.add_argument("--seed", type=_seed, default=0, help="the first of the demo's seeds (and the data's)")
    _options(de, workdir=True, quiet=True)
    de.set_defaults(func=_demo)


def _demo(args) -> int:
    from .demo.run import run_demo

    run_demo(args.out, args.workdir, data_root=args.data_root, seed=args.seed, executor=args.executor,
             cluster=args.cluster, epochs=args.epochs, clips=args.clips, progress=not args.quiet)
    return 0


def _add_speed(sub) -> None:
    sp = sub.add_parser("speed", help="latency, throughput, memory and FLOP/s of each attention implementation")
    sp.add_argument("--models", type=lambda t: t.split(","), default="vidtr_s_8x8,cvidtr_s_8x8,vanilla_tr_8x8")
    sp.add_argument("--impls", type=lambda t: t.split(","), default="released,math,sdpa",
                    help="attention implementations to compare")
    sp.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    sp.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    sp.add_argument("--compile", action="store_true", help="torch.compile each model first")
    sp.add_argument("--batch", type=_positive_ints, default="1", help="comma-separated batch sizes")
    sp.add_argument("--mode", choices=["infer", "train"], default="infer")
    sp.add_argument("--grad-checkpointing", action="store_true", help="recompute layers in backward (train)")
    sp.add_argument("--frames", type=_positive_int, help="clip length for every model (default: each model's own)")
    sp.add_argument("--tf32", choices=["none", "fast", "all"], default="none",
                    help="CUDA fp32: run matmuls as TF32 for no impl, all but 'released' (fast), or all")
    sp.add_argument("--peak-tflops", type=float, help="dense bf16 peak for MFU (default: known GPUs by name)")
    sp.add_argument("--iters", type=_positive_int, default=5)
    sp.add_argument("--warmup", type=int, default=2)
    sp.add_argument("--out", default="results/performance")
    _options(sp, quiet=True)
    sp.set_defaults(func=_speed)


def _speed(args) -> int:
    from .measure import speed as sp
    from .tables import catalogue

    bad = [m for m in args.models if m not in catalogue.names() or not catalogue.get(m).is_vidtr]
    if bad:
        import vidtr

        raise KeyError(f"unknown model(s) {bad} (speed compares VidTr attention implementations); "
                       f"valid: {', '.join(vidtr.list_models())}")
    if set(args.impls) - set(sp.IMPLS):
        raise KeyError(f"unknown --impls {sorted(set(args.impls) - set(sp.IMPLS))}; valid: {', '.join(sp.IMPLS)}")
    if args.tf32 != "none" and (args.device != "cuda" or args.dtype != "fp32"):
        raise ValueError("--tf32 is a CUDA fp32 matmul mode (use --device cuda --dtype fp32)")
    df = sp.speed(args.models, device=args.device, dtype=args.dtype, batches=args.batch, mode=args.mode,
                  impls=tuple(args.impls), compile=args.compile, iters=args.iters, warmup=args.warmup,
                  grad_checkpointing=args.grad_checkpointing, progress=not args.quiet,
                  overrides={"num_frames": args.frames} if args.frames else None, tf32=args.tf32,
                  peak_tflops=args.peak_tflops)
    overhead = sp.std_topk_overhead(args.device) if args.mode == "infer" else None
    sys.stdout.write(sp.summary(df, overhead, args.recorded_command))
    for p in sp.write(df, overhead, args.out, args.recorded_command):
        print(f"wrote {p}")
    unequal = df[df["error"].fillna("").str.contains("differs")]
    for r in unequal.itertuples():
        print(f"vidtr-bench speed: {r.model}: {r.error}", file=sys.stderr)
    return 1 if len(unequal) else 0


# --- dataload, prepare-videos ----------------------------------------------------------------

def _add_dataload(sub) -> None:
    dl = sub.add_parser("dataload", help="clips/s per core of a table's own data pipelines, per decoder; the decoder "
                                         "bound; cores per GPU")
    _options(dl, table_help=RUN_TABLE, rows=True, workdir=True, seed=True, quiet=True, cfg_options=True)
    dl.add_argument("--split", choices=["train", "test", "both"], default="both")
    source = dl.add_mutually_exclusive_group()
    source.add_argument("--videos", help="a folder of videos (default: the built-in Kinetics-like set, built under "
                                         "the workdir: long GOP as downloaded, short GOP as prepare-videos leaves it)")
    source.add_argument("--data-root", help="the rows' own dataset videos under this dataset root")
    dl.add_argument("--backend", nargs="+", metavar="NAME",
                    help="decoders measured beside the default (default: every one that runs here: pyav, "
                         "torchcodec, torchcodec-cuda where CUDA exists)")
    dl.add_argument("--workers", type=_positive_int, default=1, help="worker processes, one thread each")
    dl.add_argument("--clips", type=_positive_int, help="clips per (decoder, videos) pair (default: train 96, test 16)")
    dl.add_argument("--out", default="results/performance", help="where dataload.{csv,md} go")
    dl.set_defaults(func=_dataload)


def _dataload(args) -> int:
    from .measure.dataload import run_dataload
    from .runs.spec import bench_home

    run_dataload(_table_runs(args, ""), home=bench_home(args.workdir), table=args.table, split=args.split,
                 videos=args.videos, data_root=args.data_root, backends=args.backend, workers=args.workers,
                 clips=args.clips, seed=args.seed or 0, out=Path(args.out), command=args.recorded_command,
                 progress=not args.quiet)
    return 0


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _add_prepare_videos(sub) -> None:
    pv = sub.add_parser("prepare-videos", help="re-encode a video folder for training (short side, GOP), as "
                                               "mmaction2's resize_videos --dense; frame counts checked")
    pv.add_argument("src", help="folder of videos (searched recursively)")
    pv.add_argument("dst", help="output folder: the same relative paths and names")
    pv.add_argument("--short-side", type=_positive_int, default=256, help="pixels (mmaction2: 256)")
    pv.add_argument("--gop", type=_positive_int, default=16, help="frames between keyframes (mmaction2 --dense: 16)")
    pv.add_argument("--crf", type=int, default=23, help="x264 quality, lower is better (FFmpeg's default: 23)")
    pv.add_argument("--preset", choices=X264_PRESETS, default="medium")
    pv.add_argument("--b-pyramid", action="store_true",
                    help="keep x264's B-frame pyramid (default: none, so the fast decoder can skip every unneeded "
                         "B-frame)")
    pv.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, help="videos encoded at once")
    pv.add_argument("--psnr", type=int, default=3, help="re-encoded videos whose PSNR against the source is reported")
    _options(pv, quiet=True)
    pv.set_defaults(func=_prepare_videos)


def _prepare_videos(args) -> int:
    from .data.reencode import prepare_videos, psnr_db, summary, write_report

    reports = prepare_videos(args.src, args.dst, short_side=args.short_side, gop=args.gop, crf=args.crf,
                             preset=args.preset, b_pyramid=args.b_pyramid, workers=args.workers,
                             progress=not args.quiet)
    print(summary(reports))
    scores = [psnr_db(r.src, r.dst) for r in [r for r in reports if not r.error][:args.psnr]]
    scores = [v for v in scores if v is not None]
    if scores:
        print(f"PSNR against the source: {sum(scores) / len(scores):.1f} dB (mean of {len(scores)} videos)")
    print(f"wrote {write_report(reports, Path(args.dst) / 'prepare_videos_report.jsonl')}")
    return 1 if any(r.error for r in reports) else 0


# --- the parser and main ---------------------------------------------------------------------

SUBCOMMANDS = (_add_complexity, _add_plan, _add_launch, _add_status, _add_report, _add_curves, _add_compare,
               _add_config, _add_check_data, _add_rollout, _add_demo, _add_speed, _add_dataload, _add_prepare_videos)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidtr-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _check_device(args) -> None:
    """``--device cuda`` on a machine whose torch sees no GPU: one line, before anything is built."""
    if getattr(args, "device", "cpu") == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda asked for, but torch sees no CUDA device")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)  # --help and usage errors end here, before any heavy import
    args.recorded_command = shlex.join(["vidtr-bench", *argv])
    from .console import quiet_warnings

    quiet_warnings()
    import vidtr  # noqa: F401  (mmaction2 shim + VidTr registration)

    _register_generated_tables()
    try:
        _check_device(args)
        return args.func(args)
    except (KeyError, ValueError, OSError) as e:
        if args.debug:
            raise
        raise SystemExit(f"vidtr-bench {args.command}: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    """A user's mistake as one line: our own errors carry their message; an OSError from the
    file system (a read-only work directory, a path that is a file) names the path and the reason."""
    if isinstance(e, OSError) and e.strerror and e.filename:
        return f"{e.filename}: {e.strerror}"
    message = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
    return " ".join(message.split())


if __name__ == "__main__":
    sys.exit(main())

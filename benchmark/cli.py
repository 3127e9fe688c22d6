"""``vidtr-bench``: one command per job. ``vidtr-bench complexity --table 2 --format md``.

A dispatcher: each command checks its options (``_check``), calls one function of the module
that does the job and prints what it wrote. Mistakes of the user's (an unknown name, a missing
file, a bad value) end in one line naming them; ``--debug`` shows the traceback instead."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from pathlib import Path

# Modules whose warnings are noise to a user of this tool (deprecations inside mmengine,
# mmcv-lite's missing ops, torch's TorchScript notices); the project's own warnings still show.
THIRD_PARTY = r"(mmcv|mmengine|mmaction|torch|torchvision|fvcore|timm|submitit|pkg_resources|setuptools|numpy)(\.|$)"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
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


def _check(args) -> None:
    """Rules between options and the machine, for every command in one place."""
    import torch

    if getattr(args, "device", "cpu") == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if args.command == "complexity" and args.memory and args.device != "cuda":
        raise ValueError("--memory measures GPU training memory; add --device cuda")
    if args.command == "speed":
        from . import catalogue
        from .speed import IMPLS

        bad = [m for m in args.models if m not in catalogue.names() or not catalogue.get(m).is_vidtr]
        if bad:
            import vidtr

            raise KeyError(f"unknown model(s) {bad} (speed compares VidTr attention implementations); "
                           f"valid: {', '.join(vidtr.list_models())}")
        if set(args.impls) - set(IMPLS):
            raise KeyError(f"unknown --impls {sorted(set(args.impls) - set(IMPLS))}; valid: {', '.join(IMPLS)}")
        if args.tf32 != "none" and (args.device != "cuda" or args.dtype != "fp32"):
            raise ValueError("--tf32 is a CUDA fp32 matmul mode (use --device cuda --dtype fp32)")


def _home_and_data(args, need_data: bool):
    """The bench home, and the data root: ``--data-root``, else ``$VIDTR_DATA_ROOT``, else the
    generated table's default under the home (checked to exist when a paper table needs it)."""
    from .datasets import DATA_ROOT_ENV, resolve_data_root
    from .runs import bench_home, default_data_root, get_table

    home = bench_home(args.workdir)
    get_table(args.table)  # a clear error for an unknown table before looking for data
    default = default_data_root(args.table, home)
    if need_data and not default:
        return home, str(resolve_data_root(args.data_root, must_exist=True))
    given = args.data_root or os.environ.get(DATA_ROOT_ENV)
    return home, str(Path(given).expanduser()) if given else default


def _complexity(args) -> int:
    from . import complexity_table as ct

    out = Path(args.out) if args.out else None
    if args.table == "transformers":  # latency is a column: always timed (the counting passes warm up)
        from . import transformers_table as tt

        tt.write_table(args.format, out, ct.Options(device=args.device, latency=True, throughput=args.throughput,
                                                    memory=args.memory, iters=args.iters or 2,
                                                    warmup=0 if args.warmup is None else args.warmup),
                       args.rows, progress=not args.quiet)
        return 0
    ct.write_tables(args.table, args.rows, args.format, out,
                    ct.Options(device=args.device, latency=args.latency, throughput=args.throughput,
                               memory=args.memory, iters=args.iters or 5,
                               warmup=2 if args.warmup is None else args.warmup),
                    progress=not args.quiet)
    return 0


def _launch(args) -> int:
    from .launch import launch, wait
    from .runs import prepare_data, table_runs

    home, data_root = _home_and_data(args, need_data=not args.dry_run)
    specs = table_runs(args.table, data_root, args.rows, args.seed, args.cfg_options)
    if not args.dry_run:
        prepare_data(args.table, data_root, args.seed)
    results = launch(args.table, specs, home, args.executor, args.cluster, args.dry_run, args.force,
                     progress=not args.quiet)
    if args.wait and not args.dry_run:  # local runs are finished by now; Slurm's are followed here
        return 0 if wait(args.table, specs, home, args.poll, progress=not args.quiet) else 1
    return 1 if any(isinstance(v, BaseException) for v in results.values()) else 0


def _status(args) -> int:
    from .records import status
    from .runs import table_runs

    home, data_root = _home_and_data(args, need_data=False)
    rows = status(args.table, table_runs(args.table, data_root, args.rows, args.seed, args.cfg_options), home)
    print(f"{'run':<34}  {'row':<26}  {'state':<12}  details")
    for r in rows:
        details = r["metrics"] or (f"job {r['job_id']}" if r["job_id"] else "")
        if r["state"] == "failed":
            details = f"log {r['log'] or '-'}: {r['error']}"
        elif r["error"]:  # why a job waits (Slurm's pending reason), why the state is unknown, or stale
            details = f"{details}: {r['error']}" if details else r["error"]
        print(f"{r['run_id']:<34}  {r['row'][:26]:<26}  {r['state']:<12}  {details}")
    return 0


def _report(args) -> int:
    from .report import write_reports
    from .runs import bench_home

    write_reports(args.table, bench_home(args.workdir), Path(args.out) if args.out else None, args.format,
                  Path(args.complexity), runs=args.runs, classes=args.classes, top=args.top,
                  cfg_options=args.cfg_options)
    return 0


def _config(args) -> int:
    from .inspect_runs import show_config
    from .runs import bench_home

    show_config(args.table, args.row, bench_home(args.workdir), args.dataset, Path(args.dump) if args.dump else None,
                args.seed, args.cfg_options, args.model)
    return 0


def _check_data(args) -> int:
    from .inspect_runs import check_data, exit_code

    home, data_root = _home_and_data(args, need_data=True)
    bad_list = Path(args.list) if args.list else home / "check-data" / f"table_{args.table.replace('.', '')}.txt"
    reports = check_data(args.table, home, data_root, args.rows, args.seed, args.cfg_options, args.workers,
                         bad_list, progress=not args.quiet)
    return exit_code(reports)


def _rollout(args) -> int:
    from .visualize import rollout_figure

    for p in rollout_figure(args.video, args.model, args.out, args.checkpoint, tuple(args.layers), args.fraction,
                            args.trust_checkpoint):
        print(f"wrote {p}")
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, args.workdir, args.data_root, args.seed, args.executor, args.cluster, args.epochs,
             args.clips, progress=not args.quiet)
    return 0


def _speed(args) -> int:
    from . import speed as sp

    df = sp.speed(args.models, args.device, args.dtype, args.batch, args.mode, tuple(args.impls), args.compile,
                  args.iters, args.warmup, args.grad_checkpointing, progress=not args.quiet,
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


def _run_options(p):
    p.add_argument("--table", required=True, help="paper table id (2, 4b, A.2, ...), 'smoke' or 'demo'")
    p.add_argument("--rows", nargs="+", help="only these row labels")
    p.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    p.add_argument("--data-root", help="dataset root (default $VIDTR_DATA_ROOT; smoke/demo: under the workdir)")
    p.add_argument("--seed", type=int, default=0)
    _cfg_options(p)


def _cfg_options(p):
    from mmengine.config import DictAction

    class CfgOptions(DictAction):  # mmengine's parser, but a malformed item is an argparse error, not a traceback
        def __call__(self, parser, namespace, values, option_string=None):
            bad = [v for v in values if "=" not in v]
            if bad:
                parser.error(f"{option_string}: expected KEY=VALUE items, got {bad}")
            super().__call__(parser, namespace, values, option_string)

    p.add_argument("--cfg-options", nargs="+", action=CfgOptions, default={}, metavar="KEY=VALUE",
                   help="mmengine config overrides for every selected run, as mmaction2's tools take them "
                        "(e.g. train_dataloader.batch_size=6); they are part of each run's definition")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidtr-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
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
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_complexity)

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
    la.add_argument("--quiet", action="store_true", help="no progress bar")
    la.set_defaults(func=_launch)

    st = sub.add_parser("status", help="each run of a table: pending, running, done or failed")
    _run_options(st)
    st.set_defaults(func=_status)

    rp = sub.add_parser("report", help="a table's results beside the paper's (Markdown/LaTeX), and figures")
    rp.add_argument("--table", required=True, help="table id, 'smoke', 'demo', 'A.4' (per-class analysis) or 'all'")
    rp.add_argument("--format", choices=["md", "tex"], default="md")
    rp.add_argument("--out", help="write files here (default: print)")
    rp.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    rp.add_argument("--complexity", default="results/complexity", help="where `complexity` wrote its CSVs")
    rp.add_argument("--runs", nargs=2, metavar=("RUN_A", "RUN_B"), help="Table A.4: compare these two run ids")
    rp.add_argument("--classes", help="Table A.4: class names, one per line in label order")
    rp.add_argument("--top", type=_positive_int, default=5, help="Table A.4: classes with the largest gain and loss")
    _cfg_options(rp)
    rp.set_defaults(func=_report)

    cf = sub.add_parser("config", help="the resolved mmengine config of a table row's runs (as print_config.py)")
    cf.add_argument("--table", required=True, help="paper table id (2, 4b, A.2, ...), 'smoke' or 'demo'")
    cf.add_argument("--row", required=True, help="a row label, as the paper prints it")
    cf.add_argument("--dataset", help="only the run on this dataset (e.g. ucf101 for a Table 6 row)")
    cf.add_argument("--model", help="only the run of this model (e.g. one member of an ensemble row)")
    cf.add_argument("--dump", help="write the one matching run's config to this .py file (Config.fromfile reads it)")
    cf.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    cf.add_argument("--seed", type=int, default=0)
    _cfg_options(cf)
    cf.set_defaults(func=_config)

    cd = sub.add_parser("check-data", help="count and probe every video a table's runs need, before training")
    _run_options(cd)
    cd.add_argument("--workers", type=_positive_int, help="processes probing videos (default: all cores)")
    cd.add_argument("--list", help="write the bad videos here (default <workdir>/check-data/table_<id>.txt)")
    cd.add_argument("--quiet", action="store_true", help="no progress bar")
    cd.set_defaults(func=_check_data)

    ro = sub.add_parser("rollout", help="attention rollout of a VidTr on a video (PNG grid and GIF)")
    ro.add_argument("video")
    ro.add_argument("--model", required=True, help="a VidTr name (separable or joint)")
    ro.add_argument("--checkpoint", help="an mmengine checkpoint of our runs, or the authors' released weights")
    ro.add_argument("--trust-checkpoint", action="store_true", help="allow a checkpoint that needs unpickling")
    ro.add_argument("--out", required=True)
    ro.add_argument("--layers", type=_positive_int, nargs="+", default=[4, 8, 12])
    ro.add_argument("--fraction", type=_fraction, default=0.3, help="fraction of the mask highlighted")
    ro.set_defaults(func=_rollout)

    de = sub.add_parser("demo", help="the built-in mini benchmark: mini Tables 4b/4d on real clips, on the CPU")
    de.add_argument("--out", default="results/demo")
    de.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    de.add_argument("--data-root", help="where to build the demo clips (default <workdir>/data/demo)")
    de.add_argument("--executor", choices=["local", "slurm", "debug"], default="local")
    de.add_argument("--cluster", help="Slurm cluster profile (with --executor slurm)")
    de.add_argument("--epochs", type=_positive_int, help="training epochs per model (default: the demo config's)")
    de.add_argument("--clips", type=_positive_int, default=20,
                    help="rendered training clips per class per source group (each also written reversed)")
    de.add_argument("--seed", type=int, default=0)
    de.add_argument("--quiet", action="store_true")
    de.set_defaults(func=_demo)

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
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=_speed)
    return parser


def quiet_warnings() -> None:
    """Third-party deprecations and notices off (the project's own warnings still show)."""
    warnings.filterwarnings("ignore", module=THIRD_PARTY)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # setuptools' notice, raised while mmengine imports pkg_resources (attributed to importlib)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    quiet_warnings()
    import vidtr  # noqa: F401  (mmaction2 shim + VidTr registration)

    args = build_parser().parse_args(argv)
    args.recorded_command = shlex.join(["vidtr-bench", *argv])
    try:
        _check(args)
        return args.func(args)
    except (KeyError, ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as e:
        if args.debug:
            raise
        message = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
        raise SystemExit(f"vidtr-bench {args.command}: {message}") from None


if __name__ == "__main__":
    sys.exit(main())

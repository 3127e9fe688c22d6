"""``vidtr-bench``: one command per job. ``vidtr-bench complexity --table 2 --format md``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _complexity(args) -> int:
    import torch

    from . import complexity_table as ct
    from .paper import TABLES, select

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("vidtr-bench complexity: --device cuda asked for, but torch sees no CUDA device")
    if args.memory and args.device != "cuda":
        raise SystemExit("vidtr-bench complexity: --memory measures GPU training memory; add --device cuda")
    try:
        select(args.table, args.rows)  # validates --table / --rows before any model is built
    except (KeyError, ValueError) as e:
        raise SystemExit(f"vidtr-bench complexity: {e.args[0]}") from None
    opts = ct.Options(device=args.device, latency=args.latency, throughput=args.throughput, memory=args.memory,
                      iters=args.iters, warmup=args.warmup)
    env = ct.environment(opts)
    ids = list(TABLES) if args.table == "all" else [args.table]
    frames = []
    for tid in ids:
        df = ct.complexity_frame(tid, args.rows, opts, progress=not args.quiet)
        frames.append(df)
        title = f"Table {tid}: {TABLES[tid].title} - complexity"
        if args.out:
            for path in ct.write(df, Path(args.out), f"table_{tid.replace('.', '')}", args.format, title, env):
                print(f"wrote {path}")
        else:
            sys.stdout.write(ct.render(df, args.format, title, env))
        if df.attrs.get("unsupported_ops") and not args.quiet:
            ops = ", ".join(sorted(df.attrs["unsupported_ops"]))
            print(f"table {tid}: fvcore did not count these operators: {ops}", file=sys.stderr)
    if args.out and len(ids) > 1:
        import pandas as pd

        path = Path(args.out) / "all_tables.csv"
        pd.concat(frames).to_csv(path, index=False)
        print(f"wrote {path}")
    return 0


def _data_root(args, home: Path, default: str = "", must_exist: bool = False) -> str:
    """``--data-root``, else ``$VIDTR_DATA_ROOT``, else ``default``; checked when it must exist."""
    from .datasets import DATA_ROOT_ENV, resolve_data_root

    if must_exist:
        return str(resolve_data_root(args.data_root, must_exist=True))
    given = args.data_root or os.environ.get(DATA_ROOT_ENV)
    return str(Path(given).expanduser()) if given else default


def _specs(args, need_data: bool):
    from .launch import specs_for
    from .runs import bench_home

    home = bench_home(args.workdir)
    if args.table == "smoke":  # generated data: defaults to <workdir>/data, written on first use
        data_root = _data_root(args, home, default=str(home / "data"))
    else:
        from .paper import get_table

        get_table(args.table)  # clear error for an unknown table before looking for data
        data_root = _data_root(args, home, must_exist=need_data)
    return home, specs_for(args.table, data_root, args.rows, args.seed)


def _launch(args) -> int:
    from slurm.launcher import ProfileError

    from .launch import launch

    try:
        home, specs = _specs(args, need_data=not args.dry_run)
        results = launch(args.table, specs, home, args.executor, args.cluster, args.dry_run, args.force,
                         progress=not args.quiet)
    except (KeyError, ValueError, FileNotFoundError, ProfileError) as e:
        raise SystemExit(f"vidtr-bench launch: {e.args[0] if e.args else e}") from None
    failed = [k for k, v in results.items() if isinstance(v, BaseException)]
    return 1 if failed else 0


def _status(args) -> int:
    from .launch import status

    try:
        home, specs = _specs(args, need_data=False)
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise SystemExit(f"vidtr-bench status: {e.args[0] if e.args else e}") from None
    rows = status(args.table, specs, home)
    print(f"{'run':<34}  {'row':<26}  {'state':<12}  details")
    for r in rows:
        details = r["metrics"] or (f"job {r['job_id']}" if r["job_id"] else "")
        if r["state"] == "failed":
            details = f"log {r['log'] or '-'}: {r['error']}"
        print(f"{r['run_id']:<34}  {r['row'][:26]:<26}  {r['state']:<12}  {details}")
    return 0


def _report(args) -> int:
    from . import report as rp
    from .launch import specs_for
    from .runs import bench_home

    home = bench_home(args.workdir)
    data_root = _data_root(args, home, default=str(home / "data"))
    out = Path(args.out) if args.out else None
    cx_dir = Path(args.complexity)
    ids = rp.all_table_ids() + ["A.4"] if args.table == "all" else [args.table]
    try:
        for tid in ids:
            if tid == "A.4":
                _per_class(args, home, data_root, out)
                continue
            specs = specs_for(tid, data_root if tid == "smoke" else "")
            df = rp.table_frame(tid, specs, home, cx_dir)
            stem = "ablations" if tid in rp.ABLATIONS and args.table == "all" else f"table_{tid.replace('.', '')}"
            if out is None:
                sys.stdout.write(rp.render(df, args.format))
            elif stem == "ablations":
                path = out / f"ablations.{args.format}"
                first = tid == rp.ABLATIONS[0]
                text = ("# Table 4: ablations\n\n" if first and args.format == "md" else "") + rp.render(df, args.format)
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "w" if first else "a") as f:
                    f.write(text + "\n")
                if tid == rp.ABLATIONS[-1]:
                    print(f"wrote {path}")
            else:
                print(f"wrote {rp.write_table(df, out, stem, args.format)}")
            if tid in ("2", "smoke") and out is not None:
                for p in rp.accuracy_flops_figure(df, out / ("figure3" if tid == "2" else "figure_smoke")):
                    print(f"wrote {p}")
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise SystemExit(f"vidtr-bench report: {e.args[0] if e.args else e}") from None
    return 0


def _per_class(args, home, data_root, out):
    """Table A.4 from two finished runs (default: Table 2's VidTr-S and I3D50)."""
    from . import report as rp
    from .job import read_record
    from .runs import table_runs

    if args.runs:
        run_a, run_b = args.runs
    else:
        by_row = {s.row: s.run_id for s in table_runs("2", "", rows=["VidTr-S", "I3D50"])}
        run_a, run_b = by_row["VidTr-S"], by_row["I3D50"]
    rec_a, rec_b = read_record(home, run_a), read_record(home, run_b)
    missing = [r for r, rec in ((run_a, rec_a), (run_b, rec_b)) if rec is None]
    if missing:
        print(f"Table A.4: run(s) {missing} have no record yet; nothing to compare")
        return
    classes = None
    if args.classes:
        classes = [ln.strip() for ln in Path(args.classes).read_text().splitlines() if ln.strip()]
    gains = rp.per_class_gain(rec_a, rec_b, classes, top=args.top)
    text = (f"## Table A.4: per-class top-1, {rec_a['row']} minus {rec_b['row']}\n\n"
            + gains.rename(columns={"a": rec_a["row"], "b": rec_b["row"]}).round(1).to_markdown(index=False)
            + f"\n\nRuns: {run_a} vs {run_b}.\n")
    if out is None:
        sys.stdout.write(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "table_A4.md").write_text(text)
    print(f"wrote {out / 'table_A4.md'}")
    for p in rp.per_class_figure(gains, out / "figure_per_class", rec_a["row"], rec_b["row"]):
        print(f"wrote {p}")


def _rollout(args) -> int:
    from .visualize import rollout_figure

    try:
        paths = rollout_figure(args.video, args.model, args.out, args.checkpoint, tuple(args.layers),
                               args.fraction, args.trust_checkpoint)
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise SystemExit(f"vidtr-bench rollout: {e.args[0] if e.args else e}") from None
    for p in paths:
        print(f"wrote {p}")
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    try:
        run_demo(args.out, args.workdir, args.data_root, args.seed, args.executor, args.cluster, args.epochs,
                 args.clips, progress=not args.quiet)
    except (KeyError, ValueError, FileNotFoundError) as e:
        raise SystemExit(f"vidtr-bench demo: {e.args[0] if e.args else e}") from None
    return 0


def _speed(args) -> int:
    import torch

    from . import speed as sp

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("vidtr-bench speed: --device cuda asked for, but torch sees no CUDA device")
    import vidtr

    models = args.models.split(",")
    bad = [m for m in models if m not in vidtr.list_models()]
    if bad:
        raise SystemExit(f"vidtr-bench speed: unknown model(s) {bad}; valid: {', '.join(vidtr.list_models())}")
    impls = tuple(args.impls.split(","))
    if set(impls) - set(sp.IMPLS):
        raise SystemExit(f"vidtr-bench speed: unknown --impls {sorted(set(impls) - set(sp.IMPLS))}; valid: {sp.IMPLS}")
    if args.tf32 != "none" and (args.device != "cuda" or args.dtype != "fp32"):
        raise SystemExit("vidtr-bench speed: --tf32 is a CUDA fp32 matmul mode (use --device cuda --dtype fp32)")
    batches = [int(b) for b in args.batch.split(",")]
    df = sp.speed(models, args.device, args.dtype, batches, args.mode, impls, args.compile, args.iters, args.warmup,
                  args.grad_checkpointing, progress=not args.quiet,
                  overrides={"num_frames": args.frames} if args.frames else None, tf32=args.tf32,
                  peak_tflops=args.peak_tflops)
    overhead = sp.std_topk_overhead(args.device) if args.mode == "infer" else None
    command = "vidtr-bench speed " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "vidtr-bench speed"
    sys.stdout.write(sp.summary(df, overhead, command))
    for p in sp.write(df, overhead, args.out, command):
        print(f"wrote {p}")
    unequal = df[df["error"].fillna("").str.contains("differs")]
    for r in unequal.itertuples():
        print(f"vidtr-bench speed: {r.model}: {r.error}", file=sys.stderr)
    return 1 if len(unequal) else 0


def _run_options(p, data=True):
    p.add_argument("--table", required=True, help="paper table id (2, 4b, A.2, ...) or 'smoke'")
    p.add_argument("--rows", nargs="+", help="only these row labels")
    p.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    p.add_argument("--data-root", help="dataset root (default $VIDTR_DATA_ROOT; smoke: <workdir>/data)")
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidtr-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("complexity", help="FLOPs, params, latency and memory of a paper table's rows")
    c.add_argument("--table", required=True, help="table id (1, 2, 3, 4a-4f, 5, 6, A.1, A.2, A.3) or 'all'")
    c.add_argument("--rows", nargs="+", help="only these row labels (as the paper prints them)")
    c.add_argument("--format", choices=["md", "tex", "csv"], default="md")
    c.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    c.add_argument("--out", help="write table_<id>.<format> (+ .csv) here instead of printing")
    c.add_argument("--latency", action="store_true", help="time batch-1 inference per view")
    c.add_argument("--throughput", action="store_true", help="clips/s at the largest batch that fits")
    c.add_argument("--memory", action="store_true", help="peak GPU memory of one training step (cuda)")
    c.add_argument("--iters", type=int, default=5, help="timed runs per measurement (median reported)")
    c.add_argument("--warmup", type=int, default=2)
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=_complexity)

    la = sub.add_parser("launch", help="train and test a table's runs (local by default, or on Slurm)")
    _run_options(la)
    la.add_argument("--executor", choices=["local", "slurm", "debug"], default="local")
    la.add_argument("--cluster", help="Slurm cluster profile: a name in slurm/profiles/ or a YAML path")
    la.add_argument("--dry-run", action="store_true", help="print the runs and sbatch parameters; submit nothing")
    la.add_argument("--force", action="store_true", help="rerun finished runs (the previous attempt is kept in previous-<time>/)")
    la.add_argument("--quiet", action="store_true", help="no progress bar")
    la.set_defaults(func=_launch)

    st = sub.add_parser("status", help="each run of a table: pending, running, done or failed")
    _run_options(st)
    st.set_defaults(func=_status)

    rp = sub.add_parser("report", help="a table's results beside the paper's (Markdown/LaTeX), and figures")
    rp.add_argument("--table", required=True, help="table id, 'smoke', 'A.4' (per-class analysis) or 'all'")
    rp.add_argument("--format", choices=["md", "tex"], default="md")
    rp.add_argument("--out", help="write files here (default: print)")
    rp.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    rp.add_argument("--data-root", help="only for the smoke table's generated data")
    rp.add_argument("--complexity", default="results/complexity", help="where `complexity` wrote its CSVs")
    rp.add_argument("--runs", nargs=2, metavar=("RUN_A", "RUN_B"), help="Table A.4: compare these two run ids")
    rp.add_argument("--classes", help="Table A.4: class names, one per line in label order")
    rp.add_argument("--top", type=int, default=5, help="Table A.4: classes with the largest gain and loss")
    rp.set_defaults(func=_report)

    ro = sub.add_parser("rollout", help="attention rollout of a VidTr on a video (PNG grid and GIF)")
    ro.add_argument("video")
    ro.add_argument("--model", required=True, help="a VidTr name (separable or joint)")
    ro.add_argument("--checkpoint", help="an mmengine checkpoint of our runs, or the authors' released weights")
    ro.add_argument("--trust-checkpoint", action="store_true", help="allow a checkpoint that needs unpickling")
    ro.add_argument("--out", required=True)
    ro.add_argument("--layers", type=int, nargs="+", default=[4, 8, 12])
    ro.add_argument("--fraction", type=float, default=0.3, help="fraction of the mask highlighted")
    ro.set_defaults(func=_rollout)

    de = sub.add_parser("demo", help="the built-in mini benchmark: mini Tables 4b/4d on real clips, on the CPU")
    de.add_argument("--out", default="results/demo")
    de.add_argument("--workdir", help="root of run directories (default $VIDTR_BENCH_HOME or ./work)")
    de.add_argument("--data-root", help="where to build the demo clips (default <workdir>/data/demo)")
    de.add_argument("--executor", choices=["local", "slurm", "debug"], default="local")
    de.add_argument("--cluster", help="Slurm cluster profile (with --executor slurm)")
    de.add_argument("--epochs", type=int, help="training epochs per model (default: the demo config's)")
    de.add_argument("--clips", type=int, default=20, help="windows cut from each source clip")
    de.add_argument("--seed", type=int, default=0)
    de.add_argument("--quiet", action="store_true")
    de.set_defaults(func=_demo)

    sp = sub.add_parser("speed", help="latency, throughput, memory and FLOP/s of each attention implementation")
    sp.add_argument("--models", default="vidtr_s_8x8,cvidtr_s_8x8,vanilla_tr_8x8")
    sp.add_argument("--impls", default="released,math,sdpa", help="attention implementations to compare")
    sp.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    sp.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    sp.add_argument("--compile", action="store_true", help="torch.compile each model first")
    sp.add_argument("--batch", default="1", help="comma-separated batch sizes")
    sp.add_argument("--mode", choices=["infer", "train"], default="infer")
    sp.add_argument("--grad-checkpointing", action="store_true", help="recompute layers in backward (train)")
    sp.add_argument("--frames", type=int, help="clip length for every model (default: each model's own)")
    sp.add_argument("--tf32", choices=["none", "fast", "all"], default="none",
                    help="CUDA fp32: run matmuls as TF32 for no impl, all but 'released' (fast), or all")
    sp.add_argument("--peak-tflops", type=float, help="dense bf16 peak for MFU (default: known GPUs by name)")
    sp.add_argument("--iters", type=int, default=5)
    sp.add_argument("--warmup", type=int, default=2)
    sp.add_argument("--out", default="results/performance")
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=_speed)
    return parser


def main(argv=None) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    import vidtr  # noqa: F401  (mmaction2 shim + VidTr registration)

    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

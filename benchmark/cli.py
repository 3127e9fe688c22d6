"""``vidtr-bench``: one command per job. ``vidtr-bench complexity --table 2 --format md``."""
from __future__ import annotations

import argparse
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
    return parser


def main(argv=None) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    import vidtr  # noqa: F401  (mmaction2 shim + VidTr registration)

    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

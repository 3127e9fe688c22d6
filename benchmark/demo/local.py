"""The demo's runs on this machine: a few worker processes, each launching its share of the runs
through the same launcher as every table (:func:`benchmark.runs.launch.launch`) with the in-process
executor, so that a few dozen small runs do not each pay for a new Python process and its imports
(seconds each), and the decoded clips stay in memory from one run to the next. Kept free of heavy
imports at module level: a spawned worker sets its warning filters before it imports mmengine."""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
import warnings
from pathlib import Path


def init_worker(parent_pid: int) -> None:
    """A worker process's set-up: the CLI's warning filters (third-party deprecations and notices),
    and a watch that ends the worker once ``parent_pid`` is gone. A parent killed by a signal it
    cannot clean up after (SIGTERM, SIGKILL, a cancelled job) would otherwise leave its workers
    training on alone, unseen, holding their runs' locks."""
    from ..console import quiet_warnings

    quiet_warnings()
    warnings.filterwarnings("ignore", message="Fail to import ``MultiScaleDeformableAttention``")
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    # the workers must be the parent's own children (the "spawn" context of launch_local; under
    # "forkserver" their parent would be the server, and they would exit at once)
    while os.getppid() == parent_pid:  # an orphan is re-parented: its parent id changes
        time.sleep(1)
    os._exit(1)


def launch_part(specs: list, home: str) -> dict:
    """One worker's share of the runs, one launch per run (a line when each ends). torch's
    threads are the recipe's (the demo's configs pin one: ``env_cfg.torch_threads``)."""
    from ..runs.launch import launch
    from ..runs.records import read_record

    states = {}
    for spec in specs:
        t0 = time.time()
        # mmengine's log goes to each run's directory; the in-process executor opens pdb on a
        # failed run, which nobody would type into here
        with contextlib.redirect_stdout(io.StringIO()):
            stdin, sys.stdin = sys.stdin, io.StringIO()
            try:
                res = launch("demo", [spec], Path(home), executor="debug", progress=False, out=lambda *_: None)
            finally:
                sys.stdin = stdin
        r = res.get(spec.run_id)
        if isinstance(r, BaseException):
            states[spec.run_id] = f"failed: {r}"
            line = f"FAILED ({str(r).splitlines()[0][:200] if str(r) else type(r).__name__})"
        else:
            rec = read_record(Path(home), spec) or {}
            states[spec.run_id] = "done"
            line = f"top-1 {rec.get('metrics', {}).get('top1', float('nan')):.1f}"
        print(f"  {spec.row} (seed {spec.seed}): {line} [{time.time() - t0:.0f} s]", flush=True)
    return states


def launch_local(specs: list, home: Path, workers: int) -> dict:
    """``specs`` on this machine in ``workers`` processes (at most one per core); run ids ->
    'done' or 'failed: reason'."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    cores = os.cpu_count() or 1
    workers = max(1, min(workers, cores, len(specs)))
    parts = [specs[i::workers] for i in range(workers)]  # interleaved: rows of both tasks in each
    if workers == 1:
        return launch_part(parts[0], str(home))
    states = {}
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=init_worker,
                             initargs=(os.getpid(),)) as pool:
        for f in [pool.submit(launch_part, p, str(home)) for p in parts]:
            states.update(f.result())
    return states

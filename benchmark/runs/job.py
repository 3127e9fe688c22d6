"""One run, start to finish: mmengine's Runner trains and tests (mmaction2's flow), resuming
from the run's last checkpoint when a previous attempt was interrupted; then one record is
written atomically. A record is the contract with the reports: they never read logs."""
from __future__ import annotations

import contextlib
import copy
import datetime
import faulthandler
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.datasets import check_annotations, head_num_classes
from ..files import atomic_write
from .config import check_config, load_config, torch_threads, total_batch
from .hooks import Diverged
from .identity import recipe_digest
from .metrics import scores_file_metrics
from .nodes import announce_task, master_address, run_hosts
from .records import SCORES, Record, make_record, read_record, write_record
from .spec import CHECKPOINT_OF, DATA_ROOT, RunSpec, run_dir
from .state import IN_FLIGHT, run_lock, status

# modules a run's saved config must import so that mmaction2's own tools can build it: the
# harness's dataset (CheckedVideoDataset) and its hooks
TOOL_IMPORTS = ("vidtr", "benchmark.data.datasets", "benchmark.runs.hooks")


def _resolve(value, spec: RunSpec, home: Path):
    """Fill the data root placeholder and ``checkpoint-of:`` references in an override value."""
    if isinstance(value, dict):
        return {k: _resolve(v, spec, home) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v, spec, home) for v in value)
    if isinstance(value, str) and DATA_ROOT in value:
        if not spec.data_root:
            raise ValueError(f"run {spec.run_id} needs a data root (--data-root or $VIDTR_DATA_ROOT)")
        return value.replace(DATA_ROOT, spec.data_root)
    if isinstance(value, str) and value.startswith(CHECKPOINT_OF):
        run_id = value[len(CHECKPOINT_OF):]
        rec = read_record(home, run_id)
        if rec is None:
            raise FileNotFoundError(f"run {run_id} has no record yet: its checkpoint is needed as load_from")
        if not rec.get("checkpoint"):
            # e.g. mmaction2's X3D zoo configs are test-only: their Kinetics-400 run trains nothing
            raise FileNotFoundError(
                f"run {spec.run_id} fine-tunes from run {run_id}, which left no checkpoint (its config has no "
                "training); give the row a local checkpoint instead (override load_from with a path)")
        return rec["checkpoint"]
    return value


def with_tensorboard(cfg, overrides: dict) -> None:
    """TensorBoard beside mmengine's local scalars (what `curves` and `compare` read) for every
    run: ours inherit both from vidtr_runtime.py, the baselines' zoo configs name the local one
    only. Overrides that set the visualizer are the user's choice and are kept as they are (the
    config `config --dump` writes re-applies them, so the two agree)."""
    if any(k == "visualizer" or k.startswith("visualizer.") for k in overrides):
        return
    if cfg.get("visualizer") is None:  # none: mmengine's default, the local backend
        cfg.visualizer = dict(type="Visualizer", vis_backends=[])
    vis = cfg.visualizer
    if not isinstance(vis, dict):  # a built visualizer object: its backends are its own
        return
    backends = vis.get("vis_backends")  # mmengine takes one dict or a list of them
    backends = [backends] if isinstance(backends, dict) else list(backends or [])
    named = {b.get("type") if isinstance(b, dict) else type(b).__name__ for b in backends}
    vis["vis_backends"] = backends + [dict(type=t) for t in ("LocalVisBackend", "TensorboardVisBackend")
                                      if t not in named]


def build_config(spec: RunSpec, home: Path, resolve: bool = True):
    """The run's mmengine config: its file, the spec's overrides, the run's work dir and seed.
    ``resolve=False`` (``vidtr-bench config``) leaves ``{data_root}`` and ``checkpoint-of:`` as written."""
    cfg = load_config(spec.config, {k: _resolve(v, spec, home) if resolve else v for k, v in spec.overrides.items()},
                      f"run {spec.run_id}: override")
    wd = run_dir(home, spec)
    cfg.work_dir = str(wd)
    # every run's checkpoints load with torch's weights-only unpickler (baselines' zoo configs too),
    # and a run whose loss stops being finite stops there (runs/hooks.py)
    cfg.default_hooks = dict(cfg.get("default_hooks") or {}, plain_checkpoint=dict(type="PlainCheckpointHook"),
                             finite_loss=dict(type="FiniteLossHook"))
    imports = dict(cfg.get("custom_imports") or {})
    imports["imports"] = list(dict.fromkeys([*imports.get("imports", []), *TOOL_IMPORTS]))
    cfg.custom_imports = dict(imports, allow_failed_imports=imports.get("allow_failed_imports", False))
    cfg.randomness = dict(seed=spec.seed, deterministic=False)
    with_tensorboard(cfg, spec.overrides)
    for split in ("train", "val", "test"):
        ds = cfg.get(f"{split}_dataloader", {}) or {}
        if ds.get("dataset", {}).get("type") == "CheckedVideoDataset":
            ds["dataset"]["bad_videos_file"] = str(wd / f"bad_videos_{split}.txt")
            ds["dataset"].setdefault("num_classes", head_num_classes(cfg))  # labels checked at load
    return cfg


def _dump_file(wd: Path) -> Path:
    return wd / "predictions.pkl"


def _save_scores(wd: Path, dataset, multi_class: bool) -> dict:
    """DumpResults' pickle -> scores.npz (scores, labels, videos) in test-set order; the pickle
    is removed (the scores file holds the same scores, and one file is the record's source).
    Scores that are not all finite (a model that diverged without a NaN loss) fail the run."""
    import pickle

    with open(_dump_file(wd), "rb") as f:
        preds = pickle.load(f)
    scores = np.stack([np.asarray(p["pred_score"], dtype=np.float32) for p in preds])
    bad = int((~np.isfinite(scores)).any(axis=1).sum())
    if bad:
        raise Diverged(f"the trained model's test scores are not finite for {bad} of {len(scores)} videos: "
                       "no record is written")
    labels = [np.asarray(p["gt_label"]).ravel() for p in preds]
    if multi_class:
        targets = np.zeros_like(scores, dtype=np.int8)
        for i, lab in enumerate(labels):
            if lab.size == scores.shape[1] and set(np.unique(lab)) <= {0, 1}:
                targets[i] = lab > 0.5  # mmaction2 keeps multi-label targets one-hot
            else:
                targets[i, lab.astype(int)] = 1
        labels_arr = targets
    else:
        labels_arr = np.array([int(lab[0]) for lab in labels])
    # an mmengine dataset serialises its list once built (data_list is then empty): get_data_info
    info = getattr(dataset, "get_data_info", None) or dataset.data_list.__getitem__
    videos = np.array([info(i)["filename"] for i in range(len(preds))])
    np.savez_compressed(wd / SCORES, scores=scores, labels=labels_arr, videos=videos)
    _dump_file(wd).unlink()
    return dict(scores=scores, labels=labels_arr)


def _write_tool_config(cfg, wd: Path, name: str) -> None:
    """The run's config as mmaction2's tools should read it, over the one mmengine's Runner just
    dumped into the run's directory: no ``work_dir`` (a tool pointed at it writes into
    ``--work-dir`` or ./work_dirs, never into the run) and no DumpResults, resume or launcher
    of this attempt; data paths and the checkpoint it starts from resolved."""
    cfg = copy.deepcopy(cfg)
    cfg.pop("work_dir", None)
    for split in ("train", "val", "test"):  # the dataset's bad-video and last-video files: the run's own
        ds = (cfg.get(f"{split}_dataloader") or {}).get("dataset") or {}
        ds.pop("bad_videos_file", None)
    atomic_write(wd / name, cfg.pretty_text)


def _loadable(path: Path) -> str:
    """'' when ``path`` opens as a torch checkpoint, else why not (a cut or emptied file)."""
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return ""
    except Exception as e:  # noqa: BLE001 - torch raises RuntimeError, EOFError, OSError, pickle errors...
        return f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"


def _checkpoint_number(p: Path) -> int:
    digits = "".join(c for c in p.stem.split("_")[-1] if c.isdigit())
    return int(digits) if digits else -1


def _resume_point(spec: RunSpec, wd: Path, say=print) -> Optional[str]:
    """The checkpoint an interrupted attempt resumes from: mmengine's last one, or, when that one
    is damaged (cut short, emptied: a full disk or a kill during the save), the newest intact
    one before it, saying so; the damaged file is moved aside as ``<name>.corrupt-<time>``.
    None: start from the beginning (no checkpoint, or none intact)."""
    last = _last_checkpoint(wd)
    if last is None:
        return None
    chosen, bad = Path(last), []
    candidates = [chosen] + sorted((p for p in wd.glob("*.pth") if p != chosen), key=_checkpoint_number, reverse=True)
    for path in candidates:
        why = _loadable(path) if path.exists() else "missing"
        if not why:
            break
        bad.append((path, why))
    else:
        path = None
    for p, why in bad:
        note = f"run {spec.run_id}: checkpoint {p} is damaged ({why})"
        if p.exists():
            aside = p.with_name(f"{p.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(p, aside)
            note += f"; moved it to {aside.name}"
        say(note)
        with open(wd / "attempts.log", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {note}\n")
    if bad:
        say(f"run {spec.run_id}: " + (f"resuming from {path.name}, the newest intact checkpoint" if path else
                                      "no intact checkpoint: training starts from the beginning"))
    if path is not None and path != Path(last):
        atomic_write(wd / "last_checkpoint", str(path))
    return None if path is None else str(path)


def execute(spec: RunSpec, home: Path) -> Record:
    """Train and test one run (or score one ensemble); returns its record. A finished run is
    not run again: its record is returned as it is. One process at a time runs a run: its
    first task holds the run's lock throughout (a second executor stops, naming the holder)."""
    try:  # a native crash (a decoder's segfault) names itself and its stack in the log
        faulthandler.enable()
    except (AttributeError, ValueError, io.UnsupportedOperation):  # no real stderr (a notebook, a capture)
        pass
    home = Path(home)
    wd = run_dir(home, spec)
    wd.mkdir(parents=True, exist_ok=True)
    if (rec := read_record(home, spec)) is not None:
        return rec
    first_task = int(os.environ.get("SLURM_PROCID", "0")) == 0
    with run_lock(wd, spec.run_id) if first_task else contextlib.nullcontext():
        if (rec := read_record(home, spec)) is not None:  # finished while this one waited in a queue
            return rec
        if first_task:  # one line per attempt, not per task
            atomic_write(wd / "run_spec.json", json.dumps(spec.to_dict(), indent=1, default=str))
            with open(wd / "attempts.log", "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} start pid {os.getpid()} "
                        f"job {os.environ.get('SLURM_JOB_ID', 'local')}\n")
        if spec.members:
            from .ensemble import ensemble_record  # scores only: no mmengine Runner

            return ensemble_record(spec, home)
        return _train_and_test(spec, home, wd)


def execute_after(spec: RunSpec, home: Path, waits: tuple, poll_s: float = 10.0) -> Record:
    """:func:`execute`, once the runs in ``waits`` (run specs another launch is running) have
    finished; stops, naming the run, if one of them ends without a record."""
    waits = list(waits)
    while waits:
        states = status(spec.table, waits, home, all_tables=True)
        ended = [r for r in states if r["state"] not in IN_FLIGHT and not r["state"].startswith("done")]
        if ended:
            r = ended[0]
            raise RuntimeError(f"run {spec.run_id} waited for run {r['run_id']}, which is {r['state']}"
                               + (f": {r['error']}" if r["error"] else ""))
        waits = [w for w, r in zip(waits, states) if r["state"] in IN_FLIGHT]
        if waits:
            time.sleep(poll_s)
    return execute(spec, home)


@contextlib.contextmanager
def pinned_threads(threads: Optional[int]):
    """torch computing with ``threads`` threads inside (a recipe's pin: the same numbers however
    the run is launched), the caller's count restored after (the in-process executor's caller);
    None: as it is."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_and_test(spec: RunSpec, home: Path, wd: Path) -> Record:
    from mmengine.runner import Runner

    t0 = time.time()
    defined_by = recipe_digest(spec)  # at the start: an edit during a long run makes it stale
    cfg = build_config(spec, home)
    check_config(cfg, f"run {spec.run_id}")  # a training config that would train nothing: refused
    with pinned_threads(torch_threads(cfg, f"run {spec.run_id}")):
        check_annotations(cfg)  # every split's list file, before anything trains (test lists load only after)
        tool_cfg = copy.deepcopy(cfg)  # before this attempt's resume, launcher and DumpResults
        resumed_from = _resume_point(spec, wd)
        if resumed_from is not None:
            # mmengine resumes from load_from when it is set: point it at this run's own last
            # checkpoint, not at the Kinetics-400 checkpoint a fine-tuning run started from
            cfg.resume, cfg.load_from = True, resumed_from
        cfg.launcher = dist_launcher(cfg)  # several Slurm tasks: torch.distributed (CPU-only hosts too)
        test_eval = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = test_eval + [dict(type="DumpResults", out_file_path=str(_dump_file(wd)))]
        runner = Runner.from_cfg(cfg)
        if runner.rank == 0:  # over the config the Runner dumped: tools pointed at it write elsewhere
            _write_tool_config(tool_cfg, wd, Path(cfg.filename).name)
        runner.load_or_resume()
        if runner.world_size > 1:  # mmengine logs on rank 0 only: each task says where it starts
            print(f"task {runner.rank} of {runner.world_size}: starting at epoch {runner.epoch}, iter {runner.iter}"
                  + (f", resumed from {resumed_from}" if resumed_from else ""), flush=True)
        if cfg.get("train_cfg"):
            runner.train()
        runner.test()  # its evaluator's numbers go to the log; the record's come from the scores file
        hosts = run_hosts()  # every rank: a collective
        if runner.rank != 0:
            return {}
        multi = bool(cfg.test_dataloader.dataset.get("multi_class", False))
        _save_scores(wd, runner.test_dataloader.dataset, multi)
        record = make_record(
            spec, home, metrics=scores_file_metrics(wd / SCORES),  # as an ensemble's: one way to score
            num_test_videos=len(runner.test_dataloader.dataset),
            config_hash=hashlib.sha256(cfg.pretty_text.encode()).hexdigest()[:16], recipe_digest=defined_by,
            wall_time_s=time.time() - t0,
            bad_videos={s: sum(1 for _ in open(p)) for s in ("train", "val", "test")
                        if (p := wd / f"bad_videos_{s}.txt").exists()},
            checkpoint=_last_checkpoint(wd), resumed_from=resumed_from,
            attempts=sum(1 for _ in open(wd / "attempts.log")), world_size=runner.world_size, hosts=hosts,
            total_batch=total_batch(cfg, runner.world_size))
        return write_record(home, record)


def dist_launcher(cfg) -> str:
    """mmengine's launcher for this task. One task: ``none``. Several Slurm tasks (one per GPU,
    or a CPU profile's ``tasks_per_node``, on one node or several): torch.distributed, its master
    the job's first node (127.0.0.1 on one node), its port taken from the job id (two jobs on one
    node do not collide; a requeued job keeps its port), ranks and local ranks Slurm's; each task
    starts its log with a line naming its task and node (``status`` names them). With CUDA:
    mmengine's ``slurm`` launcher and the config's backend (nccl). The one place that handles a
    host without CUDA: mmengine's launchers (``slurm`` and ``pytorch`` alike) call
    ``torch.cuda.set_device``, which fails there, so the gloo process group is started here from
    the SLURM_* variables as mmengine's Slurm launcher would; mmengine finds it started and only
    uses it (``pytorch``), and DDP wraps the CPU model without device ids."""
    ntasks = int(os.environ.get("SLURM_NTASKS", "1"))
    if ntasks <= 1:
        return "none"
    import torch
    import torch.distributed as dist

    os.environ.setdefault("MASTER_PORT", str(15000 + int(os.environ.get("SLURM_JOB_ID", "0")) % 15000))
    if "MASTER_ADDR" not in os.environ:  # set by hand: kept, as mmengine's Slurm launcher keeps it
        os.environ["MASTER_ADDR"] = master_address()
    announce_task()
    if torch.cuda.is_available():
        return "slurm"
    os.environ.update(RANK=os.environ["SLURM_PROCID"], WORLD_SIZE=str(ntasks),
                      LOCAL_RANK=os.environ.get("SLURM_LOCALID", "0"))
    if not dist.is_initialized():
        timeout = (cfg.get("env_cfg") or {}).get("dist_cfg", {}).get("timeout")
        dist.init_process_group("gloo", **({"timeout": datetime.timedelta(seconds=timeout)} if timeout else {}))
    cfg.model_wrapper_cfg = {"type": "MMDistributedDataParallel", "broadcast_buffers": False,
                             "find_unused_parameters": cfg.get("find_unused_parameters", False),
                             **(cfg.get("model_wrapper_cfg") or {}), "device_ids": None}  # not [LOCAL_RANK]: CPU
    return "pytorch"


def _last_checkpoint(wd: Path) -> Optional[str]:
    """The checkpoint mmengine saved last in a run's directory (its ``last_checkpoint`` file holds an
    absolute path: read through the run's own directory, so a moved or copied work directory resumes
    from its own checkpoints), if any."""
    last = wd / "last_checkpoint"
    if not last.exists():
        return None
    path = Path(last.read_text().strip())
    own = wd / path.name  # a run's checkpoints are in its own directory, wherever it was when saved
    return str(own if own.exists() else path)

"""The one way a run's mmengine config is read: its file (``_base_`` files and mmaction2's zoo
configs included) with dotted overrides merged, every override key checked first."""
from __future__ import annotations

import copy
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .. import REPO

# top-level keys mmengine's Runner.from_cfg reads even when a config file leaves them out
RUNNER_KEYS = {"load_from", "resume", "custom_hooks", "randomness", "launcher", "env_cfg", "log_processor",
               "visualizer", "default_scope", "auto_scale_lr", "experiment_name", "cfg"}


def check_override_keys(cfg, keys, what: str, config: str) -> None:
    """Every dotted key must start at a top-level key of the config (or one mmengine's Runner
    reads), so a typo fails here, naming the key, instead of silently adding an unused one."""
    for key in keys:
        top = key.split(".")[0]
        if top not in cfg and top not in RUNNER_KEYS:
            raise KeyError(f"{what} {key!r} names no top-level key of {config} "
                           f"(nor one of mmengine's Runner: {', '.join(sorted(RUNNER_KEYS))})")


def load_config(config: str, overrides: Optional[dict] = None, what: Optional[str] = "override"):
    """``config`` (a path relative to the repository) as mmengine reads it, with ``overrides``
    (dotted keys -> values, lists replaced whole) merged; a key that names nothing in the config
    is refused, ``what`` saying whose key it was (``what=None``: not checked, as for hashing what
    a run was)."""
    cfg = copy.deepcopy(_parsed(str(REPO / config), *_file_key(REPO / config)))
    if overrides:
        if what is not None:
            check_override_keys(cfg, overrides, what, config)
        cfg.merge_from_dict(dict(overrides), allow_list_keys=True)
    return cfg


def _file_key(path: Path) -> tuple:
    """What a parsed config depends on beyond its name: the file's size and time of change, and
    the environment variables configs read (``{{$VIDTR_DATA_ROOT:...}}``)."""
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns, os.environ.get("VIDTR_DATA_ROOT")
    except OSError:
        return None, None, os.environ.get("VIDTR_DATA_ROOT")


@lru_cache(maxsize=256)
def _parsed(path: str, size, mtime_ns, data_root_env):
    """mmengine's parse of a config file (its ``_base_`` chain, mmaction2's zoo configs), kept per
    process: a table's runs read the same few configs many times (their ids, recipes, overrides).
    A ``_base_`` file edited while a process runs is seen by the next process."""
    from mmengine.config import Config

    return Config.fromfile(path)


def total_batch(cfg, world_size: int) -> Optional[int]:
    """Clips per optimizer step: clips per GPU x GPUs (x gradient accumulation steps); None for a
    run that does not train. The released configs: 3 x 8 = 24 for VidTr-S/M (1 x 8 for VidTr-L,
    8 x 8 for the compact models); the paper: 6 x 64 = 384 for VidTr-S (Sec. 3.3)."""
    if not cfg.get("train_cfg") or not cfg.get("train_dataloader"):
        return None
    accumulate = (cfg.get("optim_wrapper") or {}).get("accumulative_counts", 1)
    return int(cfg.train_dataloader.batch_size) * int(world_size) * int(accumulate)


def check_trains(cfg, what: str) -> None:
    """A config that asks for training (``train_cfg`` set) must train: a schedule of at least one
    epoch or iteration and a batch of at least one clip. Otherwise mmengine runs no training step
    and the run would record the scores of an untrained model; refused here, naming the option."""
    train = cfg.get("train_cfg")
    if not train:
        return
    loop = str(train.get("type", "EpochBasedTrainLoop"))
    key = "max_iters" if "Iter" in loop or ("max_iters" in train and "max_epochs" not in train) else "max_epochs"
    value = train.get(key)
    if type(value) is not int or value < 1:
        raise ValueError(f"{what}: train_cfg.{key}={value!r}: expected a whole number >= 1 (with it, the run would "
                         "train nothing and record an untrained model; to test only, give a config without train_cfg)")
    batch = (cfg.get("train_dataloader") or {}).get("batch_size")
    if batch is not None and (type(batch) is not int or batch < 1):
        raise ValueError(f"{what}: train_dataloader.batch_size={batch!r}: expected a whole number >= 1")


def torch_threads(cfg, what: str) -> Optional[int]:
    """The intra-op threads torch computes with in a run, where its config pins them
    (``env_cfg.torch_threads``, part of the run's recipe), else None (torch's default: the cores it
    sees). On the CPU the thread count changes the order of floating-point sums, so a run's numbers
    follow it: the demo's std-topK seed 0 scored 24.5 top-1 with one thread and 20.9 with two
    (docs/demo.md). A CPU recipe that pins it gives the same numbers however it is launched."""
    value = (cfg.get("env_cfg") or {}).get("torch_threads")
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise ValueError(f"{what}: env_cfg.torch_threads={value!r}: expected a whole number >= 1 (torch's threads "
                         "for the run), or no value for torch's default")
    return value


def check_config(cfg, what: str) -> None:
    """What a run's config must hold before it is submitted or started: it trains when asked to
    (:func:`check_trains`) and its pinned thread count, if any, is a count (:func:`torch_threads`)."""
    check_trains(cfg, what)
    torch_threads(cfg, what)

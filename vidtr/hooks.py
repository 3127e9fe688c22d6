"""Checkpoints any tool can load safely: ``torch.load(path, weights_only=True)`` with torch's
default allowlist, nothing widened.

mmengine 0.10.7 saves its message hub as it is: ``HistoryBuffer`` objects (whose pickled
state holds its own methods, which pickle through ``getattr``) and numpy scalars and arrays
(the ETA, the best score). torch's weights-only unpickler refuses those, so mmaction2's
``tools/test.py`` and ``tools/train.py --resume`` fail on such files. This hook writes them as
Python numbers, tensors and plain dicts instead, and turns the dicts back into
``HistoryBuffer`` objects when a checkpoint is loaded, before the message hub reads them.
"""
from __future__ import annotations

from collections import Counter, OrderedDict

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

_BUFFER_KEYS = frozenset(("log_history", "count_history", "max_length"))


def _tensor(a: np.ndarray):
    try:
        return torch.from_numpy(np.ascontiguousarray(a)).clone()
    except TypeError:  # object or string arrays: torch has no such dtype
        return to_plain(a.tolist())


def to_plain(obj):
    """The same structure with numpy scalars as Python numbers, arrays as tensors and
    ``HistoryBuffer`` objects as dicts of tensors. Returns ``obj`` itself where nothing under it
    changed: weights are not copied, and ``Counter``/``OrderedDict`` (scheduler milestones,
    state-dict metadata), which torch allows, keep their type."""
    if isinstance(obj, np.generic):  # before float: np.float64 is a float
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _tensor(obj)
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return dict(log_history=_tensor(log), count_history=_tensor(count), max_length=int(obj.max_length))
    if isinstance(obj, dict):
        new = {k: to_plain(v) for k, v in obj.items()}
        if all(new[k] is v for k, v in obj.items()):
            return obj
        out = type(obj)(new) if type(obj) in (OrderedDict, Counter) else new
        if hasattr(obj, "_metadata"):
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)):
        items = [to_plain(v) for v in obj]
        return obj if all(a is b for a, b in zip(items, obj)) else type(obj)(items)
    return obj


def restore_history_buffers(message_hub: dict) -> None:
    """Dicts written by :func:`to_plain` back into the ``HistoryBuffer`` objects the message hub
    resumes (it skips anything else, with a warning per key)."""
    scalars = message_hub.get("log_scalars", {})
    for key, value in list(scalars.items()):
        if isinstance(value, dict) and set(value) == _BUFFER_KEYS:
            log, count = (np.asarray(v.numpy() if isinstance(v, torch.Tensor) else v)
                          for v in (value["log_history"], value["count_history"]))
            scalars[key] = HistoryBuffer(log, count, value["max_length"])


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Lowest priority: it rewrites the checkpoint after every other hook has added to it."""

    priority = "LOWEST"

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = to_plain(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if isinstance(checkpoint.get("message_hub"), dict):
            restore_history_buffers(checkpoint["message_hub"])

"""What the harness adds to every run's mmengine config (``job.build_config``): a guard that
stops a diverged run at the iteration its loss stops being finite. mmengine 0.10.7 has no such
hook (mmdetection's ``CheckInvalidLossHook`` checks only every N iterations and only logs), and
a run that trains on NaN would otherwise go on for days and record the scores of a broken model."""
from __future__ import annotations

import math

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


class Diverged(RuntimeError):
    """A run whose training loss (or test scores) stopped being finite: no record is written."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raises :class:`Diverged` after the first training iteration whose loss is NaN or infinite,
    naming the epoch and the iteration (1-based, within the epoch) and the loss."""

    priority = "VERY_HIGH"  # before the logger and the checkpoint hook see the iteration

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get("loss")
        if loss is None:
            return
        value = float(loss.detach().float().mean()) if hasattr(loss, "detach") else float(loss)
        if not math.isfinite(value):
            raise Diverged(f"diverged at epoch {runner.epoch + 1} iter {batch_idx + 1} (loss {value})")

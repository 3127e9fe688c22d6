"""Faults the two-node tests inject into a run (never used by the paper's tables). mmengine
builds a hook from a dotted ``type`` (``task_faults.RaiseOnTaskHook``) by importing its
module: the tests put this folder on the jobs' PYTHONPATH."""
import os

from mmengine.hooks import Hook


class RaiseOnTaskHook(Hook):
    """Raises on one Slurm task (rank) after a training epoch; the other tasks go on, and lose
    their peer at the next collective."""

    def __init__(self, task: int = 1, epoch: int = 1):
        self.task, self.epoch = task, epoch

    def after_train_epoch(self, runner) -> None:
        done = runner.epoch + 1  # mmengine counts the epoch after this hook
        if int(os.environ.get("SLURM_PROCID", "0")) == self.task and done >= self.epoch:
            raise ValueError(f"injected fault on task {self.task} ({os.environ.get('SLURMD_NODENAME')}) "
                             f"after epoch {done}")

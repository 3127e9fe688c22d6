"""What Slurm's queue says about jobs, asked through ``squeue`` alone (no submitit import), so
that status and reports can ask it without loading the launcher."""
from __future__ import annotations

import subprocess
from typing import Optional

# squeue states of a job that has not started yet (or is waiting to start again)
PENDING = ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD")
RUNNING = ("RUNNING", "COMPLETING")


def squeue_states() -> Optional[dict]:
    """Job id -> state (-r: one line per array task); None when squeue cannot be asked."""
    try:
        run = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if run.returncode != 0:
        return None
    return dict(line.split(maxsplit=1) for line in run.stdout.splitlines() if line.strip())

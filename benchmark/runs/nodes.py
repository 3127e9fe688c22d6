"""Where a run's Slurm tasks are, when it spans several nodes: the master address taken from the
job's node list, the line each task starts its log with (its task number, node and master),
read back by ``status`` to name the node of a failed task, and the hosts of all ranks, for the
record. The same on one node as on eight."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from typing import Optional

# "vidtr-bench task 1 of 2 on node2 (...)": the first line of each task's stderr in a multi-task job
_TASK_LINE = re.compile(r"^vidtr-bench task (\d+) of (\d+) on (\S+)")
# torch.distributed starts each line of a rank's traceback with "[rank1]: "
_RANK_PREFIX = re.compile(r"^\[rank\d+\]:\s?")
# srun's summary of how tasks ended (in task 0's log): each task's own log says why
_SRUN_EXIT = re.compile(r"^srun: error: \S+: tasks? [\d,\-]+: ")


def node_name() -> str:
    """This task's node as Slurm names it (sinfo, scontrol, the node list), else the host name."""
    return os.environ.get("SLURMD_NODENAME") or socket.gethostname()


def master_address() -> str:
    """The job's first node, as mmengine's Slurm launcher picks it (``scontrol show hostnames``
    expands a node list such as ``node[1-8]``); 127.0.0.1 when the job has one node."""
    if os.environ.get("SLURM_JOB_NUM_NODES", "1") == "1":
        return "127.0.0.1"
    nodelist = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST", "")
    try:
        run = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise RuntimeError(f"cannot expand the job's node list {nodelist!r} (scontrol show hostnames): {e}") from None
    hosts = run.stdout.split()
    if run.returncode or not hosts:
        raise RuntimeError(f"scontrol show hostnames {nodelist!r} failed: {run.stderr.strip() or 'no host names'}")
    return hosts[0]


def announce_task() -> str:
    """Print this task's first log line (stderr, the log ``status`` reads): which task, on which
    node, and where its master is; mmengine logs on rank 0 only, so this names every task's log."""
    env = os.environ
    line = (f"vidtr-bench task {env.get('SLURM_PROCID', '0')} of {env.get('SLURM_NTASKS', '1')} on {node_name()} "
            f"(node {int(env.get('SLURM_NODEID', '0')) + 1} of {env.get('SLURM_JOB_NUM_NODES', '1')}, local task "
            f"{env.get('SLURM_LOCALID', '0')}; master {env.get('MASTER_ADDR', '?')}:{env.get('MASTER_PORT', '?')}; "
            f"job {env.get('SLURM_JOB_ID', 'local')})")
    print(line, file=sys.stderr, flush=True)
    return line


def task_node(log: str) -> Optional[str]:
    """The node a task's log says it ran on (its :func:`announce_task` line), if it says."""
    for line in log.splitlines():
        if m := _TASK_LINE.match(line):
            return m.group(3)
    return None


def task_log_text(log: str) -> str:
    """A task's log as its own error is read from it: without torch's ``[rank1]: `` before each
    traceback line, its :func:`announce_task` line and srun's lines about how tasks ended
    (never the reason a task failed)."""
    lines = (_RANK_PREFIX.sub("", line) for line in log.splitlines())
    return "\n".join(line for line in lines if not _TASK_LINE.match(line) and not _SRUN_EXIT.match(line))


def run_hosts() -> list[str]:
    """The nodes the run's ranks ran on, each once, in rank order. A collective when the process
    group is up: every rank calls it."""
    import torch.distributed as dist

    me = node_name()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [me]
    hosts: list = [None] * dist.get_world_size()
    dist.all_gather_object(hosts, me)
    return list(dict.fromkeys(hosts))

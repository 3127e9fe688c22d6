"""How work reaches a cluster: submitit executors, cluster profiles, dependencies, requeue.

Knows nothing about models: a :class:`Task` is any picklable callable plus arguments. Each
task runs inside :class:`Requeueable`, a ``submitit.helpers.Checkpointable``: on preemption
or time-out Slurm requeues it with the same arguments, and the callable is expected to
resume from its own checkpoints (vidtr-bench's runs resume from mmengine's).
"""
from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import submitit
import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"
REQUIRED_KEYS = ("partition", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min")
OPTIONAL_KEYS = ("nodes", "account", "constraint", "qos", "signal_delay_s", "array_parallelism", "setup",
                 "max_num_timeout")
EXECUTORS = ("local", "slurm", "debug")


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    fn: Callable
    args: tuple
    depends_on: tuple = ()
    light: bool = False  # needs no GPU (e.g. averaging saved scores): one CPU, a little memory


def light_profile(profile: dict) -> dict:
    """The profile for a light task: same partition and account, no GPU, one CPU."""
    return dict(profile, gpus_per_node=0, cpus_per_task=1, mem_gb=8, timeout_min=60, nodes=1)


class Requeueable(submitit.helpers.Checkpointable):
    """Calls ``fn(*args)``; when Slurm preempts or times out the job, submitit's checkpoint
    hook resubmits the same call, which resumes from the task's own checkpoints."""

    def __call__(self, fn: Callable, *args: Any) -> Any:
        return fn(*args)


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str) -> dict:
    """A cluster profile (YAML) by name (``slurm/profiles/<name>.yaml``) or path; checks keys."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ProfileError(f"cluster profile {name_or_path!r} not found; profiles: {', '.join(list_profiles())}")
    data = yaml.safe_load(path.read_text()) or {}
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ProfileError(f"cluster profile {path}: missing required key(s) {missing} "
                           f"(required: {list(REQUIRED_KEYS)})")
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ProfileError(f"cluster profile {path}: unknown key(s) {unknown}; "
                           f"valid: {list(REQUIRED_KEYS) + list(OPTIONAL_KEYS)}")
    return data


def executor_parameters(profile: dict, name: str) -> dict:
    """Profile -> submitit AutoExecutor parameters: one task per GPU (at least one task)."""
    gpus = int(profile["gpus_per_node"])
    params = dict(name=name, slurm_partition=profile["partition"], nodes=int(profile.get("nodes", 1)),
                  tasks_per_node=max(1, gpus), gpus_per_node=gpus, cpus_per_task=int(profile["cpus_per_task"]),
                  mem_gb=profile["mem_gb"], timeout_min=int(profile["timeout_min"]),
                  slurm_signal_delay_s=int(profile.get("signal_delay_s", 120)))
    for key in ("account", "constraint", "qos", "array_parallelism", "setup"):
        if key in profile:
            params[f"slurm_{key}"] = profile[key]
    return params


def sbatch_preview(task: Task, profile: dict, folder: Path, dependency: Optional[str] = None) -> str:
    """The #SBATCH header submitit would write for ``task`` (``--dry-run``: nothing is submitted)."""
    from submitit.slurm.slurm import _make_sbatch_string

    profile = light_profile(profile) if task.light else profile
    gpus = int(profile["gpus_per_node"])
    kw = dict(job_name=task.name, partition=profile["partition"], time=int(profile["timeout_min"]),
              nodes=int(profile.get("nodes", 1)), ntasks_per_node=max(1, gpus),
              cpus_per_task=int(profile["cpus_per_task"]), gpus_per_node=gpus or None, mem=f"{profile['mem_gb']}GB",
              signal_delay_s=int(profile.get("signal_delay_s", 120)),
              account=profile.get("account"), constraint=profile.get("constraint"), qos=profile.get("qos"),
              dependency=dependency)
    extra = {"kill-on-invalid-dep": "yes"} if dependency else None
    text = _make_sbatch_string(command=f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {folder}",
                               folder=folder, additional_parameters=extra, **kw)
    return "\n".join(line for line in text.splitlines() if line.startswith("#SBATCH"))


def _executor(kind: str, folder: Path, profile: Optional[dict], name: str) -> submitit.AutoExecutor:
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; valid: {', '.join(EXECUTORS)}")
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster=kind,
                               slurm_max_num_timeout=int((profile or {}).get("max_num_timeout", 20)))
    if kind == "slurm":
        ex.update_parameters(**executor_parameters(profile, name))
    else:
        ex.update_parameters(name=name, timeout_min=int((profile or {}).get("timeout_min", 24 * 60)))
    return ex


def submit_slurm(tasks: list[Task], folder: Path, profile: dict, done: set) -> dict[str, submitit.Job]:
    """Submit to Slurm: tasks whose dependencies are met go out together as one job array;
    the others follow with ``--dependency=afterok`` on the jobs they wait for."""
    jobs: dict[str, submitit.Job] = {}
    pending = [t for t in tasks if t.id not in done]
    while pending:
        ready = [t for t in pending if all(d in done or d in jobs for d in t.depends_on)]
        if not ready:
            raise ValueError(f"unmet or circular dependencies: {[(t.id, t.depends_on) for t in pending]}")
        free = [t for t in ready if all(d in done for d in t.depends_on)]
        for light in (False, True):  # one job array per resource shape
            group = [t for t in free if t.light == light]
            if group:
                ex = _executor("slurm", folder, light_profile(profile) if light else profile, group[0].name)
                with ex.batch():
                    handles = [ex.submit(Requeueable(), t.fn, *t.args) for t in group]
                jobs.update({t.id: h for t, h in zip(group, handles)})
        for t in ready:
            if t in free:
                continue
            waits = ":".join(jobs[d].job_id for d in t.depends_on if d in jobs)
            ex = _executor("slurm", folder, light_profile(profile) if t.light else profile, t.name)
            # kill-on-invalid-dep: if a run it waits for fails, Slurm drops this job instead of
            # leaving it pending forever
            ex.update_parameters(slurm_additional_parameters={"dependency": f"afterok:{waits}",
                                                              "kill-on-invalid-dep": "yes"})
            jobs[t.id] = ex.submit(Requeueable(), t.fn, *t.args)
        pending = [t for t in pending if t.id not in jobs]
    return jobs


def run_locally(tasks: list[Task], folder: Path, kind: str = "local", done: Optional[set] = None,
                on_state: Optional[Callable[[Task, str, Any], None]] = None, progress: bool = True) -> dict:
    """Run tasks one after another on this machine (``local``: each in its own process via
    submitit, as on a cluster; ``debug``: in this process). A failed task is reported and its
    dependents are skipped; the others still run. Returns id -> result or exception."""
    from tqdm import tqdm

    done = set(done or ())
    results: dict[str, Any] = {}
    bar = tqdm(tasks, disable=not progress, unit="run", dynamic_ncols=True, file=sys.stderr)
    for task in bar:
        bar.set_description(task.name[:40])
        if task.id in done:
            continue
        blocked = [d for d in task.depends_on if d not in done]
        if blocked:
            results[task.id] = RuntimeError(f"skipped: depends on unfinished {blocked}")
            on_state and on_state(task, "skipped", results[task.id])
            continue
        ex = _executor(kind, folder, None, task.name)
        t0 = time.time()
        job = ex.submit(Requeueable(), task.fn, *task.args)
        on_state and on_state(task, "running", job)
        try:
            results[task.id] = job.result()
            done.add(task.id)
            on_state and on_state(task, "done", time.time() - t0)
        except Exception as e:  # noqa: BLE001 - a failed run must not stop the others
            results[task.id] = e
            on_state and on_state(task, "failed", e)
    return results

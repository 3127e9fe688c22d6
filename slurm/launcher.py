"""How work reaches a cluster: submitit executors, cluster profiles, dependencies, requeue.

Knows nothing about models: a :class:`Task` is any picklable callable plus arguments. Each
task runs inside :class:`Requeueable`, a ``submitit.helpers.Checkpointable``: on preemption
or time-out Slurm requeues it with the same arguments, and the callable is expected to
resume from its own checkpoints (vidtr-bench's runs resume from mmengine's).
"""
from __future__ import annotations

import math
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import submitit
import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"
REQUIRED_KEYS = ("partition", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min")
OPTIONAL_KEYS = ("nodes", "tasks_per_node", "account", "constraint", "qos", "signal_delay_s", "array_parallelism",
                 "setup", "max_num_timeout", "gpu_type")
EXECUTORS = ("local", "slurm", "debug")
DEFAULT_SIGNAL_DELAY_S = 120


def _whole(least: int) -> Callable:
    return lambda v: type(v) is int and v >= least  # type(): YAML's yes/no are bools, not numbers


def _text(v) -> bool:
    """Non-empty, one line, no surrounding blanks: it goes verbatim into an #SBATCH line."""
    return isinstance(v, str) and v == v.strip() != "" and v.isprintable()


# key -> (check, what is expected); every key of a profile is one of these
CHECKS = {
    "partition": (_text, "a partition name (a non-empty string)"),
    "gpus_per_node": (_whole(0), "a whole number >= 0"),
    "cpus_per_task": (_whole(1), "a whole number >= 1"),
    "mem_gb": (lambda v: type(v) in (int, float) and math.isfinite(v) and v * 1024 >= 1,
               "a number of GB > 0 (at least 1 MB; --mem=0 would take a whole node)"),
    "timeout_min": (_whole(1), "a whole number of minutes >= 1"),
    "nodes": (_whole(1), "a whole number >= 1"),
    "tasks_per_node": (_whole(1), "a whole number >= 1 (default: gpus_per_node, at least 1)"),
    "signal_delay_s": (_whole(0), "a whole number of seconds >= 0"),
    "array_parallelism": (_whole(1), "a whole number >= 1"),
    "max_num_timeout": (_whole(0), "a whole number >= 0"),
    "account": (_text, "a non-empty one-line string"),
    "constraint": (_text, "a non-empty one-line string"),
    "qos": (_text, "a non-empty one-line string"),
    "gpu_type": (_text, "the GPU model, e.g. V100, A100, H100 (what `vidtr-bench plan` estimates GPU-hours for)"),
    "setup": (lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
              "a list of shell commands (strings)"),
}


class ProfileError(ValueError):
    pass


class Profile(dict):
    """A checked cluster profile; ``source`` names its file in errors found later (at submission)."""
    source = "cluster profile"


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    fn: Callable
    args: tuple
    depends_on: tuple = ()
    light: bool = False  # needs no GPU (e.g. averaging saved scores): one CPU, a little memory


def tasks_per_node(profile: dict) -> int:
    """Tasks (processes of one torch.distributed run) per node: one per GPU, or the profile's
    ``tasks_per_node`` (a CPU profile's gloo processes); at least one."""
    return int(profile.get("tasks_per_node", max(1, int(profile["gpus_per_node"]))))


def light_profile(profile: dict) -> dict:
    """The profile for a light task: same partition and account, no GPU, one task, one CPU."""
    return dict(profile, gpus_per_node=0, tasks_per_node=1, cpus_per_task=1, mem_gb=8, timeout_min=60, nodes=1,
                signal_delay_s=min(profile.get("signal_delay_s", DEFAULT_SIGNAL_DELAY_S), 600))


class Requeueable(submitit.helpers.Checkpointable):
    """Calls ``fn(*args)``; when Slurm preempts or times out the job, submitit's checkpoint
    hook resubmits the same call, which resumes from the task's own checkpoints. In a job of
    several tasks every task gets the signal; the first requeues the job (Slurm then stops them
    all and starts them all again), the others carry on until stopped."""

    def __call__(self, fn: Callable, *args: Any) -> Any:
        return fn(*args)


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error: PyYAML keeps the
    last one silently, so a profile edited by appending ``partition: big`` would run elsewhere
    than its first line says without a word."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # an unhashable key: PyYAML's own check below names it
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (lines {seen[key] + 1} and "
                    f"{key_node.start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_profile(name_or_path: str) -> Profile:
    """A cluster profile (YAML) by name (``slurm/profiles/<name>.yaml``) or path. Every key is
    checked here, so a bad value is one line naming the file and key, never a job Slurm
    rejects later or (a negative time limit) one it accepts with a nonsense limit."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ProfileError(f"cluster profile {name_or_path!r} not found; profiles: {', '.join(list_profiles())}")
    where = f"cluster profile {path}"
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{where}: unreadable: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ProfileError(f"{where}: not valid YAML: {' '.join(str(getattr(e, 'problem', None) or e).split())}{at}"
                           ) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: expected 'key: value' lines at the top level, got a YAML "
                           f"{type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ProfileError(f"{where}: missing required key(s) {missing} (required: {list(REQUIRED_KEYS)})")
    unknown = sorted(map(str, set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)))
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {unknown}; valid: {list(REQUIRED_KEYS) + list(OPTIONAL_KEYS)}")
    for key, value in data.items():
        check, expected = CHECKS[key]
        if not check(value):
            hint = " (YAML reads yes/no/true/false/on/off as booleans)" if isinstance(value, bool) else ""
            raise ProfileError(f"{where}: {key} = {_show(value)}: expected {expected}{hint}")
    gpus, tasks = data["gpus_per_node"], data.get("tasks_per_node", 1)
    if gpus and tasks > gpus:  # mmengine's Slurm launcher gives each task of a node its own GPU
        raise ProfileError(f"{where}: tasks_per_node = {tasks}: expected at most gpus_per_node ({gpus}): "
                           "each task uses one GPU")
    # a signal due before the job starts is sent at once: it would checkpoint and requeue forever
    limit_s = data["timeout_min"] * 60
    if data.get("signal_delay_s", DEFAULT_SIGNAL_DELAY_S) >= limit_s:
        raise ProfileError(
            f"{where}: signal_delay_s = {data['signal_delay_s']}: expected fewer seconds than timeout_min x 60 "
            f"({limit_s})" if "signal_delay_s" in data else
            f"{where}: timeout_min = {data['timeout_min']}: expected more than {DEFAULT_SIGNAL_DELAY_S // 60} minutes, "
            f"the default signal_delay_s ({DEFAULT_SIGNAL_DELAY_S} s; set it lower for shorter jobs)")
    profile = Profile(data)
    profile.source = where
    return profile


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def executor_parameters(profile: dict, name: str) -> dict:
    """Profile -> submitit AutoExecutor parameters: one task per GPU, or ``tasks_per_node``."""
    gpus = int(profile["gpus_per_node"])
    params = dict(name=name, slurm_partition=profile["partition"], nodes=int(profile.get("nodes", 1)),
                  tasks_per_node=tasks_per_node(profile), gpus_per_node=gpus,
                  cpus_per_task=int(profile["cpus_per_task"]), mem_gb=profile["mem_gb"],
                  timeout_min=int(profile["timeout_min"]),
                  slurm_signal_delay_s=int(profile.get("signal_delay_s", DEFAULT_SIGNAL_DELAY_S)))
    for key in ("account", "constraint", "qos", "array_parallelism", "setup"):
        if key in profile:
            params[f"slurm_{key}"] = profile[key]
    return params


def sbatch_preview(task: Task, profile: dict, folder: Path, dependency: Optional[str] = None) -> str:
    """The #SBATCH header submitit would write for ``task`` (``--dry-run``: nothing is submitted)."""
    from submitit.slurm.slurm import _convert_mem, _make_sbatch_string

    profile = light_profile(profile) if task.light else profile
    gpus = int(profile["gpus_per_node"])
    kw = dict(job_name=task.name, partition=profile["partition"], time=int(profile["timeout_min"]),
              nodes=int(profile.get("nodes", 1)), ntasks_per_node=tasks_per_node(profile),
              cpus_per_task=int(profile["cpus_per_task"]), gpus_per_node=gpus or None,
              mem=_convert_mem(profile["mem_gb"]),
              signal_delay_s=int(profile.get("signal_delay_s", DEFAULT_SIGNAL_DELAY_S)),
              account=profile.get("account"), constraint=profile.get("constraint"), qos=profile.get("qos"),
              dependency=dependency)
    extra = {"kill-on-invalid-dep": "yes"} if dependency else None
    text = _make_sbatch_string(command=f"{shlex.quote(sys.executable)} -u -m submitit.core._submit {folder}",
                               folder=folder, additional_parameters=extra, **kw)
    return "\n".join(line for line in text.splitlines() if line.startswith("#SBATCH"))


def _sinfo(*args: str) -> Optional[list[str]]:
    """sinfo's lines; None when Slurm cannot be asked."""
    try:
        run = subprocess.run(["sinfo", "-h", *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return [ln.strip() for ln in run.stdout.splitlines() if ln.strip()] if run.returncode == 0 else None


def _gpus(gres: str) -> int:
    """GPUs in sinfo's %G: ``gpu:8``, ``gpu:a100:4(S:0-1),gpu:v100:2``, ``(null)``."""
    return sum(int(n) for n in re.findall(r"gpu(?::[^:,(]+)?:(\d+)", gres))


def check_partition(profile: dict, light: Iterable[bool] = (False,)) -> None:
    """Before submitting: the profile's partition exists and enough of its nodes could hold a
    job of the profile (``light``: (False, True) checks its light variant too), so a typo is
    not a submitit traceback and an impossible job does not wait in the queue forever. When
    sinfo cannot be asked, nothing is checked (sbatch then says what is wrong)."""
    where, part = getattr(profile, "source", "cluster profile"), profile["partition"]
    names = _sinfo("-a", "-o", "%P")  # -a: hidden partitions too (sinfo refuses -a with -p)
    if not names:
        return
    exist = sorted(set(names))
    if any(p not in {n.rstrip("*") for n in exist} for p in part.split(",")):
        raise ProfileError(f"{where}: partition = {part!r}: no such partition on this cluster; partitions: "
                           f"{', '.join(exist)} (* = the default)")
    nodes = []
    for line in _sinfo("-N", "-p", part, "-o", "%N %c %m %G") or []:
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and fields[1].rstrip("+").isdigit() and fields[2].rstrip("+").isdigit():
            nodes.append((int(fields[1].rstrip("+")), int(fields[2].rstrip("+")), _gpus(fields[3])))
    gres_shown = any(g for _, _, g in nodes)
    for shape in [light_profile(profile) if lt else profile for lt in sorted(set(light))]:
        tasks, cpt = tasks_per_node(shape), shape["cpus_per_task"]
        cpus, mem_mb, gpus = tasks * cpt, shape["mem_gb"] * 1024, shape["gpus_per_node"] if gres_shown else 0
        fit = [n for n in nodes if n[0] >= cpus and n[1] >= mem_mb and n[2] >= gpus]
        if not nodes or len(fit) >= shape.get("nodes", 1):
            continue
        most = [max(n[i] for n in nodes) for i in range(3)]
        why = (f"asks {cpus} CPUs per node ({tasks} task{'s' * (tasks > 1)} x {cpt} cpus_per_task); the largest node "
               f"in partition {part} has {most[0]}" if most[0] < cpus else
               f"asks {shape['mem_gb']} GB per node (mem_gb); the largest node in partition {part} has "
               f"{most[1] / 1024:.1f} GB" if most[1] < mem_mb else
               f"asks {gpus} GPUs per node (gpus_per_node); the most any node in partition {part} has is {most[2]}"
               if most[2] < gpus else
               f"asks {shape.get('nodes', 1)} node(s) with {cpus} CPUs, {shape['mem_gb']} GB and {gpus} GPUs each; "
               f"partition {part} has {len(fit)}")
        what = "its light jobs (ensembles)" if shape is not profile else "it"
        raise ProfileError(f"{where}: {why}: Slurm could never start {what}")


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


def submit_slurm(tasks: list[Task], folder: Path, profile: dict, done: set,
                 queued: Optional[dict] = None, partition_checked: bool = False) -> dict[str, submitit.Job]:
    """Submit to Slurm: tasks whose dependencies are met go out together as one job array;
    the others follow with ``--dependency=afterok`` on the jobs they wait for, those submitted
    here or ``queued`` ones (task id -> Slurm job id, submitted by an earlier launch).
    ``partition_checked``: the caller ran :func:`check_partition` already (sinfo is not asked twice)."""
    jobs: dict[str, submitit.Job] = {}
    queued = dict(queued or {})
    pending = [t for t in tasks if t.id not in done]
    if not partition_checked:
        check_partition(profile, {t.light for t in pending})
    while pending:
        ready = [t for t in pending if all(d in done or d in jobs or d in queued for d in t.depends_on)]
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
            waits = ":".join(jobs[d].job_id if d in jobs else queued[d] for d in t.depends_on if d not in done)
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
            results[task.id] = _killed(job) or e
            on_state and on_state(task, "failed", results[task.id])
    return results


class KilledBySignal(RuntimeError):
    """A task's process died of a signal before it could report (SIGKILL, an out-of-memory kill)."""


def _killed(job) -> Optional[KilledBySignal]:
    """A local job whose process a signal ended: submitit only says it left no result file."""
    code = getattr(getattr(job, "_process", None), "returncode", None)
    if code is None or code >= 0:
        return None
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    why = " (out of memory, or killed by hand)" if -code == signal.SIGKILL else ""
    return KilledBySignal(f"killed by {name}{why}")

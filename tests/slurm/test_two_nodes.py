"""Real Slurm on two nodes: `slurm/local_cluster.sh up --nodes 2` (each slurmd in a network
namespace of its own, with its own address and host name) and runs that span them through the
real launcher and the `local_2nodes` profile: a test-only run of 2 nodes x 1 task scores as one
task does; a training run outlives node 2's slurmd killed and node 2 set DOWN (requeued, resumed
from its checkpoint, one record); a task on node 2 that raises is what `status` names. The
cluster runs beside the one-node one (its own state folder, ports, names and subnet) and is
taken down, namespaces and links included, even when a test fails. The tests without a cluster
(the node list, the task logs) run everywhere."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from slurm_waits import wait_for as _wait

from benchmark.runs import job
from benchmark.runs.launch import launch
from benchmark.runs.records import read_record
from benchmark.runs.spec import run_dir
from benchmark.runs.state import _last_error, read_manifest, status
from benchmark.runs.tables import build_table_data, table_runs
from slurm import launcher as sl

SCRIPT = Path(__file__).resolve().parents[2] / "slurm" / "local_cluster.sh"
FAULTS = Path(__file__).resolve().parent  # task_faults.py: a hook that raises on one task
TEST_ONLY = {"train_cfg": None, "train_dataloader": None, "optim_wrapper": None, "param_scheduler": None}


def _why_not() -> str:
    """Why a two-node cluster cannot run here ('' when it can)."""
    if os.geteuid() != 0:
        return "the two-node Slurm cluster needs root (slurmd, ip netns)"
    if shutil.which("slurmd") is None and shutil.which("apt-get") is None:
        return "the two-node Slurm cluster needs Slurm installed, or apt-get (Debian) to install it"
    missing = [t for t in ("ip", "nsenter", "unshare", "ss") if shutil.which(t) is None]
    if missing:
        return f"the two-node Slurm cluster needs {', '.join(missing)} (Debian: iproute2, util-linux)"
    probe = subprocess.run(["unshare", "--net", "--uts", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode:
        return f"network namespaces are not permitted here: unshare --net: {probe.stderr.strip()[:200]}"
    return ""


@pytest.fixture(scope="module")
def multinode_host():
    if reason := _why_not():
        pytest.skip(reason)


def _script(home, *args, timeout=600):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, VIDTR_SLURM_HOME=str(home)))


def _made(home) -> dict:
    """What a cluster's `status` says it made: its namespaces, its bridge, its daemons' pids."""
    out = _script(home, "status").stdout
    return dict(namespaces=re.findall(r"namespace (\S+),", out), bridge=re.findall(r"on bridge (\S+),", out),
                slurmctld=[int(p) for p in re.findall(r"slurmctld pid (\d+)", out)],
                slurmd=[int(p) for p in re.findall(r"slurmd pid (\d+)", out)])


def _leftovers(made: dict) -> list:
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    links = [ln.split(": ")[1].split("@")[0] for ln in subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                                                                     text=True).stdout.splitlines()]
    alive = []
    for pid in made["slurmctld"] + made["slurmd"]:
        try:
            os.kill(pid, 0)
            alive.append(f"pid {pid}")
        except ProcessLookupError:
            pass
    veths = [ln for ln in links if made["bridge"] and ln.startswith("vh" + made["bridge"][0][3:])]
    return ([n for n in made["namespaces"] if n in namespaces] + [b for b in made["bridge"] if b in links] + veths
            + alive)


@pytest.fixture(scope="module")
def two_nodes(multinode_host, tmp_path_factory):
    """A two-node cluster for this module's runs (SLURM_CONF points at it meanwhile)."""
    home = tmp_path_factory.mktemp("slurm2")
    before = os.environ.get("SLURM_CONF")
    try:
        up = _script(home, "up", "--nodes", "2")
        assert up.returncode == 0, up.stderr[-3000:]
        line = up.stdout.strip().splitlines()[-1]
        assert line.startswith("export SLURM_CONF="), up.stdout
        os.environ["SLURM_CONF"] = line.split("=", 1)[1]
        yield home
    finally:
        made = _made(home)
        down = _script(home, "down", timeout=180)
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
        assert down.returncode == 0 and not _leftovers(made), (down.stderr[-2000:], _leftovers(made))


def _sh(*cmd, home=None) -> str:
    env = dict(os.environ, SLURM_CONF=str(Path(home) / "etc" / "slurm.conf")) if home else None
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, f"{' '.join(cmd)}: {run.stderr}"
    return run.stdout


def _task_logs(home, job_id, suffix="log.err") -> list[str]:
    """Each task's log of a submitit job (``<job>_<task>_<suffix>``), task 0 first."""
    return [p.read_text() for p in sorted((home / "smoke" / "submitit" / job_id).glob(f"{job_id}_*_{suffix}"))]


def _queue(job_id) -> str:
    return _sh("squeue", "-h", "-j", job_id, "-o", "%T %D %N %r").strip()


def test_two_node_cluster_comes_up_and_goes_down_cleanly_twice(two_nodes, tmp_path):
    """A second two-node cluster, beside the module's: its own names, subnet and ports; twice
    up and down, nothing left (namespaces, bridge, veths, daemons), the other one untouched."""
    home = tmp_path / "slurm"
    for attempt in (1, 2):
        up = _script(home, "up", "--nodes", "2")
        assert up.returncode == 0, up.stderr[-3000:]
        assert up.stdout.strip() == f"export SLURM_CONF={home}/etc/slurm.conf"
        made = _made(home)
        assert len(made["namespaces"]) == 2 and len(made["bridge"]) == 1
        assert len(made["slurmd"]) == 2 and len(made["slurmctld"]) == 1
        assert set(made["namespaces"]).isdisjoint(_made(two_nodes)["namespaces"])
        assert _made(two_nodes)["bridge"] != made["bridge"]
        nodes = _sh("sinfo", "-h", "-N", "-o", "%N %t", home=home).split("\n")
        assert [n.split() for n in nodes if n] == [["node1", "idle"], ["node2", "idle"]]
        # a job step on both nodes: each its own host name and address, each resolves the other
        hosts = _sh("srun", "-N2", "-n2", "-D", "/", "sh", "-c", 'echo "$(hostname) $(getent hosts node1 node2 | '
                    'tr -s " " | tr "\\n" " ")$(ip -4 -o addr show eth0 | tr -s " " | cut -d" " -f4)"', home=home)
        lines = sorted(hosts.strip().splitlines())
        assert [ln.split()[0] for ln in lines] == ["node1", "node2"], hosts
        addr = {ln.split()[0]: ln.split()[-1].split("/")[0] for ln in lines}
        assert all(f"{addr['node1']} node1 {addr['node2']} node2" in ln for ln in lines), hosts
        if attempt == 1:  # a running cluster of another size in the same folder is refused, and nothing changes
            three = _script(home, "up", "--nodes", "3")
            assert three.returncode == 1 and f"a 2-node cluster is running in {home}" in three.stderr
            assert _made(home) == made
        down = _script(home, "down", timeout=180)
        assert down.returncode == 0, down.stderr[-3000:]
        assert _leftovers(made) == [] and _script(home, "status").returncode == 1
        assert _script(two_nodes, "status").returncode == 0  # the module's cluster is still up


def test_test_only_runs_on_two_nodes_score_as_one_task(two_nodes, tmp_path):
    """The same test-only run (the weights from the seed, no training) as 1 task, as 2 nodes x 1
    task (local_2nodes) and as 2 nodes x 2 tasks (ranks 2 and 3 on node 2, local ranks 0 and 1),
    gloo between the nodes' addresses, each rank testing its share of the videos: the same
    scores file; rank 0 alone writes the record, which names both hosts."""
    data = tmp_path / "data"
    build_table_data("smoke", str(data))
    spec = table_runs("smoke", str(data), rows=["tiny VidTr"], cfg_options=TEST_ONLY)[0]
    two = sl.load_profile("local_2nodes")
    sl.check_partition(two)  # two nodes that hold it: the cluster is the one asked for
    preview = sl.sbatch_preview(sl.Task("r", "r", print, ()), two, tmp_path).splitlines()
    assert "#SBATCH --nodes=2" in preview and "#SBATCH --ntasks-per-node=1" in preview
    two_by_two = tmp_path / "2x2.yaml"
    two_by_two.write_text((sl.PROFILE_DIR / "local_2nodes.yaml").read_text().replace("tasks_per_node: 1",
                                                                                      "tasks_per_node: 2"))
    profiles = {1: "local", 2: "local_2nodes", 4: str(two_by_two)}
    homes = {n: tmp_path / f"world{n}" for n in profiles}
    jobs = {n: launch("smoke", [spec], homes[n], executor="slurm", cluster=profile, progress=False,
                      out=lambda *_: None)[spec.run_id] for n, profile in profiles.items()}
    for home in homes.values():
        _wait(lambda home=home: read_record(home, spec) is not None, 400, "the test-only records", home, [spec])
    recs = {n: read_record(home, spec) for n, home in homes.items()}
    scores = {n: np.load(rec["scores_file"]) for n, rec in recs.items()}
    assert len(scores[1]["videos"]) == recs[1]["num_test_videos"] == 6
    assert recs[1]["hosts"][0] in ("node1", "node2")
    for n in (2, 4):
        assert recs[n]["world_size"] == n and recs[n]["hosts"] == ["node1", "node2"]
        assert recs[n]["num_test_videos"] == 6
        assert scores[n]["videos"].tolist() == scores[1]["videos"].tolist()  # same videos, same order
        assert np.array_equal(scores[n]["labels"], scores[1]["labels"])
        np.testing.assert_allclose(scores[n]["scores"], scores[1]["scores"], atol=1e-5)
        assert recs[n]["metrics"] == recs[1]["metrics"]
        wd = run_dir(homes[n], spec)
        assert len((wd / "attempts.log").read_text().splitlines()) == 1 and recs[n]["attempts"] == 1
        assert not list(wd.glob("previous-*")) and not list(wd.glob("record.json?*"))
        # each task's log names its task, its node and local rank, and the master: the job's first
        # node, its port from the job id
        logs = _task_logs(homes[n], jobs[n])
        assert len(logs) == n
        for task, log in enumerate(logs):
            node, local = divmod(task, n // 2)
            assert (f"vidtr-bench task {task} of {n} on node{node + 1} (node {node + 1} of 2, local task {local}; "
                    f"master node1:{15000 + int(jobs[n]) % 15000}; job {jobs[n]})") in log


def test_training_on_two_nodes_outlives_node_2s_slurmd_killed_and_node_2_set_down(two_nodes, tmp_path):
    """Node 2's slurmd killed mid-run: after SlurmdTimeout the node is DOWN and the job requeued;
    `up` restarts that slurmd alone and the job resumes from the last checkpoint. Then node 2 set
    DOWN by hand: requeued again, the job waits (no task left on either node) until node 2 is
    resumed, and resumes again. One Slurm job, three attempts, one record, nothing trained twice."""
    work = tmp_path / "work"
    data = work / "data"
    # 40 epochs of at least 3 s: the first attempt outlives the ~30 s Slurm takes to notice the
    # dead slurmd, and the second still has epochs left when node 2 is set DOWN (with 14 a slow
    # machine's first attempt got so far that the second finished before the DOWN took effect)
    epochs = 40
    spec = table_runs("smoke", str(data), rows=["tiny VidTr"], epochs=epochs, epoch_delay_s=3.0)[0]
    build_table_data("smoke", str(data))
    job_id = launch("smoke", [spec], work, executor="slurm", cluster="local_2nodes", progress=False,
                    out=lambda *_: None)[spec.run_id]
    wd = run_dir(work, spec)
    made = _made(two_nodes)

    def tasks_left() -> list:  # processes on the nodes other than their slurmd: the job's
        pids = [int(p) for ns in made["namespaces"] for p in _sh("ip", "netns", "pids", ns).split()]
        return [p for p in pids if p not in _made(two_nodes)["slurmd"]]

    def attempts() -> int:
        return len((wd / "attempts.log").read_text().splitlines())

    _wait(lambda: (wd / "last_checkpoint").exists(), 300, "the first epoch checkpoint", work, [spec])
    assert _queue(job_id).startswith("RUNNING 2 node[1-2]")  # squeue: one job on both nodes
    assert status("smoke", [spec], work)[0]["state"] == "running"
    # node 2's slurmd dies; its task lives on until the job is requeued and it loses its peer
    os.kill(made["slurmd"][1], 9)
    _wait(lambda: _queue(job_id).startswith("PENDING"), 180, "the job requeued after node 2 stopped answering")
    _wait(lambda: not tasks_left(), 60, "the first attempt's tasks to end")
    assert "node2 down*" in _sh("sinfo", "-h", "-N", "-o", "%N %t")  # DOWN, not responding
    assert read_record(work, spec) is None
    up = _script(two_nodes, "up", "--nodes", "2")  # restarts node 2's slurmd alone
    assert up.returncode == 0 and "restarting slurmd node2" in up.stderr, up.stderr[-2000:]
    healed = _made(two_nodes)  # the controller and node 1's slurmd were left alone
    assert healed["slurmd"][0] == made["slurmd"][0] and healed["slurmctld"] == made["slurmctld"]
    _wait(lambda: attempts() == 2 and all(out.count(": starting at epoch") == 2 for out in
                                          _task_logs(work, job_id, "log.out")), 180, "the second attempt's training")

    _sh("scontrol", "update", "NodeName=node2", "State=DOWN", "Reason=two-node test")
    _wait(lambda: _queue(job_id).startswith("PENDING"), 120, "the job requeued after node 2 went DOWN")
    _wait(lambda: not tasks_left(), 60, "the second attempt's tasks to end")
    assert "node2 down" in _sh("sinfo", "-h", "-N", "-o", "%N %t")
    # past the requeue delay (BeginTime) it waits for node 2, and nothing runs meanwhile
    _wait(lambda: "Nodes required for job are DOWN" in _queue(job_id), 60, "the job to wait for node 2")
    row = status("smoke", [spec], work)[0]
    assert row["state"] == "pending" and row["error"].startswith("pending: Nodes required for job are DOWN"), row
    assert not tasks_left() and read_record(work, spec) is None and attempts() == 2
    _sh("scontrol", "update", "NodeName=node2", "State=RESUME")
    _wait(lambda: read_record(work, spec) is not None, 400, "the record after both faults", work, [spec])

    rec = read_record(work, spec)
    assert rec["world_size"] == 2 and rec["hosts"] == ["node1", "node2"] and rec["attempts"] == 3
    assert rec["checkpoint"].endswith(f"epoch_{epochs}.pth") and rec["resumed_from"].endswith(".pth")
    starts = (wd / "attempts.log").read_text().splitlines()
    assert len(starts) == 3 and all(f"job {job_id}" in s for s in starts)  # one Slurm job, requeued twice
    for task, out in enumerate(_task_logs(work, job_id, "log.out")):  # from scratch, then twice from a checkpoint
        begins = re.findall(rf"task {task} of 2: starting at epoch (\d+), iter \d+(, resumed from \S+)?", out)
        assert len(begins) == 3 and begins[0] == ("0", "") and all(r for _, r in begins[1:]), begins
        assert 1 <= int(begins[1][0]) <= int(begins[2][0]) < epochs, begins
    assert all(len(re.findall(r"vidtr-bench task \d of 2 on node\d", log)) == 3 for log in _task_logs(work, job_id))
    assert not list(wd.glob("previous-*")) and not list(wd.glob("record.json?*"))
    assert read_manifest(work, "smoke")[spec.run_id]["job_id"] == job_id  # never resubmitted


def test_a_task_on_node_2_that_raises_is_what_status_names(two_nodes, tmp_path, monkeypatch):
    """Task 1 (node 2) raises after its first epoch; task 0 (node 1) then dies of the lost peer.
    `status` names task 1, its node and its error, not rank 0's lost connection."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")])))
    work = tmp_path / "work"
    data = work / "data"
    build_table_data("smoke", str(data))
    fault = {"custom_hooks": [{"type": "task_faults.RaiseOnTaskHook", "task": 1, "epoch": 1}]}
    spec = table_runs("smoke", str(data), rows=["tiny VidTr"], epochs=3, cfg_options=fault)[0]
    job_id = launch("smoke", [spec], work, executor="slurm", cluster="local_2nodes", progress=False,
                    out=lambda *_: None)[spec.run_id]
    _wait(lambda: status("smoke", [spec], work)[0]["state"] == "failed", 300, "the run to fail")
    row = status("smoke", [spec], work)[0]
    assert row["error"] == "task 1 on node2: ValueError: injected fault on task 1 (node2) after epoch 1", row
    logs = _task_logs(work, job_id)
    assert "Connection closed by peer" in logs[0]  # what rank 0 died of: not what status shows
    assert read_record(work, spec) is None


# --- without a cluster --------------------------------------------------------------------------


def test_dist_launcher_takes_the_master_from_the_node_list(tmp_path, monkeypatch, capsys):
    """Two nodes: the master is the job's first node as `scontrol show hostnames` expands the
    node list; rank and local rank are Slurm's; each task's first line names task and node."""
    import torch

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text('#!/bin/sh\n[ "$*" = "show hostnames gpu[07-08]" ] && '
                                      'printf "gpu07\\ngpu08\\n" || { echo "bad: $*" >&2; exit 1; }\n')
    (bin_dir / "scontrol").chmod(0o755)
    set_by_launcher = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")
    for k in [k for k in os.environ if k.startswith("SLURM")] + list(set_by_launcher):
        monkeypatch.setenv(k, "")  # remembered (set or not), so that the test leaves the environment as it was
        monkeypatch.delenv(k)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # the fake scontrol first
    for k, v in dict(SLURM_NTASKS="16", SLURM_PROCID="9", SLURM_LOCALID="1", SLURM_NODEID="1", SLURM_JOB_ID="77",
                     SLURM_JOB_NUM_NODES="2", SLURM_JOB_NODELIST="gpu[07-08]", SLURMD_NODENAME="gpu08").items():
        monkeypatch.setenv(k, v)
    started = []
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: bool(started))
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda *a, **kw: started.append(a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    from mmengine.config import Config

    assert job.dist_launcher(Config()) == "pytorch" and started == [("gloo",)]
    assert {k: os.environ[k] for k in ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE")} == dict(
        MASTER_ADDR="gpu07", MASTER_PORT="15077", RANK="9", LOCAL_RANK="1", WORLD_SIZE="16")
    assert capsys.readouterr().err.strip() == ("vidtr-bench task 9 of 16 on gpu08 (node 2 of 2, local task 1; "
                                               "master gpu07:15077; job 77)")
    monkeypatch.delenv("MASTER_ADDR")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[1-2")  # scontrol refuses it: one line naming the node list
    with pytest.raises(RuntimeError, match=r"scontrol show hostnames 'gpu\[1-2' failed: bad: show hostnames gpu\[1-2"):
        job.dist_launcher(Config())


def test_status_names_the_node_of_the_task_that_failed(tmp_path):
    """Task logs as torch 2.x and srun write them: '[rank1]: ' before each traceback line, srun's
    exit lines in task 0's log. The cause is task 1's, named with the node its first line gives."""
    gloo = ("RuntimeError: [/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer "
            "[10.218.239.12]:42701")
    (tmp_path / "9_0_log.err").write_text(
        "vidtr-bench task 0 of 2 on node1 (node 1 of 2, local task 0; master node1:15009; job 9)\n"
        f"[rank0]: Traceback (most recent call last):\n[rank0]:   File \"a.py\", line 1\n[rank0]: {gloo}\n"
        "srun: error: node2: task 1: Exited with exit code 1\nsrun: error: node1: task 0: Exited with exit code 1\n")
    (tmp_path / "9_1_log.err").write_text(
        "vidtr-bench task 1 of 2 on node2 (node 2 of 2, local task 0; master node1:15009; job 9)\n"
        "[rank1]: Traceback (most recent call last):\n[rank1]: ValueError: label 7 is outside 0..1\n")
    assert _last_error(str(tmp_path / "9_0_log.err")) == "task 1 on node2: ValueError: label 7 is outside 0..1"
    # a task killed without a word (its node went away): the peer's line, still named
    (tmp_path / "9_1_log.err").write_text("vidtr-bench task 1 of 2 on node2 (node 2 of 2, local task 0; ...)\n")
    assert _last_error(str(tmp_path / "9_0_log.err")) == f"task 0 on node1: {gloo}"
    # logs from before tasks named their node: the task alone
    (tmp_path / "8_0_log.err").write_text(f"{gloo}\n")
    (tmp_path / "8_1_log.err").write_text("OSError: disk full\n")
    assert _last_error(str(tmp_path / "8_0_log.err")) == "task 1: OSError: disk full"

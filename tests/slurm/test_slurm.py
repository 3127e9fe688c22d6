"""Real Slurm: a one-node cluster from Debian's packages (slurm/local_cluster.sh), jobs
submitted through submitit by the real launcher, preemption with requeue and resume, runs of
two tasks (torch.distributed with gloo on CPU)."""
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from slurm_waits import wait_for as _wait

from benchmark.cli import main
from benchmark.runs import job
from benchmark.runs.launch import launch
from benchmark.runs.records import read_record
from benchmark.runs.spec import run_dir
from benchmark.runs.state import read_manifest, status
from benchmark.runs.tables import build_table_data, table_runs
from slurm import launcher as sl

SCRIPT = Path(__file__).resolve().parents[2] / "slurm" / "local_cluster.sh"
TWO_TASKS = str(sl.PROFILE_DIR / "local_2tasks.yaml")
TEST_ONLY = {"train_cfg": None, "train_dataloader": None, "optim_wrapper": None, "param_scheduler": None}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("the one-node Slurm cluster needs root and apt-get (Debian)")
    env = dict(os.environ, VIDTR_SLURM_HOME=str(tmp_path_factory.mktemp("slurm")))
    up = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True, env=env, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    line = up.stdout.strip().splitlines()[-1]
    assert line.startswith("export SLURM_CONF="), up.stdout
    os.environ["SLURM_CONF"] = line.split("=", 1)[1].strip("'\"")
    yield env
    subprocess.run(["bash", str(SCRIPT), "down"], capture_output=True, text=True, env=env, timeout=120)
    os.environ.pop("SLURM_CONF", None)


def test_smoke_table_runs_on_slurm_and_a_finished_table_submits_nothing(cluster, tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["launch", "--table", "smoke", "--executor", "slurm", "--cluster", "local",
                 "--workdir", str(work), "--quiet"]) == 0
    specs = table_runs("smoke", str(work / "data"))
    manifest = read_manifest(work, "smoke")
    assert {s.run_id for s in specs} == set(manifest) and all(e["executor"] == "slurm" for e in manifest.values())
    _wait(lambda: all(read_record(work, s) for s in specs), 300, "the smoke table's records", work, specs)
    for s in specs:
        rec = read_record(work, s)
        assert 0 <= rec["metrics"]["top1"] <= 100 and rec["num_test_videos"] == 6
    assert main(["status", "--table", "smoke", "--workdir", str(work)]) == 0
    assert capsys.readouterr().out.count(" done ") == 3
    assert main(["launch", "--table", "smoke", "--executor", "slurm", "--cluster", "local",
                 "--workdir", str(work), "--quiet"]) == 0
    assert "nothing to launch" in capsys.readouterr().out
    assert read_manifest(work, "smoke") == manifest  # no new job


def test_preempted_job_is_requeued_and_resumes_from_its_checkpoint(cluster, tmp_path):
    work = tmp_path / "work"
    data = work / "data"
    spec = table_runs("smoke", str(data), rows=["tiny VidTr"], epochs=4, epoch_delay_s=3.0)[0]
    build_table_data("smoke", str(data))
    jobs = launch("smoke", [spec], work, executor="slurm", cluster="local", progress=False, out=lambda *_: None)
    job_id = jobs[spec.run_id]
    wd = run_dir(work, spec)
    _wait(lambda: (wd / "last_checkpoint").exists(), 180, "the first epoch checkpoint", work, [spec])
    rows = status("smoke", [spec], work)
    assert rows[0]["state"] == "running" and rows[0]["job_id"] == job_id
    # what a preemption or time limit sends (submitit's signal): the job checkpoints and requeues itself
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    _wait(lambda: read_record(work, spec) is not None, 300, "the requeued run's record", work, [spec])
    rec = read_record(work, spec)
    assert rec["resumed_from"] and rec["resumed_from"].endswith(".pth")
    assert rec["attempts"] == 2 and rec["checkpoint"].endswith("epoch_4.pth")
    starts = (wd / "attempts.log").read_text().splitlines()
    assert len(starts) == 2 and all(f"job {job_id}" in s for s in starts)  # same Slurm job, requeued
    log = "".join(p.read_text() for p in wd.glob("*/*.log"))
    assert "resumed epoch: 1" in log or "Auto resumed" in log or "resumed" in log.lower()
    assert json.loads((wd / "record.json").read_text())["run_id"] == spec.run_id
    assert not list(wd.glob("previous-*"))  # the record was written once, nothing moved aside


def test_demo_pipeline_runs_through_slurm(cluster, tmp_path):
    """The built-in mini benchmark, smaller (1 clip per class and source, 1 seed, 1 epoch), on the real cluster."""
    from benchmark.demo.run import run_demo
    from benchmark.demo.table import ROWS

    out = tmp_path / "out"
    df = run_demo(str(out), str(tmp_path / "work"), executor="slurm", cluster="local", epochs=1, clips=1,
                  seeds=1, test_windows=2, memory_frames=(8,), progress=False, wait_s=900)
    assert len(df) == len(ROWS) and df["top1_mean"].notna().all()
    assert len(list((out / "records").glob("*.json"))) == len(ROWS)
    table = (out / "table.md").read_text()
    assert "mini Table 4b" in table and "mini Table 4d" in table and "std topK pooling" in table
    assert (out / "figure.png").stat().st_size > 1000
    # blind to frame order by construction: a clip and its reversal get the same scores
    assert df.set_index("model").loc["spatial only, no temporal positions", "order_pairs_mean"] == 50.0


def _task_files(home, job_id, suffix):
    """Each task's file of a submitit job: ``<job>_<task>_<suffix>``, task 0 first."""
    return sorted((home / "smoke" / "submitit" / job_id).glob(f"{job_id}_*_{suffix}"))


def test_two_tasks_score_like_one_and_only_rank_0_writes_the_record(cluster, tmp_path):
    """A test-only run (training switched off: the same weights on every rank, from the seed)
    with 1 task and with 2 (gloo on CPU, each rank tests half the videos): the same scores file."""
    data = tmp_path / "data"
    build_table_data("smoke", str(data))
    spec = table_runs("smoke", str(data), rows=["tiny VidTr"], cfg_options=TEST_ONLY)[0]
    homes = {1: tmp_path / "one", 2: tmp_path / "two"}
    jobs = {n: launch("smoke", [spec], home, executor="slurm", cluster="local" if n == 1 else TWO_TASKS,
                      progress=False, out=lambda *_: None)[spec.run_id] for n, home in homes.items()}
    for home in homes.values():
        _wait(lambda home=home: read_record(home, spec) is not None, 300, "the test-only records", home, [spec])
    recs = {n: read_record(home, spec) for n, home in homes.items()}
    scores = {n: np.load(rec["scores_file"]) for n, rec in recs.items()}
    assert (recs[1]["world_size"], recs[2]["world_size"]) == (1, 2)
    assert len(scores[1]["videos"]) == recs[1]["num_test_videos"] == recs[2]["num_test_videos"] == 6
    assert scores[1]["videos"].tolist() == scores[2]["videos"].tolist()  # same videos, same order
    assert np.array_equal(scores[1]["labels"], scores[2]["labels"])
    np.testing.assert_allclose(scores[2]["scores"], scores[1]["scores"], atol=1e-5)
    assert recs[1]["metrics"] == recs[2]["metrics"]
    # the record is rank 0's alone: one attempt line (not one per task), rank 1 returned nothing
    wd = run_dir(homes[2], spec)
    assert len((wd / "attempts.log").read_text().splitlines()) == 1 and recs[2]["attempts"] == 1
    assert not list(wd.glob("previous-*")) and not list(wd.glob("record.*.json"))
    results = [pickle.loads(p.read_bytes()) for p in _task_files(homes[2], jobs[2], "result.pkl")]
    assert results[0][0] == "success" and results[0][1]["run_id"] == spec.run_id and results[1:] == [("success", {})]
    outs = [p.read_text() for p in _task_files(homes[2], jobs[2], "log.out")]
    assert len(outs) == 2 and all(f"task {r} of 2: starting at epoch 0" in out for r, out in enumerate(outs))


def test_two_task_job_is_requeued_and_resumes_on_both_ranks(cluster, tmp_path):
    work = tmp_path / "work"
    data = work / "data"
    spec = table_runs("smoke", str(data), rows=["tiny VidTr"], epochs=4, epoch_delay_s=3.0)[0]
    build_table_data("smoke", str(data))
    job_id = launch("smoke", [spec], work, executor="slurm", cluster=TWO_TASKS, progress=False,
                    out=lambda *_: None)[spec.run_id]
    wd = run_dir(work, spec)
    _wait(lambda: (wd / "last_checkpoint").exists(), 180, "the first epoch checkpoint", work, [spec])
    # every task gets the signal; rank 0 requeues the job, Slurm stops and restarts both tasks
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    _wait(lambda: read_record(work, spec) is not None, 300, "the requeued run's record", work, [spec])
    rec = read_record(work, spec)
    assert rec["world_size"] == 2 and rec["attempts"] == 2 and rec["checkpoint"].endswith("epoch_4.pth")
    assert rec["resumed_from"] and rec["resumed_from"].endswith(".pth")
    starts = (wd / "attempts.log").read_text().splitlines()
    assert len(starts) == 2 and all(f"job {job_id}" in s for s in starts)  # one line per attempt, same job
    outs = [p.read_text() for p in _task_files(work, job_id, "log.out")]
    assert len(outs) == 2
    for rank, out in enumerate(outs):  # each rank started once from scratch, then from the checkpoint
        assert f"task {rank} of 2: starting at epoch 0, iter 0\n" in out
        assert f"task {rank} of 2: starting at epoch " in out.split("starting at epoch 0, iter 0")[1]
        assert f"resumed from {rec['resumed_from']}" in out and "starting at epoch 0, iter 0, resumed" not in out
    assert "Requeued job" in outs[0] and "Not checkpointing nor requeuing" in outs[1]
    assert not list(wd.glob("previous-*"))


def test_tasks_per_node_profile_key(tmp_path, monkeypatch):
    """Several tasks per run without GPUs: ``tasks_per_node`` (default: one per GPU), checked
    like every key and used by the executor, the --dry-run preview and the node-size check."""
    two = sl.load_profile(TWO_TASKS)
    assert sl.executor_parameters(two, "x")["tasks_per_node"] == 2
    assert sl.executor_parameters(sl.load_profile("a100x8"), "x")["tasks_per_node"] == 8
    assert sl.executor_parameters(sl.load_profile("local"), "x")["tasks_per_node"] == 1
    task = sl.Task("r", "r", print, ())
    assert "#SBATCH --ntasks-per-node=2" in sl.sbatch_preview(task, two, tmp_path).splitlines()
    light = sl.sbatch_preview(sl.Task("e", "e", print, (), light=True), two, tmp_path).splitlines()
    assert "#SBATCH --ntasks-per-node=1" in light  # an ensemble is one process
    good = "partition: debug\ngpus_per_node: {gpus}\ncpus_per_task: 1\nmem_gb: 2\ntimeout_min: 30\n"
    for gpus, value, expected in [(0, "0", "tasks_per_node = 0: expected a whole number >= 1"),
                                  (0, "yes", "tasks_per_node = True: expected a whole number >= 1"),
                                  (0, "2.5", "tasks_per_node = 2.5: expected a whole number >= 1"),
                                  (4, "8", "tasks_per_node = 8: expected at most gpus_per_node (4)")]:
        path = tmp_path / "x.yaml"
        path.write_text(good.format(gpus=gpus) + f"tasks_per_node: {value}\n")
        with pytest.raises(sl.ProfileError) as e:
            sl.load_profile(str(path))
        assert str(e.value).startswith(f"cluster profile {path}: {expected}") and "\n" not in str(e.value)
    nodes = {"-a": ["debug*"], "-N": ["node1 2 20000 (null)"]}
    monkeypatch.setattr(sl, "_sinfo", lambda *args: nodes["-a" if "-a" in args else "-N"])
    sl.check_partition(two, {False, True})  # 2 tasks x 1 CPU: the test cluster's 2 CPUs
    path = tmp_path / "x.yaml"
    path.write_text(good.format(gpus=0).replace("cpus_per_task: 1", "cpus_per_task: 2") + "tasks_per_node: 2\n")
    with pytest.raises(sl.ProfileError, match=r"asks 4 CPUs per node \(2 tasks x 2 cpus_per_task\); the largest "
                                              r"node in partition debug has 2: Slurm could never start it"):
        sl.check_partition(sl.load_profile(str(path)))


def test_dist_launcher_starts_gloo_itself_on_a_cpu_host(monkeypatch):
    """mmengine's launchers call torch.cuda.set_device: on a host without CUDA the process group
    is started from the SLURM_* variables before mmengine looks (which then only uses it)."""
    import torch
    from mmengine.config import Config

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items()
                                        if not k.startswith("SLURM_") and k not in ("MASTER_ADDR", "MASTER_PORT")})
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend="gloo"))))
    assert job.dist_launcher(cfg) == "none"  # one task: no torch.distributed
    started = []
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: bool(started))
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda *a, **kw: started.append((a, kw)))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    os.environ.update(SLURM_NTASKS="2", SLURM_PROCID="1", SLURM_LOCALID="1", SLURM_JOB_ID="4242",
                      SLURM_JOB_NUM_NODES="1", SLURM_JOB_NODELIST="node1")
    assert job.dist_launcher(cfg) == "pytorch" and started == [(("gloo",), {})]
    assert {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")} == dict(
        RANK="1", WORLD_SIZE="2", LOCAL_RANK="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(15000 + 4242))
    assert cfg.model_wrapper_cfg["type"] == "MMDistributedDataParallel" and cfg.model_wrapper_cfg["device_ids"] is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    os.environ.pop("MASTER_PORT")
    os.environ["SLURM_JOB_ID"] = "4243"
    assert job.dist_launcher(Config()) == "slurm" and len(started) == 1  # with GPUs: mmengine's Slurm launcher
    assert os.environ["MASTER_PORT"] == str(15000 + 4243)

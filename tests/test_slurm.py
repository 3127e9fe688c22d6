"""Real Slurm: a one-node cluster from Debian's packages (slurm/local_cluster.sh), jobs
submitted through submitit by the real launcher, preemption with requeue and resume."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.launch import launch
from benchmark.records import read_manifest, read_record, status
from benchmark.runs import prepare_data, run_dir, table_runs

SCRIPT = Path(__file__).resolve().parents[1] / "slurm" / "local_cluster.sh"


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


def _wait(predicate, timeout, what, work=None, specs=()):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        failed = [r for r in status("smoke", list(specs), work) if r["state"] == "failed"] if specs else []
        if failed:
            raise AssertionError(f"{failed[0]['run_id']} failed: {failed[0]['error']} (log {failed[0]['log']})")
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
    prepare_data("smoke", str(data))
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
    """The built-in mini benchmark, smaller (2 windows per source, 1 epoch), on the real cluster."""
    from benchmark.demo import ROWS, run_demo

    out = tmp_path / "out"
    df = run_demo(str(out), str(tmp_path / "work"), executor="slurm", cluster="local", epochs=1, clips=2,
                  progress=False, wait_s=900)
    assert len(df) == len(ROWS) and df["top1"].notna().all()
    assert len(list((out / "records").glob("*.json"))) == len(ROWS)
    table = (out / "table.md").read_text()
    assert "mini Table 4b" in table and "mini Table 4d" in table and "std topK pooling" in table
    assert (out / "figure.png").stat().st_size > 1000
    # blind to frame order by construction: a clip and its reversal get the same scores
    assert df.set_index("model").loc["spatial only, no temporal positions", "fwd_bwd"] == 50.0

"""Faults and bad input against the launcher, records, status and the CLI: each case asserts the
message or the recovery, not only that something failed. (Video and annotation faults:
test_faults_data.py; cluster profiles and the queue: test_faults_slurm.py.)"""
import errno
import json
import os
import threading

import pytest

from benchmark.cli import main
from benchmark.files import atomic_write
from benchmark.runs import job
from benchmark.runs.launch import launch
from benchmark.runs.records import RECORD, read_record
from benchmark.runs.spec import run_dir
from benchmark.runs.state import MANIFEST, RunBusyError, error_line, read_manifest, run_lock, status, update_manifest
from benchmark.runs.tables import table_runs


@pytest.fixture
def smoke(tmp_path):
    """The smoke table's run specs (no data written: these tests never train)."""
    return table_runs("smoke", str(tmp_path / "data"))


def test_a_second_executor_of_a_running_run_stops_and_names_the_holder(tmp_path, smoke):
    spec = smoke[0]
    wd = run_dir(tmp_path, spec)
    wd.mkdir(parents=True)
    with run_lock(wd, spec.run_id):
        busy = f"run {spec.run_id} is already running \\(pid {os.getpid()} on .*job local"
        with pytest.raises(RunBusyError, match=busy):
            job.execute(spec, tmp_path)
    assert not (wd / "attempts.log").exists() and not (wd / RECORD).exists()  # the second copy wrote nothing


def test_the_run_lock_is_free_again_when_its_holder_ends(tmp_path):
    seen = []
    with run_lock(tmp_path, "r"):
        pass
    with run_lock(tmp_path, "r"):  # released on exit, also after an exception in the run
        seen.append(1)
    with pytest.raises(ZeroDivisionError), run_lock(tmp_path, "r"):
        1 / 0
    with run_lock(tmp_path, "r"):
        seen.append(2)
    assert seen == [1, 2]


def test_a_corrupt_record_is_moved_aside_and_never_blocks_the_table(tmp_path, smoke, capsys):
    spec = smoke[0]
    wd = run_dir(tmp_path, spec)
    wd.mkdir(parents=True)
    (wd / RECORD).write_text('{"run_id": "x", "metr')  # truncated by a crash mid-write
    rows = status("smoke", smoke, tmp_path)
    assert [r["state"] for r in rows] == ["not launched"] * 3
    assert not (wd / RECORD).exists() and len(list(wd.glob("record.json.corrupt-*"))) == 1
    err = capsys.readouterr().err
    assert f"record {wd / RECORD} is corrupt" in err and "moved it to record.json.corrupt-" in err
    (wd / RECORD).write_text('{"run_id": "x"}')  # parses, but is no record: no metrics
    assert read_record(tmp_path, spec) is None and "is corrupt (no metrics)" in capsys.readouterr().err


def test_a_corrupt_launch_manifest_is_moved_aside_and_status_still_answers(tmp_path, smoke, capsys):
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / MANIFEST).write_text("{not json")
    assert main(["status", "--table", "smoke", "--workdir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("not launched") == 3 and "launch manifest" in captured.err
    assert list((tmp_path / "smoke").glob("launch.json.corrupt-*"))
    update_manifest(tmp_path, "smoke", smoke[0].run_id, state="submitted")  # a new manifest starts
    assert list(read_manifest(tmp_path, "smoke")) == [smoke[0].run_id]


def test_squeue_not_answering_counts_as_in_flight_never_submitted_twice(tmp_path, smoke, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text("#!/bin/sh\necho 'slurm_load_jobs error: Socket timed out' >&2\nexit 1\n")
    (bin_dir / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    spec = smoke[0]
    update_manifest(tmp_path, "smoke", spec.run_id, executor="slurm", job_id="4242", state="submitted")
    assert status("smoke", [spec], tmp_path)[0]["state"] == "unknown"
    lines = []
    assert launch("smoke", [spec], tmp_path, dry_run=True, out=lines.append, progress=False) == {}
    assert any(spec.run_id in ln and "unknown (skipped)" in ln for ln in lines)
    with pytest.raises(ValueError, match="--force: run.* still \\['unknown'\\]"):
        launch("smoke", [spec], tmp_path, force=True, out=lines.append, progress=False)
    assert read_manifest(tmp_path, "smoke")[spec.run_id]["job_id"] == "4242"  # the first job is not forgotten


def test_an_ensemble_waits_for_members_another_launch_runs_and_names_one_that_fails(tmp_path, smoke, monkeypatch):
    from slurm import launcher as sl

    members, ensemble = smoke[:2], smoke[2]
    for m in members:  # another launcher (this process) is training both members
        update_manifest(tmp_path, "smoke", m.run_id, executor="local", state="running", job_id=str(os.getpid()))
    submitted = []
    monkeypatch.setattr(sl, "run_locally", lambda tasks, *a, **k: submitted.extend(tasks) or {})
    launch("smoke", smoke, tmp_path, out=lambda *_: None, progress=False)
    assert [t.id for t in submitted] == [ensemble.run_id]  # the members are not started a second time
    assert submitted[0].fn is job.execute_after and submitted[0].args[2] == tuple(members)

    polls = []

    def sleep(seconds):  # while the ensemble waits, the other launcher's first member fails
        polls.append(seconds)
        update_manifest(tmp_path, "smoke", members[0].run_id, state="failed", error="ValueError: boom")

    monkeypatch.setattr(job.time, "sleep", sleep)
    with pytest.raises(RuntimeError) as failed:
        job.execute_after(ensemble, tmp_path, tuple(members))
    assert polls and str(failed.value) == (
        f"run {ensemble.run_id} waited for run {members[0].run_id}, which is failed: ValueError: boom")
    assert not (run_dir(tmp_path, ensemble) / RECORD).exists()


def test_a_failed_manifest_write_is_reported_and_the_launcher_goes_on(tmp_path, smoke, monkeypatch):
    from slurm import launcher as sl

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def run_locally(tasks, folder, kind, done, on_state, progress):  # each run starts, then fails
        for t in tasks:
            on_state(t, "running", None)
            on_state(t, "failed", RuntimeError("boom"))
        return {t.id: RuntimeError("boom") for t in tasks}

    monkeypatch.setattr("benchmark.runs.launch.update_manifest", full_disk)
    monkeypatch.setattr(sl, "run_locally", run_locally)
    lines = []
    results = launch("smoke", smoke[:2], tmp_path, out=lines.append, progress=False)
    assert set(results) == {s.run_id for s in smoke[:2]}
    warnings = [ln for ln in lines if ln.startswith("warning: could not note run")]
    assert len(warnings) == 4 and all("No space left on device" in w for w in warnings)  # running + failed, x2
    assert sum(ln.endswith("failed: RuntimeError: boom") for ln in lines) == 2


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    target.write_text("old")

    def fail(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_failure_reasons_name_the_exception_or_the_signal_never_a_warning_line():
    warnings_only = ("/x/mmengine/runner.py:12: UserWarning: something\n  save_checkpoint(\n"
                     "  _bootstrap._exec(spec, module)")
    assert error_line(warnings_only) == ""
    crash = ("Job 7 has not produced any output (state: FAILED)\nError stream produced:\n----\n"
             "/v/site-packages/mmcv/x.py:3: UserWarning: no ops\n  warnings.warn(\n"
             "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n"
             '  File "/v/decord/video_reader.py", line 54 in __init__\n'
             "bad video /data/k400/videos/abc.mp4: reading\n")
    assert error_line(crash) == "killed by SIGSEGV (last video named in the log: /data/k400/videos/abc.mp4)"
    tb = 'Traceback (most recent call last):\n  File "a.py", line 1\n    save_checkpoint(\nKeyError: \'lr\'\n'
    assert error_line(tb) == "KeyError: 'lr'"
    assert error_line("Error stream produced:\nKilled\n").startswith("killed by SIGKILL")


def test_a_multi_task_failure_names_the_task_that_failed_not_the_peers_that_lost_it(tmp_path):
    """When task 1 fails, task 0 dies of the lost connection; status shows task 1's cause."""
    from benchmark.runs.state import _last_error

    gloo = "RuntimeError: [/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [::1]:5"
    (tmp_path / "42_0_log.err").write_text(f"Traceback (most recent call last):\n{gloo}\n")
    (tmp_path / "42_1_log.err").write_text('Traceback (most recent call last):\n  File "a.py", line 1\n'
                                           "ValueError: label 7 is outside 0..1\n")
    (tmp_path / "42_2_log.err").write_text("")
    assert _last_error(str(tmp_path / "42_0_log.err")) == "task 1: ValueError: label 7 is outside 0..1"
    (tmp_path / "42_1_log.err").write_text(f"{gloo}\n")  # every task lost a peer: the first one's line, named
    assert _last_error(str(tmp_path / "42_0_log.err")) == f"task 0: {gloo}"
    (tmp_path / "7_0_log.err").write_text("KeyError: 'lr'\n")  # one task: its line as it is
    assert _last_error(str(tmp_path / "7_0_log.err")) == "KeyError: 'lr'"
    assert _last_error(str(tmp_path / "missing_0_log.err")) == ""
    (tmp_path / "77_3_0_log.err").write_text(f"{gloo}\n")  # job array 77, index 3: tasks 0 and 1
    (tmp_path / "77_3_1_log.err").write_text("OSError: disk full\n")
    (tmp_path / "77_30_1_log.err").write_text("KeyError: 'another array index'\n")
    assert _last_error(str(tmp_path / "77_3_0_log.err")) == "task 1: OSError: disk full"


@pytest.mark.parametrize("argv, message", [
    (["speed", "--batch", "abc"], "--batch: expected a whole number, got 'abc'"),
    (["speed", "--iters", "0"], "--iters: expected a number of at least 1, got 0"),
    (["rollout", "v.mp4", "--model", "vidtr_s_8x8", "--out", "o", "--fraction", "2"], "expected a number in (0, 1]"),
    (["launch", "--table", "smoke", "--cfg-options", "foo"], "--cfg-options: expected KEY=VALUE items, got ['foo']"),
])
def test_bad_numbers_on_the_command_line_name_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_unknown_names_and_unusable_paths_give_one_line(tmp_path):
    with pytest.raises(SystemExit, match="^vidtr-bench status: unknown table '9'; valid tables: 1, 2, .*smoke, demo$"):
        main(["status", "--table", "9"])
    with pytest.raises(SystemExit, match="^vidtr-bench speed: unknown model\\(s\\) \\['vidtr_xl'\\]"):
        main(["speed", "--models", "vidtr_xl"])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match=f"^vidtr-bench complexity: .*{blocker}"):  # --out under a file
        main(["complexity", "--table", "1", "--rows", "VidTr-S", "--out", str(blocker / "out"), "--quiet"])


@pytest.mark.parametrize("name, content, message", [
    ("w.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":", "not a readable .safetensors file"),
    ("w.npz", b"PK\x03\x04 truncated", "not a readable .npz file"),
    ("w.pth", b"\x80\x02garbage", "not a readable PyTorch checkpoint"),
])
def test_corrupt_checkpoints_of_every_format_are_named(tmp_path, name, content, message):
    from vidtr import CheckpointError, read_checkpoint

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"^{path}: {message}"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="is a directory"):
        read_checkpoint(tmp_path)


def test_two_launches_of_one_run_never_train_it_twice(tmp_path, smoke, monkeypatch):
    """Two executors race for the same run: one trains it, the other stops at the lock."""
    spec = smoke[0]
    started, release = threading.Event(), threading.Event()

    def slow_training(spec_, home, wd):
        started.set()
        release.wait(10)
        return {"run_id": spec_.run_id, "metrics": {}}

    monkeypatch.setattr(job, "_train_and_test", slow_training)
    results = {}
    first = threading.Thread(target=lambda: results.update(first=job.execute(spec, tmp_path)))
    first.start()
    assert started.wait(10)
    with pytest.raises(RunBusyError):
        job.execute(spec, tmp_path)
    release.set()
    first.join(10)
    assert results["first"]["run_id"] == spec.run_id
    assert len((run_dir(tmp_path, spec) / "attempts.log").read_text().splitlines()) == 1
    assert json.loads((run_dir(tmp_path, spec) / "run_spec.json").read_text())["row"] == spec.row


def test_on_slurm_a_dependent_of_a_run_queued_by_another_launch_waits_for_that_job(tmp_path, monkeypatch):
    import contextlib
    from types import SimpleNamespace

    from slurm import launcher as sl

    submitted = []

    class Executor:  # what submit_slurm asks of submitit's executor, recorded
        def __init__(self):
            self.params = {}

        def update_parameters(self, **kw):
            self.params.update(kw)

        def batch(self):
            return contextlib.nullcontext()

        def submit(self, *args):
            submitted.append(self.params)
            return SimpleNamespace(job_id=str(100 + len(submitted)))

    monkeypatch.setattr(sl, "_executor", lambda *a, **k: Executor())
    monkeypatch.setattr(sl, "check_partition", lambda *a, **k: None)
    ensemble = sl.Task("ens", "ens", print, (), depends_on=("m1", "m2"), light=True)
    jobs = sl.submit_slurm([ensemble], tmp_path, {"partition": "p"}, done={"m2"}, queued={"m1": "4242"})
    assert jobs["ens"].job_id == "101"
    assert submitted[0]["slurm_additional_parameters"] == {"dependency": "afterok:4242", "kill-on-invalid-dep": "yes"}


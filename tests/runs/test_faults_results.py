"""No number that did not come from a trained model (issue: divergence, empty training, lost
records, runs that others' tools overwrite), and the cases that used to end in a traceback or a
vague message: each test asserts the message or the recovery, not only that something failed."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.runs import job
from benchmark.runs.hooks import Diverged, FiniteLossHook
from benchmark.runs.launch import launch
from benchmark.runs.records import RECORD, read_record
from benchmark.runs.spec import run_dir
from benchmark.runs.state import error_line, failure_reason, status, update_manifest
from benchmark.runs.tables import build_table_data, table_runs
from slurm import launcher as sl
from vidtr.configs.data import ann_file


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The smoke table trained and tested once in this process (its two models and their ensemble);
    tests work on copies of this home."""
    home = tmp_path_factory.mktemp("finished") / "work"
    build_table_data("smoke", str(home / "data"))
    specs = table_runs("smoke", str(home / "data"))
    for spec in specs:
        job.execute(spec, home)
    return home


def _copy(finished, tmp_path) -> tuple[Path, list]:
    """A copy of the finished home, and the smoke specs pointing at its data."""
    home = tmp_path / "work"
    shutil.copytree(finished, home, symlinks=True)
    return home, table_runs("smoke", str(home / "data"))


def _quiet(*_):
    pass


# --- 1. divergence ---------------------------------------------------------------------------

def test_a_run_whose_loss_becomes_nan_fails_naming_epoch_and_iteration_and_writes_no_record(tmp_path):
    build_table_data("smoke", str(tmp_path / "data"))
    spec = table_runs("smoke", str(tmp_path / "data"), rows=["tiny VidTr"],
                      cfg_options={"optim_wrapper.optimizer.lr": 1e6})[0]
    with pytest.raises(Diverged, match=r"^diverged at epoch 1 iter \d+ \(loss (nan|inf)\)$"):
        job.execute(spec, tmp_path)
    assert read_record(tmp_path, spec) is None and not (run_dir(tmp_path, spec) / RECORD).exists()
    # what status and the launcher show: the bare reason, no class name
    assert failure_reason(Diverged("diverged at epoch 1 iter 3 (loss nan)")) == "diverged at epoch 1 iter 3 (loss nan)"


def test_the_finite_loss_hook_passes_finite_losses_and_stops_the_first_that_is_not():
    class Runner:
        epoch = 4

    hook = FiniteLossHook()
    hook.after_train_iter(Runner(), 0, outputs={"loss": torch.tensor(0.7)})
    hook.after_train_iter(Runner(), 1, outputs={})  # no loss logged: nothing to check
    with pytest.raises(Diverged, match=r"epoch 5 iter 8 \(loss inf\)"):
        hook.after_train_iter(Runner(), 7, outputs={"loss": torch.tensor(float("inf"))})


def test_non_finite_test_scores_are_never_recorded(tmp_path, monkeypatch):
    """A model can end with finite losses but NaN outputs: its scores fail the run, not a record of 50%."""
    wd = tmp_path
    preds = [dict(pred_score=torch.tensor([0.5, float("nan")]), gt_label=torch.tensor([0])),
             dict(pred_score=torch.tensor([0.2, 0.8]), gt_label=torch.tensor([1]))]
    import pickle

    (wd / "predictions.pkl").write_bytes(pickle.dumps(preds))
    with pytest.raises(Diverged, match="not finite for 1 of 2 videos: no record is written"):
        job._save_scores(wd, None, multi_class=False)
    assert not (wd / "scores.npz").exists()


# --- 2. a training config that trains nothing --------------------------------------------------

@pytest.mark.parametrize("option, shown", [("train_cfg.max_epochs=-1", "train_cfg.max_epochs=-1"),
                                           ("train_cfg.max_epochs=0", "train_cfg.max_epochs=0"),
                                           ("train_dataloader.batch_size=0", "train_dataloader.batch_size=0")])
def test_a_training_config_that_trains_nothing_is_refused_before_anything_starts(tmp_path, capsys, option, shown):
    with pytest.raises(SystemExit) as e:
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path / "w"), "--quiet", "--cfg-options", option])
    assert shown in str(e.value) and "expected a whole number >= 1" in str(e.value)
    assert not (tmp_path / "w" / "runs").exists()  # refused before any run directory was made
    with pytest.raises(SystemExit) as e:  # --dry-run says so too
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path / "w"), "--dry-run", "--cfg-options", option])
    assert shown in str(e.value)


# --- 3. a damaged record is re-tested by the next launch, local executor included ------------

@pytest.mark.slow
@pytest.mark.parametrize("damage", ["no metrics", "cut short"])
def test_a_damaged_record_is_tested_again_by_the_next_local_launch(finished, tmp_path, capsys, damage):
    home, specs = _copy(finished, tmp_path)
    spec = specs[0]
    for s in specs:  # as a finished launch leaves the manifest
        update_manifest(home, "smoke", s.run_id, executor="local", state="done")
    path = run_dir(home, spec) / RECORD
    text = path.read_text()
    if damage == "no metrics":
        data = json.loads(text)
        del data["metrics"]
        path.write_text(json.dumps(data))
    else:
        path.write_text(text[: len(text) // 2])
    rows = {r["run_id"]: r for r in status("smoke", specs, home)}
    assert rows[spec.run_id]["state"] == "failed" and "record is missing or was corrupt" in rows[spec.run_id]["error"]
    lines = []
    results = launch("smoke", specs, home, executor="local", progress=False, out=lines.append)
    assert list(results) == [spec.run_id] and not isinstance(results[spec.run_id], BaseException)
    rec = read_record(home, spec)
    assert rec is not None and rec["resumed_from"].endswith("epoch_2.pth")  # tested again, not retrained
    assert {r["state"] for r in status("smoke", specs, home)} == {"done"}
    assert len(list(run_dir(home, spec).glob("record.json.corrupt-*"))) == 1  # the damaged one is kept aside


# --- 4. a test list that names a video twice ---------------------------------------------------

def test_a_test_list_naming_a_video_twice_is_an_error_naming_both_lines(tmp_path):
    from benchmark.data.datasets import AnnotationError, read_list_file

    path = tmp_path / "val_list.txt"
    path.write_text("a.avi 0\nb.avi 1\na.avi 0\nb.avi 0\n")
    with pytest.raises(AnnotationError) as e:
        read_list_file(path, False, 2, max_errors=5, unique=True)
    assert f"{path}:3: video a.avi is listed again: first at line 1" in str(e.value)
    assert f"{path}:4: video b.avi is listed under another label (1 at line 2, 0 here)" in str(e.value)
    assert len(read_list_file(path, False, 2)) == 4  # a training list may repeat a video on purpose


def test_a_doubled_test_list_stops_the_run_before_training_and_check_data_says_it_cannot_run(tmp_path, capsys):
    from benchmark.data.datasets import AnnotationError

    build_table_data("smoke", str(tmp_path / "data"))
    val = Path(ann_file(str(tmp_path / "data"), "smoke", "val"))
    val.write_text(val.read_text() * 2)
    spec = table_runs("smoke", str(tmp_path / "data"), rows=["tiny VidTr"])[0]
    with pytest.raises(AnnotationError, match=r"_val_list_videos.txt:7: video val_000.avi is listed again: first at "
                                              r"line 1"):
        job.execute(spec, tmp_path)
    assert not list(run_dir(tmp_path, spec).glob("*.pth"))  # nothing trained
    assert main(["check-data", "--table", "smoke", "--workdir", str(tmp_path), "--data-root", str(tmp_path / "data"),
                 "--quiet", "--workers", "1"]) == 1
    out = capsys.readouterr().out
    assert "CANNOT RUN" in out and "listed again" in out and "1 list(s) cannot run" in out


# --- 5. others' tools never write into a run; a record whose scores changed is stale ----------

@pytest.mark.slow
def test_mmaction2_test_tool_on_a_runs_config_writes_nothing_into_the_run(finished, tmp_path):
    import mmaction

    home, specs = _copy(finished, tmp_path)
    spec = specs[0]
    wd = run_dir(home, spec)
    before = {p.name: p.stat().st_mtime_ns for p in wd.iterdir()}
    saved = (wd / "smoke.py").read_text()
    assert "work_dir" not in saved and "DumpResults" not in saved and str(wd) not in saved
    tools = Path(mmaction.__file__).parent / ".mim" / "tools"
    run = subprocess.run([sys.executable, str(tools / "test.py"), str(wd / "smoke.py"), str(wd / "epoch_2.pth")],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    assert {p.name: p.stat().st_mtime_ns for p in wd.iterdir()} == before  # the run's files untouched
    assert (tmp_path / "work_dirs" / "smoke").is_dir()  # the tool wrote where tools write by default
    assert [r["state"] for r in status("smoke", specs, home)] == ["done"] * 3


def test_a_record_whose_scores_file_changed_is_stale_not_done(finished, tmp_path):
    home, specs = _copy(finished, tmp_path)
    scores = run_dir(home, specs[0]) / "scores.npz"
    with np.load(scores) as z:
        data = {k: z[k] for k in z.files}
    data["scores"] = data["scores"][:, ::-1].copy()  # another tool's scores, same shape and size
    np.savez_compressed(scores, **data)
    row = status("smoke", specs, home)[0]
    assert row["state"] == "done (stale)" and f"its scores file {scores} changed" in row["error"]
    scores.unlink()
    row = status("smoke", specs, home)[0]
    assert row["state"] == "done (stale)" and "is missing" in row["error"]
    lines = []
    assert launch("smoke", specs, home, out=lines.append, progress=False) == {}  # never rerun silently
    assert any("STALE" in ln for ln in lines) and any("finished run(s) are stale" in ln for ln in lines)


# --- the badly handled cases -----------------------------------------------------------------

@pytest.mark.parametrize("seed", ["-1", "x"])
def test_a_bad_seed_is_refused_by_dry_run_naming_the_option(tmp_path, capsys, seed):
    with pytest.raises(SystemExit):
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path), "--dry-run", "--seed", seed])
    assert "argument --seed: expected a whole number >= 0" in capsys.readouterr().err


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory on a read-only file system (root ignores permission bits, so a mount is needed)."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)]).returncode != 0:
            pytest.skip("cannot mount a read-only tmpfs here")
        yield path
        subprocess.run(["umount", str(path)])
    else:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)


def test_unwritable_paths_are_one_line_naming_the_path(read_only_dir, tmp_path):
    cases = [(["launch", "--table", "smoke", "--workdir", str(read_only_dir / "work"), "--quiet"],
              str(read_only_dir / "work")),
             (["config", "--table", "smoke", "--row", "tiny VidTr", "--workdir", str(tmp_path),
               "--dump", str(read_only_dir / "x.py")], str(read_only_dir / "x.py"))]
    for argv, path in cases:
        with pytest.raises(SystemExit) as e:
            main(argv)
        message = str(e.value)
        assert message.startswith(f"vidtr-bench {argv[0]}: ") and path in message and "\n" not in message
        assert "Read-only file system" in message or "Permission denied" in message


def test_a_path_that_is_a_file_where_a_folder_is_expected_is_one_line(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SystemExit, match=f"dataset root {afile} is a file, not a directory"):
        main(["check-data", "--table", "2", "--data-root", str(afile), "--workdir", str(tmp_path)])
    monkeypatch.setenv("VIDTR_DATA_ROOT", str(afile))
    with pytest.raises(SystemExit, match=f"dataset root {afile} is a file, not a directory"):
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path / "w"), "--quiet"])
    with pytest.raises(SystemExit) as e:
        main(["rollout", "any.mp4", "--model", "vidtr_s_8x8", "--out", str(afile)])
    assert "vidtr-bench rollout:" in str(e.value) and "\n" not in str(e.value)


def test_a_relative_data_root_is_stored_absolute(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["launch", "--table", "smoke", "--rows", "tiny VidTr", "--workdir", "w", "--data-root", "d",
                 "--executor", "debug", "--quiet"]) == 0
    spec = table_runs("smoke", str(tmp_path / "d"), rows=["tiny VidTr"])[0]
    rec = read_record(tmp_path / "w", spec)
    assert rec["spec"]["data_root"] == str(tmp_path / "d")
    saved = (run_dir(tmp_path / "w", spec) / "smoke.py").read_text()
    assert f"'{ann_file(str(tmp_path / 'd'), 'smoke', 'val')}'" in saved


@pytest.mark.slow
def test_a_killed_local_run_says_it_was_killed(tmp_path, monkeypatch):
    """A training process killed with SIGKILL (an out-of-memory kill) leaves no traceback: the
    launcher says it was killed, not submitit's 'UncompletedJobError: Job ... _result.pkl'."""
    build_table_data("smoke", str(tmp_path / "data"))
    spec = table_runs("smoke", str(tmp_path / "data"), rows=["tiny VidTr"])[0]
    monkeypatch.setattr("benchmark.runs.launch._task", lambda s, home, waits: sl.Task(
        s.run_id, "killed", signal.raise_signal, (signal.SIGKILL,)))
    lines = []
    results = launch("smoke", [spec], tmp_path, out=lines.append, progress=False)
    assert isinstance(results[spec.run_id], Exception)
    said = [ln for ln in lines if ln.startswith(f"{spec.run_id}: failed: ")]
    assert said and "killed by a signal it cannot catch" in said[0] and "SIGKILL" in said[0]
    assert "UncompletedJobError" not in said[0]
    row = status("smoke", [spec], tmp_path)[0]
    assert row["state"] == "failed" and "killed by a signal it cannot catch" in row["error"]


def test_a_full_disk_is_said_plainly_even_when_it_cut_the_log_short():
    log = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
           "submitit ERROR (2026-12-03 19:53:00,183) - Could not dump error:\n[Errno 28] No space left on device\n"
           "  File \"/m/mmengine/dist/utils.py\", line 427, in wrapper\n    return func(*args, **kwargs)\n")
    assert error_line(log).startswith("no space left on device (the disk the run writes to is full")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["cut", "emptied"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_intact_one(finished, tmp_path, capsys, damage):
    home, specs = _copy(finished, tmp_path)
    spec = specs[0]
    wd = run_dir(home, spec)
    (wd / RECORD).unlink()  # as if the job died after saving epoch 2, before testing
    last = wd / "epoch_2.pth"
    assert (wd / "last_checkpoint").read_text().strip().endswith("epoch_2.pth")
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 3] if damage == "cut" else b"")
    rec = job.execute(spec, home)
    out = capsys.readouterr().out
    assert f"checkpoint {last} is damaged" in out and "resuming from epoch_1.pth, the newest intact checkpoint" in out
    assert rec["resumed_from"].endswith("epoch_1.pth") and np.isfinite(list(rec["metrics"].values())).all()
    assert list(wd.glob("epoch_2.pth.corrupt-*")) and (wd / "epoch_2.pth").exists()  # set aside; epoch 2 trained again
    assert "damaged" in (wd / "attempts.log").read_text()


@pytest.mark.parametrize("metrics", ['"top1"', '{"top1": "seventy"}', '{"top1": NaN}'])
def test_a_record_with_unusable_metrics_is_named_and_the_table_still_answers(finished, tmp_path, capsys, metrics):
    home, specs = _copy(finished, tmp_path)
    path = run_dir(home, specs[1]) / RECORD
    data = path.read_text()
    start = data.index('"metrics"')
    end = data.index("}", start) + 1
    path.write_text(data[:start] + f'"metrics": {metrics}' + data[end:])
    rows = status("smoke", specs, home)
    assert [r["state"] for r in rows] == ["done", "not launched", "done"]
    err = capsys.readouterr().err
    assert f"record {path} is corrupt" in err and "moved it to record.json.corrupt-" in err
    assert main(["report", "--table", "smoke", "--workdir", str(home)]) == 0  # the report answers for the table


def test_a_cut_scores_file_of_an_ensemble_member_is_named(finished, tmp_path):
    home, specs = _copy(finished, tmp_path)
    ensemble = specs[2]
    shutil.rmtree(run_dir(home, ensemble))
    scores = run_dir(home, specs[0]) / "scores.npz"
    scores.write_bytes(scores.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"scores file {scores} is damaged"):
        job.execute(ensemble, home)


def test_a_work_directory_moved_with_mv_stays_valid(finished, tmp_path):
    home, _ = _copy(finished, tmp_path)
    moved = tmp_path / "elsewhere"
    os.rename(home, moved)  # as `mv`
    specs = table_runs("smoke", str(moved / "data"))
    ensemble = specs[2]
    shutil.rmtree(run_dir(moved, ensemble))
    rec = job.execute(ensemble, moved)  # reads its members' scores through the moved directory
    assert rec["scores_file"] == str(run_dir(moved, ensemble) / "scores.npz")
    member = read_record(moved, specs[0])
    assert Path(member["scores_file"]).is_file() and Path(member["checkpoint"]).is_file()
    assert str(moved) in member["checkpoint"]


def test_report_out_over_an_earlier_table_outside_git_keeps_the_previous_version(finished, tmp_path, capsys):
    home, _ = _copy(finished, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "table_smoke.md").write_text("an earlier table\n")
    assert main(["report", "--table", "smoke", "--workdir", str(home), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "previous version is kept as table_smoke.md.previous" in said and "git history" not in said
    assert (out / "table_smoke.md.previous").read_text() == "an earlier table\n"


def test_launching_an_ensemble_row_alone_uses_its_finished_members(finished, tmp_path, capsys):
    home, specs = _copy(finished, tmp_path)
    member_records = [(run_dir(home, s) / RECORD).read_text() for s in specs[:2]]
    before = json.loads((run_dir(home, specs[2]) / RECORD).read_text())
    assert main(["launch", "--table", "smoke", "--rows", "tiny ensemble", "--workdir", str(home), "--force",
                 "--executor", "debug", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "depends on unfinished" not in out
    assert [(run_dir(home, s) / RECORD).read_text() for s in specs[:2]] == member_records  # members not rerun
    after = json.loads((run_dir(home, specs[2]) / RECORD).read_text())
    assert after["metrics"] == before["metrics"] and after["finished_at"] >= before["finished_at"]
    assert len(list(run_dir(home, specs[2]).glob("previous-*"))) == 1  # the ensemble alone moved aside
    assert not list(run_dir(home, specs[0]).glob("previous-*"))


# --- cases of the second probe (beyond the list) ----------------------------------------

@pytest.mark.parametrize("option, shown", [("model.backbone.nope=1", "unknown option(s) ['nope']"),
                                           ("model.backbone.num_frames=0", "'num_frames': 0")])
def test_a_bad_backbone_option_is_one_line_naming_it(tmp_path, option, shown):
    with pytest.raises(SystemExit) as e:
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path), "--dry-run", "--cfg-options", option])
    assert "model.backbone (arch 'vidtr_s_8x8'" in str(e.value) and shown in str(e.value)
    assert "\n" not in str(e.value)


def test_a_record_copied_into_another_runs_directory_is_named_not_shown(finished, tmp_path, capsys):
    home, specs = _copy(finished, tmp_path)
    shutil.copy(run_dir(home, specs[0]) / RECORD, run_dir(home, specs[1]) / RECORD)
    rows = status("smoke", specs, home)
    assert [r["state"] for r in rows] == ["done", "not launched", "done"]
    assert f"it is the record of run {specs[0].run_id}, not of run {specs[1].run_id}" in capsys.readouterr().err


def test_a_record_with_a_negative_video_count_is_named(finished, tmp_path, capsys):
    home, specs = _copy(finished, tmp_path)
    path = run_dir(home, specs[0]) / RECORD
    path.write_text(json.dumps(dict(json.loads(path.read_text()), num_test_videos=-5)))
    assert status("smoke", specs, home)[0]["state"] == "not launched"
    assert "'num_test_videos' is -5, expected a whole number >= 0" in capsys.readouterr().err


def test_a_local_run_whose_pid_now_belongs_to_another_program_is_not_running(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])  # alive, but not a Python process of ours
    try:
        spec = table_runs("smoke", str(tmp_path / "data"))[0]
        update_manifest(tmp_path, "smoke", spec.run_id, executor="local", state="running", job_id=str(sleeper.pid))
        row = status("smoke", [spec], tmp_path)[0]
        assert row["state"] == "failed" and "process ended without a record" in row["error"]
    finally:
        sleeper.kill()


def test_an_output_that_cannot_be_written_is_named_not_its_temporary_file(read_only_dir):
    from benchmark.files import atomic_write

    with pytest.raises(OSError) as e:
        atomic_write(read_only_dir / "table.md", "x")
    assert e.value.filename == str(read_only_dir / "table.md")


def test_force_never_moves_a_run_that_a_process_holds(finished, tmp_path):
    from benchmark.runs.state import run_lock

    home, specs = _copy(finished, tmp_path)
    wd = run_dir(home, specs[1])
    before = sorted(p.name for p in wd.iterdir())
    with run_lock(wd, specs[1].run_id):
        with pytest.raises(ValueError, match=f"--force: run {specs[1].run_id} is running \\(pid {os.getpid()}"):
            launch("smoke", specs, home, force={specs[1].run_id}, progress=False, out=_quiet)
    assert sorted(p.name for p in wd.iterdir()) == before  # nothing moved


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "'two'"])
def test_a_bad_torch_thread_count_is_refused_before_anything_starts(tmp_path, value):
    with pytest.raises(SystemExit) as e:
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path / "w"), "--quiet", "--cfg-options",
              f"env_cfg.torch_threads={value}"])
    assert "env_cfg.torch_threads=" in str(e.value) and "expected a whole number >= 1" in str(e.value)
    assert len(str(e.value).splitlines()) == 1 and not (tmp_path / "w" / "runs").exists()


def test_torch_threads_read_from_the_config():
    from mmengine.config import Config

    from benchmark.runs.config import torch_threads

    assert torch_threads(Config(dict(env_cfg=dict(dist_cfg=dict(backend="gloo")))), "x") is None
    assert torch_threads(Config(dict(env_cfg=dict(torch_threads=3))), "x") == 3
    with pytest.raises(ValueError, match=r"^run r: env_cfg.torch_threads=True: expected a whole number >= 1"):
        torch_threads(Config(dict(env_cfg=dict(torch_threads=True))), "run r")

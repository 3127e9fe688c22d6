"""Runs: table rows -> run specs with stable ids and dependencies; local launches; records."""
import json
import os
import time

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.runs.ensemble import average_scores
from benchmark.runs.identity import recipe_digest
from benchmark.runs.records import RECORD, read_record, stale_reason
from benchmark.runs.spec import CHECKPOINT_OF
from benchmark.runs.tables import build_table_data, table_runs


def stale(spec, record) -> bool:
    return bool(stale_reason(spec, record))


def _by_row(specs):
    return {s.row: s for s in specs}


def test_run_ids_are_stable_and_independent_of_the_data_root():
    a = table_runs("2", "/data/a")
    b = table_runs("2", "/elsewhere")
    assert [s.run_id for s in a] == [s.run_id for s in b]
    assert len({s.run_id for s in a}) == len(a)
    assert a[0].data_root == "/data/a"
    assert table_runs("2", "/x", seed=1)[0].run_id != a[0].run_id


def test_ensembles_depend_on_their_members_which_launch_first():
    specs = table_runs("2", "/d")
    order = [s.run_id for s in specs]
    en = _by_row(specs)["En-VidTr-S"]
    assert len(en.members) == 2 and en.depends_on == en.members
    assert all(order.index(m) < order.index(en.run_id) for m in en.members)
    member_models = {s.model for s in specs if s.run_id in en.members}
    assert member_models == {"vidtr_s_8x8", "i3d_r50_heavy"}
    # the VidTr-S member is the table's own VidTr-S run: scored once, reused
    assert _by_row(specs)["VidTr-S"].run_id in en.members


def test_fine_tuning_rows_start_from_their_kinetics400_run():
    specs = table_runs("5", "/d", rows=["VidTr-S"])
    k400, k700 = specs
    assert (k400.dataset, k700.dataset) == ("kinetics400", "kinetics700")
    assert k700.depends_on == (k400.run_id,)
    assert k700.overrides["load_from"] == f"{CHECKPOINT_OF}{k400.run_id}"
    assert k700.overrides["model.cls_head.num_classes"] == 700


def test_table6_rows_run_on_each_dataset_with_its_protocol():
    specs = [s for s in table_runs("6", "/d", rows=["VidTr-L"]) if s.dataset != "kinetics400"]
    by = {s.dataset: s for s in specs}
    assert set(by) == {"charades", "sthv2", "ucf101", "hmdb51"}
    assert by["charades"].overrides["model.cls_head.multi_class"] is True
    assert by["charades"].overrides["test_dataloader.dataset.multi_class"] is True
    ssv2_test = by["sthv2"].overrides["test_dataloader.dataset.pipeline"]
    assert ssv2_test[1]["type"] == "UniformSample" and not any(t["type"] == "ThreeCrop" for t in ssv2_test)


def test_single_pass_protocol_and_row_inputs_reach_the_pipelines():
    fast = _by_row(table_runs("A.1", "/d"))["F-VidTr-S"]
    pipe = fast.overrides["test_dataloader.dataset.pipeline"]
    assert fast.protocol == "single_pass"
    assert pipe[1] == dict(type="UniformSample", clip_len=8, num_clips=1, test_mode=True)
    assert any(t["type"] == "CenterCrop" for t in pipe)
    i3d = _by_row(table_runs("A.2", "/d"))["I3D50"]  # the zoo config samples 32x2; the row says 16x4
    sample = i3d.overrides["train_dataloader.dataset.pipeline"][1]
    assert (sample["clip_len"], sample["frame_interval"]) == (16, 4)


@pytest.mark.slow
def test_local_launch_writes_records_skips_finished_runs_and_keeps_old_ones_on_force(tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["launch", "--table", "smoke", "--workdir", str(work), "--quiet"]) == 0
    specs = table_runs("smoke", str(work / "data"))
    records = [read_record(work, s) for s in specs]
    for rec in records:
        assert set(rec["metrics"]) >= {"top1", "top5", "mean_class"}
        assert 0 <= rec["metrics"]["top1"] <= 100 and rec["num_test_videos"] == 6
        for key in ("config_hash", "code_version", "versions", "device", "wall_time_s", "scores_file", "finished_at"):
            assert rec[key] not in (None, ""), key
    assert not any(stale(s, r) for s, r in zip(specs, records))
    assert records[0]["recipe_digest"] == recipe_digest(specs[0]) and specs[0].run_id.endswith(
        recipe_digest(specs[0])[:10])
    assert records[0]["versions"]["mmengine"] == "0.10.7" and records[0]["checkpoint"].endswith("epoch_2.pth")
    # the ensemble's scores are the mean of its members' saved scores
    member = [np.load(r["scores_file"]) for r in records[:2]]
    ens = np.load(records[2]["scores_file"])
    np.testing.assert_allclose(ens["scores"], (member[0]["scores"] + member[1]["scores"]) / 2, rtol=1e-6)
    acc = 100 * np.mean(ens["scores"].argmax(1) == ens["labels"])
    assert records[2]["metrics"]["top1"] == pytest.approx(acc)
    assert set(records[2]["members"]) == {r["run_id"] for r in records[:2]}
    capsys.readouterr()

    assert main(["launch", "--table", "smoke", "--workdir", str(work), "--quiet"]) == 0
    assert "nothing to launch" in capsys.readouterr().out
    assert main(["status", "--table", "smoke", "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    assert out.count(" done ") == 3 and "top1=" in out

    first = json.loads((work / "runs" / specs[0].run_id / "record.json").read_text())
    assert main(["launch", "--table", "smoke", "--rows", "tiny VidTr", "--workdir", str(work), "--force",
                 "--quiet"]) == 0
    kept = list((work / "runs" / specs[0].run_id).glob("previous-*/record.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == first


def test_failed_run_is_reported_with_its_error(tmp_path, capsys):
    work, data = tmp_path / "work", tmp_path / "data"
    build_table_data("smoke", str(data))  # writes the clips
    (data / "smoke" / "smoke_val_list_videos.txt").write_text("val_000.avi 0\nval_001.avi\n")  # a malformed line
    assert main(["launch", "--table", "smoke", "--rows", "tiny VidTr", "--workdir", str(work),
                 "--data-root", str(data), "--quiet"]) == 1
    assert main(["status", "--table", "smoke", "--rows", "tiny VidTr", "--workdir", str(work),
                 "--data-root", str(data)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "smoke_val_list_videos.txt:2" in out


@pytest.mark.parametrize("argv,message", [
    (["launch", "--table", "9"], "unknown table '9'"),
    (["launch", "--table", "4b", "--rows", "nope", "--dry-run"], "no row 'nope'; valid rows"),
    (["launch", "--table", "smoke", "--rows", "nope"], "no row(s) ['nope']"),
    (["launch", "--table", "4b", "--data-root", "/no/such/root"], "dataset root /no/such/root does not exist"),
    (["launch", "--table", "4b", "--executor", "slurm", "--dry-run"], "needs --cluster"),
    (["launch", "--table", "4b", "--executor", "slurm", "--cluster", "nope", "--dry-run"], "profile 'nope' not found"),
])
def test_bad_launch_input_is_named(tmp_path, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv + ["--workdir", str(tmp_path)])
    assert message in str(e.value)


def test_cluster_profile_missing_a_key_is_named(tmp_path):
    prof = tmp_path / "mine.yaml"
    prof.write_text("partition: gpu\ngpus_per_node: 8\ncpus_per_task: 4\ntimeout_min: 60\n")
    with pytest.raises(SystemExit, match=r"mine.yaml: missing required key\(s\) \['mem_gb'\]"):
        main(["launch", "--table", "4b", "--executor", "slurm", "--cluster", str(prof), "--dry-run",
              "--workdir", str(tmp_path)])


def test_dry_run_prints_sbatch_parameters_and_submits_nothing(tmp_path, capsys):
    assert main(["launch", "--table", "2", "--rows", "VidTr-S", "En-VidTr-S", "--executor", "slurm",
                 "--cluster", "a100x8", "--dry-run", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "#SBATCH --partition=gpu" in out and "#SBATCH --gpus-per-node=8" in out
    assert "#SBATCH --ntasks-per-node=8" in out and "#SBATCH --account=my_account" in out
    ensemble = out.split("# ensemble-")[1]  # the ensemble waits for its members, on one CPU
    assert "#SBATCH --dependency='afterok:" in ensemble and "gpus-per-node" not in ensemble
    assert "#SBATCH --kill-on-invalid-dep=yes" in ensemble
    assert not (tmp_path / "2" / "launch.json").exists()


def test_ensemble_members_must_score_the_same_videos():
    a = dict(scores=np.ones((2, 3)), labels=np.array([0, 1]), videos=np.array(["a", "b"]))
    b = dict(scores=np.ones((2, 3)), labels=np.array([0, 1]), videos=np.array(["b", "a"]))
    with pytest.raises(ValueError, match="different videos"):
        average_scores([a, b])


def test_a_local_run_whose_process_died_shows_as_failed(tmp_path):
    from benchmark.runs.state import status, update_manifest

    spec = table_runs("smoke", str(tmp_path / "data"))[0]
    update_manifest(tmp_path, "smoke", spec.run_id, executor="local", state="running", job_id="999999999",
                     stderr=str(tmp_path / "none.err"))
    row = status("smoke", [spec], tmp_path)[0]
    assert row["state"] == "failed" and "without a record" in row["error"]


def test_a_run_in_flight_is_not_submitted_again_and_force_waits_for_it(tmp_path, capsys):
    import os

    from benchmark.runs.state import update_manifest

    spec = table_runs("smoke", str(tmp_path / "data"), rows=["tiny VidTr"])[0]
    update_manifest(tmp_path, "other-table", spec.run_id, executor="local", state="running", job_id=str(os.getpid()))
    assert main(["launch", "--table", "smoke", "--rows", "tiny VidTr", "--workdir", str(tmp_path), "--quiet"]) == 0
    assert "running (skipped)" in capsys.readouterr().out
    assert not (tmp_path / "runs" / spec.run_id / "record.json").exists()
    with pytest.raises(SystemExit, match="--force: run.* still \\['running'\\]; cancel them first"):
        main(["launch", "--table", "smoke", "--rows", "tiny VidTr", "--workdir", str(tmp_path), "--force"])


def test_a_resumed_fine_tuning_run_resumes_its_own_checkpoint(tmp_path, monkeypatch):
    """mmengine resumes from load_from when set: a requeued fine-tune must not restart from K400."""
    import mmengine.runner

    from benchmark.runs import job

    k400, k700 = table_runs("5", str(tmp_path), rows=["VidTr-S"])
    (tmp_path / "runs" / k400.run_id).mkdir(parents=True)
    (tmp_path / "runs" / k400.run_id / "record.json").write_text(
        json.dumps({"run_id": k400.run_id, "metrics": {}, "scores_file": "scores.npz",
                    "checkpoint": "/k400/epoch_50.pth"}))
    wd = tmp_path / "runs" / k700.run_id
    wd.mkdir(parents=True)
    torch.save({"state_dict": {}}, wd / "epoch_7.pth")  # an intact checkpoint: resumed from as it is
    (wd / "last_checkpoint").write_text(str(wd / "epoch_7.pth"))
    seen = {}

    class Stop(Exception):
        pass

    def fake_from_cfg(cfg):
        seen.update(resume=cfg.resume, load_from=cfg.load_from)
        raise Stop

    monkeypatch.setattr(mmengine.runner.Runner, "from_cfg", staticmethod(fake_from_cfg))
    monkeypatch.setattr(job, "check_annotations", lambda cfg: None)  # no Kinetics-700 lists here
    with pytest.raises(Stop):
        job.execute(k700, tmp_path)
    assert seen == {"resume": True, "load_from": str(wd / "epoch_7.pth")}
    (wd / "last_checkpoint").unlink()  # first attempt: starts from the Kinetics-400 checkpoint
    with pytest.raises(Stop):
        job.execute(k700, tmp_path)
    assert seen["load_from"] == "/k400/epoch_50.pth"


def test_multi_label_scores_keep_one_hot_targets(tmp_path):
    import pickle

    from benchmark.runs import job

    target = np.zeros(6)
    target[[3, 5]] = 1
    preds = [{"pred_score": np.full(6, 0.1), "gt_label": target}]
    (tmp_path / "predictions.pkl").write_bytes(pickle.dumps(preds))
    ds = type("D", (), {"data_list": [{"filename": "a.mp4"}]})()
    out = job._save_scores(tmp_path, ds, multi_class=True)
    assert out["labels"].tolist() == [[0, 0, 0, 1, 0, 1]]


def test_a_config_edit_makes_a_new_run_and_the_finished_one_is_kept_as_it_is(tmp_path, capsys):
    """A run is what it computes: editing a key its recipe holds makes another run (another id); the
    record of the run as it was stays where it is, never shown as the new run's result. An edit
    that its overrides replace, or moving the data, changes nothing."""
    from benchmark.runs.spec import RunSpec, run_dir
    from benchmark.runs.state import status

    config = tmp_path / "cfg.py"
    config.write_text("model = dict(type='Recognizer3D', depth=2)\ntrain_cfg = None\n")
    spec = RunSpec(table="t", row="r", model="m", config=str(config), dataset="kinetics400",
                   overrides={"model.depth": 3, "data": "{data_root}/k400"}, data_root=str(tmp_path / "a"))
    first_id = spec.run_id
    assert RunSpec(**dict(spec.to_dict(), data_root=str(tmp_path / "b"))).run_id == first_id  # data moved: same run
    run_dir(tmp_path, spec).mkdir(parents=True)
    np.savez(run_dir(tmp_path, spec) / "scores.npz", scores=np.eye(2), labels=np.arange(2), videos=np.array(["a", "b"]))
    record = dict(run_id=first_id, metrics={"top1": 50.0}, recipe_digest=recipe_digest(spec),
                  scores_file=str(run_dir(tmp_path, spec) / "scores.npz"))
    (run_dir(tmp_path, spec) / RECORD).write_text(json.dumps(record))
    assert not stale(spec, record) and status("t", [spec], tmp_path)[0]["state"] == "done"

    time.sleep(0.01)  # a new modification time: the parsed config is read again
    config.write_text("model = dict(type='Recognizer3D', depth=4)\ntrain_cfg = None\n")
    same = RunSpec(**spec.to_dict())
    assert same.run_id == first_id  # the edited key is overridden by the spec: the run is unchanged
    time.sleep(0.01)
    config.write_text("model = dict(type='Recognizer3D', depth=2, width=8)\ntrain_cfg = None\n")  # a real edit
    edited = RunSpec(**spec.to_dict())
    assert edited.run_id != first_id
    assert status("t", [edited], tmp_path)[0]["state"] == "not launched"
    assert stale(edited, record)  # the old record, read for the edited spec, is not what it computes now
    assert json.loads((run_dir(tmp_path, first_id) / RECORD).read_text()) == record  # kept as it was
    config.unlink()  # a config that is gone: status still answers
    assert status("t", [spec], tmp_path)[0]["state"] == "done (stale)"


def _write_entries(args):
    from benchmark.runs.state import update_manifest

    home, prefix = args
    for i in range(40):
        update_manifest(home, "t", f"{prefix}-{i}", state="submitted")


def test_concurrent_launchers_keep_every_manifest_entry(tmp_path):
    import multiprocessing

    from benchmark.runs.state import read_manifest

    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(_write_entries, [(tmp_path, p) for p in ("a", "b", "c")])
    assert len(read_manifest(tmp_path, "t")) == 120


def test_a_fine_tune_whose_kinetics_run_left_no_checkpoint_is_refused_by_name(tmp_path):
    from benchmark.runs.job import _resolve
    from benchmark.runs.spec import run_dir

    k400, k700 = table_runs("5", "/d", rows=["VidTr-S"])
    run_dir(tmp_path, k400).mkdir(parents=True)
    (run_dir(tmp_path, k400) / RECORD).write_text(json.dumps(dict(run_id=k400.run_id, metrics={}, checkpoint=None,
                                                                  scores_file="scores.npz")))
    with pytest.raises(FileNotFoundError, match=f"fine-tunes from run {k400.run_id}, which left no checkpoint"):
        _resolve(k700.overrides["load_from"], k700, tmp_path)
    ckpt = tmp_path / "epoch_1.pth"
    ckpt.write_bytes(b"x")
    record = dict(run_id=k400.run_id, metrics={}, checkpoint=str(ckpt), scores_file="scores.npz")
    (run_dir(tmp_path, k400) / RECORD).write_text(json.dumps(record))
    assert _resolve(k700.overrides["load_from"], k700, tmp_path) == str(ckpt)


def test_cfg_options_are_part_of_each_run_and_dependents_follow(tmp_path):
    base = table_runs("5", "", rows=["VidTr-S"])
    tuned = table_runs("5", "", rows=["VidTr-S"], cfg_options={"train_dataloader.batch_size": 6})
    again = table_runs("5", "", rows=["VidTr-S"], cfg_options={"train_dataloader.batch_size": 6})
    assert [s.run_id for s in tuned] == [s.run_id for s in again]  # the same options: the same runs
    assert not {s.run_id for s in tuned} & {s.run_id for s in base}  # other options: new runs, never a reuse
    k400, k700 = tuned
    assert all(s.overrides["train_dataloader.batch_size"] == 6 for s in tuned)
    assert k700.depends_on == (k400.run_id,) and k700.overrides["load_from"] == f"{CHECKPOINT_OF}{k400.run_id}"
    ens = table_runs("smoke", "", cfg_options={"train_cfg.max_epochs": 1})
    assert ens[2].members == (ens[0].run_id, ens[1].run_id) and "train_cfg.max_epochs" not in ens[2].overrides
    with pytest.raises(SystemExit, match="--cfg-options 'trian_cfg.max_epochs' names no top-level key of "
                                         "benchmark/configs/smoke.py"):
        main(["launch", "--table", "smoke", "--workdir", str(tmp_path), "--dry-run",
              "--cfg-options", "trian_cfg.max_epochs=3"])


def test_launch_wait_follows_runs_until_they_end_and_fails_if_one_did(tmp_path, monkeypatch):
    from benchmark.runs import launch as launch_module
    from benchmark.runs.state import update_manifest

    specs = table_runs("smoke", "")[:2]
    for s in specs:
        update_manifest(tmp_path, "smoke", s.run_id, executor="local", state="running", job_id=str(os.getpid()))
    looks = []

    def sleep(seconds):  # between looks: the first run finishes, the second fails
        looks.append(seconds)
        (tmp_path / "runs" / specs[0].run_id).mkdir(parents=True, exist_ok=True)
        np.savez(tmp_path / "runs" / specs[0].run_id / "scores.npz", scores=np.eye(2), labels=np.arange(2),
                 videos=np.array(["a", "b"]))
        (tmp_path / "runs" / specs[0].run_id / RECORD).write_text(
            json.dumps({"run_id": specs[0].run_id, "metrics": {"top1": 50.0}, "scores_file": "scores.npz"}))
        update_manifest(tmp_path, "smoke", specs[1].run_id, state="failed", error="ValueError: boom")

    monkeypatch.setattr(launch_module.time, "sleep", sleep)
    lines = []
    assert launch_module.wait("smoke", specs, tmp_path, poll_s=7, progress=False, out=lines.append) is False
    assert looks == [7] and lines == [f"{specs[1].run_id}: failed: ValueError: boom"]

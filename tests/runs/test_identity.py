"""A run is what it computes: one id for one computation whichever table or config name asks, and
finished runs of the earlier, path-derived ids found and never trained again."""
import json
import os
import re
import shutil

import pytest

from benchmark.cli import main
from benchmark.runs import job
from benchmark.runs.identity import legacy_run_id, recipe, run_id
from benchmark.runs.launch import launch
from benchmark.runs.records import RECORD, read_record
from benchmark.runs.spec import run_dir
from benchmark.runs.state import status
from benchmark.runs.tables import build_table_data, table_runs

VIDTR_S_ROWS = [("1", "VidTr-S"), ("2", "VidTr-S"), ("4a", "square 1x16^2"), ("4b", "temporal then spatial"),
                ("4c", "ViT-B")]


def _one(table, row, **kw):
    (spec,) = [s for s in table_runs(table, "", rows=[row], **kw) if s.row == row]
    return spec


def test_the_alias_rows_of_tables_1_2_4a_4b_4c_are_one_vidtr_s_run():
    specs = [_one(t, r) for t, r in VIDTR_S_ROWS]
    assert len({s.config for s in specs}) == 4  # four config names ...
    assert len({s.run_id for s in specs}) == 1  # ... one computation
    assert specs[0].run_id.startswith("vidtr-s-8x8-kinetics400-")
    assert _one("4d", "std topK pooling").run_id == _one("1", "C-VidTr-S").run_id
    assert _one("4b", "joint (vanilla)").run_id == _one("2", "Vanilla-Tr").run_id
    assert _one("4b", "spatial only").run_id != specs[0].run_id  # a different model is a different run


def _alone(table, row, dataset=None):
    return {s.run_id for s in table_runs(table, "", rows=[row]) if s.row == row and dataset in (None, s.dataset)}


def _members(table, row):
    (ens,) = [s for s in table_runs(table, "", rows=[row]) if s.row == row]
    return set(ens.members)


def test_ensemble_members_are_the_runs_of_the_rows_that_show_them_alone():
    """An ensemble's member at the input its table prints (A.2's 16x4, 6's and A.3's 32x4) is the
    run of the row showing that model alone: once the members took the config's interval (I3D 16x2,
    TPN 16x8, VidTr-L and CSN-152 32x2) and were six more trainings."""
    assert _members("A.2", "I3D50 + I3D101") == _alone("A.2", "I3D50") | _alone("A.2", "I3D101")
    assert _members("A.2", "TPN101 + I3D50") == _alone("A.2", "TPN101") | _alone("A.2", "I3D50")
    vidtr_l = _alone("6", "VidTr-L", "charades")
    assert _members("6", "En-VidTr-L") == vidtr_l | _alone("6", "I3D101", "charades")
    assert _members("A.3", "En-VidTr-L + CSN-152") == vidtr_l | _alone("A.3", "CSN-152 (reproduced)")
    assert _members("A.3", "En-I3D-101 + CSN-152") >= _alone("A.3", "CSN-152 (reproduced)")
    specs = table_runs("A.3", "")
    assert len({s.run_id for s in specs if s.model == "csn_ir152" and s.dataset == "charades"}) == 1


def test_what_does_not_change_the_computation_does_not_change_the_id():
    base = _one("1", "VidTr-S")
    same = [{"train_dataloader.num_workers": 2}, {"visualizer.vis_backends": [dict(type="LocalVisBackend")]},
            {"default_hooks.checkpoint.max_keep_ckpts": 1}, {"model.backbone.attn_impl": "math"},
            {"env_cfg.cudnn_benchmark": True}]
    for options in same:
        assert _one("1", "VidTr-S", cfg_options=options).run_id == base.run_id, options
    assert table_runs("1", "/data/a", rows=["VidTr-S"])[0].run_id == table_runs("1", "/b", rows=["VidTr-S"])[0].run_id
    other = [{"train_dataloader.batch_size": 6}, {"model.backbone.fidelity": "paper"},
             {"optim_wrapper.optimizer.lr": 0.02}, {"env_cfg.torch_threads": 1}]  # threads: CPU sums
    ids = {_one("1", "VidTr-S", cfg_options=o).run_id for o in other} | {_one("1", "VidTr-S", seed=1).run_id}
    assert len(ids) == 5 and base.run_id not in ids
    r = recipe(base)
    assert "work_dir" not in r["config"] and "ann_file" not in json.dumps(r["config"]["train_dataloader"])
    assert r["config"]["model"]["backbone"]["spec"]["num_frames"] == 8 and r["seed"] == 0


@pytest.fixture(scope="module")
def legacy_home(tmp_path_factory):
    """The smoke table finished by this version, then laid out as an earlier version left it: run
    directories named by the path-derived ids, records naming those ids and their members'."""
    home = tmp_path_factory.mktemp("legacy") / "work"
    build_table_data("smoke", str(home / "data"))
    specs = table_runs("smoke", str(home / "data"))
    for spec in specs:
        job.execute(spec, home)
    old = {}
    for spec in specs:
        members = tuple(old[m] for m in spec.members)
        old[spec.run_id] = legacy_run_id(spec, members)
        os.rename(run_dir(home, spec), run_dir(home, old[spec.run_id]))
        path = run_dir(home, old[spec.run_id]) / RECORD
        data = json.loads(path.read_text())
        data["run_id"] = old[spec.run_id]
        data["spec"].update(members=list(members), depends_on=list(members))
        path.write_text(json.dumps(data))
    return home, specs, old


def test_finished_runs_under_the_earlier_ids_are_adopted_and_not_trained_again(legacy_home, tmp_path, capsys):
    src, specs, old = legacy_home
    home = tmp_path / "work"
    shutil.copytree(src, home, symlinks=True)
    rows = status("smoke", specs, home)
    assert [r["state"] for r in rows] == ["done"] * 3
    err = capsys.readouterr().err
    for spec in specs:
        assert f"adopted finished run {old[spec.run_id]} as {spec.run_id}" in err
        assert run_dir(home, spec).is_symlink() and os.readlink(run_dir(home, spec)) == old[spec.run_id]
        rec = read_record(home, spec)
        assert rec["run_id"] == spec.run_id and rec["adopted_from"] == old[spec.run_id]
    lines = []
    assert launch("smoke", specs, home, out=lines.append, progress=False) == {}  # nothing trained again
    assert any("every run has a record" in ln for ln in lines)
    assert main(["report", "--table", "smoke", "--workdir", str(home)]) == 0
    out = capsys.readouterr().out
    top1 = read_record(home, specs[0])["metrics"]["top1"]
    assert re.search(rf"\|\s+{top1:.1f} \|", out)
    capsys.readouterr()
    status("smoke", specs, home)  # adopted once: nothing said again
    assert "adopted" not in capsys.readouterr().err


def test_an_earlier_run_of_another_recipe_is_not_adopted(legacy_home, tmp_path):
    src, specs, old = legacy_home
    home = tmp_path / "work"
    shutil.copytree(src, home, symlinks=True)
    path = run_dir(home, old[specs[0].run_id]) / RECORD
    data = json.loads(path.read_text())
    data["spec"]["overrides"]["train_cfg.max_epochs"] = 7  # it trained something else
    path.write_text(json.dumps(data))
    rows = {r["run_id"]: r["state"] for r in status("smoke", specs, home)}
    assert rows[specs[0].run_id] == "not launched" and rows[specs[1].run_id] == "done"
    assert not run_dir(home, specs[0]).exists() and path.exists()  # the earlier run is left as it is


def test_run_ids_are_readable_and_name_the_canonical_model():
    assert run_id(_one("4c", "ViT-B")).startswith("vidtr-s-8x8-kinetics400-")  # not vidtr-b16-8x8
    assert len(_one("1", "VidTr-S").run_id.rsplit("-", 1)[1]) == 10

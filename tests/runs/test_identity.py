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


def test_table_a3s_csn_152_ensembles_reuse_the_reproduced_csn_152_run():
    """Table A.3 shows CSN-152 alone at 32x4 and in two ensembles: one Charades training, not two
    (the members once took the config's 32x2 and were a second run of 463k clips)."""
    specs = table_runs("A.3", "")
    alone = _one("A.3", "CSN-152 (reproduced)")
    ensembles = [s for s in specs if s.members and "CSN-152" in s.row]
    assert len(ensembles) == 2 and all(alone.run_id in e.members for e in ensembles)
    assert len({s.run_id for s in specs if s.model == "csn_ir152" and s.dataset == "charades"}) == 1
    assert len({s.run_id for s in specs if s.model == "i3d_r101" and s.dataset == "charades"}) == 1


def test_what_does_not_change_the_computation_does_not_change_the_id():
    base = _one("1", "VidTr-S")
    same = [{"train_dataloader.num_workers": 2}, {"visualizer.vis_backends": [dict(type="LocalVisBackend")]},
            {"default_hooks.checkpoint.max_keep_ckpts": 1}, {"model.backbone.attn_impl": "math"}]
    for options in same:
        assert _one("1", "VidTr-S", cfg_options=options).run_id == base.run_id, options
    assert table_runs("1", "/data/a", rows=["VidTr-S"])[0].run_id == table_runs("1", "/b", rows=["VidTr-S"])[0].run_id
    other = [{"train_dataloader.batch_size": 6}, {"model.backbone.fidelity": "paper"},
             {"optim_wrapper.optimizer.lr": 0.02}]
    ids = {_one("1", "VidTr-S", cfg_options=o).run_id for o in other} | {_one("1", "VidTr-S", seed=1).run_id}
    assert len(ids) == 4 and base.run_id not in ids
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

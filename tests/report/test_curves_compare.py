"""Curves and comparisons of finished runs: TensorBoard files beside mmengine's scalar log,
`vidtr-bench curves` and `vidtr-bench compare` on the smoke table's runs."""
import json

import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.formatting import number
from benchmark.report import compare as cmp
from benchmark.report.curves import SCALARS, scalar_log
from benchmark.runs.records import read_record
from benchmark.runs.tables import table_runs


def _model_runs(home):
    specs = table_runs("smoke", str(home / "data"))[:2]  # tiny VidTr, tiny C-VidTr
    return specs, [read_record(home, s) for s in specs]


def test_a_smoke_run_writes_tensorboard_event_files_beside_the_scalar_log(smoke_home):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    specs, _ = _model_runs(smoke_home)
    for spec in specs:
        events = list((smoke_home / "runs" / spec.run_id).glob("*/vis_data/events.out.tfevents.*"))
        assert len(events) == 1, spec.run_id
        acc = EventAccumulator(str(events[0].parent))
        acc.Reload()
        logged = [json.loads(ln) for ln in next(events[0].parent.glob("scalars.json")).read_text().splitlines()]
        losses = [e["loss"] for e in logged if "loss" in e]
        tb = acc.Scalars("loss")
        assert len(tb) == len(losses) == 6  # 12 clips / batch 4 = 3 iterations x 2 epochs
        assert [round(e.value, 5) for e in tb] == [round(v, 5) for v in losses]


@pytest.mark.parametrize("table, row", [("2", "I3D50"), ("2", "TPN101"), ("1", "VidTr-S")])
def test_every_run_logs_to_tensorboard_once_the_zoo_baselines_too(table, row, tmp_path):
    """The baselines' zoo configs name LocalVisBackend only; a run of one logs to TensorBoard as
    ours do, and a config that already has it does not get a second one."""
    from benchmark.runs.config import load_config
    from benchmark.runs.job import build_config

    (spec,) = [s for s in table_runs(table, str(tmp_path / "data"), rows=[row]) if s.row == row]
    own = [b["type"] for b in load_config(spec.config).visualizer.vis_backends]
    backends = [b["type"] for b in build_config(spec, tmp_path / "home", resolve=False).visualizer.vis_backends]
    assert backends.count("TensorboardVisBackend") == 1 and "LocalVisBackend" in backends
    assert own == (backends if table == "1" else ["LocalVisBackend"])  # the zoo's, before


@pytest.mark.parametrize("given, overrides, expected", [
    (dict(type="LocalVisBackend"), {}, ["LocalVisBackend", "TensorboardVisBackend"]),  # one dict, as mmengine takes
    (None, {}, ["LocalVisBackend", "TensorboardVisBackend"]),  # none named: local (curves read it) and TensorBoard
    ([dict(type="TensorboardVisBackend")], {}, ["TensorboardVisBackend", "LocalVisBackend"]),
    ([dict(type="LocalVisBackend")], {"visualizer.vis_backends": [dict(type="LocalVisBackend")]}, ["LocalVisBackend"]),
])
def test_tensorboard_is_added_to_any_form_of_backends_but_never_over_the_users_overrides(given, overrides, expected):
    from mmengine.config import Config

    from benchmark.runs.job import with_tensorboard

    cfg = Config(dict(visualizer=dict(type="ActionVisualizer", vis_backends=given)))
    with_tensorboard(cfg, overrides)
    assert [b["type"] for b in cfg.visualizer.vis_backends] == expected
    bare = Config(dict())  # no visualizer at all: mmengine's default would log locally only
    with_tensorboard(bare, {})
    assert [b["type"] for b in bare.visualizer.vis_backends] == ["LocalVisBackend", "TensorboardVisBackend"]
    built = object()  # a visualizer object, not a config: left as it is
    cfg = Config(dict(visualizer=built))
    with_tensorboard(cfg, {})
    assert cfg.visualizer is built


def test_curves_reads_the_scalar_logs_and_draws_each_run(smoke_home, tmp_path, capsys):
    specs, _ = _model_runs(smoke_home)
    log = scalar_log(smoke_home / "runs" / specs[0].run_id)
    train = log[log["split"] == "train"]
    assert len(train) == 6 and train["epoch"].tolist() == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert train["top1_acc"].between(0, 100).all() and (train["top1_acc"] > 1).any()  # percent, not fractions
    assert main(["curves", specs[0].run_id, specs[1].run_id, "--workdir", str(smoke_home),
                 "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    for spec in specs:
        assert f"| {spec.run_id} " in out
    with Image.open(tmp_path / "c.png") as im:
        assert im.size[0] > 800
    assert (tmp_path / "c.pdf").stat().st_size > 1000


def test_compare_names_the_config_key_that_differs_and_both_runs_top1(smoke_home, tmp_path, capsys):
    specs, records = _model_runs(smoke_home)
    a, b = (s.run_id for s in specs)
    assert main(["compare", a, b, "--workdir", str(smoke_home), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    pool = next(ln for ln in out.splitlines() if ln.startswith("| model.backbone.pool "))
    assert [c.strip() for c in pool.strip("|").split("|")] == ["model.backbone.pool", "(absent)", "'std_topk'"]
    assert not any(ln.startswith("| work_dir ") for ln in out.splitlines())  # each run's own directory: no difference
    top1 = next(ln for ln in out.splitlines() if ln.startswith("| top1 "))
    ta, tb = records[0]["metrics"]["top1"], records[1]["metrics"]["top1"]
    assert [c.strip() for c in top1.strip("|").split("|")] == ["top1", number(ta, 2), number(tb, 2),
                                                               number(tb - ta, 2, sign=True)]
    written = (tmp_path / "compare.md").read_text()
    assert pool in written and top1 in written and "![curves](compare_curves.png)" in written
    with Image.open(tmp_path / "compare_curves.png") as im:
        assert im.size[0] > 800


def test_compare_mistakes_are_one_line(smoke_home):
    specs, _ = _model_runs(smoke_home)
    for args, message in ((["compare", specs[0].run_id], "compare needs two runs or more"),
                          (["compare", specs[0].run_id, "no-such-run"], "no run 'no-such-run'")):
        with pytest.raises(SystemExit) as e:
            main([*args, "--workdir", str(smoke_home)])
        assert message in str(e.value) and "\n" not in str(e.value)


def test_config_differences_and_flattening():
    a = {"model": {"backbone": {"depth": 2, "pool": None}}, "pipeline": [{"type": "A", "n": 1}], "x": (1, 2)}
    b = {"model": {"backbone": {"depth": 4}}, "pipeline": [{"type": "A", "n": 2}], "x": (1, 2)}
    diffs = cmp.config_differences({"a": cmp.flatten(a), "b": cmp.flatten(b)})
    assert diffs.set_index("key").to_dict("index") == {
        "model.backbone.depth": {"a": "2", "b": "4"}, "model.backbone.pool": {"a": "None", "b": "(absent)"},
        "pipeline.0.n": {"a": "1", "b": "2"}}


def test_scalar_log_joins_attempts_later_values_win_and_a_cut_last_line_is_skipped(tmp_path):
    first, second = tmp_path / "20260101_000000" / SCALARS, tmp_path / "20260102_000000" / SCALARS
    for p in (first, second):
        p.parent.mkdir(parents=True)
    line = lambda step, loss, epoch: json.dumps({"lr": 0.1, "loss": loss, "top1_acc": 0.5, "epoch": epoch,  # noqa: E731
                                                 "iter": step, "step": step})
    first.write_text("\n".join([line(1, 1.0, 1), line(2, 0.9, 1), line(3, 0.8, 2), '{"lr": 0.1, "lo']))
    second.write_text("\n".join([line(3, 0.7, 2), line(4, 0.6, 2), json.dumps({"acc/top1": 55.0, "step": 2})]))
    log = scalar_log(tmp_path)
    train = log[log["split"] == "train"]
    assert train["loss"].tolist() == [1.0, 0.9, 0.7, 0.6] and train["epoch"].tolist() == [0.5, 1.0, 1.5, 2.0]
    assert log.loc[log["split"] == "val", "acc/top1"].tolist() == [55.0]
    second.write_text(line(3, 0.7, 2) + "\nnot json\n" + line(4, 0.6, 2))
    with pytest.raises(ValueError, match=rf"{second}:2: not a JSON line"):
        scalar_log(tmp_path)

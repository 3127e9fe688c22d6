"""``vidtr-bench plan``: the distinct runs a selection needs, their order, and what they cost,
before any GPU hour. The counts come from the committed complexity CSV (the same fvcore counter):
nothing full-size is counted here."""
import io

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.measure import plan as pl
from benchmark.runs.tables import table_runs
from benchmark.tables.paper import TABLES
from slurm import launcher as sl


def _profile(tmp_path, **extra):
    keys = dict(dict(partition="gpu", gpus_per_node=8, cpus_per_task=8, mem_gb=400, timeout_min=720, nodes=8,
                     gpu_type="V100"), **extra)
    path = tmp_path / "p.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in keys.items() if v is not None))
    return path


def test_shared_runs_are_planned_once_with_every_table_that_shares_them(tmp_path):
    df = pl.plan(["1", "4b", "4c"], tmp_path, profile=sl.load_profile("v100x64"), progress=False)
    per_table = sum(len({s.run_id for s in table_runs(t, "")}) for t in ("1", "4b", "4c"))
    assert len(df) == df["run_id"].nunique() < per_table
    vidtr_s = df[df["model"] == "vidtr_s_8x8"].iloc[0]
    assert vidtr_s["tables"] == ["1", "4b", "4c"]
    # compute and time, recomputed: 246,245 clips x 50 epochs, 3x the forward count, 2 FLOPs per multiply-add
    assert vidtr_s["train_clips"] == 246_245 * 50
    assert vidtr_s["train_pflops"] == pytest.approx(3 * vidtr_s["gflops_train_clip"] * 246_245 * 50 * 2 / 1e6)
    gpu = pl.profile_gpu(sl.load_profile("v100x64"))
    seconds = (vidtr_s["train_pflops"] + vidtr_s["test_pflops"]) * 1e15 / (pl.PEAK_FRACTION * gpu.fp32_tflops * 1e12)
    assert vidtr_s["gpu_hours"] == pytest.approx(seconds / 3600)
    assert vidtr_s["wall_hours"] == pytest.approx(vidtr_s["gpu_hours"] / 64)
    assert vidtr_s["gpu_hours_source"].startswith("estimate:") and "fp32" in vidtr_s["gpu_hours_source"]
    assert "12 h on 64 V100 = 768 GPU-hours" in vidtr_s["paper"]
    assert f"estimate / paper = {vidtr_s['gpu_hours'] / 768:.2f}" in vidtr_s["paper"]


@pytest.mark.slow
def test_fine_tunes_come_after_their_kinetics_run_and_ensembles_after_their_members(tmp_path):
    df = pl.plan(["5"], tmp_path, progress=False)
    order = list(df["run_id"])
    for r in df.itertuples():
        assert all(order.index(d) < order.index(r.run_id) for d in r.depends_on)
    assert any(len(r.depends_on) == 1 for r in df.itertuples())  # a K700 fine-tune
    assert any(len(r.depends_on) == 2 for r in df.itertuples())  # the ensemble


def test_a_measured_throughput_replaces_the_estimate(tmp_path):
    results = tmp_path / "performance"
    results.mkdir()
    pd.DataFrame([dict(model="vidtr_s_8x8", device="cuda", throughput=100.0, batch=16, error=None),
                  dict(model="vidtr_s_8x8", device="cuda", throughput=120.0, batch=32, error=None)]).to_csv(
        results / "speed_train_bf16_cuda.csv", index=False)
    (results / "speed_train_bf16_cuda.md").write_text("# VidTr speed\n\n_device Tesla V100-SXM2-32GB; torch 2.14_\n")
    df = pl.plan(["1"], tmp_path, profile=sl.load_profile("v100x64"), progress=False, results=results)
    row = df[df["model"] == "vidtr_s_8x8"].iloc[0]
    assert row["gpu_hours"] == pytest.approx(246_245 * 50 / 120.0 / 3600)
    assert row["gpu_hours_source"].startswith("measured (speed_train_*_cuda.csv")
    assert df[df["model"] == "vidtr_m_16x4"].iloc[0]["gpu_hours_source"].startswith("estimate")


def test_done_runs_are_left_out_of_what_remains(tmp_path):
    from benchmark.runs.spec import run_dir

    spec = table_runs("1", "", rows=["VidTr-S"])[0]
    run_dir(tmp_path, spec).mkdir(parents=True)
    (run_dir(tmp_path, spec) / "scores.npz").write_bytes(b"")
    (run_dir(tmp_path, spec) / "record.json").write_text(
        '{"run_id": "%s", "metrics": {"top1": 1.0}, "scores_file": "scores.npz"}' % spec.run_id)
    df = pl.plan(["1"], tmp_path, profile=sl.load_profile("v100x64"), progress=False)
    t = pl.totals(df)
    done = df[df["done"]]
    assert list(done["run_id"]) == [spec.run_id]
    assert t["remaining"]["runs"] == t["all"]["runs"] - 1
    assert t["remaining"]["gpu_hours"] == pytest.approx(t["all"]["gpu_hours"] - done["gpu_hours"].sum())


def test_the_csv_has_a_line_per_run_then_the_totals(tmp_path, capsys):
    assert main(["plan", "--table", "4b", "--cluster", "a100x8", "--format", "csv", "--workdir", str(tmp_path),
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    df = pd.read_csv(io.StringIO(text))
    assert list(df.columns[:4]) == ["run_id", "tables", "gpu_hours", "gpu_hours_source"]
    runs, totals = df[~df["run_id"].str.startswith("TOTAL")], df[df["run_id"].str.startswith("TOTAL")]
    assert len(runs) == len(TABLES["4b"].rows) and list(totals["run_id"]) == ["TOTAL all", "TOTAL remaining"]
    assert totals["gpu_hours"].iloc[0] == pytest.approx(runs["gpu_hours"].sum(), abs=0.1)
    assert set(runs["tables"]) == {"4b"} and runs["gpu_hours_source"].str.contains("A100").all()


@pytest.mark.parametrize("argv, message", [
    (["plan", "--table", "9z"], "unknown table '9z'; valid tables: 1, 2, 3"),
    (["plan", "--table", "2", "--cluster", "local"], "has no gpu_type: the planner needs the GPU model; known: H200"),
])
def test_bad_input_is_one_line(argv, message, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(argv + ["--workdir", str(tmp_path)])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_an_unknown_gpu_type_is_one_line_naming_the_known_ones(tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["plan", "--table", "2", "--cluster", str(_profile(tmp_path, gpu_type="K80")), "--workdir",
              str(tmp_path)])
    assert "gpu_type = 'K80' is not a GPU the planner knows; known: H200, H100 PCIe, H100, A100" in str(e.value)


def test_every_paper_table_together_needs_fewer_runs_than_their_sum():
    """`plan --table all`'s run list: a run per distinct computation (87 today; the per-table lists hold more)."""
    ids = {s.run_id for t in TABLES for s in table_runs(t, "")}
    assert sum(len({s.run_id for s in table_runs(t, "")}) for t in TABLES) > len(ids) == 87

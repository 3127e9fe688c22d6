"""Reports from records made by the real run code: tables, provenance, LaTeX, figures, A.4."""
import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from benchmark import report as rp
from benchmark.cli import main
from benchmark.records import read_record, update_manifest
from benchmark.runs import table_runs


@pytest.fixture(scope="module")
def smoke_home(tmp_path_factory):
    work = tmp_path_factory.mktemp("report") / "work"
    assert main(["launch", "--table", "smoke", "--workdir", str(work), "--quiet"]) == 0
    return work


def test_report_shows_the_recorded_metrics_and_their_provenance(smoke_home, tmp_path):
    assert main(["report", "--table", "smoke", "--workdir", str(smoke_home), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "table_smoke.md").read_text()
    for spec in table_runs("smoke", str(smoke_home / "data")):
        rec = read_record(smoke_home, spec)
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {spec.row} "))
        assert f"| {rec['metrics']['top1']:.1f} " in line and f"| {rec['metrics']['mean_class']:.1f} " in line
        assert f"{spec.run_id} (config {rec['config_hash']}, code {rec['code_version']})" in md
    ens = read_record(smoke_home, table_runs("smoke", str(smoke_home / "data"))[2])
    assert "member 1 top-1" in md and len(ens["members"]) == 2
    with Image.open(tmp_path / "figure_smoke.png") as im:
        assert im.size[0] > 300 and im.size[1] > 200


def test_missing_runs_are_dashes_and_running_runs_say_so(tmp_path):
    specs = table_runs("4b", "")
    update_manifest(tmp_path, "4b", specs[1].run_id, executor="local", state="running", job_id=str(os.getpid()))
    df = rp.table_frame("4b", specs, tmp_path, complexity_dir=None)
    shown = rp.display(df)
    assert list(shown["top-1"]) == ["-", "running", "-", "-"]
    assert list(shown["top-1 (paper)"]) == ["74.7", "77.5?", "77.7", "77.7"]
    assert list(shown["top-1 diff"]) == ["-"] * 4


def test_ours_paper_and_difference_per_metric_from_complexity(tmp_path):
    cx = tmp_path / "cx"
    cx.mkdir()
    (cx / "table_4a.csv").write_text("row,gflops,gflops_paper_convention\ncubic 2x16^2,88.3,45.3\n"
                                     "square 1x32^2,40.0,23.1\n")
    df = rp.table_frame("4a", table_runs("4a", ""), tmp_path, complexity_dir=cx)
    shown = rp.display(df).set_index("model")
    assert shown.loc["cubic 2x16^2", "GFLOPs"] == "45.3" and shown.loc["cubic 2x16^2", "GFLOPs diff"] == "+0.3"
    assert shown.loc["square 1x32^2", "GFLOPs diff"] == "+2.1"
    assert shown.loc["cubic 4x16^2", "GFLOPs"] == "-"


def test_all_tables_ablation_page_and_figure3(smoke_home, tmp_path):
    assert main(["report", "--table", "all", "--workdir", str(smoke_home), "--out", str(tmp_path),
                 "--complexity", "results/complexity"]) == 0
    ablations = (tmp_path / "ablations.md").read_text()
    assert all(f"## Table {t}:" in ablations for t in rp.ABLATIONS)
    assert (tmp_path / "table_2.md").exists() and (tmp_path / "table_A3.md").exists()
    for ext in ("png", "pdf"):
        assert (tmp_path / f"figure3.{ext}").stat().st_size > 1000


def test_per_class_gain_from_saved_scores(smoke_home, tmp_path):
    specs = table_runs("smoke", str(smoke_home / "data"))
    a, b = (read_record(smoke_home, s) for s in specs[:2])
    gains = rp.per_class_gain(a, b, ["right", "left"], top=1)
    sa, sb = np.load(a["scores_file"]), np.load(b["scores_file"])
    for cls, idx in (("right", 0), ("left", 1)):
        m = sa["labels"] == idx
        expected = 100 * (np.mean(sa["scores"][m].argmax(1) == idx) - np.mean(sb["scores"][m].argmax(1) == idx))
        assert gains.set_index("class").loc[cls, "gain"] == pytest.approx(expected)
    assert main(["report", "--table", "A.4", "--workdir", str(smoke_home), "--runs", a["run_id"], b["run_id"],
                 "--out", str(tmp_path)]) == 0
    assert "per-class top-1" in (tmp_path / "table_A4.md").read_text()
    with Image.open(tmp_path / "figure_per_class.png") as im:
        assert im.size[0] > 200


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX engine on this machine")
def test_latex_table_compiles_standalone(smoke_home, tmp_path):
    assert main(["report", "--table", "smoke", "--format", "tex", "--workdir", str(smoke_home),
                 "--out", str(tmp_path)]) == 0
    body = (tmp_path / "table_smoke.tex").read_text()
    assert "\\toprule" in body and "\\bottomrule" in body
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + body + "\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000

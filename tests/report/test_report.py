"""Reports from records made by the real run code: tables, provenance, LaTeX, figures, A.4."""
import io
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.measure import complexity as ct
from benchmark.report import tables as rp
from benchmark.runs.records import read_record
from benchmark.runs.state import update_manifest
from benchmark.runs.tables import table_runs
from benchmark.tables.paper import TABLES


def test_report_shows_the_recorded_metrics_and_their_provenance(smoke_home, tmp_path):
    assert main(["report", "--table", "smoke", "--workdir", str(smoke_home), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "table_smoke.md").read_text()
    for spec in table_runs("smoke", str(smoke_home / "data")):
        rec = read_record(smoke_home, spec)
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {spec.row} "))
        assert f"{spec.run_id} (config {rec['config_hash']}, code {rec['code_version']})" in md
        # beside the accuracies: the videos the run was tested on, its total batch ('-' without one)
        header = [c.strip() for c in md.splitlines()[2].strip("|").split("|")]
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|"))))
        assert cells["top-1"] == f"{rec['metrics']['top1']:.1f}"
        assert cells["mean class acc."] == f"{rec['metrics']['mean_class']:.1f}"
        assert "---:|" in md.splitlines()[3]  # numbers right-aligned
        batch = rec.get("total_batch")
        assert cells["test videos"] == str(rec["num_test_videos"]) == "6"
        assert cells["total batch"] == (str(batch) if batch is not None else "-")
        assert header.index("mean class acc.") + 1 == header.index("test videos") == header.index("total batch") - 1
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
    assert list(shown["test videos"]) == ["-"] * 4 and list(shown["total batch"]) == ["-"] * 4


def test_table6_has_the_counts_of_each_datasets_run(tmp_path):
    shown = rp.display(rp.table_frame("6", table_runs("6", ""), tmp_path, complexity_dir=None))
    cols = list(shown.columns)
    for name, metric in (("Charades", "Charades mAP"), ("SSv2", "SSv2 top-1"), ("UCF", "UCF top-1"),
                         ("HMDB", "HMDB top-1")):
        assert cols.index(f"{metric} diff") + 1 == cols.index(f"{name} test videos")
        assert cols.index(f"{name} test videos") + 1 == cols.index(f"{name} total batch")


def test_table_4d_shows_each_rows_gflops_beside_its_accuracy(tmp_path):
    df = rp.table_frame("4d", table_runs("4d", ""), tmp_path, complexity_dir=Path("results/complexity"))
    shown = rp.display(df).set_index("model")
    assert list(shown.columns[1:3]) == ["GFLOPs", "top-1"]
    cx = pd.read_csv("results/complexity/table_4d.csv").set_index("row")["gflops_paper_convention"]
    for row in shown.index:
        assert shown.loc[row, "GFLOPs"] == f"{cx[row]:.1f}"
    assert shown.loc["std topK pooling", "GFLOPs"] != shown.loc["temporal average pooling", "GFLOPs"]
    md = rp.render(df, "md")
    assert "[1,3,5]" in md and "[1,3]" in md and "differ in compute" in md


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


TEX_PACKAGES = ("texlive-latex-base", "texlive-latex-recommended")  # pdflatex; booktabs is in -recommended


@pytest.fixture(scope="module")
def pdflatex():
    """pdflatex with booktabs: Debian's minimal TeX packages, installed when missing (as the Slurm
    tests install Slurm), so a table pasted into a paper is known to build."""
    def ready():
        kpse = shutil.which("kpsewhich")
        return shutil.which("pdflatex") and kpse and subprocess.run(
            [kpse, "booktabs.sty"], capture_output=True, text=True).stdout.strip()

    if not ready():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(f"no pdflatex with booktabs, and installing {' '.join(TEX_PACKAGES)} needs root and apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        t0 = time.time()
        if subprocess.run(["apt-cache", "show", *TEX_PACKAGES], capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
        run = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *TEX_PACKAGES],
                             capture_output=True, text=True, env=env, timeout=1200)
        if run.returncode != 0 or not ready():
            pytest.skip(f"apt-get install {' '.join(TEX_PACKAGES)} failed: {(run.stderr or run.stdout)[-300:]}")
        print(f"installed {' '.join(TEX_PACKAGES)} in {time.time() - t0:.0f} s")
    return shutil.which("pdflatex")


def _compile(pdflatex, tex: Path, body: str) -> None:
    """``body`` in a minimal article with booktabs (what the tables' header comment asks for) -> PDF."""
    doc = tex.with_suffix(".doc.tex")
    doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + body + "\n\\end{document}\n")
    run = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=doc.parent,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{tex.name}: " + run.stdout[-2000:]
    assert doc.with_suffix(".pdf").stat().st_size > 1000


def test_latex_table_compiles_standalone(smoke_home, tmp_path, pdflatex):
    assert main(["report", "--table", "smoke", "--format", "tex", "--workdir", str(smoke_home),
                 "--out", str(tmp_path)]) == 0
    body = (tmp_path / "table_smoke.tex").read_text()
    assert "\\toprule" in body and "\\bottomrule" in body
    _compile(pdflatex, tmp_path / "table_smoke.tex", body)


def test_every_report_and_complexity_latex_table_compiles(smoke_home, tmp_path, pdflatex):
    assert main(["report", "--table", "all", "--format", "tex", "--workdir", str(smoke_home), "--out",
                 str(tmp_path / "report"), "--complexity", "results/complexity"]) == 0
    written = sorted((tmp_path / "report").glob("*.tex"))
    assert {p.name for p in written} >= {"ablations.tex", "table_2.tex", "table_6.tex", "table_A3.tex"}
    for tex in written:
        _compile(pdflatex, tex, tex.read_text())
    # the complexity tables, rendered as `complexity --format tex` renders them, from the committed data
    csvs = [Path("results/complexity") / f"table_{tid.replace('.', '')}.csv" for tid in TABLES]
    assert len(csvs) == 14
    for csv in csvs:
        df = pd.read_csv(csv, keep_default_na=True)
        df["note"] = df["note"].fillna("")
        tex = tmp_path / "complexity" / f"{csv.stem}.tex"
        tex.parent.mkdir(exist_ok=True)
        tex.write_text(ct.render(df, "tex", f"Table {df['table'].iloc[0]} - complexity", "from the committed CSV"))
        _compile(pdflatex, tex, tex.read_text())


@pytest.mark.slow
def test_report_over_three_seeds_shows_mean_and_sd_recomputed_from_the_records(tmp_path, capsys):
    work = tmp_path / "work"
    assert main(["launch", "--table", "smoke", "--seeds", "0", "1", "2", "--workdir", str(work), "--executor", "debug",
                 "--quiet"]) == 0
    specs = table_runs("smoke", str(work / "data"), seeds=[0, 1, 2])
    assert len(specs) == 9 and len({s.run_id for s in specs}) == 9  # each seed a run of its own
    capsys.readouterr()
    assert main(["report", "--table", "smoke", "--seeds", "0", "1", "2", "--workdir", str(work)]) == 0
    md = capsys.readouterr().out
    for row in ("tiny VidTr", "tiny C-VidTr", "tiny ensemble"):
        values = [read_record(work, s)["metrics"]["top1"] for s in specs if s.row == row]
        mean, sd = np.mean(values), np.std(values, ddof=1)
        assert f"{mean:.1f} ± {sd:.1f} (3)" in md.split(f"| {row} ")[1].split("\n")[0], row
    assert main(["report", "--table", "smoke", "--seeds", "0", "1", "2", "--workdir", str(work), "--format",
                 "csv"]) == 0
    csv = pd.read_csv(io.StringIO(capsys.readouterr().out))
    top1 = csv[(csv["metric"] == "top1") & (csv["row"] == "tiny VidTr")]
    assert sorted(top1["seed"]) == [0, 1, 2] and len(set(top1["run_id"])) == 3  # every seed's value kept
    assert main(["report", "--table", "smoke", "--seeds", "0", "1", "2", "--workdir", str(work), "--format",
                 "tex"]) == 0
    assert "{\\pm}" in capsys.readouterr().out

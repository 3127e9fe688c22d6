"""What a reader sees: tables fit for a paper (aligned numbers, true minus signs, chosen rows and
columns, a footnote once), terminal columns that stay in line, figures whose labels, ticks and
legends can be read, one GFLOPs convention in `complexity` and `report`."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.formatting import numeric_columns, render_table, text_columns
from benchmark.measure import complexity as ct
from benchmark.report import figures
from benchmark.report import tables as rp
from benchmark.runs.tables import table_runs

SHOWN = pd.DataFrame({"model": ["A", "B_1"], "input": ["8x8", "(32+8)x2"], "GFLOPs": ["89.7", "-"],
                      "diff": ["-0.7", "+8.9"], "CI": ["11.5-16.3", "2.0-3.0"], "note": ["", ""]})


def test_number_columns_are_right_aligned_in_markdown_and_latex_with_true_minus_signs():
    assert numeric_columns(SHOWN) == [False, False, True, True, True, False]
    md = render_table(SHOWN, "md").splitlines()
    assert md[1] == "|:--------|:---------|---------:|-------:|----------:|:-------|"
    tex = render_table(SHOWN, "tex")
    assert tex.startswith("\\begin{tabular}{llrrrl}\n\\toprule\n")
    assert "A & 8x8 & 89.7 & $-$0.7 & 11.5--16.3 &  \\\\" in tex and "B\\_1 & (32+8)x2 & -- & $+$8.9" in tex
    assert "\\bottomrule" in tex and "\\midrule" in tex


def test_every_report_latex_table_right_aligns_its_number_columns(tmp_path):
    """(`test_report.py` compiles them.) Number columns are ``r`` and their negative cells carry a
    true minus sign, never a hyphen."""
    assert main(["report", "--table", "all", "--format", "tex", "--workdir", str(tmp_path / "w"),
                 "--out", str(tmp_path)]) == 0
    tabulars = [t for tex in tmp_path.glob("*.tex")
                for t in re.findall(r"\\begin\{tabular\}\{(\w+)\}\n\\toprule\n(.*?)\\end\{tabular\}", tex.read_text(),
                                    re.S)]
    assert len(tabulars) == 14 and any("$-$" in body for _, body in tabulars)
    for spec, body in tabulars:
        header, rows = body.split("\\midrule\n")
        columns = header.strip().removesuffix("\\\\").strip().split(" & ")
        assert len(spec) == len(columns) and spec[0] == "l"
        for col, align in zip(columns, spec):
            if col.startswith(("GFLOPs", "top-1", "top-5", "mAP", "test videos", "latency")):
                assert align == "r", col
        for line in rows.split("\\bottomrule")[0].strip().splitlines():
            cells = line.removesuffix("\\\\").split(" & ")
            assert not [c for c, a in zip(cells, spec) if a == "r" and re.match(r"\s*-\d", c)], line


def test_report_rows_and_columns_choose_what_is_shown(tmp_path, capsys):
    assert main(["report", "--table", "2", "--rows", "VidTr-S", "I3D50", "--columns", "top1", "input",
                 "--workdir", str(tmp_path)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["model", "top-1", "top-1 (paper)", "top-1 diff", "input"]
    assert [ln.split("|")[1].strip() for ln in lines[2:]] == ["I3D50", "VidTr-S"]  # the table's order
    for args, message in ((["--rows", "Nope"], "table 2 has no row(s) ['Nope']; valid rows: I3D50,"),
                          (["--columns", "nope"], "table 2 has no column 'nope'; valid: input, GFLOPs")):
        with pytest.raises(SystemExit) as e:
            main(["report", "--table", "2", *args, "--workdir", str(tmp_path)])
        assert message in str(e.value) and "\n" not in str(e.value)


def test_the_ablations_page_has_its_footnote_once(tmp_path):
    assert main(["report", "--table", "all", "--workdir", str(tmp_path / "w"), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "ablations.md").read_text()
    assert text.count(rp.FOOTNOTE) == 1 and text.count("## Table 4") == 6
    assert (tmp_path / "table_2.md").read_text().count(rp.FOOTNOTE) == 1


def test_terminal_columns_fit_the_longest_cell_and_cut_nothing(smoke_home, capsys):
    rows = [["ensemble-tiny-ensemble-smoke-12345678", "tiny ensemble", "vidtr_s_temporal_spatial_8x8", "x"],
            ["a", "b", "c", "free text"]]
    lines = text_columns(["run", "row", "model", "state"], rows).splitlines()
    starts = {ln.index(cell) for ln, cell in zip(lines, ["row", "tiny ensemble", "b"])}
    assert len(starts) == 1 and "vidtr_s_temporal_spatial_8x8" in lines[1]
    assert main(["status", "--table", "smoke", "--workdir", str(smoke_home)]) == 0
    out = capsys.readouterr().out.splitlines()
    specs = table_runs("smoke", str(smoke_home / "data"))
    assert max(len(s.run_id) for s in specs) > 34  # longer than the old fixed width
    column = out[0].index("state")
    assert all(ln[column:].startswith("done") for ln in out[1:])


def test_complexity_and_report_show_one_gflops_convention():
    """An ensemble with a VidTr: its VidTr member in the paper's convention plus the other by
    fvcore, in `complexity`'s 'paper conv.' and `report`'s 'GFLOPs' alike, and the same
    difference from the paper (the committed complexity CSV)."""
    cx = pd.read_csv("results/complexity/table_2.csv").set_index("row")
    df = rp.table_frame("2", table_runs("2", ""), Path("/nonexistent"), Path("results/complexity"))
    for label in ("En-VidTr-S", "VidTr-S", "I3D50"):
        cell = df.set_index("model").loc[label, "gflops"]
        row = cx.loc[label]
        shown = row["gflops_paper_convention"] if pd.notna(row["gflops_paper_convention"]) else row["gflops"]
        assert cell.ours == pytest.approx(shown)
        assert 100 * cell.diff / cell.paper == pytest.approx(row["diff_pct"])
    assert abs(cx.loc["En-VidTr-S", "diff_pct"]) < 5  # 131.3 vs the paper's 130
    text = ct.render(cx.reset_index().assign(note=""), "md", "t", "e")
    line = next(ln for ln in text.splitlines() if ln.startswith("| En-VidTr-S "))
    assert "131.3" in line


def _captured(monkeypatch):
    """The figure a drawing function saves, kept open for inspection."""
    kept = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem: kept.append(fig) or [])
    return kept


def _boxes(fig, artists):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def test_figure3_labels_do_not_overlap_and_axes_name_unit_and_dataset(monkeypatch, tmp_path):
    kept = _captured(monkeypatch)
    df = rp.table_frame("2", table_runs("2", ""), tmp_path, Path("results/complexity"))
    figures.accuracy_flops_figure(df, tmp_path / "f")
    fig = kept[0]
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text() in set(df["model"])]
    assert len(labels) >= 20
    boxes = _boxes(fig, labels)
    overlaps = [(labels[i].get_text(), labels[j].get_text()) for i in range(len(boxes))
                for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    assert overlaps == []
    assert ax.get_ylabel() == "top-1 (%), Kinetics-400" and "GFLOPs" in ax.get_xlabel()
    legends = [c for c in ax.get_children() if type(c).__name__ == "Legend"]
    assert {lg.get_title().get_text() for lg in legends} == {"model", "marker size: latency"}
    assert any(t.get_text().endswith(" ms") for lg in legends for t in lg.get_texts())  # the size scale
    axes_box = _boxes(fig, [ax])[0]
    assert all(not b.overlaps(axes_box) for b in _boxes(fig, legends))  # outside the data


def test_demo_figure_legends_clear_the_bars_and_the_memory_axis_has_readable_ticks(monkeypatch, tmp_path):
    from benchmark.demo import page
    from benchmark.demo.table import SECTIONS

    kept = _captured(monkeypatch)
    rows = []
    for key in SECTIONS:
        for i, name in enumerate(["a", "b", "c"]):
            rows.append(dict(table=key, model=f"{name} {key}", top1_mean=30.0 + i, top1_ci_low=25.0 + i,
                             top1_ci_high=97.0, order_pairs_mean=50.0, order_pairs_ci_low=46.0,
                             order_pairs_ci_high=99.0))
    memory = pd.DataFrame({"frames": [8, 16, 32], "joint (vanilla)": [2.6, 8.2, 28.2],
                           "temporal then spatial": [2.3, 4.4, 9.0], "spatial only": [1.6, 3.2, 6.3]})
    memory["joint / separable"] = memory["joint (vanilla)"] / memory["temporal then spatial"]
    data = {task: {"classes": list(range(7))} for task, _ in SECTIONS.values()}
    page.figure(pd.DataFrame(rows), memory, tmp_path / "figure", data)
    fig = kept[0]
    bars, mem = fig.axes[:2], fig.axes[2]
    legend_boxes = _boxes(fig, fig.legends)
    assert len(fig.legends) == 2 and not any(ax.get_legend() for ax in fig.axes)
    for box in legend_boxes:  # below every panel: clear of the last bar and its error bar
        assert all(not box.overlaps(b) for b in _boxes(fig, fig.axes))
    ticks = [t.get_text() for t in mem.get_yticklabels() if t.get_text()]
    lo, hi = mem.get_ylim()
    shown = [float(t) for t in ticks if lo <= float(t) <= hi]
    assert len(shown) >= 3 and "(MB)" in mem.get_ylabel()
    assert all("%" in ax.get_xlabel() for ax in bars)


def test_log_axis_labels_several_ticks_within_one_decade():
    plt, _ = figures.use_style()
    fig, ax = plt.subplots()
    ax.plot([60, 550], [1, 2])
    figures.log_axis(ax, "x")
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert labels == ["100", "200", "500"]
    plt.close(fig)
    assert np.isfinite(lo)

"""Complexity: fvcore with SDPA counted, the paper's FLOPs convention, tables and the CLI."""
import pytest
import torch
from conftest import tiny
from torch import nn

import vidtr
from benchmark.cli import main
from benchmark.measure import complexity as ct
from benchmark.measure import flops as cx
from benchmark.measure.memory import train_step_peak_memory_gb
from benchmark.tables import catalogue


@pytest.mark.parametrize("name,paper", [("vidtr_s_8x8", 89), ("vidtr_m_16x4", 179), ("cvidtr_s_8x8", 39),
                                        ("vidtr_s_cubic2x16_8x8", 45)])
def test_paper_convention_count_matches_the_paper(name, paper):
    backbone = vidtr.build_backbone(name)
    clip = torch.randn(1, 3, backbone.spec.num_frames, 224, 224)
    got = cx.count_paper_convention(backbone, clip)
    assert abs(got / paper - 1) < 0.03, got


def test_full_count_of_vidtr_s_is_well_above_the_paper_convention():
    model = vidtr.build_recognizer("vidtr_s_8x8")
    x = catalogue.get("vidtr_s_8x8").view(8, 224)
    full = cx.count_flops(cx.ScoresOf(model), x).gflops
    assert full > 1.5 * cx.count_paper_convention(model.backbone, x[:, 0]) and full > 1.5 * 89


def test_sdpa_is_counted_like_the_materialised_attention():
    kw = tiny("vanilla_tr_8x8", drop_rate=0.0, attn_drop_rate=0.0)
    x = torch.randn(1, 3, 8, 32, 32)
    fused = cx.count_flops(vidtr.build_backbone("vanilla_tr_8x8", attn_impl="sdpa", **kw), x)
    maps = cx.count_flops(vidtr.build_backbone("vanilla_tr_8x8", attn_impl="math", **kw), x)
    assert fused.gflops == pytest.approx(maps.gflops, rel=1e-6)
    # attention products are a visible part of the count: 12 layers x 2 x L^2 x D, L = 33 tokens
    linear_only = cx.count_flops(vidtr.build_backbone("vanilla_tr_8x8", **kw), x).gflops - 12 * 2 * 33 * 33 * 32 / 1e9
    assert fused.gflops > linear_only * 0.999 and not any("scaled_dot" in op for op in fused.unsupported)


def test_an_unknown_operator_is_reported_by_name():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, dim=-1) @ x.transpose(-1, -2)

    count = cx.count_flops(Odd(), torch.randn(2, 4, 4))
    assert count.unsupported["aten::cumsum"] == 1 and count.gflops > 0


def test_table_rows_off_by_more_than_five_percent_are_listed():
    df = ct.complexity_frame("1", ["C-VidTr-S", "C-VidTr-M"], progress=False)
    assert list(df["row"]) == ["C-VidTr-S", "C-VidTr-M"]
    assert set(ct.COLUMNS) <= set(df.columns)
    off = ct.off_by_more(df)
    assert list(off["row"]) == ["C-VidTr-M"]  # the released C-VidTr-M counts ~46, the paper prints 59
    md = ct.render(df, "md", "t", "env")
    assert "- C-VidTr-M (table 1): -2" in md and "| C-VidTr-S" in md
    tex = ct.render(df, "tex", "t", "env")
    assert "\\toprule" in tex and "C-VidTr-M" in tex


def test_ensemble_rows_add_their_members():
    df = ct.complexity_frame("2", ["VidTr-S", "I3D50", "En-VidTr-S"], progress=False).set_index("row")
    en = df.loc["En-VidTr-S"]
    i3d8 = ct.measure_view("i3d_r50_heavy", 8, 256, 400, ct.Options()).gflops
    assert en["gflops"] == pytest.approx(df.loc["VidTr-S", "gflops"] + i3d8)
    assert en["model"] == "vidtr_s_8x8 + i3d_r50_heavy"
    assert df.loc["I3D50", "gflops"] > 3 * i3d8  # 32 frames vs 8
    # compared with the paper as VidTr's paper-convention count + the I3D's fvcore count: 89.7 + 41.6 vs 130
    assert abs(en["diff_pct"]) < 3


def test_fvcore_counts_agree_with_mmaction2s_published_flops():
    """mmaction2's metafile counts these configs at 256x256: I3D-heavy 166.3G, SlowFast-R50 8x8 66.1G."""
    assert ct.measure_view("i3d_r50_heavy", 32, 256, 400, ct.Options()).gflops == pytest.approx(166.3, rel=0.01)
    assert ct.measure_view("slowfast_r50_8x8", 32, 256, 400, ct.Options()).gflops == pytest.approx(66.1, rel=0.01)


def test_paper_only_rows_are_dashes_not_invented_values():
    df = ct.complexity_frame("2", ["TEA50"], progress=False)
    assert df["gflops"].isna().all() and df["paper_gflops"].iloc[0] == 70
    assert "paper's numbers only" in df["note"].iloc[0]


def test_cli_writes_tables_and_names_bad_input(tmp_path, capsys):
    assert main(["complexity", "--table", "4e", "--rows", "[0,2]", "--format", "md", "--out", str(tmp_path),
                 "--latency", "--iters", "1", "--warmup", "0", "--quiet"]) == 0
    md = (tmp_path / "table_4e.md").read_text()
    csv = (tmp_path / "table_4e.csv").read_text().splitlines()
    assert "[0,2]" in md and "latency (ms)" in md and "cpu" in md
    assert csv[0].startswith("table,row,model,input,res,views,gflops,gflops_total,gflops_paper_convention,paper_gflops")
    with pytest.raises(SystemExit, match="unknown table '7'.*valid tables"):
        main(["complexity", "--table", "7"])
    with pytest.raises(SystemExit, match="no row 'nope'; valid rows: \\[0,2\\]"):
        main(["complexity", "--table", "4e", "--rows", "nope"])
    with pytest.raises(SystemExit, match="needs --device cuda|add --device cuda"):
        main(["complexity", "--table", "4b", "--memory"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_training_memory_on_gpu_separable_below_joint():
    clip = torch.randn(1, 3, 8, 224, 224)
    dev = torch.device("cuda")
    joint = train_step_peak_memory_gb(vidtr.build_backbone("vidtr_s_joint_8x8", attn_impl="math"), clip, dev)
    sep = train_step_peak_memory_gb(vidtr.build_backbone("vidtr_s_8x8", attn_impl="math"), clip, dev)
    assert sep < joint

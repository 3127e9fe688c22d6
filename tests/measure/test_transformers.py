"""The video-transformer table: every row built and counted, the module-hook counter against
the VidTr paper, metafile values read from the installed wheel, rows that cannot be built."""
import hashlib

import pandas as pd
import pytest
import torch
import yaml
from conftest import tiny
from torch import nn

import baselines
import vidtr
from benchmark.cli import main
from benchmark.measure import flops as cx
from benchmark.measure import transformers as tt
from benchmark.measure.complexity import Options
from benchmark.tables import catalogue

# A reduced size per row (backbone overrides, frames, resolution): the same architecture and
# code paths at a small input, so that every row is built and counted in seconds.
REDUCED = {
    "mvit_s_16x4": (dict(spatial_size=64, temporal_size=4), 4, 64),
    "mvit_b_32x3": (dict(spatial_size=64, temporal_size=4), 4, 64),
    "videomae_b_16x4": (dict(img_size=64, num_frames=4), 4, 64),
    "videomae_l_16x4": (dict(img_size=64, num_frames=4), 4, 64),
    "videomaev2_s_16x4": (dict(img_size=64, num_frames=4), 4, 64),
    "videomaev2_b_16x4": (dict(img_size=64, num_frames=4), 4, 64),
    "uniformer_s_16x4": (dict(), 4, 64),
    "uniformer_b_16x4": (dict(), 4, 64),
    "uniformerv2_b16_u8": (dict(input_resolution=64, t_size=4), 4, 64),
    "swin_t_32x2": (dict(), 4, 64),
    "swin_s_32x2": (dict(), 4, 64),
    "swin_b_32x2": (dict(), 4, 64),
    "timesformer_divst": (dict(img_size=64, num_frames=4), 4, 64),
    "timesformer_jointst": (dict(img_size=64, num_frames=4), 4, 64),
    "timesformer_spaceonly": (dict(img_size=64, num_frames=4), 4, 64),
}


def _reduced(name: str):
    """(recognizer, inputs) of a row at its reduced size."""
    entry = catalogue.get(name)
    if entry.is_vidtr:
        kw = tiny(name)
        return vidtr.build_recognizer(name, num_classes=7, **kw), entry.view(res=kw["img_size"])
    overrides, frames, res = REDUCED[name]
    cfg = baselines.baseline_cfg(name, num_classes=7)
    cfg["backbone"].update(overrides)
    return vidtr.build(cfg), entry.view(frames, res)


def test_every_row_has_a_reduced_size_and_a_wheel_config():
    assert set(tt.ROWS) - {n for n in tt.ROWS if catalogue.get(n).is_vidtr} == set(REDUCED)
    for name in tt.ROWS:
        if not catalogue.get(name).is_vidtr:
            assert (baselines.wheel_config_dir() / baselines.zoo_config(name)).is_file()


@pytest.mark.parametrize("name", tt.ROWS)
def test_every_row_builds_and_is_counted_at_a_reduced_size(name):
    model, x = _reduced(name)
    scores = cx.ScoresOf(model.eval())
    full = cx.count_flops(scores, x)
    hooks = cx.count_module_hooks(scores, x)
    assert full.gflops > 0 and 0 < hooks.gflops <= full.gflops * (1 + 1e-9)
    with torch.no_grad():
        out = scores(x)
    assert out.shape == (1, 7) and torch.isfinite(out).all()
    rec = tt.describe(name)  # input, views and published figures of the full-size row
    assert rec["views"] >= 1 and rec["published_top1"] > 70


@pytest.mark.slow
@pytest.mark.parametrize("name,paper,frames", [("vidtr_s_8x8", 89, 8), ("vidtr_m_16x4", 179, 16)])
def test_module_hook_counter_and_the_vidtr_papers_figures(name, paper, frames):
    """On the released structure (attention projections as raw weights) the hooks see the stem
    and the MLPs only; over patch tokens that is the paper's 89 / 179, over every position it
    adds the class-token row and column of the (T+1) x (N+1) grid."""
    backbone = vidtr.build_backbone(name, attn_impl="released")
    clip = torch.randn(1, 3, frames, 224, 224)
    hooks = cx.count_module_hooks(backbone, clip)
    patches = hooks.recount(cx.vidtr_patch_positions(backbone)).gflops
    assert abs(patches / paper - 1) < 0.01, patches
    assert patches == pytest.approx(cx.count_paper_convention(backbone, clip), rel=1e-9)
    n, mlp = 196, 2 * 768 * 3072
    assert hooks.gflops - patches == pytest.approx(12 * ((frames + 1) * (n + 1) - frames * n) * mlp / 1e9, rel=1e-9)
    assert sorted(hooks.uncalled) == sorted(f"blocks.{i}.attn.{p}" for i in range(12) for p in ("qkv", "proj"))
    assert set(hooks.by_type) == {"Conv3d", "Linear"}


@pytest.mark.parametrize("name", ["vidtr_s_8x8", "cvidtr_s_8x8", "vanilla_tr_8x8"])
def test_one_pass_gives_both_counts_and_the_released_structure_counts_as_the_fast_path(name):
    kw = tiny(name)
    x = catalogue.get(name).view(res=kw["img_size"])
    released = cx.ScoresOf(vidtr.build_recognizer(name, attn_impl="released", **kw))
    full, hooks = cx.count_flops_and_module_hooks(released, x)
    assert full.gflops == pytest.approx(cx.count_flops(released, x).gflops, rel=1e-12)
    assert hooks.gflops == pytest.approx(cx.count_module_hooks(released, x).gflops, rel=1e-12)  # not twice
    fast = cx.ScoresOf(vidtr.build_recognizer(name, **kw))
    assert cx.count_flops(fast, x).gflops == pytest.approx(full.gflops, rel=1e-12)
    assert cx.count_module_hooks(fast, x).gflops > hooks.gflops  # the fast path's projections are nn.Linear


def test_multihead_attention_is_counted_in_its_fast_path():
    """fvcore alone counts 0 for nn.MultiheadAttention(batch_first=True) in eval mode."""
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(32, 4, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

    x = torch.randn(1, 10, 32)
    assert cx.count_flops(Wrap().eval(), x).gflops * 1e9 == 10 * 4 * 32 * 32 + 2 * 10 * 10 * 32
    hooks = cx.count_module_hooks(Wrap(), x)
    assert hooks.gflops == 0 and hooks.uncalled == ["mha.out_proj"]
    assert torch.backends.mha.get_fastpath_enabled()  # restored


class _Odd(nn.Module):
    """A recognizer-shaped module with an operator fvcore does not know (cumsum)."""

    def __init__(self):
        super().__init__()
        self.cls_head = nn.Linear(8, 7)

    def extract_feat(self, inputs, test_mode=True):
        return inputs.flatten(1).cumsum(-1)[:, :8], {}


def test_an_unknown_operator_is_named(monkeypatch):
    monkeypatch.setattr(catalogue.Model, "build", lambda self, num_classes=400: _Odd())
    rec = tt.measure_row("timesformer_spaceonly", Options(iters=1, warmup=0))
    assert "aten::cumsum x1" in rec["unsupported_ops"] and rec["gflops"] > 0
    df = pd.DataFrame([rec]).reindex(columns=tt.COLUMNS)
    df.attrs["unsupported_ops"] = dict(rec["_unsupported"])
    assert "aten::cumsum x1" in tt.render(df, "md", "env")


def test_a_row_that_cannot_be_built_is_listed_with_the_reason(monkeypatch):
    def refuse(name, num_classes=400):
        raise RuntimeError(f"{name} would download https://example.invalid/weights.pth")

    monkeypatch.setattr(baselines, "build_baseline", refuse)
    rec = tt.measure_or_reason("swin_t_32x2", Options(iters=1, warmup=0))
    assert rec["note"] == "not measured: RuntimeError: swin_t_32x2 would download https://example.invalid/weights.pth"
    assert "gflops" not in rec and rec["published_gflops"] == 88  # the row is still listed, with what was published
    md = tt.render(pd.DataFrame([rec]).reindex(columns=tt.COLUMNS), "md", "env")
    assert "| swin_t_32x2" in md and "not measured: RuntimeError" in md


def _metafiles() -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((baselines.wheel_config_dir() / "recognition").glob("*/metafile.yml"))}


def test_metafile_values_are_read_from_the_installed_wheel():
    before = _metafiles()
    for name in tt.ROWS:
        if catalogue.get(name).is_vidtr:
            continue
        zoo = baselines.zoo_config(name)
        meta = yaml.safe_load((baselines.wheel_config_dir() / zoo).with_name("metafile.yml").read_text())
        entry = next(m for m in meta["Models"] if m["Name"] == zoo.split("/")[-1][:-3])
        pub = tt.published(name)
        assert pub.top1 == float(entry["Results"][0]["Metrics"]["Top 1 Accuracy"])
        flops = entry["Metadata"].get("FLOPs")
        assert pub.gflops == (float(flops.rstrip("G")) if flops else None)
        assert pub.source.endswith(entry["Name"]) and pub.views == catalogue.get(name).views
    assert (tt.published("swin_t_32x2").gflops, tt.published("swin_t_32x2").top1) == (88.0, 78.9)
    assert tt.published("timesformer_divst").params_m == 122.0
    vt = tt.published("vidtr_s_8x8")
    assert (vt.gflops, vt.top1, vt.views, vt.source) == (89.0, 77.7, 30, "VidTr paper, Table 2: VidTr-S")
    assert _metafiles() == before  # nothing in the wheel changed


def test_findings_name_the_rankings_that_change():
    df = pd.DataFrame([
        dict(model="a", family="VidTr", gflops=158.4, gflops_video=4752.0, views=30, published_gflops=89.0,
             published_top1=77.7, module_hook_fraction=0.64, gflops_paper_convention=89.7),
        dict(model="b", family="TimeSformer", gflops=140.7, gflops_video=422.0, views=3, published_gflops=141.0,
             published_top1=76.9, module_hook_fraction=0.64),
        dict(model="c", family="MViT", gflops=64.5, gflops_video=322.0, views=5, published_gflops=64.0,
             published_top1=80.6, module_hook_fraction=0.93),
    ]).reindex(columns=tt.COLUMNS)
    text = "\n".join(tt.findings(df))
    assert "a 89 < b 141 published, but 158.4 > 140.7 counted" in text
    assert "between 0.64 (a) and 0.93 (c)" in text
    assert "per view (no other row is both cheaper and more accurate): c." in text


def test_cli_writes_the_transformers_table(tmp_path):
    assert main(["complexity", "--table", "transformers", "--rows", "cvidtr_s_8x8", "--format", "tex",
                 "--out", str(tmp_path), "--iters", "1", "--quiet"]) == 0
    csv = pd.read_csv(tmp_path / "transformers.csv")
    for col in ("model", "family", "config", "input", "views", "gflops", "gflops_module_hook", "params_m",
                "latency_ms", "published_gflops", "published_top1", "note"):
        assert col in csv.columns
    row = csv.iloc[0]
    assert row["model"] == "cvidtr_s_8x8" and row["views"] == 30 and row["latency_ms"] > 0
    assert row["gflops_paper_convention"] == pytest.approx(39.8, abs=0.1) and row["published_gflops"] == 39
    assert "\\toprule" in (tmp_path / "transformers.tex").read_text()
    assert (tmp_path / "transformers_accuracy_gflops.png").stat().st_size > 0
    with pytest.raises(SystemExit, match="unknown model.*valid rows: mvit_s_16x4"):
        main(["complexity", "--table", "transformers", "--rows", "resnet_xxl"])

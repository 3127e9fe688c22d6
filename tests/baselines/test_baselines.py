"""Baselines: mmaction2 zoo configs, inherited, buildable, never downloading."""
import pytest
import torch
from mmengine.config import Config

import baselines
from benchmark.measure import flops as cx
from benchmark.tables import catalogue

ALL = baselines.list_baselines()


@pytest.mark.parametrize("name", ALL)
def test_baseline_inherits_a_zoo_config_and_runs(name):
    b = baselines.get_baseline(name)
    text = b.config_path.read_text()
    chain = [b.config_path]
    while "mmaction::" not in text:  # local configs chain to one that inherits the wheel's zoo config
        base = text.split("_base_ = '")[1].split("'")[0]
        chain.append(chain[-1].parent / base)
        text = chain[-1].read_text()
    cfg = Config.fromfile(str(b.config_path))
    pretrained = [v for k, v in cfg.model.backbone.items() if "pretrained" in k and isinstance(v, str)]
    assert pretrained == [], f"{name} would download {pretrained}"
    model = baselines.build_baseline(name, num_classes=7).eval()
    # TimeSformer's and UniFormerV2's position tables are for 224
    res = 224 if name.startswith(("timesformer", "uniformerv2")) else 64
    with torch.no_grad():
        scores = cx.ScoresOf(model)(catalogue.get(name).view(res=res))
    assert scores.shape == (1, 7) and torch.isfinite(scores).all()


def test_depth_overrides_make_deeper_models():
    r50 = Config.fromfile(str(baselines.get_baseline("i3d_r50").config_path)).model.backbone
    r101 = Config.fromfile(str(baselines.get_baseline("i3d_r101").config_path)).model.backbone
    assert (r50.depth, r101.depth) == (50, 101)
    n50 = cx.params_m(baselines.build_baseline("i3d_r50"))
    n101 = cx.params_m(baselines.build_baseline("i3d_r101"))
    assert n101 > n50 + 15


def test_timesformer_counts_as_its_paper_reports():
    """A fellow transformer through the same counter: TimeSformer divST 8x224, 196 GFLOPs."""
    model = baselines.build_baseline("timesformer_divst")
    flops = cx.count_flops(cx.ScoresOf(model), catalogue.get("timesformer_divst").view(8, 224))
    assert abs(flops.gflops / 196 - 1) < 0.03, flops.gflops


def test_unknown_baseline_lists_valid_names():
    with pytest.raises(KeyError, match="valid names: .*i3d_r50"):
        baselines.get_baseline("i3d_r18")
    with pytest.raises(KeyError, match="baselines: .*x3d_m"):
        catalogue.build("resnet_xxl")

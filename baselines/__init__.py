"""The models the paper compares against, from mmaction2's own model-zoo configs.

Each name has a config under ``baselines/configs/`` that inherits the zoo config shipped
inside the mmaction2 wheel (``mmaction::recognition/...``) and overrides only what the
zoo lacks (depth 101, X3D sizes) or what would download weights. No model code here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class Baseline:
    name: str
    frames: int  # frames one view feeds the model (SlowFast: the fast pathway's)
    res: int = 224
    kind: str = "3d"  # "3d": (N, views, C, T, H, W) clips; "2d": (N, segments, C, H, W) frames (TSM)
    config: str = ""  # config file stem; defaults to the name

    @property
    def config_path(self) -> Path:
        return CONFIG_DIR / f"{self.config or self.name}.py"


BASELINES = {b.name: b for b in [
    Baseline("i3d_r50", 32), Baseline("i3d_r101", 32), Baseline("i3d_r50_heavy", 32), Baseline("i3d_r101_heavy", 32),
    Baseline("i3d_nl50_heavy", 32), Baseline("i3d_nl101_heavy", 32), Baseline("i3d_nl50", 32), Baseline("i3d_nl101", 32),
    Baseline("slowfast_r50_8x8", 32), Baseline("slowfast_r101_8x8", 32),
    Baseline("slowfast_r101_16x8", 64, config="slowfast_r101_8x8"),
    Baseline("tpn_r50", 32), Baseline("tpn_r101", 32),
    Baseline("x3d_m", 16), Baseline("x3d_l", 16, res=312), Baseline("x3d_xl", 16, res=312),
    Baseline("csn_ip152", 32), Baseline("csn_ir152", 32),
    Baseline("tsm_r50", 8, kind="2d"), Baseline("timesformer_divst", 8),
]}


def list_baselines() -> list[str]:
    return sorted(BASELINES)


def get_baseline(name: str) -> Baseline:
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; valid names: {', '.join(list_baselines())}")
    return BASELINES[name]


def baseline_cfg(name: str, num_classes: int = 400) -> dict:
    """The mmaction2 ``model`` config of a baseline, with ``num_classes`` set."""
    import vidtr  # noqa: F401  (the mmaction2 import shim)
    from mmengine.config import Config

    model = Config.fromfile(str(get_baseline(name).config_path)).model.to_dict()
    model["cls_head"]["num_classes"] = num_classes
    return model


def build_baseline(name: str, num_classes: int = 400):
    """The baseline's mmaction2 recognizer, randomly initialised (weights: load_from a local file)."""
    from vidtr import build

    return build(baseline_cfg(name, num_classes))

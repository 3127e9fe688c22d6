"""The models the paper compares against, from mmaction2's own model-zoo configs.

Each name has a config under ``baselines/configs/`` that inherits the zoo config shipped
inside the mmaction2 wheel (``mmaction::recognition/...``) and overrides only what the
zoo lacks (depth 101, X3D sizes) or what would download weights. No model code here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class Baseline:
    """A baseline name and its config; the view it takes is read from the config's test
    pipeline (``benchmark.catalogue``)."""
    name: str
    config: str = ""  # config file stem; defaults to the name
    clip_len: Optional[int] = None  # feeds the config's model a longer clip than its pipeline's

    @property
    def config_path(self) -> Path:
        return CONFIG_DIR / f"{self.config or self.name}.py"


BASELINES = {b.name: b for b in [
    Baseline("i3d_r50"), Baseline("i3d_r101"), Baseline("i3d_r50_heavy"), Baseline("i3d_r101_heavy"),
    Baseline("i3d_nl50_heavy"), Baseline("i3d_nl101_heavy"), Baseline("i3d_nl50"), Baseline("i3d_nl101"),
    Baseline("slowfast_r50_8x8"), Baseline("slowfast_r101_8x8"),
    Baseline("slowfast_r101_16x8", config="slowfast_r101_8x8", clip_len=64),  # slow pathway 16 frames
    Baseline("tpn_r50"), Baseline("tpn_r101"), Baseline("x3d_m"), Baseline("x3d_l"), Baseline("x3d_xl"),
    Baseline("csn_ip152"), Baseline("csn_ir152"), Baseline("tsm_r50"), Baseline("timesformer_divst"),
    # the video transformers after VidTr (benchmark/transformers_table.py)
    Baseline("timesformer_jointst"), Baseline("timesformer_spaceonly"), Baseline("mvit_s_16x4"),
    Baseline("mvit_b_32x3"), Baseline("videomae_b_16x4"), Baseline("videomae_l_16x4"), Baseline("videomaev2_s_16x4"),
    Baseline("videomaev2_b_16x4"), Baseline("uniformer_s_16x4"), Baseline("uniformer_b_16x4"),
    Baseline("uniformerv2_b16_u8"), Baseline("swin_t_32x2"), Baseline("swin_s_32x2"), Baseline("swin_b_32x2"),
]}


def list_baselines() -> list[str]:
    return sorted(BASELINES)


def get_baseline(name: str) -> Baseline:
    if name not in BASELINES:
        raise KeyError(f"unknown baseline {name!r}; valid names: {', '.join(list_baselines())}")
    return BASELINES[name]


def zoo_config(name: str) -> str:
    """The mmaction2 zoo config a baseline inherits (through local configs), as
    ``recognition/<family>/<config>.py`` under the wheel's config directory."""
    path = get_baseline(name).config_path
    while True:
        match = re.search(r"^_base_\s*=\s*['\"]([^'\"]+)['\"]", path.read_text(), re.MULTILINE)
        if match is None:
            raise ValueError(f"{path} inherits no mmaction2 zoo config")
        if match.group(1).startswith("mmaction::"):
            return match.group(1).split("::", 1)[1]
        path = path.parent / match.group(1)


def wheel_config_dir() -> Path:
    """The zoo configs (and their ``metafile.yml``) shipped inside the installed mmaction2 wheel."""
    import mmaction

    return Path(mmaction.__file__).parent / ".mim" / "configs"


def baseline_cfg(name: str, num_classes: int = 400) -> dict:
    """The mmaction2 ``model`` config of a baseline, with ``num_classes`` set."""
    from mmengine.config import Config

    import vidtr  # noqa: F401  (the mmaction2 import shim)

    model = Config.fromfile(str(get_baseline(name).config_path)).model.to_dict()
    model["cls_head"]["num_classes"] = num_classes
    return model


def build_baseline(name: str, num_classes: int = 400):
    """The baseline's mmaction2 recognizer, randomly initialised (weights: load_from a local file)."""
    from vidtr import build

    return build(baseline_cfg(name, num_classes))

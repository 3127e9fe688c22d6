"""Named VidTr configurations (Table 1, Table 2's Vanilla-Tr, one per Table 4 row) and builders.

A configuration is a partial :class:`~vidtr.vidtr.VidTrSpec`; ``build_backbone(name,
**overrides)`` fills in the rest. The mmaction2 config files under ``vidtr/configs/``
select these by name (``backbone=dict(type='VidTr', arch=NAME)``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

from .vidtr import VidTrSpec

VIT_B16 = dict(embed_dims=768, depth=12, num_heads=12, mlp_ratio=4.0, patch_size=16)
VIT_L16 = dict(embed_dims=1024, depth=24, num_heads=16, mlp_ratio=4.0, patch_size=16)
# T2T-ViT-14 sized: width 384, 14 layers, 6 heads, MLP ratio 3. Simplified: a plain
# 16x16 patch stem replaces T2T's tokens-to-token module (soft split + small
# transformers), so FLOPs are lower than the paper's T2T row and T2T weights do not load.
T2T_14 = dict(embed_dims=384, depth=14, num_heads=6, mlp_ratio=3.0, patch_size=16)

# (clip_len, frame_interval) of the released data pipelines, keyed by model-name suffix
INPUTS = {"8x8": (8, 8), "16x4": (16, 4), "32x2": (32, 2)}

_S = dict(VIT_B16, num_frames=8)
_CS = dict(_S, pool="std_topk")
MODELS: dict[str, dict[str, Any]] = {
    # Table 1 / 2 / 3
    "vidtr_s_8x8": _S,
    # released: the 16-frame model adds the positional embedding in every layer
    "vidtr_m_16x4": dict(VIT_B16, num_frames=16, pos_every_layer=True),
    "vidtr_l_32x2": dict(VIT_B16, num_frames=32),
    # released C-VidTr-S config; Table 1 prints [1,2,4] -> [6,4,2]
    "cvidtr_s_8x8": dict(_CS, pool_layers=(1, 3, 5), pool_keep=(6, 4, 2)),
    "cvidtr_m_16x4": dict(VIT_B16, num_frames=16, pool="std_topk", pool_layers=(1, 2, 4), pool_keep=(8, 4, 2)),
    "cvidtr_l_32x2": dict(VIT_B16, num_frames=32, pool="std_topk", pool_layers=(1, 2, 4, 6), pool_keep=(16, 8, 4, 2)),
    "vanilla_tr_8x8": dict(_S, temporal_mode="joint"),
    # Table 4a: patching (VidTr-S)
    "vidtr_s_cubic4x16_8x8": dict(_S, tubelet_size=4),
    "vidtr_s_cubic2x16_8x8": dict(_S, tubelet_size=2),
    "vidtr_s_square1x16_8x8": _S,
    "vidtr_s_square1x32_8x8": dict(_S, patch_size=32),
    # Table 4b: temporal modelling (VidTr-S)
    "vidtr_s_spatial_only_8x8": dict(_S, temporal_mode="spatial_only"),
    "vidtr_s_joint_8x8": dict(_S, temporal_mode="joint"),
    "vidtr_s_temporal_spatial_8x8": _S,
    "vidtr_s_spatial_temporal_8x8": dict(_S, temporal_mode="spatial_temporal"),
    # Table 4c: backbone / initialisation
    "vidtr_t2t14_8x8": dict(_S, **T2T_14),
    "vidtr_b16_8x8": _S,
    "vidtr_l16_8x8": dict(_S, **VIT_L16),
    # Table 4d: down-sampling method (C-VidTr-S). Stride-2 pooling cannot keep 6 of 8
    # frames, so avg and conv1d halve T twice at layers 1 and 3 (8 -> 4 -> 2).
    "cvidtr_s_avgpool_8x8": dict(_S, pool="avg", pool_layers=(1, 3), pool_keep=(4, 2)),
    "cvidtr_s_conv1d_8x8": dict(_S, pool="conv1d", pool_layers=(1, 3), pool_keep=(4, 2)),
    "cvidtr_s_stdtopk_8x8": dict(_CS, pool_layers=(1, 3, 5), pool_keep=(6, 4, 2)),
}
# Table 4e (layers k, k+2) and 4f (layer 1 and 1+gap): std-topK, T 8 -> 4 -> 2
for _a, _b in [(0, 2), (1, 3), (2, 4), (6, 8), (1, 2), (1, 4), (1, 5)]:
    MODELS[f"cvidtr_s_ds{_a}_{_b}_8x8"] = dict(_CS, pool_layers=(_a, _b), pool_keep=(4, 2))


def list_models() -> list[str]:
    return sorted(MODELS)


def input_of(name: str) -> tuple[int, int]:
    """(clip_len, frame_interval) of a named model's released data pipeline."""
    get_arch(name)
    return INPUTS[name.rsplit("_", 1)[-1]]


def get_arch(name: str) -> dict[str, Any]:
    if name not in MODELS:
        raise KeyError(f"unknown VidTr model {name!r}; valid names: {', '.join(list_models())}")
    return dict(MODELS[name])


def resolve_spec(arch: Optional[str], overrides: dict[str, Any]) -> VidTrSpec:
    """Named configuration + keyword overrides -> a validated spec (unknown keys named)."""
    fields = {f.name for f in dataclasses.fields(VidTrSpec)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"VidTr: unknown option(s) {unknown}; valid options: {sorted(fields)}")
    base = get_arch(arch) if arch is not None else {}
    return VidTrSpec(**{**base, **overrides})


CONFIG_DIR = Path(__file__).parent / "configs"


def config_path(name: str) -> Path:
    """The mmaction2 config file of a named model (``vidtr/configs/<name>.py``)."""
    get_arch(name)
    return CONFIG_DIR / f"{name}.py"


def _build(cfg: dict):
    from mmaction.registry import MODELS as MM_MODELS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmaction"):
        return MM_MODELS.build(cfg)


def build_backbone(name: str, **overrides):
    """The VidTr backbone of a named configuration, built through mmaction2's registry."""
    get_arch(name)
    return _build(dict(type="VidTr", arch=name, **overrides))


def recognizer_cfg(name: str, num_classes: int = 400, **overrides) -> dict:
    """The ``model`` of the named config file (Recognizer3D + VidTr + head + data
    preprocessor), with backbone overrides applied and the head sized to match."""
    from mmengine.config import Config

    # validate the spec overrides before anything is built; pretrained/init_cfg go to the backbone
    spec = resolve_spec(name, {k: v for k, v in overrides.items() if k not in ("pretrained", "init_cfg")})
    model = Config.fromfile(str(config_path(name))).model.to_dict()
    model["backbone"].update(overrides)
    model["cls_head"].update(num_classes=num_classes, in_channels=spec.embed_dims)
    return model


def build_recognizer(name: str, num_classes: int = 400, **overrides):
    """An mmaction2 ``Recognizer3D`` holding the named VidTr, built through the registry."""
    model = _build(recognizer_cfg(name, num_classes, **overrides))
    init_weights_quietly(model)
    return model


def init_weights_quietly(model) -> None:
    """mmengine's ``init_weights`` logs one INFO line per parameter; keep warnings only."""
    import logging

    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)

"""The VidTr model family as an mmaction2 backbone.

``import vidtr`` applies the mmaction2 1.2.0 import shim (see ``vidtr/_compat.py``) and
registers ``VidTr`` in mmaction2's ``MODELS`` registry.
"""
from . import _compat

_compat.apply()

import mmaction.models  # noqa: E402,F401  (populates mmaction2's registries)

from .vidtr import VidTr, VidTrAttention, VidTrSpec, std_topk_indices  # noqa: E402
from .weights import CheckpointError, load_released, load_vit_into, read_checkpoint  # noqa: E402
from .zoo import (  # noqa: E402
    build_backbone, build_recognizer, config_path, get_arch, input_of, list_models, recognizer_cfg)

__all__ = [
    "VidTr", "VidTrAttention", "VidTrSpec", "std_topk_indices", "CheckpointError", "load_released",
    "load_vit_into", "read_checkpoint", "build_backbone", "build_recognizer", "config_path", "get_arch", "input_of",
    "list_models", "recognizer_cfg",
]

"""The VidTr model family as an mmaction2 backbone.

``import vidtr`` applies the mmaction2 1.2.0 import shim (see ``vidtr/_compat.py``) and
registers ``VidTr`` in mmaction2's ``MODELS`` registry, ``PlainCheckpointHook`` (checkpoints
that load with ``torch.load(weights_only=True)``, see ``vidtr/hooks.py``) in its ``HOOKS`` and the
from-scratch initialisers ``MimeticQK`` and ``FactorizedPos`` (``vidtr/scratch_init.py``) in
mmengine's ``WEIGHT_INITIALIZERS``.
"""
from . import _compat

_compat.apply()

import mmaction.models  # noqa: E402,F401  (populates mmaction2's registries)

# registered on import: PlainCheckpointHook (checkpoints any tool loads) and the MimeticQK and
# FactorizedPos initialisers
from . import hooks, scratch_init  # noqa: E402,F401
from .builders import (  # noqa: E402
    VidTrClassifier,
    build,
    build_backbone,
    build_recognizer,
    clip_of,
    config_path,
    init_weights_quietly,
    load_released,
    recognizer_cfg,
    view_of,
)
from .transforms import SpreadSampleFrames  # noqa: E402,F401  (registers the released training sampler)
from .vidtr import (  # noqa: E402
    ReleasedStructureAttention,
    VidTr,
    VidTrAttention,
    VidTrSpec,
    get_arch,
    list_models,
    resolve_spec,
    std_topk_indices,
)
from .weights import CheckpointError, load_vit_into, read_checkpoint  # noqa: E402

__all__ = [
    "VidTr", "VidTrAttention", "ReleasedStructureAttention", "VidTrSpec", "std_topk_indices", "CheckpointError",
    "read_checkpoint", "load_vit_into", "load_released", "VidTrClassifier", "build", "build_backbone",
    "build_recognizer", "recognizer_cfg", "config_path", "clip_of", "get_arch", "list_models", "resolve_spec",
    "init_weights_quietly", "view_of",
]

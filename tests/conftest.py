import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=UserWarning)
import vidtr  # noqa: E402  (applies the mmaction2 shim before any test imports mmaction.models)

# Reduced size for every named configuration: width 32, 4 heads, a 2x2 patch grid. Depth,
# frames, patching and pooling schedules stay as named, so the layouts are the real ones.
TINY = dict(embed_dims=32, num_heads=4)


def tiny(name: str, **extra) -> dict:
    spec = vidtr.resolve_spec(name, {})
    return dict(TINY, img_size=2 * spec.patch_size, **extra)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)

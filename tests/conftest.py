import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=UserWarning)
import vidtr  # noqa: E402  (applies the mmaction2 shim before any test imports mmaction.models)

# the generated tables register themselves on import, as the command line imports them
from benchmark import smoke  # noqa: E402,F401
from benchmark.demo import table  # noqa: E402,F401

# Reduced size for every named configuration: width 32, 4 heads, a 2x2 patch grid. Depth,
# frames, patching and pooling schedules stay as named, so the layouts are the real ones.
TINY = dict(embed_dims=32, num_heads=4)


def tiny(name: str, **extra) -> dict:
    spec = vidtr.resolve_spec(name, {})
    return dict(TINY, img_size=2 * spec.patch_size, **extra)


# markers that follow from what a test needs: the real Slurm cluster, pdflatex
FIXTURE_MARKERS = {"cluster": "slurm", "pdflatex": "latex"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def smoke_home(tmp_path_factory):
    """A workdir with the smoke table's three runs finished (records, scalar logs, TensorBoard
    files), launched once for every test that reads finished runs."""
    from benchmark.cli import main

    work = tmp_path_factory.mktemp("report") / "work"
    assert main(["launch", "--table", "smoke", "--workdir", str(work), "--quiet"]) == 0
    return work

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


# markers that follow from what a test needs: the real Slurm cluster, pdflatex, the smoke table
# trained once per session (about 25 s before its first user)
FIXTURE_MARKERS = {"cluster": "slurm", "multinode_host": "slurm", "pdflatex": "latex", "smoke_home": "slow"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def ffmpeg():
    """Debian's ffmpeg (H.264 encoding for test videos, prepare-videos; its shared libraries for
    torchcodec), installed when missing (as the Slurm and LaTeX tests install theirs)."""
    import os
    import shutil
    import subprocess

    if not shutil.which("ffmpeg"):
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("no ffmpeg, and installing Debian's ffmpeg needs root and apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-cache", "show", "ffmpeg"], capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
        run = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "ffmpeg"],
                             capture_output=True, text=True, env=env, timeout=1200)
        if run.returncode != 0 or not shutil.which("ffmpeg"):
            pytest.skip(f"apt-get install ffmpeg failed: {(run.stderr or run.stdout)[-300:]}")
    return shutil.which("ffmpeg")


@pytest.fixture(scope="session")
def smoke_home(tmp_path_factory):
    """A workdir with the smoke table's three runs finished (records, scalar logs, TensorBoard
    files), launched once for every test that reads finished runs."""
    from benchmark.cli import main

    work = tmp_path_factory.mktemp("report") / "work"
    assert main(["launch", "--table", "smoke", "--workdir", str(work), "--quiet"]) == 0
    return work

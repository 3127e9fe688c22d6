"""Where a number came from: the code's version, the libraries' versions and the device, as
records, generated tables and speed summaries name them."""
from __future__ import annotations

import os
import platform
import subprocess
from typing import Optional

from . import REPO


def code_version() -> str:
    """The repository's commit, ``-dirty`` when tracked files differ from it."""
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{rev}{'-dirty' if dirty else ''}" if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    """Library versions and the device of this process: mmaction2's ``collect_env`` (PyTorch,
    OpenCV, MMEngine, MMCV, CUDA and the GPUs), plus what it leaves out (timm, numpy, fvcore,
    the CPU's cores and torch's threads)."""
    from importlib.metadata import PackageNotFoundError, version

    import mmaction
    import numpy as np
    import timm
    import torch
    from mmaction.utils import collect_env

    env = collect_env()
    try:
        fvcore = version("fvcore")
    except PackageNotFoundError:
        fvcore = "-"
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "mmaction2": mmaction.__version__, "mmengine": env["MMEngine"], "mmcv": env.get("MMCV", "-"),
                "timm": timm.__version__, "numpy": np.__version__, "opencv": env.get("OpenCV", "-"),
                "fvcore": fvcore}
    gpus = [f"{len(ids.split(','))}x {name}" for key, name in env.items() if key.startswith("GPU ")
            for ids in [key[4:]]]
    # torch's threads too: on the CPU they change a run's numbers (runs/config.torch_threads)
    threads = torch.get_num_threads()
    device = ", ".join(gpus) if gpus else \
        f"cpu ({platform.machine()}, {os.cpu_count()} cores, torch {threads} thread{'s' if threads > 1 else ''})"
    return dict(versions=versions, device=device)


def versions_line(versions: Optional[dict] = None) -> str:
    """The library versions a generated table names in its header."""
    v = versions or environment()["versions"]
    return (f"torch {v['torch']}, mmaction2 {v['mmaction2']}, mmengine {v['mmengine']}, timm {v['timm']}, "
            f"fvcore {v['fvcore'].split('.post')[0]}")


def device_name(device) -> str:
    """The device a measurement ran on: the GPU's name, or the CPU with the threads torch uses."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"

"""What reaches the terminal: third-party warnings kept quiet (the CLI and the demo's worker
processes alike) and C libraries' chatter on stderr silenced where it is noise."""
from __future__ import annotations

import contextlib
import os
import sys
import warnings

# Modules whose warnings are noise to a user of this tool (deprecations inside mmengine,
# mmcv-lite's missing ops, torch's TorchScript notices); the project's own warnings still show.
THIRD_PARTY = r"(mmcv|mmengine|mmaction|torch|torchvision|fvcore|timm|submitit|pkg_resources|setuptools|numpy)(\.|$)"


def quiet_warnings() -> None:
    """Third-party deprecations and notices off (the project's own warnings still show)."""
    warnings.filterwarnings("ignore", module=THIRD_PARTY)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # setuptools' notice, raised while mmengine imports pkg_resources (attributed to importlib)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence what C libraries print on the process's stderr meanwhile (libpng's notes on
    scikit-image's colour profiles, the profiler's start/stop lines); Python's stderr is kept."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture, or no real stderr
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)

"""Import-time fixes for the pinned OpenMMLab stack. Applied once, by ``vidtr/__init__``.

Everything that imports ``mmaction.models`` in this project imports ``vidtr`` first, so
these run before mmaction2's model registry is populated.
"""
from __future__ import annotations

import sys
import types


def _shim_mmaction_drn() -> None:
    """mmaction2 1.2.0 as published (wheel and sdist) lacks ``mmaction/models/localizers/drn``
    while ``mmaction/models/localizers/__init__.py`` imports ``.drn.drn.DRN``, so
    ``import mmaction.models`` fails (open-mmlab/mmaction2#2714, still open). We register an
    empty placeholder package with a ``DRN`` name that raises if anyone tries to use it; DRN
    is a temporal-grounding localizer this project never builds.
    """
    pkg_name = "mmaction.models.localizers.drn"
    if pkg_name in sys.modules:
        return
    try:  # a fixed mmaction2 release ships the package: use it.
        import importlib.util

        if importlib.util.find_spec("mmaction") is None:
            return
        from pathlib import Path

        import mmaction  # noqa: F401  (cheap: does not import mmaction.models)

        if (Path(mmaction.__file__).parent / "models" / "localizers" / "drn").is_dir():
            return
    except Exception:  # noqa: BLE001 - find_spec errors are not ours to fix
        return

    class DRN:  # noqa: D401 - placeholder
        def __init__(self, *args, **kwargs):
            raise RuntimeError(
                "mmaction2 1.2.0 ships without its DRN localizer (open-mmlab/mmaction2#2714); "
                "vidtr-bench registers a placeholder so the rest of mmaction2 imports."
            )

    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = []  # mark as a package
    sub = types.ModuleType(pkg_name + ".drn")
    sub.DRN = DRN
    pkg.drn = sub
    sys.modules[pkg_name] = pkg
    sys.modules[pkg_name + ".drn"] = sub


def apply() -> None:
    _shim_mmaction_drn()

"""Writing files so that nothing half-written is ever read: records, manifests, annotation
lists, generated tables and manifests all go through :func:`atomic_write`."""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one; a failed write (a full disk)
    leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_output(path: Path, text: str) -> Path:
    """Write a generated result file atomically, saying so when it replaces different content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() != text:
        print(f"replacing {path} (the previous version is in git history)")
    atomic_write(path, text)
    return path

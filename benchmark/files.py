"""Writing files so that nothing half-written is ever read: records, manifests, annotation
lists, generated tables and manifests all go through :func:`atomic_write`."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one; a failed write (a full disk)
    leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:  # named by the file meant, not the temporary one
        _remove(tmp)
        raise OSError(e.errno, e.strerror, str(path)) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: Path) -> None:
    try:  # on a read-only file system even removing a file that is not there fails
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


def write_output(path: Path, text: str) -> Path:
    """Write a generated result file atomically. When it replaces different content, the previous
    version is never lost silently: a file git tracks is in git history (said so); any other is
    kept beside it as ``<name>.previous`` (said so)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(errors="replace") != text:
        if _tracked_by_git(path):
            print(f"replacing {path} (the previous version is in git history)")
        else:
            kept = path.with_name(path.name + ".previous")
            os.replace(path, kept)
            print(f"replacing {path} (the previous version is kept as {kept.name})")
    atomic_write(path, text)
    return path


def _tracked_by_git(path: Path) -> bool:
    """Whether ``path`` is a file of a git work tree that git tracks (git absent: no)."""
    try:
        run = subprocess.run(["git", "-C", str(path.parent), "ls-files", "--error-unmatch", path.name],
                             capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return run.returncode == 0

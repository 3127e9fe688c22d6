"""What a run is: :class:`RunSpec` (a config, its overrides, the dataset, protocol and seed) with
an id that names what it computes, and where its directory lives under the bench home."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

HOME_ENV = "VIDTR_BENCH_HOME"
DATA_ROOT = "{data_root}"  # placeholder in overrides, so run ids do not depend on where data lives
CHECKPOINT_OF = "checkpoint-of:"  # load_from value naming another run whose final checkpoint to start from


@dataclass(frozen=True)
class RunSpec:
    table: str
    row: str
    model: str  # a VidTr or baseline name; "" for ensembles
    config: str  # path of the mmengine config (relative to the repository)
    dataset: str
    seed: int = 0
    protocol: str = "30view"  # "30view" or "single_pass" (Appendix B)
    overrides: dict = field(default_factory=dict)  # dotted mmengine keys -> values
    depends_on: tuple = ()  # run ids that must finish first
    members: tuple = ()  # ensembles: member run ids, scores averaged
    data_root: str = ""  # fills "{data_root}" in overrides at run time; not part of the run id

    @cached_property
    def run_id(self) -> str:
        """What the run computes, as a name: its resolved recipe's digest (:mod:`.identity`), so
        every table that asks for the same computation (VidTr-S in Tables 1, 2, 4a-4c, 5 and the
        ensembles) shares one run; independent of where data lives. Computed once per spec."""
        from .identity import run_id

        return run_id(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        d = dict(d)
        d["depends_on"], d["members"] = tuple(d.get("depends_on", ())), tuple(d.get("members", ()))
        return cls(**d)


def bench_home(workdir: Optional[str] = None) -> Path:
    """Root of all run directories: ``--workdir``, else ``$VIDTR_BENCH_HOME``, else ``./work``."""
    return Path(workdir or os.environ.get(HOME_ENV) or "work").resolve()


def run_dir(home: Path, spec_or_id) -> Path:
    """``<home>/runs/<run id>``: one directory per run, shared by every table that needs it."""
    return home / "runs" / (spec_or_id if isinstance(spec_or_id, str) else spec_or_id.run_id)

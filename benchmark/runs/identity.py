"""A run is what it computes. Its identity is a digest of its *recipe*: the config as mmengine
resolves it with the run's overrides, the VidTr backbone's named ``arch`` resolved to its full
spec, and the dataset, protocol and seed; ensembles: their members. What does not change what is
computed is left out: where files live (work dir, annotation and video paths, the data root),
logging and visualisation, checkpoint keeping, data-loader workers, which attention kernel
computes the same maps, the environment (but torch's threads where a recipe pins them). So every
table that shows VidTr-S (Table 1's ``vidtr_s_8x8``, 4a's ``vidtr_s_square1x16_8x8``, 4b's
``vidtr_s_temporal_spatial_8x8``, 4c's ``vidtr_b16_8x8``) shares one run and one record, and
finished runs under the earlier, path-derived ids are adopted (:func:`.records.adopt_finished`)."""
from __future__ import annotations

import hashlib
import json
import re
from typing import Optional

from .config import load_config

# bump when what the recipe holds changes: every id changes with it (adoption follows)
RECIPE_VERSION = 1
ID_HASH_CHARS = 10  # earlier ids had 8: a directory name tells which kind it is
# top-level config keys that do not change what is computed
NOT_COMPUTED = {"work_dir", "custom_imports", "default_scope", "launcher", "log_level", "log_processor",
                "visualizer", "vis_backends", "env_cfg", "resume", "experiment_name", "randomness", "dist_params",
                "filename"}
# default hooks that only log, time, draw or keep checkpoints (the scheduler and sampler-seed hooks stay)
NOT_COMPUTED_HOOKS = {"logger", "timer", "checkpoint", "visualization", "plain_checkpoint", "finite_loss",
                      "runtime_info"}
NOT_COMPUTED_LOADER = {"num_workers", "persistent_workers", "pin_memory", "prefetch_factor"}
# where a dataset's files are (the dataset's name is part of the recipe; its location is not)
NOT_COMPUTED_DATASET = {"ann_file", "data_prefix", "data_root", "bad_videos_file", "max_bad_fraction"}
# VidTr options that compute the same function another way (tested equal in tests/vidtr)
NOT_COMPUTED_SPEC = {"attn_impl", "grad_checkpointing"}


def _plain(value):
    """Tuples as lists, mmengine ConfigDicts as dicts: the JSON the digest is taken of."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _backbone(backbone: dict) -> dict:
    """A VidTr backbone's ``arch`` and options as the full spec they resolve to."""
    import dataclasses

    import vidtr

    if backbone.get("type") not in ("VidTr", "mmaction.VidTr"):
        return backbone
    options = {k: v for k, v in backbone.items() if k not in ("type", "arch", "pretrained", "init_cfg")}
    try:
        spec = dataclasses.asdict(vidtr.resolve_spec(backbone.get("arch"), options))
    except (TypeError, ValueError) as e:  # a bad model.backbone option, named with what was asked
        raise ValueError(f"model.backbone (arch {backbone.get('arch')!r}, options {options}): {e}") from None
    spec = {k: v for k, v in spec.items() if k not in NOT_COMPUTED_SPEC}
    return {"type": "VidTr", "spec": spec, "pretrained": backbone.get("pretrained"),
            "init_cfg": backbone.get("init_cfg")}


def _dataset(ds: dict) -> dict:
    out = {k: v for k, v in ds.items() if k not in NOT_COMPUTED_DATASET}
    for key in ("dataset", "datasets"):  # dataset wrappers
        if isinstance(out.get(key), dict):
            out[key] = _dataset(out[key])
        elif isinstance(out.get(key), list):
            out[key] = [_dataset(d) for d in out[key]]
    return out


def recipe(spec) -> dict:
    """What a run computes, as plain data (placeholders such as ``{data_root}`` left unresolved)."""
    if not spec.config:  # an ensemble: its members' scores averaged
        return {"version": RECIPE_VERSION, "members": list(spec.members), "dataset": spec.dataset,
                "protocol": spec.protocol}
    cfg = _plain(load_config(spec.config, spec.overrides, what=None).to_dict())
    # of the environment, only torch's threads where a recipe pins them: on the CPU they change the
    # numbers (runs/config.torch_threads)
    threads = (cfg.get("env_cfg") or {}).get("torch_threads")
    for key in NOT_COMPUTED:
        cfg.pop(key, None)
    if threads is not None:
        cfg["torch_threads"] = threads
    cfg["default_hooks"] = {k: v for k, v in (cfg.get("default_hooks") or {}).items() if k not in NOT_COMPUTED_HOOKS}
    for split in ("train", "val", "test"):
        loader = cfg.get(f"{split}_dataloader")
        if isinstance(loader, dict):
            loader = {k: v for k, v in loader.items() if k not in NOT_COMPUTED_LOADER}
            if isinstance(loader.get("dataset"), dict):
                loader["dataset"] = _dataset(loader["dataset"])
            cfg[f"{split}_dataloader"] = loader
    if isinstance(cfg.get("model"), dict) and isinstance(cfg["model"].get("backbone"), dict):
        cfg["model"]["backbone"] = _backbone(cfg["model"]["backbone"])
    return {"version": RECIPE_VERSION, "config": cfg, "dataset": spec.dataset, "protocol": spec.protocol,
            "seed": spec.seed}


def recipe_digest(spec) -> str:
    return hashlib.sha256(json.dumps(recipe(spec), sort_keys=True, default=str).encode()).hexdigest()


def canonical_model(spec) -> str:
    """The name a run is known by: for a VidTr whose resolved spec equals a named configuration's,
    the first such name in the model zoo's order (VidTr-S's four aliases are ``vidtr_s_8x8``);
    otherwise the spec's model name ("ensemble-<row>" for ensembles)."""
    if not spec.model:
        return "ensemble-" + spec.row
    import vidtr

    if spec.model not in vidtr.list_models():
        return spec.model
    own = vidtr.resolve_spec(spec.model, {})
    return next((name for name in vidtr.VidTr.arch_zoo if vidtr.resolve_spec(name, {}) == own), spec.model)


def run_id(spec) -> str:
    """``<model>-<dataset>-<recipe digest>``: readable, and the same for every table that asks for
    the same computation."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{canonical_model(spec)}-{spec.dataset}".lower()).strip("-")[:48]
    return f"{slug}-{recipe_digest(spec)[:ID_HASH_CHARS]}"


def legacy_run_id(spec, members: Optional[tuple] = None) -> str:
    """The id the same spec had before ids came from recipes (config path, overrides, dataset,
    protocol, seed, members): how a finished run of an earlier version is recognised."""
    key = json.dumps([spec.config, spec.dataset, spec.protocol, spec.seed, spec.overrides,
                      list(spec.members if members is None else members)], sort_keys=True, default=str)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{spec.model or 'ensemble-' + spec.row}-{spec.dataset}".lower()).strip("-")[:48]
    return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"

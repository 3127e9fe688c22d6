"""Weights: ViT checkpoints inflated into VidTr, and the authors' released key layout
converted to ours and back. State dicts only: loading a released checkpoint into a built
model is :func:`vidtr.builders.load_released`.

Checkpoints are untrusted input: ``.pth`` files load with ``torch.load(weights_only=True)``
(``trust=True`` is needed for anything that must be unpickled), ``.safetensors`` with
safetensors, Google ``.npz`` with numpy (no pickle). Nothing here downloads.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

StateDict = dict[str, Tensor]


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the file and key named."""


def read_checkpoint(path, trust: bool = False) -> StateDict:
    """Read a flat tensor dict from a .pth/.pt/.bin/.safetensors/.npz file."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; expected a .pth/.pt/.bin/.safetensors/.npz file")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable .safetensors file (corrupt or truncated? {e})") from None
    if path.suffix == ".npz":
        import zipfile

        try:
            return _npz_to_timm(path)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as e:  # ValueError: not a zip at all
            raise CheckpointError(f"{path}: not a readable .npz file (corrupt or truncated? "
                                  f"{type(e).__name__}: {e})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        needs = re.search(r"GLOBAL ([\w.]+)", str(e))
        if needs is None:  # the weights-only unpickler choked on the bytes themselves
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated?)") from None
        if not trust:
            raise CheckpointError(
                f"{path}: loading it needs arbitrary unpickling (it stores a {needs.group(1)}), which can run "
                "code. Pass trust=True (--trust-checkpoint) only for a file you trust, or re-save it as a "
                "plain state dict / .safetensors.") from None
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - e.g. a class its pickle names is not importable here
            raise CheckpointError(f"{path}: cannot be loaded even when trusted ({type(e).__name__}: {e})") from None
    except Exception as e:  # noqa: BLE001 - truncated or not a torch file at all
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None
    for key in ("state_dict", "model", "module", "model_state"):  # common containers
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors (a state dict), got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _npz_to_timm(path: Path) -> StateDict:
    """Google ViT .npz -> timm state dict, through timm's own loader."""
    import numpy as np
    from timm.models.vision_transformer import VisionTransformer, _load_weights

    with np.load(path, allow_pickle=False) as w:
        keys = list(w.keys())
        prefix = next((p for p in ("", "opt/target/", "params/") if f"{p}embedding/kernel" in w), None)
        if prefix is None:
            raise CheckpointError(f"{path}: no 'embedding/kernel' array: not a Google ViT .npz")
        p, _, _, dim = w[f"{prefix}embedding/kernel"].shape
        depth = len({m.group(1) for k in keys if (m := re.search(r"encoderblock_(\d+)/", k))})
        heads = w[f"{prefix}Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel"].shape[1]
        hidden = w[f"{prefix}Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel"].shape[1]
        n_pos = w[f"{prefix}Transformer/posembed_input/pos_embedding"].shape[1]
        n_cls = w[f"{prefix}head/kernel"].shape[-1] if f"{prefix}head/kernel" in w else 0
    img = int(round((n_pos - 1) ** 0.5)) * p
    vit = VisionTransformer(img_size=img, patch_size=p, embed_dim=dim, depth=depth, num_heads=heads,
                            mlp_ratio=hidden / dim, num_classes=n_cls)
    _load_weights(vit, str(path), prefix=prefix)
    return vit.state_dict()


_HF_RENAMES = [
    (r"^(vit\.)?embeddings\.cls_token$", "cls_token"),
    (r"^(vit\.)?embeddings\.position_embeddings$", "pos_embed"),
    (r"^(vit\.)?embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"^(vit\.)?encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\2.norm1."),
    (r"^(vit\.)?encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\2.norm2."),
    (r"^(vit\.)?encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\2.attn.proj."),
    (r"^(vit\.)?encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\2.mlp.fc1."),
    (r"^(vit\.)?encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\2.mlp.fc2."),
    (r"^(vit\.)?layernorm\.", "norm."),
]


def vit_to_timm(sd: StateDict) -> StateDict:
    """Normalise a ViT state dict (timm or Hugging Face naming) to timm's names."""
    if "patch_embed.proj.weight" in sd:
        return dict(sd)
    if not any("embeddings.patch_embeddings" in k for k in sd):
        raise CheckpointError("not a ViT checkpoint: no 'patch_embed.proj.weight' (timm) or "
                              "'embeddings.patch_embeddings.projection.weight' (Hugging Face) key")
    out: StateDict = {}
    qkv: dict[str, dict[str, Tensor]] = {}
    for k, v in sd.items():
        m = re.match(r"^(?:vit\.)?encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$", k)
        if m:
            qkv.setdefault(f"blocks.{m.group(1)}.attn.qkv.{m.group(3)}", {})[m.group(2)] = v
            continue
        for pattern, repl in _HF_RENAMES:
            if re.match(pattern, k):
                out[re.sub(pattern, repl, k)] = v
                break
    for k, parts in qkv.items():
        out[k] = torch.cat([parts["query"], parts["key"], parts["value"]], dim=0)
    return out


def inflate_vit(vit: StateDict, model: nn.Module, source: str = "checkpoint") -> StateDict:
    """A ViT (timm names) -> a state dict for ``model`` (a VidTr), inflated as the
    released code does: the 197-position embedding tiled over the T+1 rows (grid) or its
    196 patch part tiled over T after the class position (single); class tokens copied
    into every slot; the 2D stem spread evenly over the tubelet (cubic patches). The
    classifier is dropped. Shapes that do not fit are refused, naming the key."""
    spec, target = model.spec, model.state_dict()
    out: StateDict = {}

    def need(key: str) -> Tensor:
        if key not in vit:
            raise CheckpointError(f"{source}: missing key {key!r} needed by VidTr({model.arch or 'custom'})")
        return vit[key]

    def put(key: str, value: Tensor, from_key: str):
        if tuple(value.shape) != tuple(target[key].shape):
            raise CheckpointError(f"{source}: {from_key!r} has shape {tuple(vit[from_key].shape)}, which does not "
                                  f"fit {key!r} of shape {tuple(target[key].shape)} in VidTr({model.arch or 'custom'})")
        out[key] = value.to(target[key].dtype)

    stem = need("patch_embed.proj.weight")
    if stem.dim() == 4:  # (D, C, p, p) -> (D, C, t, p, p), divided by t to keep the response
        stem = stem.unsqueeze(2).repeat(1, 1, spec.tubelet_size, 1, 1) / spec.tubelet_size
    put("patch_embed.proj.weight", stem, "patch_embed.proj.weight")
    put("patch_embed.proj.bias", need("patch_embed.proj.bias"), "patch_embed.proj.bias")

    cls, pos = need("cls_token"), need("pos_embed")
    if pos.shape[1] != spec.num_patches + 1:
        raise CheckpointError(f"{source}: 'pos_embed' has {pos.shape[1]} positions; VidTr({model.arch or 'custom'}) "
                              f"needs {spec.num_patches + 1} (img_size {spec.img_size}, patch {spec.patch_size})")
    T = spec.tokens_t
    if spec.layout == "grid":
        put("cls_t", cls.expand(1, spec.num_patches + 1, -1).clone(), "cls_token")
        put("cls_s", cls.reshape(1, 1, -1).expand(T, 1, -1).clone(), "cls_token")
        put("pos_embed", pos.repeat(1, T + 1, 1), "pos_embed")
    else:
        put("cls_token", cls, "cls_token")
        if spec.layout == "single":
            put("pos_embed", torch.cat([pos[:, :1], pos[:, 1:].repeat(1, T, 1)], dim=1), "pos_embed")
        else:
            put("pos_embed", pos.repeat(1, T if spec.temporal_pos_embed else 1, 1), "pos_embed")

    for i in range(spec.depth):
        for part in ("norm1", "norm2", "attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"):
            for p in ("weight", "bias"):
                src = f"blocks.{i}.{part}.{p}"
                put(src, need(src), src)
                twin = src.replace("attn.qkv", "attn.qkv_t").replace("attn.proj", "attn.proj_t")
                if twin != src and twin in target:  # paper fidelity: temporal attention starts as ViT's
                    put(twin, need(src), src)
    if f"blocks.{spec.depth}.norm1.weight" in vit:
        raise CheckpointError(f"{source}: has more than {spec.depth} blocks ('blocks.{spec.depth}.*'); "
                              f"VidTr({model.arch or 'custom'}) has depth {spec.depth}")
    put("norm.weight", need("norm.weight"), "norm.weight")
    put("norm.bias", need("norm.bias"), "norm.bias")
    return out


def load_vit_into(model: nn.Module, path, trust: bool = False) -> None:
    """Inflate a local ViT checkpoint into a VidTr backbone in place."""
    sd = inflate_vit(vit_to_timm(read_checkpoint(path, trust)), model, source=str(path))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    left = [k for k in missing if "pool_conv" not in k]  # conv pooling keeps its average-pool init
    if left or unexpected:
        raise CheckpointError(f"{path}: inflation left {left} unset and {unexpected} unused")


# The authors' released key layout beside ours; {i} is a layer, {p} weight or bias.
_RELEASED_KEYS = [
    ("conv_stem.{p}", "patch_embed.proj.{p}"),
    ("encoder.layers.{i}.self_attn.in_proj_{p}", "blocks.{i}.attn.qkv.{p}"),
    ("encoder.layers.{i}.self_attn.out_proj.{p}", "blocks.{i}.attn.proj.{p}"),
    ("encoder.layers.{i}.linear1.{p}", "blocks.{i}.mlp.fc1.{p}"),
    ("encoder.layers.{i}.linear2.{p}", "blocks.{i}.mlp.fc2.{p}"),
    ("encoder.layers.{i}.norm1.{p}", "blocks.{i}.norm1.{p}"),
    ("encoder.layers.{i}.norm2.{p}", "blocks.{i}.norm2.{p}"),
    ("encoder.norm.{p}", "norm.{p}"),
    ("pos_embedding", "pos_embed"),
    ("cls", "cls_token"),
    ("cls_s", "cls_s"),
    ("cls_t", "cls_t"),
]


def _rename(key: str, to_ours: bool) -> Optional[str]:
    for released, ours in _RELEASED_KEYS:
        src, dst = (released, ours) if to_ours else (ours, released)
        pattern = re.escape(src).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{p\}", r"(?P<p>weight|bias)")
        m = re.fullmatch(pattern, key)
        if m:
            return dst.format(**m.groupdict())
    return None


def released_to_vidtr(sd: StateDict, source: str = "checkpoint") -> tuple[StateDict, StateDict]:
    """Authors' released key layout (DDP ``module.`` prefixes allowed) -> (backbone, head) state dicts."""
    backbone: StateDict = {}
    head: StateDict = {}
    for k, v in sd.items():
        k = k.removeprefix("module.")
        if k in ("fc.weight", "fc.bias"):
            head["fc_cls." + k.split(".")[1]] = v
        elif (ours := _rename(k, to_ours=True)) is not None:
            backbone[ours] = v
        else:
            raise CheckpointError(f"{source}: unexpected key {k!r} for the released VidTr layout "
                                  "(conv_stem.*, encoder.layers.N.*, encoder.norm.*, pos_embedding, cls_s/cls_t or "
                                  "cls, fc.*)")
    return backbone, head


def load_strict(module: nn.Module, sd: StateDict, source: str, what: str, names: Optional[dict] = None):
    """load_state_dict that names the offending key as the file spells it on a mismatch:
    ``names`` (our key -> the file's), else the released layout's name, else ours."""
    names = names or {}
    spelled = lambda k: names.get(k) or _rename(k, to_ours=False) or k  # noqa: E731
    target = module.state_dict()
    for k, v in sd.items():
        if k in target and tuple(v.shape) != tuple(target[k].shape):
            raise CheckpointError(f"{source}: key {spelled(k)!r} has shape {tuple(v.shape)}, but {what} "
                                  f"needs {tuple(target[k].shape)} there")
    missing = [spelled(k) for k in sorted(set(target) - set(sd))]
    unexpected = [spelled(k) for k in sorted(set(sd) - set(target))]
    if missing or unexpected:
        raise CheckpointError(f"{source}: does not fit {what}: missing keys {missing[:8]}, "
                              f"unexpected keys {unexpected[:8]}")
    module.load_state_dict(sd)


def to_released(model: nn.Module) -> StateDict:
    """Inverse of :func:`released_to_vidtr`: the weights of a classifier (its ``backbone``
    and ``cls_head``, as :class:`~vidtr.builders.VidTrClassifier`) in the authors' key layout."""
    out: StateDict = {}
    for k, v in model.backbone.state_dict().items():
        released = _rename(k, to_ours=False)
        if released is None:
            raise CheckpointError(f"{k!r} has no counterpart in the released layout "
                                  "(fidelity 'paper' or conv pooling?)")
        out[released] = v.clone()
    out["fc.weight"] = model.cls_head.fc_cls.weight.detach().clone()
    out["fc.bias"] = model.cls_head.fc_cls.bias.detach().clone()
    return out

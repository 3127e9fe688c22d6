"""Attention-rollout pictures (Figures 4, A.2, A.3): sampled frames of a real video with the
spatial and spatio-temporal rollout masks of layers 4, 8 and 12 laid over them."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..data.video_io import read_video

MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


def load_clip(video: str, num_frames: int, interval: int, size: int) -> tuple[np.ndarray, torch.Tensor]:
    """``num_frames`` frames ``interval`` apart from the middle of ``video`` (RGB uint8,
    short side resized to ``size``, centre-cropped) and the normalised (1, 3, T, H, W) clip."""
    path = Path(video)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    frames, _ = read_video(path, size, crop_first=False)
    n = len(frames)
    if n == 0:
        raise ValueError(f"cannot decode {path}")
    span = (num_frames - 1) * interval + 1
    if span > n:  # short video: spread the frames over all of it
        idx = np.linspace(0, n - 1, num_frames).round().astype(int)
    else:
        start = (n - span) // 2
        idx = start + interval * np.arange(num_frames)
    frames = frames[idx]
    clip = torch.from_numpy(((frames - MEAN) / STD).astype(np.float32)).permute(3, 0, 1, 2).unsqueeze(0)
    return frames, clip


def load_backbone(model: str, checkpoint: Optional[str], trust: bool = False, config: Optional[str] = None):
    """The named backbone (or the one ``config`` builds: a run's own config, for its checkpoint);
    weights from an mmengine checkpoint of our runs (``backbone.*`` keys) or a checkpoint in the
    authors' released layout. Without one: random weights (a warning). A checkpoint that does not
    fit the model is one line naming the first mismatch."""
    import vidtr
    from vidtr.weights import CheckpointError, read_checkpoint

    def build():
        if config is None:
            return vidtr.build_backbone(model).eval()
        from mmengine.config import Config

        if not Path(config).is_file():
            raise FileNotFoundError(f"--config {config}: no such file")
        return vidtr.build(Config.fromfile(config).model.backbone.to_dict()).eval()

    if checkpoint is None:
        print("rollout: no --checkpoint: random weights, the maps show the method, not a trained model")
        return build()
    sd = read_checkpoint(checkpoint, trust)
    if any(k.startswith("backbone.") for k in sd):
        backbone = build()
        own = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
        mine = backbone.state_dict()
        shapes = [f"{k}: checkpoint {tuple(v.shape)}, model {tuple(mine[k].shape)}" for k, v in own.items()
                  if k in mine and tuple(v.shape) != tuple(mine[k].shape)]
        missing, unexpected = sorted(set(mine) - set(own)), sorted(set(own) - set(mine))
        if shapes or missing or unexpected:
            what = f"the model of {config}" if config else model
            first = shapes[0] if shapes else f"missing {missing[:3]}, unexpected {unexpected[:3]}"
            hint = "" if config else ("; a run's own checkpoint needs its config: --config "
                                      "work/runs/<run id>/<config>.py")
            raise CheckpointError(f"{checkpoint} does not fit {what} ({len(shapes)} shape mismatch(es); first: "
                                  f"{first}){hint}")
        backbone.load_state_dict(own)
        return backbone
    return vidtr.load_released(model, checkpoint, trust=trust).backbone


def rollout_figure(video: str, model: str, out_dir: str, *, checkpoint: Optional[str] = None,
                   config: Optional[str] = None, layers=(4, 8, 12), fraction: float = 0.3,
                   trust: bool = False) -> list[Path]:
    """PNG grid (rows: frames, then spatial and spatio-temporal masks per layer) and a GIF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    import vidtr
    from vidtr.rollout import attention_rollout, top_fraction

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a directory")
    backbone = load_backbone(model, checkpoint, trust, config)
    spec = backbone.spec
    if config is None:
        _, interval = vidtr.clip_of(model)
    else:  # the run's own clip: its test pipeline's frame interval
        from mmengine.config import Config

        interval = vidtr.view_of(Config.fromfile(config).test_dataloader.dataset.pipeline)["frame_interval"]
    frames, clip = load_clip(video, spec.num_frames, interval, spec.img_size)
    maps = attention_rollout(backbone, clip, layers)
    T = spec.tokens_t
    shown = frames[:: spec.tubelet_size][:T]
    rows = 1 + 2 * len(maps)
    fig, axes = plt.subplots(rows, T, figsize=(1.6 * T, 1.6 * rows), squeeze=False)
    for t in range(T):
        axes[0, t].imshow(shown[t])
        axes[0, t].set_title(f"frame {t}", fontsize=7)
    for r, (layer, m) in enumerate(maps.items()):
        for k, (name, mask) in enumerate((("spatial", m["spatial"]), ("spatio-temporal", m["spatio_temporal"]))):
            row = 1 + 2 * r + k
            for t in range(T):
                up = np.kron(mask[t].numpy(), np.ones((spec.patch_size, spec.patch_size)))
                keep = np.kron(top_fraction(mask[t], fraction).numpy(), np.ones((spec.patch_size,) * 2))
                ax = axes[row, t]
                ax.imshow(shown[t])
                ax.imshow(np.ma.masked_where(keep == 0, up), cmap="jet", alpha=0.55, vmin=0, vmax=1)
                if name == "spatio-temporal":
                    ax.set_title(f"w={m['temporal'][t]:.2f}", fontsize=6)
            axes[row, 0].set_ylabel(f"L{layer}\n{name}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{model}: attention rollout, top {fraction:.0%} highlighted ({Path(video).name})", fontsize=9)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"rollout_{model}_{Path(video).stem}.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    last = maps[max(maps)]["spatio_temporal"]
    gif_frames = []
    cmap = plt.get_cmap("jet")
    for t in range(T):
        up = np.kron(last[t].numpy(), np.ones((spec.patch_size, spec.patch_size)))
        keep = np.kron(top_fraction(last[t], fraction).numpy(), np.ones((spec.patch_size,) * 2))[..., None]
        heat = (cmap(up)[..., :3] * 255).astype(np.float32)
        blend = np.where(keep > 0, 0.5 * shown[t] + 0.5 * heat, shown[t]).astype(np.uint8)
        gif_frames.append(Image.fromarray(blend))
    gif = out / f"rollout_{model}_{Path(video).stem}.gif"
    gif_frames[0].save(gif, save_all=True, append_images=gif_frames[1:], duration=250, loop=0)
    return [png, gif]

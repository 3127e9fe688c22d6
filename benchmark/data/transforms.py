"""Pipeline steps that return what mmaction2's do, with less work; swapped in when a dataset is
built (:func:`lean_steps`), never written into a config, so a run's id does not change with them."""
from __future__ import annotations

from mmaction.datasets.transforms import Resize
from mmaction.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SameSizeSkippingResize(Resize):
    """mmaction2's Resize, but frames already at the target size are passed on as they are:
    OpenCV's resize to the same size is an exact copy for every interpolation (tested), so only
    the copy is saved. VidTr's training recipe resizes to a 256-pixel short side before its random
    rescale: on videos prepared at 256 pixels (Kinetics' usual size, prepare-videos' output) that
    first resize is this copy, ~0.5 ms of a clip. Resizing to the size chosen by RandomRescale
    instead would change the pixels (two resizes are not one): a recipe change, not done here."""

    def _resize_imgs(self, imgs, new_w, new_h):
        from mmcv.image import geometric  # the backend imresize reads

        same = all(img.shape[:2] == (new_h, new_w) and img.shape[2:] != (1,) for img in imgs)
        # distinct arrays only: a decoder may repeat one array for a repeated frame index, and an
        # in-place step after this one (Flip) would then flip it twice; Resize's copies never share
        if geometric.imread_backend == "cv2" and same and len({id(img) for img in imgs}) == len(imgs):
            return list(imgs)
        return super()._resize_imgs(imgs, new_w, new_h)


def _is_mmaction_resize(kind) -> bool:
    # mmaction2's own Resize only (mmcv's, also named Resize, takes other keys and defaults)
    return kind in ("Resize", "mmaction.Resize") or kind is Resize


def lean_steps(pipeline: list) -> list:
    """``pipeline`` with its (eager) mmaction2 Resize steps as :class:`SameSizeSkippingResize`; the
    config's own list is left alone."""
    out = []
    for t in pipeline:
        if isinstance(t, dict) and _is_mmaction_resize(t.get("type")) and not t.get("lazy", False):
            t = {**{k: v for k, v in t.items() if k != "type"}, "type": SameSizeSkippingResize}
        out.append(t)
    return out

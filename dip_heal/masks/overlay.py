"""The overlay preview: the frame in log grey with the pixels to heal tinted by cause."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ..frame import atomic_path
from .layers import CAUSES

__all__ = ["overlay_rgb", "write_overlay", "DRAW_ORDER", "IGNORE_COLOUR"]

IGNORE_COLOUR = (90, 90, 90)
# overlay drawing order: where causes overlap, the later (more specific) colour shows
DRAW_ORDER = ("ignore", "sentinel", "file_mask", "stripes", "hot", "gaps", "holder", "beamstop", "user")


def overlay_rgb(
    image: np.ndarray,
    layers: Mapping[str, np.ndarray],
    valid: np.ndarray | None = None,
    *,
    alpha: float = 0.6,
    max_size: int | None = 2048,
) -> np.ndarray:
    """Log-scaled grey frame with masked pixels tinted by cause.

    Parameters
    ----------
    image : (M, N) ndarray
    layers : dict of str to (M, N) ndarray of bool
        As returned by :func:`build_mask_layers`.
    valid : (M, N) ndarray of bool, optional
        Pixels used for the grey scale limits.
    alpha : float
        Tint opacity.
    max_size : int, optional
        Larger frames are subsampled (every k-th pixel) to at most this size.

    Returns
    -------
    rgb : (m, n, 3) ndarray of uint8
    """
    img = np.asarray(image, np.float32)
    k = 1
    if max_size and max(img.shape) > max_size:
        k = int(np.ceil(max(img.shape) / max_size))
    img = img[::k, ::k]
    v = (valid[::k, ::k] if valid is not None else np.isfinite(img)) & np.isfinite(img)
    lg = np.log1p(np.maximum(np.where(v, img, 0), 0))
    if v.any():
        lo, hi = np.percentile(lg[v], [1, 99.8])
    else:
        lo, hi = 0.0, 1.0
    g = np.clip((lg - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.repeat((g * 255)[..., None], 3, axis=2).astype(np.float32)
    colours = dict(CAUSES)
    colours["ignore"] = IGNORE_COLOUR
    order = [k for k in DRAW_ORDER if k in layers] + [k for k in layers if k not in DRAW_ORDER]
    for name in order:
        m = layers[name]
        if name not in colours:
            continue
        mm = np.asarray(m)[::k, ::k]
        if mm.any():
            rgb[mm] = (1 - alpha) * rgb[mm] + alpha * np.asarray(colours[name], np.float32)
    return rgb.astype(np.uint8)


def write_overlay(path: str | os.PathLike, image: np.ndarray, layers: Mapping[str, np.ndarray],
                  valid: np.ndarray | None = None, *, protect: Iterable[str | os.PathLike] = ()) -> Path:
    """Write :func:`overlay_rgb` as a PNG (atomically)."""
    from PIL import Image

    rgb = overlay_rgb(image, layers, valid)
    path = Path(path)
    with atomic_path(path, protect=tuple(protect)) as tmp:
        Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG")
    return path

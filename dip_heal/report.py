"""Pictures of frames: log-scaled previews and overlays. Arrays in, files or Figures out.

matplotlib is imported inside the functions (Agg backend), so importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["log_limits", "log_scale", "save_preview"]


def log_limits(*images: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.8)) -> tuple[float, float]:
    """Shared display limits of ``log1p(max(I, 0))`` over finite pixels of all ``images``."""
    vals = [np.log1p(np.clip(im[np.isfinite(im)], 0, None)) for im in images]
    vals = [v for v in vals if v.size]
    if not vals:
        return 0.0, 1.0
    allv = np.concatenate([v.ravel() if v.size < 2_000_000 else v.ravel()[:: v.size // 1_000_000] for v in vals])
    lo, hi = np.percentile(allv, percentiles)
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def log_scale(image: np.ndarray, limits: tuple[float, float] | None = None) -> np.ndarray:
    """``log1p(max(I, 0))`` scaled to [0, 1] with ``limits`` (default: this image's)."""
    lo, hi = limits if limits is not None else log_limits(image)
    v = np.log1p(np.clip(np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0), 0, None))
    return np.clip((v - lo) / (hi - lo), 0, 1).astype(np.float32)


def save_preview(
    path: str | Path,
    image: np.ndarray,
    *,
    heal: np.ndarray | None = None,
    limits: tuple[float, float] | None = None,
    cmap: str = "magma",
    outline: bool = True,
) -> Path:
    """Write a log-scale PNG of ``image`` at one pixel per detector pixel.

    Parameters
    ----------
    path : path-like
        The PNG to write (atomically).
    image : (M, N) ndarray
        Intensities.
    heal : (M, N) ndarray of bool, optional
        Healed pixels; their outline is drawn in cyan when ``outline``.
    limits : tuple of float, optional
        Log-intensity display limits (share them across images to compare).
    cmap : str
        A matplotlib colour map.
    outline : bool
        Draw the outline of ``heal``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import colormaps
    from PIL import Image

    from .frame import atomic_path

    rgb = colormaps[cmap](log_scale(image, limits))[..., :3]
    if heal is not None and outline and heal.any():
        from scipy import ndimage

        edge = heal & ~ndimage.binary_erosion(heal, border_value=1)
        rgb[edge] = (0.0, 0.9, 0.9)
    with atomic_path(path) as tmp:
        Image.fromarray((rgb * 255).astype(np.uint8)).save(tmp, format="PNG")
    return Path(path)

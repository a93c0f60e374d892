"""Writing a healed render back: as the same picture (:func:`write_render`) or as the map position
``t`` of its image area in a float32 TIFF (:func:`write_scalar_tiff`)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame, atomic_path
from .colormaps import render_colors, units_to_scalar

__all__ = ["render_scalar", "render_info", "write_render", "write_scalar_tiff"]

logger = logging.getLogger(__name__)


def render_scalar(frame: Frame, data: np.ndarray | None = None) -> np.ndarray:
    """The map position ``t`` of a render frame's image area (NaN where ``data`` is NaN).

    Parameters
    ----------
    frame : Frame
        A frame from :func:`read_render`.
    data : (M, N) ndarray, optional
        Render units to convert (default ``frame.data``), e.g. a healed composite.

    Returns
    -------
    t : (r1 - r0 + 1, c1 - c0 + 1) ndarray of float32
        Without ``data``, NaN where the picture is not data (tick marks inside the area).
    """
    info = render_info(frame)
    r0, r1, c0, c1 = info["area"]
    u = np.asarray(frame.data if data is None else data, np.float64)
    if data is None:
        u = np.where(frame.valid, u, np.nan)
    u = u[r0 : r1 + 1, c0 : c1 + 1]
    return np.where(np.isnan(u), np.nan, units_to_scalar(u)).astype(np.float32)


def render_info(frame: Frame) -> dict[str, Any]:
    info = frame.meta.get("render")
    if info is None:
        raise DipHealError(f"{frame.meta.get('path')}: not a colour-map render; expected a frame read from a "
                           "render PNG; write it as .tif/.edf instead")
    return info


def write_render(path: str | os.PathLike, data: np.ndarray, like: Frame, *,
                 log_as: str | os.PathLike | None = None) -> Path:
    """Write render units back as the picture they came from, atomically, never over the input.

    Pixels that are not data (frame, axes, labels, tick marks) and data pixels whose value is
    unchanged keep their exact original colour (and alpha); changed data pixels get the colour of
    their level (:func:`render_colors`, with the picture's own colour for levels it shows).

    Parameters
    ----------
    path : path-like
        A ``.png`` file.
    data : (M, N) ndarray
        Render units, e.g. the healed composite of :func:`dip_heal.frame.composite_native`.
    like : Frame
        The render it came from.
    log_as : path-like, optional
        The name the log line shows (a file's final name inside a temporary folder).

    Returns
    -------
    Path

    Raises
    ------
    DipHealError
        Data of another shape, a frame that is not a render.
    """
    from PIL import Image

    info = render_info(like)
    arr = np.asarray(data, np.float64)
    rgba = np.asarray(info["rgba"])
    if arr.shape != rgba.shape[:2]:
        raise DipHealError(f"data shape {arr.shape} does not match the render {rgba.shape[:2]}; "
                           "write data of the render's shape")
    old = np.asarray(like.raw, np.float64)
    changed = like.valid & np.isfinite(arr) & ((arr != old) | like.masks.get("healed", False))  # dip_heal.heal
    out = rgba.copy()
    if changed.any():
        t = units_to_scalar(arr[changed])
        out[changed, :3] = render_colors(t, info["colormap"], palette=info["palette"], rounding=info["rounding"])
    final = Path(path)
    mode = "RGBA" if out.shape[-1] == 4 else "RGB"
    with atomic_path(final, protect=(like.meta.get("path"),) if like.meta.get("path") else ()) as tmp:
        Image.fromarray(np.ascontiguousarray(out), mode=mode).save(tmp, format="PNG")
    logger.info("wrote %s (%s map re-drawn at %d changed pixels; every other pixel as in the input)", log_as or final,
                info["colormap"], int(changed.sum()))
    return final


def write_scalar_tiff(path: str | os.PathLike, data: np.ndarray, like: Frame, *,
                      log_as: str | os.PathLike | None = None) -> Path:
    """Write the map position ``t`` of the image area as a float32 TIFF, atomically.

    The TIFF's ImageDescription (tag 270) is JSON with the map, the image area in the picture's
    coordinates and what ``t`` means.

    Parameters
    ----------
    path : path-like
    data : (M, N) ndarray
        Render units of the whole picture (e.g. the healed composite).
    like : Frame
        The render.
    log_as : path-like, optional
        The name the log line shows (a file's final name inside a temporary folder).

    Returns
    -------
    Path
    """
    from PIL import Image

    info = render_info(like)
    t = render_scalar(like, data)
    r0, r1, c0, c1 = info["area"]
    desc = json.dumps({
        "dip_heal_render": 1, "colormap": info["colormap"], "area_rows": [r0, r1], "area_cols": [c0, c1],
        "scalar": "t in [0, 1]: position on the colour map (0 = its first colour); if the render drew "
                  "v between colour limits [a, b], v = a + t * (b - a)",
        "levels": info["levels"],
    })
    final = Path(path)
    with atomic_path(final, protect=(like.meta.get("path"),) if like.meta.get("path") else ()) as tmp:
        Image.fromarray(np.ascontiguousarray(t, np.float32), mode="F").save(tmp, format="TIFF", tiffinfo={270: desc})
    logger.info("wrote %s (float32 map position t of the image area, %d x %d)", log_as or final, t.shape[0], t.shape[1])
    return final

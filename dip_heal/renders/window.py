"""The image area of a figure (:func:`image_area`: the crop that leaves frame, axes, labels and
colour bar out) and fitting on it only (:func:`fit_window`, :func:`fit_in_window`)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

import numpy as np

from ..errors import DipHealError
from ..frame import Frame

__all__ = ["image_area", "fit_window", "fit_in_window"]

logger = logging.getLogger(__name__)


def image_area(on_map: np.ndarray, *, min_fraction: float = 0.5) -> tuple[int, int, int, int]:
    """The image area of a figure: rows ``r0..r1`` and columns ``c0..c1`` (inclusive).

    The largest 4-connected region of on-map pixels, its bounding box trimmed of edge rows and
    columns that are less than ``min_fraction`` on the map (axis lines, a partial frame).

    Parameters
    ----------
    on_map : (M, N) ndarray of bool
    min_fraction : float

    Returns
    -------
    (r0, r1, c0, c1) : tuple of int

    Raises
    ------
    DipHealError
        No pixel on the map.

    Examples
    --------
    >>> on = np.zeros((6, 8), bool); on[1:5, 2:7] = True; on[0, 0] = True
    >>> image_area(on)
    (1, 4, 2, 6)
    """
    from scipy import ndimage

    on_map = np.asarray(on_map, bool)
    if not on_map.any():
        raise DipHealError("no pixel of the picture is on the colour map; expected a colour-map render; "
                           "give the right --colormap")
    lab, n = ndimage.label(on_map)
    sizes = np.bincount(lab.ravel())[1:]
    comp = lab == (int(np.argmax(sizes)) + 1)
    rows, cols = np.flatnonzero(comp.any(axis=1)), np.flatnonzero(comp.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    while r1 > r0 or c1 > c0:
        box = on_map[r0 : r1 + 1, c0 : c1 + 1]
        edges = {"top": box[0].mean(), "bottom": box[-1].mean(), "left": box[:, 0].mean(),
                 "right": box[:, -1].mean()}
        side = min(edges, key=edges.get)
        if edges[side] >= min_fraction:
            break
        if side == "top" and r1 > r0:
            r0 += 1
        elif side == "bottom" and r1 > r0:
            r1 -= 1
        elif side == "left" and c1 > c0:
            c0 += 1
        elif side == "right" and c1 > c0:
            c1 -= 1
        else:
            break
    return r0, r1, c0, c1


def fit_window(frame: Frame) -> tuple[slice, slice] | None:
    """The image area of a render as slices, or None for any other frame."""
    info = frame.meta.get("render")
    if info is None:
        return None
    r0, r1, c0, c1 = info["area"]
    if (r0, c0) == (0, 0) and (r1, c1) == (frame.shape[0] - 1, frame.shape[1] - 1):
        return None
    return slice(r0, r1 + 1), slice(c0, c1 + 1)


def fit_in_window(frame: Frame, fit_fn: Callable[..., Any], image: np.ndarray, heal: np.ndarray, *args: Any,
                  callback: Callable[..., Any] | None = None, center: tuple[float, float] | None = None,
                  **kwargs: Any) -> Any:
    """``fit_fn(image, heal, ...)`` on a render's image area only, with the result in the frame's shape.

    For any other frame this is ``fit_fn(image, heal, *args, callback=callback, center=center, **kwargs)``.
    For a render, the fit sees the image area; snapshots, the composite, the network output and the
    held-out pixels come back pasted into the whole picture (outside the area: ``frame.data``), and a
    beam centre is shifted into and out of the area.
    """
    win = fit_window(frame)
    if win is None:
        return fit_fn(image, heal, *args, callback=callback, center=center, **kwargs)
    rs, cs = win
    dy, dx = rs.start, cs.start
    logger.info("fitting the image area only: rows %d..%d, columns %d..%d", rs.start, rs.stop - 1, cs.start,
                cs.stop - 1)

    def paste(a: np.ndarray | None, fill: np.ndarray | None = None) -> np.ndarray | None:
        if a is None:
            return None
        base = np.array(frame.data if fill is None else fill, dtype=np.asarray(a).dtype, copy=True)
        base[rs, cs] = a
        return base

    def wrapped(snap: Any, state: dict[str, Any]) -> Any:
        return callback(dataclasses.replace(snap, healed=paste(snap.healed)), state)

    c = None if center is None else (float(center[0]) - dx, float(center[1]) - dy)
    res = fit_fn(image[rs, cs], heal[rs, cs], *args, callback=wrapped if callback is not None else None, center=c,
                 **kwargs)
    extra = dict(res.extra)
    if extra.get("center") is not None:
        cx, cy = extra["center"]
        extra["center"] = (float(cx) + dx, float(cy) + dy)
    extra["fit_window"] = (rs.start, rs.stop - 1, cs.start, cs.stop - 1)
    holdout = paste(res.holdout, np.zeros(frame.shape, bool)) if res.holdout is not None else None
    return dataclasses.replace(res, healed=paste(res.healed), output=paste(res.output), holdout=holdout,
                               snapshots=[dataclasses.replace(s, healed=paste(s.healed)) for s in res.snapshots],
                               extra=extra)

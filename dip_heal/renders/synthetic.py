"""A synthetic render: map positions drawn through a map inside a figure frame (tests, the example)."""

from __future__ import annotations

import numpy as np

from .colormaps import render_colors

__all__ = ["synthetic_render"]


def synthetic_render(t: np.ndarray, name: str, *, frame: int = 1, margin: int = 0, frame_rgb=(50, 50, 50),
                     background=(255, 255, 255), ticks: int = 0) -> np.ndarray:
    """Draw map positions ``t`` through a map inside a figure frame, like MATLAB's exported axes.

    Parameters
    ----------
    t : (M, N) ndarray of float
        Map positions in [0, 1].
    name : str
        Catalogue map.
    frame : int
        Width of the grey frame line around the image.
    margin : int
        Background margin around the frame.
    frame_rgb, background : (r, g, b)
    ticks : int
        Tick marks (3 px long, inward) every ``ticks`` pixels along the left and bottom edges (0 = none).

    Returns
    -------
    rgb : (M + 2 frame + 2 margin, N + 2 frame + 2 margin, 3) ndarray of uint8

    Examples
    --------
    >>> synthetic_render(np.zeros((2, 3)), "gray", frame=1).shape
    (4, 5, 3)
    """
    img = render_colors(np.asarray(t, np.float64), name)
    M, N = img.shape[:2]
    f, m = int(frame), int(margin)
    out = np.empty((M + 2 * (f + m), N + 2 * (f + m), 3), np.uint8)
    out[...] = background
    out[m : m + M + 2 * f, m : m + N + 2 * f] = frame_rgb
    out[m + f : m + f + M, m + f : m + f + N] = img
    if ticks:
        for r in range(ticks, M, ticks):
            out[m + f + r, m + f : m + f + 3] = frame_rgb
        for c in range(ticks, N, ticks):
            out[m + f + M - 3 : m + f + M, m + f + c] = frame_rgb
    return out

"""Growing and shrinking bool masks by a disk."""

from __future__ import annotations

import numpy as np

__all__ = ["grow", "shrink"]


def grow(mask: np.ndarray, r: float) -> np.ndarray:
    """Dilate a bool mask by a disk of radius ``r`` pixels (Euclidean distance transform).

    Examples
    --------
    >>> m = np.zeros((5, 5), bool); m[2, 2] = True
    >>> int(grow(m, 1).sum())
    5
    """
    from scipy import ndimage

    if r <= 0 or not mask.any():
        return mask.copy()
    return ndimage.distance_transform_edt(~mask) <= r


def shrink(mask: np.ndarray, r: float) -> np.ndarray:
    """Erode a bool mask by a disk of radius ``r`` pixels (pixels beyond the frame count as outside)."""
    from scipy import ndimage

    if r <= 0 or not mask.any():
        return mask.copy()
    padded = np.pad(mask, 1, constant_values=False)
    return (ndimage.distance_transform_edt(padded) > r)[1:-1, 1:-1]


def _disk(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return xx * xx + yy * yy <= r * r + r  # a slightly fuller disk than the Euclidean one

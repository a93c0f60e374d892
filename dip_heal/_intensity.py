"""Normalised log intensity, its inverse, the log-median of heals and the composite: the one copy.

Scattering intensities span decades, so everything that fits or scores works in normalised log
intensity, ``y = log1p(max(I, 0)) / scale`` with ``scale`` the largest ``log1p`` of the known
pixels (1 when that is 0), non-finite values counting as 0; ``I = expm1(y * scale)`` maps back.
The DIP fits it (as float32), the classical fills fill it (float64), the benchmark scores in it
and the blind models see it (float32, unknown pixels 0).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["normalised_log", "to_log", "from_log", "normalise", "denormalise", "log_median", "composite"]

logger = logging.getLogger(__name__)


def normalised_log(image: np.ndarray, scale: float) -> np.ndarray:
    """``log1p(max(I, 0)) / scale`` (non-finite values count as 0), float64.

    Examples
    --------
    >>> normalised_log(np.array([-5.0, 0.0, np.e - 1]), 2.0).tolist()
    [0.0, 0.0, 0.5]
    """
    v = np.asarray(image, dtype=np.float64)
    v = np.where(np.isfinite(v), v, 0.0)
    return np.log1p(np.clip(v, 0.0, None)) / float(scale)


def to_log(image: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised log intensity ``y = log1p(max(I, 0)) / scale`` (float64).

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities; non-finite values count as 0.
    known : (M, N) ndarray of bool
        Pixels that define ``scale`` = max of ``log1p(max(I, 0))`` over them (1 when that is 0).

    Returns
    -------
    y : (M, N) ndarray of float64
    scale : float

    Examples
    --------
    >>> y, s = to_log(np.array([[0.0, 3.0, 7.0]]), np.array([[True, True, False]]))
    >>> round(s, 6), [round(float(v), 4) for v in y[0]]
    (1.386294, [0.0, 1.0, 1.5])
    """
    logi = normalised_log(image, 1.0)  # dividing by 1.0 is exact
    scale = float(logi[known].max()) if np.any(known) else 0.0
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    return logi / scale, scale


def from_log(y: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`to_log`: ``expm1(y * scale)`` (float64)."""
    return np.expm1(np.asarray(y, dtype=np.float64) * scale)


def normalise(image: np.ndarray, known: np.ndarray, *, zero_unknown: bool = False) -> tuple[np.ndarray, float]:
    """:func:`to_log` as float32, what the networks fit.

    Parameters
    ----------
    image : (M, N) ndarray
    known : (M, N) ndarray of bool
    zero_unknown : bool
        Set the pixels outside ``known`` to 0 (the blind models' input).

    Returns
    -------
    y : (M, N) ndarray of float32
    scale : float

    Examples
    --------
    >>> y, s = normalise(np.array([[0.0, np.e - 1]]), np.array([[True, True]]))
    >>> y.tolist(), round(s, 6)
    ([[0.0, 1.0]], 1.0)
    """
    y, scale = to_log(image, known)
    y = y.astype(np.float32)
    if zero_unknown:
        y = np.where(known, y, np.float32(0.0))
    return y, scale


def denormalise(y: np.ndarray, scale: float, *, clip: bool = False) -> np.ndarray:
    """Inverse of :func:`normalise` (float32 intensities); ``clip`` maps negative ``y`` to 0 first."""
    y = np.asarray(y, dtype=np.float64)
    if clip:
        y = np.clip(y, 0.0, None)
    return from_log(y, scale).astype(np.float32)


def log_median(frames: list[np.ndarray], where: np.ndarray) -> np.ndarray:
    """Per-pixel median of ``frames`` in ``log1p`` intensity at ``where`` (the first frame elsewhere).

    How ensembles and averaged sweep picks combine heals: the median suits the L1 score and is
    robust to one member that went astray.

    Examples
    --------
    >>> a, b, c = (np.full((1, 2), v, np.float32) for v in (1.0, 3.0, 100.0))
    >>> log_median([a, b, c], np.array([[True, False]])).tolist()
    [[3.0, 1.0]]
    """
    out = frames[0].copy()
    stack = np.log1p(np.clip(np.stack([f[where] for f in frames]).astype(np.float64), 0.0, None))
    out[where] = np.expm1(np.median(stack, axis=0)).astype(out.dtype)
    return out


def composite(image: np.ndarray, heal: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """Measured pixels from ``image``, ``filled`` in the holes, float32 (non-finite fills set to 0)."""
    out = np.where(heal, filled, image).astype(np.float32)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        logger.warning("%d healed pixels came out non-finite; set to 0", bad)
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return out

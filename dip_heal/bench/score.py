"""Scores in normalised log intensity: L1 and Pearson r over the score pixels, the pair cases' scale."""

from __future__ import annotations

import math

import numpy as np

from .._intensity import normalised_log
from ..errors import DipHealError

__all__ = ["log_scale", "l1_pearson", "score_healed", "lsq_scale"]


def log_scale(image: np.ndarray, known: np.ndarray) -> float:
    """``max(log1p(max(I, 0)))`` over the known pixels (1 when that is 0 or there are none)."""
    k = np.asarray(known, bool)
    if not k.any():
        return 1.0
    s = float(normalised_log(np.asarray(image)[k], 1.0).max())
    return s if s > 0 else 1.0


def l1_pearson(y_hat: np.ndarray, y_true: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Mean absolute error and Pearson correlation over ``mask``.

    Parameters
    ----------
    y_hat, y_true : (M, N) ndarray
    mask : (M, N) ndarray of bool
        The pixels to score.

    Returns
    -------
    l1 : float
    r : float
        NaN when either side is constant on ``mask``.

    Raises
    ------
    DipHealError
        Shapes differ or ``mask`` selects no pixel.

    Examples
    --------
    >>> l1, r = l1_pearson(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 5.0]), np.array([True] * 3))
    >>> round(l1, 6), round(r, 6)
    (0.666667, 0.981981)
    """
    a = np.asarray(y_hat, dtype=np.float64)
    b = np.asarray(y_true, dtype=np.float64)
    m = np.asarray(mask, bool)
    if a.shape != b.shape or a.shape != m.shape:
        raise DipHealError(f"shapes {a.shape}, {b.shape}, {m.shape} differ; expected one shape for prediction, "
                           "truth and score mask")
    if not m.any():
        raise DipHealError("the score mask selects no pixel; expected pasted-gap pixels to score")
    a, b = a[m], b[m]
    l1 = float(np.mean(np.abs(a - b)))
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(np.sum(da * da)) * float(np.sum(db * db)))
    r = float(np.sum(da * db) / den) if den > 0 else float("nan")
    return l1, r


def score_healed(healed: np.ndarray, truth: np.ndarray, score: np.ndarray, scale: float) -> tuple[float, float]:
    """L1 and Pearson r of healed vs. truth in normalised log intensity over ``score``.

    Parameters
    ----------
    healed, truth : (M, N) ndarray
        Intensities (counts).
    score : (M, N) ndarray of bool
    scale : float
        The case's normalisation (:func:`log_scale` of the input's known pixels).

    Returns
    -------
    l1, r : float
    """
    return l1_pearson(normalised_log(healed, scale), normalised_log(truth, scale), score)


def lsq_scale(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Least-squares factor ``s`` minimising ``||a - s b||`` over ``mask``.

    Examples
    --------
    >>> lsq_scale(np.array([2.0, 4.0]), np.array([1.0, 2.0]), np.array([True, True]))
    2.0
    """
    m = np.asarray(mask, bool)
    av = np.asarray(a, np.float64)[m]
    bv = np.asarray(b, np.float64)[m]
    den = float(np.sum(bv * bv))
    if not m.any() or den <= 0:
        raise DipHealError("no overlapping measured pixels with signal between the two frames of the pair; "
                           "expected overlap; check shift and crop")
    return float(np.sum(av * bv)) / den

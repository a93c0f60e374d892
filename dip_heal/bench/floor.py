"""The noise floor of a case: how close to its truth a method can come, estimated from the truth itself.

The scored pixels are measured counts with their own counting noise, so no method scores L1 = 0
or r = 1 against them. The floor estimates what is left once everything a method could know has
been used, by predictors that cheat: they read the truth's own neighbours.

L1 floor
    For every scored pixel the best (closest to its true value) of these predictors, the absolute
    errors averaged over the scored pixels, in the benchmark's normalised log intensity:

    - the leave-one-out 3 x 3 mean of the truth (the 8 neighbours that are truth, not invalid);
    - the leave-one-out 3 x 3 median of the truth;
    - for photon-counting detectors (PILATUS, EIGER: Poisson counts, no read noise), the median
      of ``Poisson(lambda)`` with ``lambda`` the leave-one-out 5 x 5 mean of the true counts
      (the most likely count a noise-free local mean would have been measured as).

    A method's *excess* is its L1 minus the floor, negative counted as 0.

Pearson r ceiling (CC*, Karplus & Diederichs 2012)
    ``CC = r(y(p), y(p + e))`` over the scored pixels and their truth neighbours one pixel away
    (the four directions pooled) plays the part of CC1/2: two measurements of nearly the same
    signal with equal noise. ``CC* = sqrt(2 CC / (1 + CC))`` estimates the correlation of the
    truth with its noise-free signal, the r that a perfect method would score (a method can pass
    it slightly: a neighbour's signal differs a little, which lowers CC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._intensity import normalised_log

__all__ = ["Floor", "noise_floor", "excess", "is_photon_counting"]

_COUNTING_FAMILIES = ("pilatus", "eiger")


@dataclass(frozen=True)
class Floor:
    """A case's noise floor.

    Attributes
    ----------
    l1 : float
        The L1 floor (normalised log intensity).
    r : float
        The Pearson r ceiling (CC*), NaN when it cannot be estimated.
    counting : bool
        Whether the Poisson predictor was used.
    by : dict of str to float
        Each predictor's own mean L1 (``mean3``, ``median3``, ``poisson5``).
    """

    l1: float
    r: float
    counting: bool
    by: dict[str, float]


def is_photon_counting(header: dict | None, shape: tuple[int, int], *, detector: str | None = None) -> bool:
    """True for a hybrid photon-counting detector (PILATUS, EIGER): ``detector`` (a pyFAI name the
    reader found), else the one the header names, else the one of the full frame's shape.

    Examples
    --------
    >>> is_photon_counting(None, (1679, 1475)), is_photon_counting(None, (2048, 2048))
    (True, False)
    """
    from ..detectors import detector_family, detector_from_header, detector_from_shape

    name = detector
    if not name:
        try:
            name = detector_from_header(header)
        except Exception:  # a header we cannot read names nothing
            name = None
    name = name or detector_from_shape(tuple(int(s) for s in shape))
    return detector_family(name) in _COUNTING_FAMILIES


def _neighbours(a: np.ndarray, ok: np.ndarray, py: np.ndarray, px: np.ndarray,
                radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Values and validity of the (2 radius + 1)^2 - 1 neighbours of pixels (py, px), shape (n, K)."""
    m, n = a.shape
    vals, oks = [], []
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            qy, qx = py + dy, px + dx
            inside = (qy >= 0) & (qy < m) & (qx >= 0) & (qx < n)
            qyc, qxc = np.where(inside, qy, 0), np.where(inside, qx, 0)
            vals.append(a[qyc, qxc])
            oks.append(inside & ok[qyc, qxc])
    return np.stack(vals, axis=1), np.stack(oks, axis=1)


def _loo_mean(a: np.ndarray, ok: np.ndarray, py: np.ndarray, px: np.ndarray, radius: int) -> np.ndarray:
    v, k = _neighbours(a, ok, py, px, radius)
    cnt = k.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (v * k).sum(axis=1) / np.maximum(cnt, 1), np.nan)


def _cc_star(y: np.ndarray, ok: np.ndarray, py: np.ndarray, px: np.ndarray) -> float:
    m, n = y.shape
    a_parts, b_parts = [], []
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        qy, qx = py + dy, px + dx
        inside = (qy >= 0) & (qy < m) & (qx >= 0) & (qx < n)
        sel = np.zeros(py.size, bool)
        sel[inside] = ok[qy[inside], qx[inside]]
        a_parts.append(y[py[sel], px[sel]])
        b_parts.append(y[qy[sel], qx[sel]])
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    if a.size < 3:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(np.sum(da * da)) * float(np.sum(db * db)))
    if den <= 0:
        return float("nan")
    cc = float(np.sum(da * db) / den)
    if cc <= 0:
        return 0.0
    return math.sqrt(2.0 * cc / (1.0 + cc))


def noise_floor(truth: np.ndarray, score: np.ndarray, valid: np.ndarray, scale: float, *,
                counting: bool = False) -> Floor:
    """The L1 floor and r ceiling of a case from its truth (see the module docstring).

    Parameters
    ----------
    truth : (M, N) ndarray
        True intensities (counts) on ``valid``.
    score : (M, N) ndarray of bool
        The scored pixels.
    valid : (M, N) ndarray of bool
        Pixels whose ``truth`` is a measurement (the neighbours the predictors may read).
    scale : float
        The case's normalisation of the log intensity.
    counting : bool
        Add the Poisson predictor (photon-counting detectors).

    Returns
    -------
    Floor

    Examples
    --------
    >>> flat = np.full((32, 32), 100.0)
    >>> s = np.zeros((32, 32), bool); s[10:14] = True
    >>> noise_floor(flat, s, np.ones((32, 32), bool), 5.0).l1
    0.0
    """
    truth = np.asarray(truth, np.float64)
    score = np.asarray(score, bool)
    valid = np.asarray(valid, bool) & np.isfinite(truth)
    py, px = np.nonzero(score & valid)
    if py.size == 0:
        return Floor(float("nan"), float("nan"), counting, {})
    y = normalised_log(truth, scale)
    y_true = y[py, px]
    preds: dict[str, np.ndarray] = {"mean3": _loo_mean(y, valid, py, px, 1)}
    v, k = _neighbours(y, valid, py, px, 1)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a pixel without valid neighbours: NaN
            preds["median3"] = np.nanmedian(np.where(k, v, np.nan), axis=1)
    if counting:
        from scipy.stats import poisson

        lam = _loo_mean(np.maximum(truth, 0.0), valid, py, px, 2)
        med = np.where(np.isfinite(lam) & (lam > 0), poisson.median(np.where(np.isfinite(lam), lam, 0.0)), 0.0)
        med = np.where(np.isfinite(lam), med, np.nan)
        preds["poisson5"] = normalised_log(med, scale)
    errs = np.stack([np.abs(p - y_true) for p in preds.values()])
    best = np.nanmin(np.where(np.isfinite(errs), errs, np.inf), axis=0)
    best = best[np.isfinite(best)]
    by = {name: float(np.nanmean(e)) for name, e in zip(preds, errs)}
    l1 = float(best.mean()) if best.size else float("nan")
    return Floor(l1, _cc_star(y, valid, py, px), counting, by)


def excess(l1: float, floor: float) -> float:
    """A method's L1 above the floor, negative counted as 0 (NaN when either is unknown).

    Examples
    --------
    >>> excess(0.5, 0.25), excess(0.25, 0.5)
    (0.25, 0.0)
    """
    if not (np.isfinite(l1) and np.isfinite(floor)):
        return float("nan")
    return max(0.0, float(l1) - float(floor))

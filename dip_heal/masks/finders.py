"""Automatic layers found in a detector frame's counts: empty or flat stripes, hot pixels, and the
dead corners of a round CCD. (The beamstop and its holder: :mod:`dip_heal.beam`; on colour-map
renders: :mod:`dip_heal.masks.render_finders`.)"""

from __future__ import annotations

import numpy as np

__all__ = ["empty_stripes", "hot_pixels", "zero_border"]


def empty_stripes(raw: np.ndarray, valid: np.ndarray, fraction: float, flat: float = 1e-3) -> np.ndarray:
    """Rows/columns that are (nearly) all zero, or flat, among measured ones.

    A row is empty when fewer than ``fraction`` of its valid pixels are non-zero; it is flat when
    the mean absolute difference between pixels 4 apart along it is below ``flat`` times the
    median of that over all rows (constant filler, e.g. the border of reduced EIGER data). A run
    of empty rows counts only when it looks like a gap: at most max(40, 5 %) rows, not at the
    frame edge, with rows on both sides that are at least 20 % non-zero (so weak, sparse regions
    of a pattern stay data). Flat rows count anywhere in runs of at most 3 at the edge. Same for
    columns.
    """
    raw = np.asarray(raw)
    nz = (raw != 0) & valid
    out = np.zeros(raw.shape, bool)
    for axis in (1, 0):
        nv = valid.sum(axis=axis)
        has = nv > 0
        frac = np.divide(nz.sum(axis=axis), nv, out=np.zeros(nv.shape, np.float64), where=has)
        empty = has & (frac < fraction)
        # neighbour differences along the line, on every 4th pair (a flat line is flat there too)
        if axis == 1:
            a, b = raw[:, 4::4], raw[:, :-4:4][:, : raw[:, 4::4].shape[1]]
            pair = valid[:, 4::4] & valid[:, :-4:4][:, : a.shape[1]]
        else:
            a, b = raw[4::4], raw[:-4:4][: raw[4::4].shape[0]]
            pair = valid[4::4] & valid[:-4:4][: a.shape[0]]
        d = np.abs(a.astype(np.float32) - b.astype(np.float32))
        n = pair.sum(axis=axis)
        act = np.divide(np.where(pair, d, 0).sum(axis=axis), n, out=np.zeros(n.shape, np.float64), where=n > 0)
        ref = float(np.median(act[n > 0])) if (n > 0).any() else 0.0
        flat_lines = (n > 0) & (act <= flat * ref) & (ref > 0) & (frac >= fraction)  # constant, not zero
        lines = _gap_like_runs(empty, has, frac) | _gap_like_runs(flat_lines, has, None, edge_run=3)
        if axis == 1:
            out[lines, :] = True
        else:
            out[:, lines] = True
    return out


def _gap_like_runs(lines: np.ndarray, has_valid: np.ndarray, frac: np.ndarray | None,
                   edge_run: int = 0) -> np.ndarray:
    """Keep the runs of ``lines`` that look like gaps (see :func:`empty_stripes`)."""
    out = np.zeros_like(lines)
    n = len(lines)
    idx = np.flatnonzero(has_valid)
    if idx.size == 0:
        return out
    e = lines[idx]
    edges = np.flatnonzero(np.diff(np.r_[0, e.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):  # e[a:b] is a run
        lo, hi = idx[a], idx[b - 1]
        at_edge = a == 0 or b == len(idx)
        if hi - lo + 1 > max(40, 0.05 * n):
            continue
        if at_edge:
            if b - a > edge_run:
                continue
        elif frac is not None:
            before = frac[idx[max(0, a - 5) : a]]
            after = frac[idx[b : b + 5]]
            if before.mean() < 0.2 or after.mean() < 0.2:
                continue
        out[lo : hi + 1] = True
    return out


def hot_pixels(data: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Isolated pixels far above their 3x3 median: ``I - med > sigma * sqrt(med + 1)`` and > 4 med."""
    from scipy import ndimage

    d = np.where(valid, data, 0).astype(np.float32)
    med = ndimage.median_filter(d, size=3)
    return valid & (d - med > sigma * np.sqrt(np.maximum(med, 0) + 1)) & (d > 4 * np.maximum(med, 1))


def zero_border(raw: np.ndarray) -> np.ndarray:
    """Zero pixels outside the convex hull of the non-zero ones (a round CCD's dead corners)."""
    import cv2

    nz = np.asarray(raw) != 0
    rows = np.flatnonzero(nz.any(axis=1))
    if rows.size == 0:
        return np.zeros(raw.shape, bool)
    first = nz[rows].argmax(axis=1)
    last = nz.shape[1] - 1 - nz[rows, ::-1].argmax(axis=1)
    pts = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)]).astype(np.int32)
    hull = cv2.convexHull(pts)
    inside = np.zeros(raw.shape, np.uint8)
    cv2.fillConvexPoly(inside, hull, 1)
    return ~inside.astype(bool) & ~nz

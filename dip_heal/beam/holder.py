"""The beamstop holder: the thin straight dark band that leaves the beamstop for the frame edge."""

from __future__ import annotations

import logging

import numpy as np

from .beamstop import find_beamstop
from .center import background_level, check_frame, log_image, smooth_log, smoothing_sigma

__all__ = ["find_holder"]

logger = logging.getLogger(__name__)


def find_holder(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    beamstop: np.ndarray | None = None,
    center: tuple[float, float] | None = None,
    *,
    min_dark: float = 0.6,
    margin: float = 0.5,
    contrast: float | None = None,
) -> list[tuple[float, float]] | None:
    """Propose the beamstop holder: a thin straight dark band from the beamstop to the frame edge.

    Rays from the beamstop centre are scored by the fraction of their valid pixels that are as
    dark as the beamstop shadow's rim threshold; the best ray (if dark enough) is refined by
    fitting a line to the centres of the dark runs across it, and its width is a high percentile
    of the run widths plus ``margin`` on each side.

    Parameters
    ----------
    image : (M, N) ndarray
    valid : (M, N) ndarray of bool, optional
    beamstop : (M, N) ndarray of bool, optional
        The beamstop mask (default :func:`find_beamstop`).
    center : (x, y), optional
        Default: the beamstop's centroid, else :func:`estimate_center`.
    min_dark : float
        Fraction of a ray's pixels that must be dark valleys (darker by ``contrast`` in log counts
        than both sides) for the ray to count as a holder.
    contrast : float, optional
        Log-count contrast of the valley; default a quarter of the beamstop's contrast with its
        rim, between 0.1 and 0.3.
    margin : float
        Pixels added on each side of the band.

    Returns
    -------
    polygon : list of (x, y), or None
        Four corners of the band (a thick line from the beamstop to beyond the frame edge), or
        None when no holder is found.
    """
    image, valid = check_frame(image, valid)
    if beamstop is None:
        beamstop = find_beamstop(image, valid, center)
    if not beamstop.any():
        return None
    off = background_level(image, valid)
    if off > 0:  # a CCD's dark offset
        image = np.asarray(image, np.float32) - np.float32(off)
    ys, xs = np.nonzero(beamstop)
    cx, cy = float(xs.mean()), float(ys.mean())
    r_bs = float(np.sqrt(beamstop.sum() / np.pi))
    M, N = image.shape
    f = log_image(image, valid)
    fs = smooth_log(f, valid, smoothing_sigma(image, valid))
    levels = _holder_levels(fs, valid, beamstop, cx, cy, r_bs)
    if levels is None:
        return None
    dark, auto_contrast = levels
    contrast = auto_contrast if contrast is None else contrast
    diag = float(np.hypot(M, N))
    t = np.arange(r_bs + 2, diag, 1.0)
    best = _best_ray(fs, valid, dark, (cx, cy), t, 1.5 * r_bs + 3, contrast, min_dark)
    if best is None:
        return None
    runs = _dark_runs(fs, valid, dark, (cx, cy), t, best, int(max(6, 2 * r_bs)))
    if len(runs[0]) < 5:
        return None
    return _band(*runs, (cx, cy), best, r_bs, margin, diag)


def _holder_levels(fs: np.ndarray, valid: np.ndarray, beamstop: np.ndarray, cx: float, cy: float,
                   r_bs: float) -> tuple[np.ndarray, float] | None:
    """The pixels as dark as the beamstop shadow's rim threshold, and the default valley contrast
    (a quarter of the beamstop's contrast with its rim, between 0.1 and 0.3)."""
    M, N = fs.shape
    inside = fs[beamstop & valid]
    if inside.size == 0:
        return None
    dist = np.hypot(np.arange(M)[:, None] - cy, np.arange(N)[None, :] - cx)
    ring = (~beamstop) & valid & (dist <= r_bs + max(3.0, r_bs))
    if not ring.any():
        return None
    level_in, level_ring = float(np.median(inside)), float(np.median(fs[ring]))
    thr = 0.5 * (level_in + level_ring)
    # low-count frames have little log contrast: ask for a quarter of it
    return fs < thr, float(np.clip(0.25 * (level_ring - level_in), 0.1, 0.3))


def _best_ray(fs: np.ndarray, valid: np.ndarray, dark: np.ndarray, centre: tuple[float, float], t: np.ndarray,
              side: float, contrast: float, min_dark: float) -> float | None:
    """The angle of the ray from ``centre`` whose pixels are most often dark valleys (darker by
    ``contrast`` than both sides, ``side`` pixels away); None when under ``min_dark`` of them are."""
    M, N = fs.shape
    cx, cy = centre

    def score(theta: float) -> tuple[float, int]:
        ux, uy = np.cos(theta), np.sin(theta)
        x = cx + t * ux
        y = cy + t * uy
        inb = (x >= side) & (x <= N - 1 - side) & (y >= side) & (y <= M - 1 - side)
        x, y = x[inb], y[inb]
        xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
        xa, ya = np.rint(x - side * uy).astype(int), np.rint(y + side * ux).astype(int)
        xb, yb = np.rint(x + side * uy).astype(int), np.rint(y - side * ux).astype(int)
        v = valid[yi, xi] & valid[ya, xa] & valid[yb, xb]
        if v.sum() < 10:
            return 0.0, 0
        c = fs[yi, xi][v]
        valley = dark[yi, xi][v] & (fs[ya, xa][v] - c > contrast) & (fs[yb, xb][v] - c > contrast)
        return float(valley.mean()), int(v.sum())

    thetas = np.deg2rad(np.arange(0, 360, 0.5))
    scores = np.array([score(th)[0] for th in thetas])
    best = float(thetas[int(np.argmax(scores))])
    fine = best + np.deg2rad(np.arange(-1, 1.01, 0.1))
    sfine = np.array([score(th)[0] for th in fine])
    best = float(fine[int(np.argmax(sfine))])
    if sfine.max() < min_dark:
        logger.info("no holder: best ray is %.0f %% dark", 100 * sfine.max())
        return None
    return best


def _dark_runs(fs: np.ndarray, valid: np.ndarray, dark: np.ndarray, centre: tuple[float, float], t: np.ndarray,
               best: float, half: int) -> tuple[list[float], list[float], list[int]]:
    """The dark runs across the ray at angle ``best``, every 4 px along it: their positions along
    the ray, centre offsets across it and widths (over ``2 half + 1`` pixels across)."""
    M, N = fs.shape
    cx, cy = centre
    ux, uy = np.cos(best), np.sin(best)
    px, py = -uy, ux
    s = np.arange(-half, half + 1)
    offs, widths, ts = [], [], []
    for tt in t[::4]:
        x0, y0 = cx + tt * ux, cy + tt * uy
        if not (0 <= x0 <= N - 1 and 0 <= y0 <= M - 1):
            break
        x = np.rint(x0 + s * px).astype(int)
        y = np.rint(y0 + s * py).astype(int)
        inb = (x >= 0) & (x < N) & (y >= 0) & (y < M)
        if inb.sum() < len(s) // 2:
            continue
        vals = np.full(len(s), np.nan)
        v = np.zeros(len(s), bool)
        v[inb] = valid[y[inb], x[inb]]
        vals[inb] = fs[y[inb], x[inb]]
        if not v[half] or not dark[y[half], x[half]] or v.sum() < len(s) * 0.8:
            continue
        run = _run_across(vals, v, half)
        if run is None:
            continue
        lo, hi = run
        offs.append((s[lo] + s[hi]) / 2)
        widths.append(s[hi] - s[lo] + 1)
        ts.append(tt)
    return ts, offs, widths


def _run_across(vals: np.ndarray, v: np.ndarray, half: int) -> tuple[int, int] | None:
    """The dark run through the middle sample ``half`` of a cut across the ray, at half maximum
    (midway between the valley floor and the sides); None when it is not closed on both sides."""
    ends = np.r_[vals[: half // 3], vals[-(half // 3) :]]
    ends_v = np.r_[v[: half // 3], v[-(half // 3) :]]
    if not ends_v.any():
        return None
    floor = float(np.nanmin(np.where(v[half - 3 : half + 4], vals[half - 3 : half + 4], np.nan)))
    local = 0.5 * (floor + float(np.median(ends[ends_v])))
    d = v & (vals < local)
    lo = half
    while lo > 0 and d[lo - 1]:
        lo -= 1
    hi = half
    while hi < len(vals) - 1 and d[hi + 1]:
        hi += 1
    if lo == 0 or hi == len(vals) - 1:
        return None  # run not closed: background as dark as the holder here
    return lo, hi


def _band(ts: list[float], offs: list[float], widths: list[int], centre: tuple[float, float], best: float,
          r_bs: float, margin: float, diag: float) -> list[tuple[float, float]]:
    """The band's four corners: a line fitted to the runs' centres (outliers dropped), from the
    beamstop centre to past the frame edge, as wide as most runs plus ``margin`` on each side."""
    cx, cy = centre
    ux, uy = np.cos(best), np.sin(best)
    px, py = -uy, ux
    ts_a, offs_a, w_a = np.array(ts), np.array(offs), np.array(widths, float)
    a, b = np.polyfit(ts_a, offs_a, 1)
    res = np.abs(offs_a - (a * ts_a + b))
    keep = res <= max(2.0, 3 * np.median(res))
    if keep.sum() >= 5:
        a, b = np.polyfit(ts_a[keep], offs_a[keep], 1)
    hw = min(float(np.percentile(w_a[keep], 90)) / 2, r_bs) + margin  # an arm is not wider than the stop
    p0 = np.array([cx + b * px, cy + b * py])
    d = np.array([ux + a * px, uy + a * py])
    d /= np.hypot(*d)
    p1 = p0 + d * diag
    n = np.array([-d[1], d[0]]) * hw
    poly = [tuple(map(float, p)) for p in (p0 + n, p1 + n, p1 - n, p0 - n)]
    logger.debug("holder: angle %.1f deg, half-width %.1f px", np.rad2deg(np.arctan2(d[1], d[0])), hw)
    return poly

"""Mask finders for colour-map renders, on the map position inside the image area.

:func:`dip_heal.masks.build_mask_layers` uses these for a frame read from a render
(:mod:`dip_heal.renders`), where the usual finders do not apply:

- A render has no zero: its lowest level is the map's first colour, which a gap shares with every
  pixel below the colour limits (0 counts, and on MVE385's renders 1 count too). A module gap is a
  row or column that sits at the lowest level *across the pattern*: :func:`minimum_stripes` asks,
  line by line, whether so few lit pixels could happen by chance given how lit the lines around
  it are (a Poisson tail), so that sparse regions of the pattern, where most pixels sit at the
  lowest level too, stay data.
- The beamstop of a render is the compact region at the lowest level at the beam, enclosed by
  lit pixels (:func:`find_dark_beamstop`); smoothing it first, as the counts-based finder must,
  would wash out a shadow a few render pixels across.
- The beamstop holder of a render is often a straight band darker than both its sides from the
  frame edge to the beam, with or without a dark beamstop at its end:
  :func:`find_band_holder` scores straight bands through the beam centre.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..errors import DipHealError

__all__ = ["minimum_stripes", "find_dark_beamstop", "find_band_holder"]

logger = logging.getLogger(__name__)


def _poisson_cdf(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """P(X <= k) for X ~ Poisson(lam), elementwise (small k)."""
    from scipy.stats import poisson

    return poisson.cdf(k, lam)


def _lines(lit: np.ndarray, measured: np.ndarray, axis: int, alpha: float, window: int) -> np.ndarray:
    """Lines along ``axis`` (1 = rows) with too few lit pixels for their neighbourhood (see
    :func:`minimum_stripes`)."""
    k = lit.sum(axis=axis).astype(np.float64)
    n = measured.sum(axis=axis).astype(np.float64)
    rate = np.divide(k, n, out=np.zeros_like(k), where=n > 0)
    L = len(k)
    gap = np.zeros(L, bool)
    for _ in range(4):  # lines found empty no longer count as neighbours of the others
        ref = np.zeros(L)
        for i in range(L):
            lo, hi = max(0, i - window), min(L, i + window + 1)
            idx = [j for j in range(lo, hi) if j != i and not gap[j] and n[j] > 0]
            ref[i] = float(np.median(rate[idx])) if idx else 0.0
        lam = ref * n
        cand = (n > 0) & (lam > 0) & (k <= 0.25 * lam) & (_poisson_cdf(k, lam) < 0.05)
        new = np.zeros(L, bool)
        edges = np.flatnonzero(np.diff(np.r_[0, cand.astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):  # cand[a:b] is a run: test it as a whole
            if _poisson_cdf(k[a:b].sum(), lam[a:b].sum()) < alpha:
                new[a:b] = True
        if np.array_equal(new, gap):
            break
        gap = new
    return gap


def minimum_stripes(data: np.ndarray, measured: np.ndarray, *, alpha: float = 1e-12, window: int = 12,
                    level: float | None = None) -> np.ndarray:
    """Rows and columns that sit at the lowest level across the pattern.

    A line's *lit* pixels are its measured pixels above ``level``. A line is a candidate when its
    lit count ``k`` is at most a quarter of ``lam = n * r`` and ``P(Poisson(lam) <= k) < 0.05``,
    with ``n`` its measured pixels and ``r`` the median lit fraction of the other lines within
    ``window`` (lines already found empty left out); a run of neighbouring candidates is a gap when
    its summed counts have ``P(Poisson(sum lam) <= sum k) < alpha``. Such a run cannot be a sparse
    part of the pattern: 9 empty lines among lines 2 % lit, 280 pixels long, have ``sum lam = 50``
    and ``P(0) = 2e-22``; 4 empty lines among lines 1 % lit have ``P(0) = 1e-5`` and stay data.

    Parameters
    ----------
    data : (M, N) ndarray
        The frame (render units, or counts).
    measured : (M, N) ndarray of bool
        Pixels that are data (inside the image area, on the map, not already masked).
    alpha : float
        Chance level below which a dark line is a gap.
    window : int
        Lines on each side that set the expected lit fraction.
    level : float, optional
        The lowest level; default the smallest measured value.

    Returns
    -------
    (M, N) ndarray of bool
        True on the measured pixels of the gap lines.

    Raises
    ------
    DipHealError
        Shapes that differ.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = (rng.random((40, 50)) < 0.2).astype(float); d[17:20] = 0
    >>> rows = np.flatnonzero(minimum_stripes(d, np.ones(d.shape, bool)).all(axis=1))
    >>> rows.tolist()
    [17, 18, 19]
    """
    data = np.asarray(data, np.float64)
    measured = np.asarray(measured, bool)
    if data.shape != measured.shape or data.ndim != 2:
        raise DipHealError(f"data {data.shape} and measured {measured.shape} differ; expected one (M, N) shape; "
                           "pass the frame's own mask")
    out = np.zeros(data.shape, bool)
    if not measured.any():
        return out
    lo = float(np.min(data[measured])) if level is None else float(level)
    lit = measured & (data > lo)
    rows = _lines(lit, measured, 1, alpha, window)
    cols = _lines(lit, measured, 0, alpha, window)
    out[rows, :] = True
    out[:, cols] = True
    out &= measured
    if rows.any() or cols.any():
        logger.info("stripes at the lowest level: rows %s, columns %s", _runs(rows), _runs(cols))
    return out


def _runs(lines: np.ndarray) -> str:
    idx = np.flatnonzero(lines)
    if idx.size == 0:
        return "none"
    parts = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    return ", ".join(f"{p[0]}" if len(p) == 1 else f"{p[0]}-{p[-1]}" for p in parts)


def find_dark_beamstop(
    data: np.ndarray,
    measured: np.ndarray,
    center: tuple[float, float],
    *,
    max_radius: float | None = None,
    min_rim: float = 0.6,
    margin: int = 1,
) -> np.ndarray:
    """The beamstop of a render: the compact region at the lowest level at the beam centre.

    The 4-connected region of measured pixels at the lowest level that touches the 5 x 5 pixels
    around ``center`` counts when its area is at most that of a disk of ``max_radius`` and at least
    ``min_rim`` of the ring of pixels 1-2 px outside it is lit (above the lowest level): a shadow,
    not a dark part of the pattern. Where a holder arm at the same level leaves it, an opening of
    3/4 of the shadow's inscribed radius at the centre cuts the arm off first. The shadow is then
    filled and grown by ``margin`` pixels.

    Parameters
    ----------
    data : (M, N) ndarray
    measured : (M, N) ndarray of bool
    center : (x, y)
    max_radius : float, optional
        Default a tenth of the smaller side (at least 4).
    min_rim : float
    margin : int

    Returns
    -------
    (M, N) ndarray of bool
        Empty when no such region sits at the centre.

    Examples
    --------
    >>> d = np.full((20, 20), 5.0); d[8:11, 9:12] = 0
    >>> int(find_dark_beamstop(d, np.ones(d.shape, bool), (10, 9), margin=0).sum())
    9
    """
    from scipy import ndimage

    from ..beam import grow

    data = np.asarray(data, np.float64)
    measured = np.asarray(measured, bool)
    M, N = data.shape
    empty = np.zeros((M, N), bool)
    if not measured.any():
        return empty
    lo = float(np.min(data[measured]))
    dark = measured & (data <= lo)
    x, y = int(round(center[0])), int(round(center[1]))
    if not (0 <= x < N and 0 <= y < M):
        return empty
    lab, _ = ndimage.label(dark)
    ids = lab[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
    ids = ids[ids > 0]
    if ids.size == 0:
        logger.info("no beamstop: nothing at the lowest level at the beam centre (%.1f, %.1f)", *center)
        return empty
    comp = ndimage.binary_fill_holes(lab == np.bincount(ids).argmax())
    rmax = float(max_radius or max(4.0, min(M, N) / 10))
    ring = grow(comp, 2) & ~comp & measured
    lit = float((data[ring] > lo).mean()) if ring.any() else 0.0
    if comp.sum() > math.pi * rmax**2 or lit < min_rim:
        comp, lit = _cut_arms(comp, lit, data, measured, lo, x, y)
    if comp.sum() > math.pi * rmax**2:
        logger.info("no beamstop: the dark region at the centre (%d px) is larger than a disk of radius %.0f",
                    int(comp.sum()), rmax)
        return empty
    if lit < min_rim:
        logger.info("no beamstop: the dark region at the centre is not enclosed by lit pixels (%.0f %% of its rim)",
                    100 * lit)
        return empty
    out = grow(comp, margin) if margin > 0 else comp
    logger.info("beamstop: %d px at the lowest level at (%.1f, %.1f), rim %.0f %% lit", int(comp.sum()), *center,
                100 * lit)
    return out


def _cut_arms(comp: np.ndarray, lit: float, data: np.ndarray, measured: np.ndarray, lo: float, x: int,
              y: int) -> tuple[np.ndarray, float]:
    """A holder arm at the same level leaves the shadow: cut arms thinner than the stop by an
    opening of 3/4 of its inscribed radius at (x, y); returns the shadow and its rim's lit fraction."""
    from scipy import ndimage

    from ..beam import grow, shrink

    r_c = float(ndimage.distance_transform_edt(comp)[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].max())
    if r_c >= 2:
        r_open = 0.75 * r_c
        core = grow(shrink(comp, r_open), r_open) & comp
        lab2, _ = ndimage.label(core)
        ids2 = lab2[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
        ids2 = ids2[ids2 > 0]
        if ids2.size:
            comp = ndimage.binary_fill_holes(lab2 == np.bincount(ids2).argmax())
            ring = grow(comp, 2) & ~comp & measured
            lit = float((data[ring] > lo).mean()) if ring.any() else 0.0
    return comp, lit


def find_band_holder(
    data: np.ndarray,
    measured: np.ndarray,
    center: tuple[float, float],
    *,
    beamstop: np.ndarray | None = None,
    widths: tuple[int, ...] = (3, 5, 7, 9, 11, 15),
    min_z: float = 6.0,
    min_dark: float = 0.7,
    margin: float = 0.5,
) -> list[tuple[float, float]] | None:
    """The beamstop holder as a straight band from the beam to the image edge, darker than its sides.

    For every direction (1 degree steps) and band width, pixels along the ray from the beam are
    compared with the pixels on both sides of the band (strips as wide as the band, one pixel
    apart): the band's score is the mean of ``side - band`` over the ray in units of its standard
    error (a z score), and the fraction of the ray where the band is darker than both sides. The
    best direction is refined (0.25 degree steps within 2 degrees, offsets up to 3 px from the
    centre estimate). It counts when its z score is at least ``min_z`` and it is darker than both
    sides on ``min_dark`` of its length. The band runs until it gets brighter than its sides
    (through background as dark as itself, to the edge, as a holder arm does); its width is where
    the profile across it is darker than 3/4 of the way from its floor to its sides.

    Parameters
    ----------
    data : (M, N) ndarray
        The frame (render units: ``log1p`` is the map position).
    measured : (M, N) ndarray of bool
        Data pixels (gap stripes and the beamstop left out).
    center : (x, y)
        The beam centre (column, row).
    beamstop : (M, N) ndarray of bool, optional
        The beamstop: the band starts at its edge.
    widths : tuple of int
        Band widths tried, in pixels.
    min_z, min_dark : float
        Acceptance thresholds (see above).
    margin : float
        Pixels added on each side of the band.

    Returns
    -------
    polygon : list of (x, y), or None
        Four corners of the band, or None when no band is dark enough.
    """
    data, measured = np.asarray(data, np.float64), np.asarray(measured, bool)
    if data.shape != measured.shape or data.ndim != 2:
        raise DipHealError(f"data {data.shape} and measured {measured.shape} differ; expected one (M, N) shape; "
                           "pass the frame's own mask")
    f = np.where(measured, np.log1p(np.maximum(data, 0)), np.nan)
    M, N = f.shape
    cx, cy = float(center[0]), float(center[1])
    r_in = 2.0
    if beamstop is not None and beamstop.any():
        r_in = math.sqrt(beamstop.sum() / math.pi) + 1.0
    diag = math.hypot(M, N)
    t = np.arange(r_in, diag, max(1.0, diag / 400))  # at most ~400 samples along a ray: big renders stay fast
    rays = _Rays(f, cx, cy, t)
    best = _best_band(rays, widths, min_dark)
    if best is None:
        logger.info("no holder: no band from the beam is darker than its sides on %.0f %% of its length",
                    100 * min_dark)
        return None
    z, dark_frac, th, w, b = best
    if z < min_z:
        logger.info("no holder: best band (%.0f deg, %d px) has z %.1f < %.1f", math.degrees(th), w, z, min_z)
        return None
    _, _, not_brighter = rays.score(th, w, b, want_extent=True)
    # the band ends where it gets brighter than its sides (smoothed over 9 px); where the background
    # is as dark as the band (both at the lowest level) it goes on, as a holder arm reaches the edge
    run = np.convolve(not_brighter.astype(float), np.ones(9) / 9, mode="same") >= 0.5
    end = int(np.flatnonzero(run)[-1]) if run.any() else len(t) - 1
    length = float(t[min(end, len(t) - 1)])
    width, off = _band_width(rays, th, w, b, t <= length)
    ux, uy = math.cos(th), math.sin(th)
    px, py = -uy, ux
    p0 = np.array([cx + (b + off) * px, cy + (b + off) * py])
    d = np.array([ux, uy])
    p1 = p0 + d * (length + 0.5 * width)
    n = np.array([px, py]) * (0.5 * width + margin)
    poly = [tuple(map(float, q)) for q in (p0 + n, p1 + n, p1 - n, p0 - n)]
    logger.info("holder: band at %.1f deg from the beam, %.0f px wide, %.0f px long (z %.1f, darker on %.0f %%)",
                math.degrees(th), width, length, z, 100 * dark_frac)
    return poly


class _Rays:
    """Strips along the rays from the beam centre ``(cx, cy)`` through ``f`` (NaN = no data), sampled
    at the distances ``t``, and the darker-band score of :func:`find_band_holder`."""

    def __init__(self, f: np.ndarray, cx: float, cy: float, t: np.ndarray) -> None:
        self.f, self.cx, self.cy, self.t = f, cx, cy, t

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        M, N = self.f.shape
        xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
        ok = (xi >= 0) & (xi < N) & (yi >= 0) & (yi < M)
        out = np.full(x.shape, np.nan)
        out[ok] = self.f[yi[ok], xi[ok]]
        return out

    def strip(self, theta: float, lo: float, hi: float, b: float) -> np.ndarray:
        """Mean along the ray of the strip ``lo <= offset <= hi`` (pixels across the ray, + ``b``)."""
        t = self.t
        ux, uy = math.cos(theta), math.sin(theta)
        px, py = -uy, ux
        offs = (np.arange(lo, hi + 0.5) + b)[:, None]
        return np.nanmean(self.sample(self.cx + t[None] * ux + offs * px, self.cy + t[None] * uy + offs * py), axis=0)

    def score(self, theta: float, w: int, b: float = 0.0,
              want_extent: bool = False) -> tuple[float, float, np.ndarray]:
        """(z score, fraction darker than both sides, where darker) of the band of width ``w``."""
        half = (w - 1) / 2
        with np.errstate(invalid="ignore"), _quiet():
            band = self.strip(theta, -half, half, b)
            s1 = self.strip(theta, half + 2, half + 1 + w, b)
            s2 = self.strip(theta, -half - 1 - w, -half - 2, b)
        ok = np.isfinite(band) & np.isfinite(s1) & np.isfinite(s2)
        if ok.sum() < 10:
            return 0.0, 0.0, ok
        d = 0.5 * (s1 + s2) - band
        darker = (s1 > band) & (s2 > band)
        dd = d[ok]
        z = float(dd.mean() / (dd.std(ddof=1) / math.sqrt(dd.size) + 1e-12))
        if want_extent:  # where the band is not brighter than either side (ties: both at the lowest level)
            return z, float(darker[ok].mean()), ok & (s1 >= band) & (s2 >= band)
        return z, float(darker[ok].mean()), darker & ok


def _best_band(rays: _Rays, widths: tuple[int, ...],
               min_dark: float) -> tuple[float, float, float, int, float] | None:
    """(z, dark fraction, direction, width, offset) of the best band: 1 degree steps over every
    width, then refined; None when no band is darker than its sides on ``min_dark`` of the ray."""
    best = (0.0, 0.0, 0.0, 0, 0.0)
    for w in widths:
        for th in np.deg2rad(np.arange(0.0, 360.0, 1.0)):
            z, dark, _ = rays.score(th, w)
            if dark >= min_dark and z > best[0]:
                best = (z, dark, th, w, 0.0)
    if best[3] == 0:
        return None
    _, _, th0, w0, _ = best
    for th in th0 + np.deg2rad(np.arange(-2.0, 2.01, 0.25)):  # the band need not cross the centre estimate
        for b in np.arange(-3.0, 3.01, 0.5):
            z, dark, _ = rays.score(th, w0, b)
            if dark >= min_dark and z > best[0]:
                best = (z, dark, th, w0, b)
    return best


def _band_width(rays: _Rays, th: float, w: int, b: float, keep: np.ndarray) -> tuple[float, float]:
    """(width, offset) of the band from the profile across it, over the samples ``keep``: where it is
    darker than 3/4 of the way from its floor to its sides; ``(w, 0)`` when the profile says nothing."""
    half = int(max(2 * w, 12))
    sgrid = np.arange(-half, half + 1)
    with np.errstate(invalid="ignore"), _quiet():
        prof = np.array([np.nanmean(rays.strip(th, o, o, b)[keep]) for o in sgrid])
    core = np.abs(sgrid) <= (w + 1) / 2
    width = float(w)
    off = 0.0
    if np.isfinite(prof[core]).any() and (np.isfinite(prof) & ~core).sum() >= 4:
        i0 = int(np.nanargmin(np.where(core, prof, np.nan)))
        floor = float(prof[i0])
        side = float(np.nanmedian(prof[np.abs(sgrid) > w]))
        dark = np.isfinite(prof) & (prof < floor + 0.75 * (side - floor))
        lo = hi = i0
        while lo > 0 and dark[lo - 1]:
            lo -= 1
        while hi < len(sgrid) - 1 and dark[hi + 1]:
            hi += 1
        if 0 < lo and hi < len(sgrid) - 1:
            width = float(sgrid[hi] - sgrid[lo] + 1)
            off = 0.5 * (sgrid[lo] + sgrid[hi])
    return width, off


class _quiet:
    """Silence numpy's 'mean of empty slice' while averaging partly empty samples."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)

"""The direct-beam position (:func:`find_center`: ring concentricity, gradient voting and the
pattern's centrosymmetry, with a confidence); the log image, its smoothing and radial profile."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import DipHealError

__all__ = ["BeamCenter", "find_center", "estimate_center", "log_image", "check_frame", "smooth_log",
           "smoothing_sigma", "radial_profile", "background_level"]

logger = logging.getLogger(__name__)

#: how far off the frame a beam centre may lie, in frame sizes beyond each edge: the farthest the
#: estimator searches (when the rings' best centre lies beyond its first ``extend``) and the
#: farthest a given centre is accepted (:func:`dip_heal.polar.check_center`). A 512x512 crop of
#: a 2048x2048 detector's corner has its centre up to about 1.7 crop sizes beyond its edge.
MAX_OFF_FRAME = 2.0


def log_image(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``log1p(max(I, 0))`` on valid pixels, 0 elsewhere, as float32.

    Parameters
    ----------
    image : (M, N) ndarray
    valid : (M, N) ndarray of bool

    Returns
    -------
    (M, N) ndarray of float32
    """
    out = np.zeros(image.shape, np.float32)
    v = np.asarray(image, np.float32)[valid]
    out[valid] = np.log1p(np.maximum(v, 0))
    return out


def check_frame(image: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image)
    if image.ndim != 2:
        raise DipHealError(f"got an image of shape {image.shape}; expected a 2-D frame (M, N); select one frame")
    if valid is None:
        valid = np.isfinite(image)
    valid = np.asarray(valid, bool)
    if valid.shape != image.shape:
        raise DipHealError(
            f"valid mask shape {valid.shape} does not match the frame {image.shape}; pass the frame's own mask"
        )
    if not valid.any():
        raise DipHealError("the frame has no valid pixels; expected some measured pixels; check the file and mask")
    return image, valid


def _bin(a: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k x k block mean of ``a`` over ``w`` (crops the ragged edge)."""
    if k == 1:
        return a.astype(np.float64), w.astype(np.float64)
    m, n = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    aw = (a[:m, :n] * w[:m, :n]).reshape(m // k, k, n // k, k).sum(axis=3).sum(axis=1, dtype=np.float64)
    ww = w[:m, :n].reshape(m // k, k, n // k, k).sum(axis=3).sum(axis=1, dtype=np.float64)
    out = np.divide(aw, ww, out=np.zeros_like(aw), where=ww > 0)
    return out, ww / (k * k)


def _symmetry_map(f: np.ndarray, w: np.ndarray, min_overlap: float) -> np.ndarray:
    """Dissimilarity of f and f rotated by 180 degrees about p/2, for every p.

    Returns an array of shape (2M-1, 2N-1); entry p holds ``1 - r`` where r is the Pearson
    correlation of ``f(x)`` and ``f(p - x)`` over the pixels valid in both (masked FFT
    convolutions); inf where the overlap is below ``min_overlap`` of the valid weight.
    """
    from scipy import fft

    shape = (2 * f.shape[0] - 1, 2 * f.shape[1] - 1)
    fshape = tuple(fft.next_fast_len(s, real=True) for s in shape)
    wf = w * f
    W = fft.rfft2(w, fshape)
    WF = fft.rfft2(wf, fshape)
    WF2 = fft.rfft2(wf * f, fshape)
    n = fft.irfft2(W * W, fshape)[: shape[0], : shape[1]]
    s1 = fft.irfft2(WF * W, fshape)[: shape[0], : shape[1]]
    s2 = fft.irfft2(WF2 * W, fshape)[: shape[0], : shape[1]]
    c = fft.irfft2(WF * WF, fshape)[: shape[0], : shape[1]]
    d = np.full(shape, np.inf)
    ok = n > max(min_overlap * w.sum(), 4.0)
    m = s1[ok] / n[ok]
    var = s2[ok] / n[ok] - m * m
    cov = c[ok] / n[ok] - m * m
    tiny = 1e-9 * max(float(np.abs(var).max(initial=0.0)), 1e-30)
    d[ok] = np.where(var > tiny, 1.0 - cov / np.maximum(var, tiny), np.inf)
    return d


def _subpixel(d: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """Parabolic refinement of a minimum at (i, j) of ``d``."""
    di = dj = 0.0
    if 0 < i < d.shape[0] - 1 and np.isfinite(d[i - 1 : i + 2, j]).all():
        a, b, c = d[i - 1, j], d[i, j], d[i + 1, j]
        den = a - 2 * b + c
        if den > 0:
            di = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    if 0 < j < d.shape[1] - 1 and np.isfinite(d[i, j - 1 : j + 2]).all():
        a, b, c = d[i, j - 1], d[i, j], d[i, j + 1]
        den = a - 2 * b + c
        if den > 0:
            dj = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return i + di, j + dj


def symmetry_center(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    max_size: int = 256,
    window: int = 256,
    min_overlap: float = 0.35,
) -> tuple[float, float]:
    """Direct-beam position from the pattern's centrosymmetry alone (one of the candidates of
    :func:`find_center`).

    The log image is compared with its 180-degree rotation about every candidate centre (masked
    FFT convolutions), first binned to at most ``max_size`` pixels a side, then at full resolution
    in a ``window`` around the first estimate, refined to sub-pixel precision.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts); negative values count as 0.
    valid : (M, N) ndarray of bool, optional
        True = measured pixel. Default: finite pixels.
    max_size : int
        Side length of the binned image of the coarse search.
    window : int
        Side length of the full-resolution refinement window.
    min_overlap : float
        Minimum overlap (fraction of valid pixels) for a candidate centre.

    Returns
    -------
    (x, y) : tuple of float
        Column and row of the beam centre, in pixels (pixel centres at integers).

    Raises
    ------
    DipHealError
        Not a 2-D frame, mask of another shape, or no valid pixel.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:120, 0:100]
    >>> img = 1000 / (1 + np.hypot(xx - 40.3, yy - 70.0)) ** 2
    >>> x, y = symmetry_center(img)
    >>> round(x), round(y)
    (40, 70)
    """
    image, valid = check_frame(image, valid)
    w = valid.astype(np.float32)
    k = max(1, int(np.ceil(max(image.shape) / max_size)))
    # bin the counts, then take the log (cheap on big frames)
    counts = np.where(valid, np.maximum(np.asarray(image, np.float32), 0), np.float32(0))
    cb, wb = _bin(counts, w, k)
    fb = np.log1p(cb)
    wb = (wb > 0.5).astype(np.float64)
    from scipy import ndimage

    fb = ndimage.gaussian_filter(fb * wb, 1.0) / np.maximum(ndimage.gaussian_filter(wb, 1.0), 1e-6) * wb
    d = _symmetry_map(fb, wb, min_overlap)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    pi, pj = _subpixel(d, int(i), int(j))
    # binned pixel index b covers full pixels b*k .. b*k+k-1, centre b*k + (k-1)/2
    cy = (pi / 2) * k + (k - 1) / 2
    cx = (pj / 2) * k + (k - 1) / 2
    if k > 1 and window > 0:
        cx, cy = _refine(image, valid, cx, cy, window, min_overlap)
    logger.debug("beam centre x=%.2f y=%.2f (binning %d)", cx, cy, k)
    return float(cx), float(cy)


def _refine(image: np.ndarray, valid: np.ndarray, cx: float, cy: float, window: int,
            min_overlap: float) -> tuple[float, float]:
    """Full-resolution symmetry search in a window centred on (cx, cy)."""
    h = window // 2
    y0 = int(np.clip(round(cy) - h, 0, max(image.shape[0] - window, 0)))
    x0 = int(np.clip(round(cx) - h, 0, max(image.shape[1] - window, 0)))
    sub_v = valid[y0 : y0 + window, x0 : x0 + window]
    fs = log_image(image[y0 : y0 + window, x0 : x0 + window], sub_v).astype(np.float64)
    ws = sub_v.astype(np.float64)
    if ws.sum() < 16:
        return cx, cy
    from scipy import ndimage

    fs = ndimage.gaussian_filter(fs * ws, 1.0) / np.maximum(ndimage.gaussian_filter(ws, 1.0), 1e-6) * ws
    d = _symmetry_map(fs, ws, min_overlap)
    # search only near the coarse estimate (p = 2c in window coordinates)
    pi0, pj0 = 2 * (cy - y0), 2 * (cx - x0)
    r = 2 * max(4, window // 32)
    ii, jj = np.ogrid[0 : d.shape[0], 0 : d.shape[1]]
    d = np.where((np.abs(ii - pi0) <= r) & (np.abs(jj - pj0) <= r), d, np.inf)
    if not np.isfinite(d).any():
        return cx, cy
    i, j = np.unravel_index(np.argmin(d), d.shape)
    pi, pj = _subpixel(d, int(i), int(j))
    return x0 + pj / 2, y0 + pi / 2


def smooth_log(f: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised (mask-aware) box smoothing of ``f`` over valid pixels, box side 2*sigma+1."""
    from scipy import ndimage

    size = 2 * int(round(sigma)) + 1
    w = valid.astype(np.float32)
    num = ndimage.uniform_filter(f * w, size)
    den = ndimage.uniform_filter(w, size)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 1e-3)


def smoothing_sigma(image: np.ndarray, valid: np.ndarray) -> float:
    """Smoothing radius: larger for low-count frames, so edges are not lost in Poisson noise."""
    sub = np.asarray(image)[:: 4, :: 4][valid[:: 4, :: 4]]
    med = float(np.median(sub)) if sub.size else 0.0
    return 1.0 if med >= 20 else (2.0 if med >= 3 else 3.0)


def radial_profile(fs: np.ndarray, valid: np.ndarray, cx: float, cy: float, rmax: int) -> np.ndarray:
    """Mean of ``fs`` over valid pixels in 1-px rings 0..rmax around (cx, cy); NaN where empty."""
    y0, y1 = max(0, int(cy) - rmax - 1), min(fs.shape[0], int(cy) + rmax + 2)
    x0, x1 = max(0, int(cx) - rmax - 1), min(fs.shape[1], int(cx) + rmax + 2)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    rb = np.rint(np.hypot(xx - cx, yy - cy)).astype(int)
    v = valid[y0:y1, x0:x1] & (rb <= rmax)
    vals, rr = fs[y0:y1, x0:x1][v], rb[v]
    cnt = np.bincount(rr, minlength=rmax + 1)[: rmax + 1]
    tot = np.bincount(rr, weights=vals, minlength=rmax + 1)[: rmax + 1]
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def background_level(image: np.ndarray, valid: np.ndarray) -> float:
    """The frame's own zero: a CCD's dark offset (e.g. ~1000 ADU on a FReLoN), else 0.

    The 1st percentile of the valid pixels when it is above 20 counts (a photon-counting detector
    or a dark-subtracted frame has many pixels near 0 there), else 0.

    Examples
    --------
    >>> img = np.full((20, 20), 1000.0); img[5:15, 5:15] += 400
    >>> background_level(img, np.ones_like(img, bool))
    1000.0
    """
    v = np.asarray(image)[::2, ::2][valid[::2, ::2]]
    if v.size == 0:
        return 0.0
    lo = float(np.percentile(v, 1))
    return lo if lo > 20 else 0.0


def _corner_zeros(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``valid`` without the exact zeros connected to the frame's corners, when all four corners
    are exactly zero (the dead corners outside a round CCD's active area)."""
    from scipy import ndimage

    a = np.asarray(image)
    M, N = a.shape
    corners = a[[0, 0, M - 1, M - 1], [0, N - 1, 0, N - 1]]
    if not np.all(corners == 0):
        return valid
    # label on every 4th pixel (cheap on big frames), then back on the full grid
    zs = a[::4, ::4] == 0
    lab, _ = ndimage.label(zs)
    m, n = zs.shape
    ids = np.unique(lab[[0, 0, m - 1, m - 1], [0, n - 1, 0, n - 1]])
    dead = np.isin(lab, ids[ids > 0])
    dead = np.repeat(np.repeat(dead, 4, axis=0), 4, axis=1)[:M, :N]
    return valid & ~(dead & (a == 0))


@dataclass(frozen=True)
class BeamCenter:
    """A beam-centre estimate.

    Attributes
    ----------
    x, y : float
        Column and row of the beam in pixels (pixel centres at integers); may lie off the frame.
    confidence : float
        0 (a guess) to 1 (rings or a symmetric pattern pin it down, independent searches agree).
    sure : bool
        ``confidence >= 0.5``: callers may rely on it (an azimuthal model, a beamstop search).
    on_detector : bool
        The centre lies on the frame.
    method : str
        The search that found it: ``"rings"`` (concentric rings / radial profile), ``"gradients"``
        (edges pointing at one point), ``"symmetry"`` (180-degree symmetry), ``"frame centre"``
        (the fallback when nothing holds), ``"given"``.
    agree : int
        How many of the three independent searches ended within tolerance of this centre.
    """

    x: float
    y: float
    confidence: float
    sure: bool
    on_detector: bool
    method: str
    agree: int = 0

    def __iter__(self):  # (x, y) unpacking, as estimate_center returns
        return iter((self.x, self.y))

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return {"x": round(self.x, 2), "y": round(self.y, 2), "confidence": round(self.confidence, 3),
                "sure": self.sure, "on_detector": self.on_detector, "method": self.method, "agree": self.agree}


class _Level:
    """A binned log image (and its band-pass) with the scores of candidate centres on it."""

    def __init__(self, counts: np.ndarray, valid: np.ndarray, side: int):
        from scipy import ndimage

        self.k = k = max(1, int(np.ceil(max(counts.shape) / side)))
        cb, wb = _bin(counts, valid.astype(np.float32), k)
        vb = wb > 0.5
        f = np.log1p(cb)
        w = vb.astype(np.float64)

        def sm(g: np.ndarray, s: float) -> np.ndarray:
            return ndimage.gaussian_filter(g * w, s) / np.maximum(ndimage.gaussian_filter(w, s), 1e-6)

        self.f = np.where(vb, f, 0.0)
        self.shape = f.shape
        self.valid = vb
        hp = sm(f, 0.7) - sm(f, 3.0)  # rings a few binned pixels wide, smooth trends removed
        vh = vb & (ndimage.gaussian_filter(w, 3.0) > 0.6)
        self.yy, self.xx = np.nonzero(vb)
        self.v = f[vb].astype(np.float64)
        self.tot = float(((self.v - self.v.mean()) ** 2).sum())
        self.hyy, self.hxx = np.nonzero(vh)
        self.hv = hp[vh].astype(np.float64)
        self.htot = float(((self.hv - self.hv.mean()) ** 2).sum())

    def to_binned(self, x: float, y: float) -> tuple[float, float]:
        return (x - (self.k - 1) / 2) / self.k, (y - (self.k - 1) / 2) / self.k

    def to_full(self, bx: float, by: float) -> tuple[float, float]:
        return bx * self.k + (self.k - 1) / 2, by * self.k + (self.k - 1) / 2

    @staticmethod
    def _explained(yy: np.ndarray, xx: np.ndarray, v: np.ndarray, tot: float, bx: float, by: float) -> float:
        """Fraction of the variance of ``v`` a radial profile about (bx, by) explains."""
        if tot <= 0 or v.size < 16:
            return 1e-6
        b = np.sqrt((xx - bx) ** 2 + (yy - by) ** 2).astype(np.int32)
        n = np.bincount(b)
        s = np.bincount(b, v)
        # sum (v - mean_b)^2 = sum v^2 - sum_b s_b^2 / n_b
        between = float((s * s / np.maximum(n, 1)).sum()) - v.sum() ** 2 / v.size
        return float(np.clip(between / tot, 1e-6, 1.0))

    def explained(self, bx: float, by: float) -> tuple[float, float]:
        """(plain, band-pass) explained variance fractions about a binned centre."""
        return (self._explained(self.yy, self.xx, self.v, self.tot, bx, by),
                self._explained(self.hyy, self.hxx, self.hv, self.htot, bx, by))

    @property
    def noise_floor(self) -> float:
        """The band-pass fraction a radial profile explains in pure noise (one bin per radius)."""
        return float(np.hypot(*self.shape) / max(self.hv.size, 1))

    def score(self, bx: float, by: float, ring_weight: float = 1.0) -> float:
        """Higher is better: log of the smooth explained fraction plus ``ring_weight`` times that
        of the ring (band-pass) one."""
        p, h = self.explained(bx, by)
        return float(np.log(p) + ring_weight * np.log(h))


def _coarse_radial(level: _Level, ext: float, every: float = 2.0) -> tuple[float, float]:
    """The binned centre whose radial profile explains most of the coarse image's variance, on a
    grid every ``every`` binned pixels over the frame extended by ``ext`` of its size on every
    side, then every half pixel about the best."""
    M, N = level.shape
    best = (-np.inf, 0.0, 0.0)
    for by in np.arange(-ext * M, (1 + ext) * M, every):
        for bx in np.arange(-ext * N, (1 + ext) * N, every):
            p = level.explained(bx, by)[0]
            if p > best[0]:
                best = (p, bx, by)
    _, bx0, by0 = best
    for by in by0 + np.arange(-1.5, 1.6, 0.5):
        for bx in bx0 + np.arange(-1.5, 1.6, 0.5):
            p = level.explained(bx, by)[0]
            if p > best[0]:
                best = (p, bx, by)
    return best[1], best[2]


def _gradient_votes(level: _Level, ext: float, frac: float = 0.05) -> tuple[float, float]:
    """The binned point most edges point at: the strongest ``frac`` of the smoothed log image's
    gradients vote along their lines (a circular Hough transform without radius), over the frame
    extended by ``ext`` on every side."""
    from scipy import ndimage

    vb = level.valid
    w = vb.astype(np.float64)
    fs = ndimage.gaussian_filter(level.f * w, 1.0) / np.maximum(ndimage.gaussian_filter(w, 1.0), 1e-6)
    gy, gx = ndimage.sobel(fs, 0), ndimage.sobel(fs, 1)
    ok = ndimage.binary_erosion(vb, iterations=3)
    if ok.sum() < 50:
        return level.shape[1] / 2, level.shape[0] / 2
    mag = np.hypot(gx, gy)
    yy, xx = np.nonzero(ok & (mag > np.percentile(mag[ok], 100 * (1 - frac))))
    m = mag[yy, xx]
    ux, uy, wgt = gx[yy, xx] / m, gy[yy, xx] / m, m
    M, N = level.shape
    ox, oy = int(ext * N), int(ext * M)
    AM, AN = M + 2 * oy, N + 2 * ox
    L = int(np.hypot(AM, AN))
    acc = np.zeros(AM * AN)
    ts = np.r_[np.arange(-L, 0), np.arange(1, L + 1)].astype(np.float32)
    for chunk in range(0, len(xx), 2048):  # all distances of 2048 edge pixels in one bincount
        sl = slice(chunk, chunk + 2048)
        px = np.rint(xx[sl, None] + ts[None, :] * ux[sl, None]).astype(np.int64) + ox
        py = np.rint(yy[sl, None] + ts[None, :] * uy[sl, None]).astype(np.int64) + oy
        inb = (px >= 0) & (px < AN) & (py >= 0) & (py < AM)
        wv = np.broadcast_to(wgt[sl, None], px.shape)
        acc += np.bincount((py * AN + px)[inb], wv[inb], minlength=AM * AN)
    acc = ndimage.gaussian_filter(acc.reshape(AM, AN), 1.0)
    i, j = np.unravel_index(np.argmax(acc), acc.shape)
    return float(j - ox), float(i - oy)


def _climb(level: _Level, bx: float, by: float, step: float, lo: tuple[float, float],
           hi: tuple[float, float], ring_weight: float) -> tuple[float, float, float]:
    """Pattern search for the best :meth:`_Level.score` from (bx, by): move to the best of the 8
    neighbours ``step`` away, halve the step when staying, down to half a binned pixel."""
    cur = level.score(bx, by, ring_weight)
    for _ in range(200):
        moves = [(bx + dx * step, by + dy * step) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
        moves = [(x, y) for x, y in moves if lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]]
        scored = [(level.score(x, y, ring_weight), x, y) for x, y in moves]
        best = max(scored) if scored else (-np.inf, bx, by)
        if best[0] > cur:
            cur, bx, by = best
        elif step > 0.5:
            step /= 2
        else:
            break
    return bx, by, cur


def _refine_candidates(cands: list[tuple[str, float, float]], shape: tuple[int, int], coarse: _Level, mid: _Level,
                       fine: _Level, extend: float, ring_weight: float) -> list[tuple[float, str, float, float]]:
    """Each candidate ``(name, x, y)`` climbed on the mid image, then the fine one, within ``extend``
    of the frame: ``(score, name, x, y)``, best first. A winner stopped at that edge is searched for
    again up to :data:`MAX_OFF_FRAME` frame sizes off and replaced where that scores better."""
    M, N = shape
    step = max(1.0, coarse.k / mid.k)
    seen: dict[tuple[float, float, float], tuple[float, float, float]] = {}

    def refine(x: float, y: float, ext: float) -> tuple[float, float, float]:
        """Climb on the mid image, then the fine one, within ``ext`` of the frame; (score, x, y)."""
        lo, hi = mid.to_binned(-ext * N, -ext * M), mid.to_binned((1 + ext) * N, (1 + ext) * M)
        bx, by, _ = _climb(mid, *mid.to_binned(x, y), step, lo, hi, ring_weight)
        if (bx, by, ext) not in seen:  # candidates that meet on the mid image are polished once
            lo, hi = fine.to_binned(-ext * N, -ext * M), fine.to_binned((1 + ext) * N, (1 + ext) * M)
            fx, fy, sc = _climb(fine, *fine.to_binned(*mid.to_full(bx, by)), 1.0, lo, hi, ring_weight)
            # a bin's centre can lie half a bin beyond the bounds it was searched within: keep the
            # result inside them (what dip_heal.polar.check_center accepts)
            ex, ey = fine.to_full(fx, fy)
            seen[(bx, by, ext)] = (sc, min(max(ex, -ext * N), (1 + ext) * N), min(max(ey, -ext * M), (1 + ext) * M))
        return seen[(bx, by, ext)]

    refined = []
    for name, x, y in cands:
        sc, rx, ry = refine(x, y, extend)
        refined.append((sc, name, rx, ry))
        logger.debug("candidate %s (%.1f, %.1f) -> (%.1f, %.1f) score %.3f (ring weight %.2f)", name, x, y, rx, ry,
                     sc, ring_weight)
    refined.sort(key=lambda r: -r[0])
    sc, name, x, y = refined[0]
    margin = 2 * step * mid.k  # the winner stopped at the search's edge: the rings' centre may lie farther off
    if extend < MAX_OFF_FRAME and (x <= -extend * N + margin or x >= (1 + extend) * N - margin
                                   or y <= -extend * M + margin or y >= (1 + extend) * M - margin):
        # the score between the edge and a far centre need not rise all the way (a climb from the
        # edge can stall), so the widened area is scanned afresh on the coarse image, then climbed
        wsc, wx, wy = refine(*coarse.to_full(*_coarse_radial(coarse, MAX_OFF_FRAME, every=4.0)), MAX_OFF_FRAME)
        logger.debug("winner at the search edge (%.1f, %.1f), score %.3f; widened to %.0f frame sizes: (%.1f, %.1f) "
                     "score %.3f", x, y, sc, MAX_OFF_FRAME, wx, wy, wsc)
        if wsc > sc:
            refined[0] = (wsc, name, wx, wy)
    return refined


def find_center(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    min_confidence: float = 0.5,
    extend: float = 0.25,
) -> BeamCenter:
    """The direct-beam position, with a confidence; holds on SAXS, WAXS, fibre and MX frames, on
    photon-counting detectors and CCDs (dark offset, round active area), centre on or off the frame.

    Three independent searches give candidates on a coarse (64 px) or mid (256 px) binned log
    image: the centre whose radial profile explains most of the variance (rings, isotropic
    SAXS), the point most strong edges point at (gradient voting: rings, the beamstop's edge) and
    the point of best 180-degree symmetry (fibres, anisotropic SAXS). Each is refined by a pattern
    search on finer images (256, then 384 px a side) for the best combined score: the smooth and
    the band-pass (ring) variance a radial profile explains. The best refined candidate wins.

    The confidence grows with the share of the variance explained and with the number of searches
    that end within tolerance (3 px or 0.5 % of the frame) of the winner. Below
    ``min_confidence`` the estimate is flagged unsure (``sure=False``) and logged; when even the
    winner explains next to nothing, the frame centre is returned, flagged ``"frame centre"``.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts). The frame's own background (a CCD's dark offset, see
        :func:`background_level`) is taken as zero.
    valid : (M, N) ndarray of bool, optional
        True = measured pixel. Default: finite pixels. Exact zeros joined to the corners are
        dropped when all four corners are zero (a round CCD's dead corners).
    min_confidence : float
        Confidence below which the result is flagged unsure.
    extend : float
        How far off the frame the centre is searched first, as a fraction of its size on each
        side. When the winner stops at that edge, the search runs again up to
        :data:`MAX_OFF_FRAME` frame sizes off, and its result is kept where it scores better (the
        rings of a crop far from the beam).

    Returns
    -------
    BeamCenter
        Unpacks as ``x, y``.

    Raises
    ------
    DipHealError
        Not a 2-D frame, mask of another shape, or no valid pixel.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:120, 0:100]
    >>> img = 1000 / (1 + np.hypot(xx - 40.3, yy - 70.0)) ** 2
    >>> c = find_center(img)
    >>> round(c.x), round(c.y), c.sure
    (40, 70, True)
    """
    image, valid = check_frame(image, valid)
    valid = _corner_zeros(image, valid)
    if not valid.any():
        raise DipHealError("the frame has no valid pixels besides its zero corners; expected measured pixels; "
                           "check the file and mask")
    M, N = image.shape
    off = background_level(image, valid)
    if off > 0:
        # a CCD with a dark offset: pixels at the offset saw no X-rays (the beamstop's shadow, the
        # frame's unexposed border); their edges would pull the search, rings would not
        lit = np.asarray(image, np.float32) - np.float32(off)
        level = float(np.median(lit[valid]))
        if level > 0 and (valid & (lit > 0.05 * level)).sum() > 0.2 * valid.sum():
            valid = valid & (lit > 0.05 * level)
    counts = np.where(valid, np.maximum(np.asarray(image, np.float32) - np.float32(off), 0), np.float32(0))
    coarse, mid, fine = _Level(counts, valid, 64), _Level(counts, valid, 256), _Level(counts, valid, 384)
    cands: list[tuple[str, float, float]] = []
    bx, by = _coarse_radial(coarse, extend)
    cands.append(("rings", *coarse.to_full(bx, by)))
    gx, gy = _gradient_votes(mid, extend)
    cands.append(("gradients", *mid.to_full(gx, gy)))
    try:
        sx, sy = symmetry_center(counts, valid, min_overlap=0.5)
        cands.append(("symmetry", sx, sy))
    except DipHealError:  # pragma: no cover - same checks as above
        pass
    # the ring term counts as far as rings stand out of the noise at some candidate
    floor = mid.noise_floor
    h_best = max(mid.explained(*mid.to_binned(x, y))[1] for _, x, y in cands)
    ring_weight = float(np.clip((h_best / floor - 4.0) / 8.0, 0.0, 1.0))
    refined = _refine_candidates(cands, (M, N), coarse, mid, fine, extend, ring_weight)
    sc, name, x, y = refined[0]
    tol = max(3.0, 0.005 * max(M, N))
    agree = sum(np.hypot(r[2] - x, r[3] - y) <= tol for r in refined)
    plain, band = fine.explained(*fine.to_binned(x, y))
    # the share explained (smooth part, saturating at 30 %) and the searches' agreement
    conf = float(np.clip(min(plain / 0.3, 1.0) * (0.4 + 0.2 * agree), 0.0, 1.0))
    on = bool(-0.5 <= x <= N - 0.5 and -0.5 <= y <= M - 0.5)
    if plain < 0.02:
        logger.warning("beam centre: no radial structure found (%.1f %% of the variance); using the frame centre, "
                       "unsure; give --center", 100 * plain)
        return BeamCenter((N - 1) / 2, (M - 1) / 2, 0.0, False, True, "frame centre", 0)
    sure = conf >= min_confidence
    msg = ("beam centre x=%.1f y=%.1f (%s, confidence %.2f, %d of %d searches agree, %.0f %% / %.1f %% of the "
           "variance explained)%s")
    args = (x, y, name, conf, agree, len(refined), 100 * plain, 100 * band, "" if on else ", off the detector")
    if sure:
        logger.info(msg, *args)
    else:
        logger.warning(msg + "; unsure: check it, or give --center", *args)
    return BeamCenter(float(x), float(y), conf, sure, on, name, int(agree))


def estimate_center(image: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, float]:
    """The beam centre of :func:`find_center` as ``(x, y)`` (an unsure estimate is logged as such).

    Parameters
    ----------
    image : (M, N) ndarray
    valid : (M, N) ndarray of bool, optional

    Returns
    -------
    (x, y) : tuple of float
        Column and row of the beam centre, in pixels (pixel centres at integers).

    Raises
    ------
    DipHealError
        Not a 2-D frame, mask of another shape, or no valid pixel.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:120, 0:100]
    >>> img = 1000 / (1 + np.hypot(xx - 40.3, yy - 70.0)) ** 2
    >>> x, y = estimate_center(img)
    >>> round(x), round(y)
    (40, 70)
    """
    c = find_center(image, valid)
    return c.x, c.y

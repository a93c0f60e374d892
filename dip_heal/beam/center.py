"""The direct-beam position from the pattern's centrosymmetry; the log image, its smoothing and radial profile."""

from __future__ import annotations

import logging

import numpy as np

from ..errors import DipHealError

__all__ = ["estimate_center", "log_image", "check_frame", "smooth_log", "smoothing_sigma", "radial_profile"]

logger = logging.getLogger(__name__)


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


def estimate_center(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    max_size: int = 256,
    window: int = 256,
    min_overlap: float = 0.35,
) -> tuple[float, float]:
    """Direct-beam position from the pattern's centrosymmetry.

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
    >>> x, y = estimate_center(img)
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

"""Direct-beam position, beamstop and beamstop-holder detection.

The beam centre is found from the pattern's centrosymmetry (Friedel symmetry of scattering):
the log image is compared with itself rotated by 180 degrees about every candidate centre at once,
with masked FFT convolutions (Padfield's masked correlation), first on a binned image, then on a
full-resolution window around the first estimate, with a sub-pixel parabolic refinement. The
beamstop is the dark connected region at the centre; its holder is the thin dark band that leaves
the beamstop for the frame edge.
"""

from __future__ import annotations

import logging

import numpy as np

from .errors import DipHealError

__all__ = ["estimate_center", "find_beamstop", "find_holder", "log_image", "grow", "shrink"]

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


def _check(image: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
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
    image, valid = _check(image, valid)
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


def _smooth(f: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised (mask-aware) box smoothing of ``f`` over valid pixels, box side 2*sigma+1."""
    from scipy import ndimage

    size = 2 * int(round(sigma)) + 1
    w = valid.astype(np.float32)
    num = ndimage.uniform_filter(f * w, size)
    den = ndimage.uniform_filter(w, size)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 1e-3)


def _sigma_for(image: np.ndarray, valid: np.ndarray) -> float:
    """Smoothing radius: larger for low-count frames, so edges are not lost in Poisson noise."""
    sub = np.asarray(image)[:: 4, :: 4][valid[:: 4, :: 4]]
    med = float(np.median(sub)) if sub.size else 0.0
    return 1.0 if med >= 20 else (2.0 if med >= 3 else 3.0)


def _radial_profile(fs: np.ndarray, valid: np.ndarray, cx: float, cy: float, rmax: int) -> np.ndarray:
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


def find_beamstop(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    center: tuple[float, float] | None = None,
    *,
    max_radius: int | None = None,
    margin: int = 1,
    with_arm: bool = False,
    min_rim: float = 0.6,
) -> np.ndarray:
    """The beamstop shadow: the dark connected region at the direct-beam position.

    The shadow's level is read at the centre, the rim level from the radial profile just outside
    it; pixels below the midpoint (in log counts, after mask-aware smoothing) connected to the
    centre form the shadow. A morphological opening removes the thin holder arm; what remains at
    the centre is the beamstop, grown by ``margin`` pixels to cover the penumbra.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    valid : (M, N) ndarray of bool, optional
        True = measured pixel (exclude gaps and sentinels). Default: finite pixels.
    center : (x, y), optional
        Beam position; default :func:`estimate_center`.
    max_radius : int, optional
        Largest beamstop radius searched, default a tenth of the smaller frame side.
    margin : int
        Pixels added around the shadow.
    with_arm : bool
        Also return the dark region connected to the shadow (holder candidates).
    min_rim : float
        Fraction of the ring just outside the shadow that must be brighter than the midpoint
        between shadow and rim; a dark region that is not enclosed (e.g. below a GISAXS horizon
        when the centre estimate is off) is not taken as the beamstop.

    Returns
    -------
    beamstop : (M, N) ndarray of bool
        Empty when no dark region sits at the centre (no beamstop or a semi-transparent one).
    arm : (M, N) ndarray of bool
        Only with ``with_arm``: the connected dark region, beamstop included.

    Raises
    ------
    DipHealError
        Not a 2-D frame, mask of another shape, or no valid pixel.
    """
    image, valid = _check(image, valid)
    if center is None:
        center = estimate_center(image, valid)
    cx, cy = center
    M, N = image.shape
    empty = np.zeros((M, N), bool)
    rmax = int(max_radius or max(16, min(M, N) // 10))
    sigma = _sigma_for(image, valid)
    # work in a window around the centre: the beamstop is there, and big frames stay fast
    h = rmax + 8
    y0, x0 = max(0, int(cy) - h), max(0, int(cx) - h)
    y1, x1 = min(M, int(cy) + h + 1), min(N, int(cx) + h + 1)
    found = None
    if y0 < y1 and x0 < x1:
        found = _beamstop_in_window(image[y0:y1, x0:x1], valid[y0:y1, x0:x1], cx - x0, cy - y0, rmax, sigma,
                                    min_rim, (x0, y0))
    if found is None:
        return (empty, empty) if with_arm else empty
    bs, comp, r_bs, thr = found
    if margin > 0:
        bs = grow(bs, margin)
    logger.debug("beamstop: %d px, radius ~%.1f, threshold %.2f", int(bs.sum()), r_bs, thr)
    out = np.zeros((M, N), bool)
    out[y0:y1, x0:x1] = bs
    if with_arm:
        arm = np.zeros((M, N), bool)
        arm[y0:y1, x0:x1] = comp
        return out, arm
    return out


def _shadow_level(prof: np.ndarray, cx: float, cy: float) -> tuple[float, float] | None:
    """The threshold between the shadow and the rim (in log counts) and the shadow's radius, from
    the radial profile about the centre ``(cx, cy)``; None without a shadow there."""
    if not np.isfinite(prof[:3]).any():
        logger.info("no valid pixel at the beam centre (%.1f, %.1f): no beamstop found", cx, cy)
        return None
    level0 = float(np.nanmin(prof[:3]))
    peak_r = int(np.nanargmax(prof))
    rim = float(prof[peak_r])
    if rim - level0 < 0.7:  # less than a factor ~2 in counts: no shadow
        logger.info("no dark region at the beam centre (contrast %.2f in log counts)", rim - level0)
        return None
    thr = level0 + 0.5 * (rim - level0)
    above = np.nonzero(np.nan_to_num(prof[: peak_r + 1], nan=-np.inf) >= thr)[0]
    return thr, (float(above[0]) if above.size else float(peak_r))


def _component_at(labels: np.ndarray, y: int, x: int, r: int) -> np.ndarray | None:
    """The labelled component most present within ``r`` pixels of ``(y, x)``; None if there is none."""
    ids = labels[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
    ids = ids[ids > 0]
    return labels == np.bincount(ids).argmax() if ids.size else None


def _beamstop_in_window(image: np.ndarray, valid: np.ndarray, cx: float, cy: float, rmax: int, sigma: float,
                        min_rim: float, origin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """The beamstop (without margin), its connected dark region, its radius and the shadow threshold,
    in a window about the centre; None when there is no beamstop."""
    from scipy import ndimage

    M, N = image.shape
    f = log_image(image, valid)
    fs = _smooth(f, valid, sigma)
    level = _shadow_level(_radial_profile(fs, valid, cx, cy, rmax), cx, cy)
    if level is None:
        return None
    thr, r_bs = level
    y, x = int(round(cy)), int(round(cx))
    if not (0 <= y < M and 0 <= x < N):
        return None
    comp = _component_at(ndimage.label((fs < thr) & valid)[0], y, x, 2)
    if comp is None:
        return None
    r_open = max(1, int(round(0.75 * r_bs)))
    bs = _component_at(ndimage.label(grow(shrink(comp, r_open), r_open))[0], y, x, r_open)
    if bs is None:
        bs = comp & (np.hypot(*np.ogrid[-y : M - y, -x : N - x]) <= r_bs)
    bs = ndimage.binary_fill_holes(bs)
    if sigma <= 1.0:
        # counts are high: recover the rim the smoothing blurred, from the unsmoothed pixels
        rim_px = grow(bs, 2) & ~bs & valid & (f < thr)
        bs = ndimage.binary_fill_holes(bs | rim_px)
    if bs.sum() > np.pi * rmax**2:
        logger.info("dark region at the centre (%d px) is larger than a beamstop of radius %d", bs.sum(), rmax)
        return None
    if not _enclosed(bs, fs, valid, min_rim, (cx + origin[0], cy + origin[1])):
        return None
    return bs, comp, r_bs, thr


def _enclosed(bs: np.ndarray, fs: np.ndarray, valid: np.ndarray, min_rim: float, where: tuple[float, float]) -> bool:
    """A beamstop's shadow is surrounded by brighter scattering, except where its arm leaves."""
    ring = grow(bs, 4) & ~grow(bs, 1) & valid
    if not (ring.any() and (bs & valid).any()):
        return True
    inside_level = float(np.median(fs[bs & valid]))
    out_vals = fs[ring]
    rim_thr = inside_level + 0.5 * (float(np.percentile(out_vals, 90)) - inside_level)
    bright = float((out_vals > rim_thr).mean())
    if bright < min_rim:
        logger.info("dark region at (%.0f, %.0f) is not enclosed by brighter pixels (%.0f %% of its rim): "
                    "not taken as the beamstop; give --center or --beamstop", where[0], where[1], 100 * bright)
        return False
    return True


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
    image, valid = _check(image, valid)
    if beamstop is None:
        beamstop = find_beamstop(image, valid, center)
    if not beamstop.any():
        return None
    ys, xs = np.nonzero(beamstop)
    cx, cy = float(xs.mean()), float(ys.mean())
    r_bs = float(np.sqrt(beamstop.sum() / np.pi))
    M, N = image.shape
    f = log_image(image, valid)
    fs = _smooth(f, valid, _sigma_for(image, valid))
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

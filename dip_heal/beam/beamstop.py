"""The beamstop: the dark connected region at the direct-beam position."""

from __future__ import annotations

import logging

import numpy as np

from .center import (background_level, check_frame, estimate_center, log_image, radial_profile, smooth_log,
                     smoothing_sigma)
from .morphology import grow, shrink

__all__ = ["find_beamstop"]

logger = logging.getLogger(__name__)


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

    The frame's own background (a CCD's dark offset, :func:`background_level`) is taken as zero.
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
    image, valid = check_frame(image, valid)
    if center is None:
        center = estimate_center(image, valid)
    off = background_level(image, valid)
    if off > 0:  # a CCD's dark offset: the shadow sits at the frame's own zero, not at 0
        image = np.asarray(image, np.float32) - np.float32(off)
    cx, cy = center
    M, N = image.shape
    empty = np.zeros((M, N), bool)
    rmax = int(max_radius or max(16, min(M, N) // 10))
    sigma = smoothing_sigma(image, valid)
    # work in a window around the centre: the beamstop is there, and big frames stay fast
    h = rmax + 8
    y0, x0 = max(0, int(cy) - h), max(0, int(cx) - h)
    y1, x1 = min(M, int(cy) + h + 1), min(N, int(cx) + h + 1)
    found = None
    if y0 < y1 and x0 < x1:
        # the rim test leaves out a border of the frame (a CCD's unexposed edge, where a shadow
        # reaching the edge has no rim to see)
        e = max(8, int(0.03 * min(M, N)))
        rim_ok = np.ones((M, N), bool)
        rim_ok[:e] = rim_ok[-e:] = False
        rim_ok[:, :e] = rim_ok[:, -e:] = False
        found = _beamstop_in_window(image[y0:y1, x0:x1], valid[y0:y1, x0:x1], cx - x0, cy - y0, rmax, sigma,
                                    min_rim, (x0, y0), rim_ok[y0:y1, x0:x1])
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
                        min_rim: float, origin: tuple[int, int],
                        rim_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """The beamstop (without margin), its connected dark region, its radius and the shadow threshold,
    in a window about the centre; None when there is no beamstop."""
    from scipy import ndimage

    M, N = image.shape
    f = log_image(image, valid)
    fs = smooth_log(f, valid, sigma)
    level = _shadow_level(radial_profile(fs, valid, cx, cy, rmax), cx, cy)
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
    if not _enclosed(bs, fs, valid & rim_ok, min_rim, (cx + origin[0], cy + origin[1])):
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

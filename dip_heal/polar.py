"""An azimuthal model of a scattering pattern: the image averaged along rings about the beam.

The model is a polar image (one radial bin per pixel, ``n_azim`` azimuthal bins) of the mean
normalised log intensity of the measured pixels, with empty bins interpolated along the ring
(periodically) and then along the radius, evaluated at every pixel of a grid by bilinear
interpolation (with a PONI, :mod:`dip_heal.geometry`, the rings are pyFAI's: per-pixel 2theta
and chi). It is what pyFAI's ``inpainting`` computes, but defined everywhere (also on
measured pixels and outside the frame), so a Deep Image Prior can fit the residual from it.
"""

from __future__ import annotations

import logging

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .geometry import Geometry

__all__ = ["azimuthal_model"]

logger = logging.getLogger(__name__)


def _fill_periodic(values: np.ndarray, have: np.ndarray) -> np.ndarray:
    """Linear interpolation of the empty entries of each row, periodic along the row."""
    out = values.copy()
    n = values.shape[1]
    idx = np.arange(n)
    for i in np.flatnonzero(have.any(axis=1) & ~have.all(axis=1)):
        k = np.flatnonzero(have[i])
        xp = np.concatenate([k - n, k, k + n])
        fp = np.tile(values[i, k], 3)
        out[i] = np.interp(idx, xp, fp)
    return out


def crop_center(center: tuple[float, float], offset: tuple[int, int]) -> tuple[float, float]:
    """A beam centre ``(x, y)`` in a full frame's pixels, in those of its crop starting at ``offset`` (row, col)."""
    return float(center[0]) - offset[1], float(center[1]) - offset[0]


def check_center(center: tuple[float, float], shape: tuple[int, int], *, what: str = "beam centre") -> None:
    """Refuse a beam centre more than :data:`dip_heal.beam.center.MAX_OFF_FRAME` (2) frame sizes
    outside the frame (or not finite).

    A centre outside the frame is normal (GISAXS, a corner detector, a crop of one), but one
    farther than that is a typo or a unit error, and the polar grids about it would grow with the
    distance (memory and time).

    Raises
    ------
    DipHealError
        The centre is not finite or lies more than the frame's size beyond an edge.
    """
    from .beam.center import MAX_OFF_FRAME as k
    from .errors import DipHealError

    m, n = int(shape[0]), int(shape[1])
    cx, cy = float(center[0]), float(center[1])
    if not (np.isfinite(cx) and np.isfinite(cy)) or not (-k * n <= cx <= (1 + k) * n and -k * m <= cy <= (1 + k) * m):
        raise DipHealError(
            f"{what} x={cx:g}, y={cy:g} lies more than {k:g} frame sizes outside the {m}x{n} frame; expected "
            f"x in [{-k * n:g}, {(1 + k) * n:g}] and y in [{-k * m:g}, {(1 + k) * m:g}] (column, row in pixels); "
            "check the numbers and units"
        )


def azimuthal_model(
    y: np.ndarray,
    known: np.ndarray,
    center: tuple[float, float] | None,
    *,
    n_azim: int = 90,
    smooth: float = 1.0,
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    geometry: "Geometry | None" = None,
) -> np.ndarray:
    """Ring-averaged model of ``y`` about ``center`` (or along a PONI's rings), on the (padded) grid.

    Parameters
    ----------
    y : (M, N) ndarray of float
        Image (any intensity space; the DIP passes normalised log intensity).
    known : (M, N) ndarray of bool
        Pixels whose values enter the model.
    center : (x, y) or None
        Beam centre in pixels (column, row); may lie outside the frame. Not used (may be None)
        when ``geometry`` is given.
    n_azim : int
        Azimuthal bins (90 = 4 degrees: averages enough pixels per bin on small radii).
    smooth : float
        Gaussian smoothing of the polar image along the azimuth, in bins (0 = none), weighted by
        the number of pixels per bin.
    pads : (top, bottom, left, right)
        Extra rows/columns of the grid to evaluate on (the DIP's padded grid).
    geometry : Geometry, optional
        A pyFAI calibration (:class:`dip_heal.geometry.Geometry`, checked against the frame):
        the rings are binned by pyFAI's per-pixel 2theta (as a radius in pixel equivalents) and
        chi instead of the pixel radius and angle about ``center``, so a tilted detector's
        elliptical rings are followed.

    Returns
    -------
    model : (M + top + bottom, N + left + right) ndarray of float32
    """
    y = np.asarray(y, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    if y.shape != known.shape or y.ndim != 2:
        raise ValueError(f"got image {y.shape} and mask {known.shape}; expected two 2-D arrays of one shape")
    if n_azim < 4:
        raise ValueError(f"got n_azim={n_azim}; expected at least 4 azimuthal bins")
    m, n = y.shape
    pt, pb, pl, pr = pads
    if geometry is not None:
        g_r, g_phi = geometry.polar((m, n), pads)
        crop = (slice(pt, pt + m), slice(pl, pl + n))
        r, phi = g_r[crop][known], g_phi[crop][known]
        n_rad = int(np.ceil(float(g_r.max()))) + 2
    else:
        if center is None:
            raise ValueError("azimuthal_model needs a beam centre or a geometry; got neither")
        check_center(center, y.shape)
        cx, cy = float(center[0]), float(center[1])
        yy, xx = np.nonzero(known)
        r = np.hypot(xx - cx, yy - cy)
        phi = np.arctan2(yy - cy, xx - cx)
        # grid extent: farthest corner of the padded grid
        corners = np.array([[-pl, -pt], [n - 1 + pr, -pt], [-pl, m - 1 + pb], [n - 1 + pr, m - 1 + pb]], float)
        n_rad = int(np.ceil(np.hypot(corners[:, 0] - cx, corners[:, 1] - cy).max())) + 2
    rb = np.rint(r).astype(np.int64)
    ab = np.floor((phi + np.pi) / (2 * np.pi) * n_azim).astype(np.int64) % n_azim
    key = rb * n_azim + ab
    cnt = np.bincount(key, minlength=n_rad * n_azim).reshape(n_rad, n_azim).astype(np.float64)
    tot = np.bincount(key, weights=y[known], minlength=n_rad * n_azim).reshape(n_rad, n_azim)
    if smooth > 0:
        from scipy import ndimage

        tot = ndimage.gaussian_filter1d(tot, smooth, axis=1, mode="wrap")
        cnt = ndimage.gaussian_filter1d(cnt, smooth, axis=1, mode="wrap")
    have = cnt > 1e-3
    polar = np.where(have, tot / np.maximum(cnt, 1e-12), 0.0)
    polar = _fill_periodic(polar, have)
    rows = have.any(axis=1)
    if not rows.any():
        raise ValueError("no known pixel to build the azimuthal model from")
    if not rows.all():
        k = np.flatnonzero(rows)
        ri = np.arange(n_rad)
        polar = np.stack([np.interp(ri, k, polar[k, j]) for j in range(n_azim)], axis=1)
    # bilinear evaluation on the grid (bin centres: radius i, azimuth (j + 0.5) / n_azim)
    if geometry is not None:
        gr = g_r
        ga = (g_phi + np.pi) / (2 * np.pi) * n_azim - 0.5
    else:
        gy, gx = np.mgrid[-pt : m + pb, -pl : n + pr].astype(np.float64)
        gr = np.hypot(gx - cx, gy - cy)
        ga = (np.arctan2(gy - cy, gx - cx) + np.pi) / (2 * np.pi) * n_azim - 0.5
    r0 = np.clip(np.floor(gr).astype(np.int64), 0, n_rad - 2)
    fr = np.clip(gr - r0, 0.0, 1.0)
    a0 = np.floor(ga).astype(np.int64)
    fa = ga - a0
    a0 %= n_azim
    a1 = (a0 + 1) % n_azim
    top = polar[r0, a0] * (1 - fa) + polar[r0, a1] * fa
    bot = polar[r0 + 1, a0] * (1 - fa) + polar[r0 + 1, a1] * fa
    return (top * (1 - fr) + bot * fr).astype(np.float32)

"""Synthetic scattering frames with exact ground truth.

A frame is a power-law background, Debye-Scherrer rings, an oriented arc (or fibre
reflections, or a GISAXS horizon), a beamstop with its holder arm, Poisson counting noise, and
the module-gap geometry of a real detector from pyFAI's catalogue. The examples, the tests and
the training of the shipped blind model use these frames, so nothing needs to be downloaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from .errors import DipHealError

__all__ = ["SyntheticFrame", "synthetic_frame", "synthetic_series", "KINDS"]

logger = logging.getLogger(__name__)

KINDS = ("saxs", "waxs", "fibre", "gisaxs")


@dataclass
class SyntheticFrame:
    """A generated frame and its ground truth.

    Attributes
    ----------
    counts : (M, N) ndarray of int32
        Poisson counts as a detector would write them: module-gap pixels hold -1.
    truth : (M, N) ndarray of float32
        The noise-free expected counts without beamstop shadow or gaps.
    gaps : (M, N) ndarray of bool
        Module-gap pixels of the detector (True = no sensor).
    beamstop : (M, N) ndarray of bool
        Pixels shadowed by the beamstop and its holder arm.
    center : tuple of float
        Direct-beam position ``(x, y)`` in pixels (x along columns).
    detector : str or None
        The pyFAI detector name whose gap geometry was used.
    kind : str
        One of ``saxs``, ``waxs``, ``fibre``, ``gisaxs``.
    """

    counts: np.ndarray
    truth: np.ndarray
    gaps: np.ndarray
    beamstop: np.ndarray
    center: tuple[float, float]
    detector: str | None
    kind: str

    @property
    def heal(self) -> np.ndarray:
        """Pixels a user would heal: gaps and beamstop shadow."""
        return self.gaps | self.beamstop


@lru_cache(maxsize=16)
def _detector_gaps(detector: str) -> np.ndarray:
    import pyFAI

    try:
        det = pyFAI.detector_factory(detector)
    except Exception as exc:  # pyFAI raises RuntimeError/KeyError for unknown names
        raise DipHealError(
            f"unknown detector {detector!r}; expected a pyFAI detector name such as "
            "Pilatus300k, Pilatus1M, Eiger1M; see pyFAI.detectors.ALL_DETECTORS"
        ) from exc
    mask = det.calc_mask()
    if mask is None:
        mask = np.zeros(det.shape, dtype=bool)
    return np.asarray(mask, dtype=bool)


def _add_fibre(img: np.ndarray, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, dx: np.ndarray,
               dy: np.ndarray, axis: float, size: float, counts: float) -> None:
    """Add (in place) equatorial Bragg spots along ``x`` and layer lines at ``|dy| = 0.09 k size``:
    a vertical fibre axis; pass the coordinates swapped for a horizontal one."""
    for k in range(1, 5):
        d = size * 0.07 * k
        for sgn in (-1.0, 1.0):
            ex = cx + sgn * d * np.cos(axis)
            ey = cy + sgn * d * np.sin(axis)
            img += counts * 0.05 / k * np.exp(-0.5 * (((xx - ex) / 2.5) ** 2 + ((yy - ey) / 6.0) ** 2))
        layer = size * 0.09 * k
        img += counts * 0.004 / k * np.exp(-0.5 * ((np.abs(dy) - layer) / 1.5) ** 2) * np.exp(-np.abs(dx) / (size * 0.2))


def synthetic_frame(
    shape: tuple[int, int] | None = None,
    *,
    detector: str | None = "Pilatus300k",
    kind: Literal["saxs", "waxs", "fibre", "gisaxs"] = "saxs",
    seed: int = 0,
    counts: float = 2e4,
    center: tuple[float, float] | None = None,
    beamstop_radius: float | None = None,
    holder: bool = True,
    fibre_axis: Literal["vertical", "horizontal"] = "vertical",
) -> SyntheticFrame:
    """Generate a scattering frame with known truth.

    Parameters
    ----------
    shape : tuple of int, optional
        ``(M, N)``. Defaults to the detector's full shape; a smaller shape takes the top-left
        part of the detector's gap layout; without a detector, ``(256, 256)``.
    detector : str or None
        pyFAI detector name for the module gaps (``None``: no gaps).
    kind : {'saxs', 'waxs', 'fibre', 'gisaxs'}
        The pattern family.
    seed : int
        Seeds the geometry and the Poisson noise.
    counts : float
        Peak expected counts of the background near the beam.
    center : tuple of float, optional
        Beam position ``(x, y)``; drawn near the centre when omitted.
    beamstop_radius : float, optional
        Radius of the beamstop shadow in pixels (default: 4 % of the smaller side).
    holder : bool
        Add the beamstop holder arm from the beamstop to the frame edge.
    fibre_axis : {'vertical', 'horizontal'}
        For ``kind='fibre'``: the fibre axis. Vertical (the default) gives horizontal layer
        lines and an equator along the rows; horizontal gives vertical layer lines, which cross
        the horizontal module gaps of a PILATUS.

    Returns
    -------
    SyntheticFrame

    Raises
    ------
    DipHealError
        For an unknown kind or detector, or a shape larger than the detector.

    Examples
    --------
    >>> f = synthetic_frame((64, 96), detector=None, seed=1)
    >>> f.counts.shape, f.counts.dtype.name, bool(f.gaps.any())
    ((64, 96), 'int32', False)
    """
    if kind not in KINDS:
        raise DipHealError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if fibre_axis not in ("vertical", "horizontal"):
        raise DipHealError(f"fibre_axis={fibre_axis!r}; expected 'vertical' or 'horizontal'")
    gaps = _frame_gaps(shape, detector)
    ny, nx = gaps.shape

    rng = np.random.default_rng(seed)  # drawn in this order: centre, pattern, holder, noise
    if center is None:
        center = (nx * rng.uniform(0.4, 0.6), ny * rng.uniform(0.4, 0.6))
    cx, cy = float(center[0]), float(center[1])
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    truth = _pattern(kind, fibre_axis, rng, counts, xx, yy, cx, cy).astype(np.float32)
    size = float(min(ny, nx))
    rb = beamstop_radius if beamstop_radius is not None else 0.04 * size
    stop = _shadow(xx - cx, yy - cy, rb, holder, rng)
    shadowed = truth * np.where(stop, 0.001, 1.0)
    noisy = rng.poisson(shadowed).astype(np.int64)
    noisy = np.clip(noisy, 0, 2**20 - 1).astype(np.int32)
    noisy[gaps] = -1
    logger.debug("synthetic %s frame %sx%s, centre (%.1f, %.1f), seed %d", kind, ny, nx, cx, cy, seed)
    return SyntheticFrame(
        counts=noisy, truth=truth, gaps=gaps, beamstop=stop & ~gaps, center=(cx, cy), detector=detector, kind=kind
    )


def synthetic_series(
    n: int,
    shape: tuple[int, int] | None = None,
    *,
    detector: str | None = "Pilatus300k",
    kind: Literal["saxs", "waxs", "fibre", "gisaxs"] = "saxs",
    seed: int = 0,
    counts: float = 2e4,
    rotate_deg: float = 0.5,
    intensity_drift: float = 0.03,
    ring_growth: float = 0.004,
    **kwargs,
) -> list[SyntheticFrame]:
    """A series of ``n`` frames of one sample on one detector, as a scan or a ramp records it.

    Frame ``k`` is the pattern of ``synthetic_frame(shape, seed=seed, ...)`` turned by
    ``k * rotate_deg`` degrees about the beam centre, its intensity scaled by
    ``(1 + intensity_drift) ** k``, plus a ring whose radius grows by ``ring_growth`` of the
    frame's size per frame (a lattice expanding in a temperature ramp). The beamstop, the holder
    and the gaps stay put; every frame has its own Poisson noise (seed ``seed + 1000 + k``).

    Parameters
    ----------
    n : int
        Frames (at least 1).
    shape, detector, kind, seed, counts, **kwargs
        As for :func:`synthetic_frame` (the first frame's pattern).
    rotate_deg, intensity_drift, ring_growth : float
        The drift per frame.

    Returns
    -------
    list of SyntheticFrame
    """
    from scipy.ndimage import map_coordinates

    if n < 1:
        raise DipHealError(f"n = {n}; expected at least one frame")
    first = synthetic_frame(shape, detector=detector, kind=kind, seed=seed, counts=counts, **kwargs)
    ny, nx = first.truth.shape
    cx, cy = first.center
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    size = float(min(ny, nx))
    r = np.hypot(xx - cx, yy - cy)
    base_truth = first.truth.astype(np.float64)
    frames = []
    for k in range(n):
        a = np.deg2rad(k * rotate_deg)
        sx = cx + (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
        sy = cy - (xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
        truth = map_coordinates(base_truth, [sy, sx], order=1, mode="nearest")
        truth *= (1.0 + intensity_drift) ** k
        rad = size * (0.3 + ring_growth * k)
        truth += counts * 0.01 * np.exp(-0.5 * ((r - rad) / 2.0) ** 2)
        truth = truth.astype(np.float32)
        rng = np.random.default_rng(seed + 1000 + k)
        shadowed = truth * np.where(first.beamstop | first.gaps, 0.001, 1.0)
        noisy = np.clip(rng.poisson(shadowed), 0, 2**20 - 1).astype(np.int32)
        noisy[first.gaps] = -1
        frames.append(SyntheticFrame(counts=noisy, truth=truth, gaps=first.gaps, beamstop=first.beamstop,
                                     center=first.center, detector=detector, kind=kind))
    return frames


def _frame_gaps(shape: tuple[int, int] | None, detector: str | None) -> np.ndarray:
    """The module gaps of a frame of ``shape`` (the detector's top-left part; default its full shape)."""
    gaps_full = _detector_gaps(detector) if detector else None
    if shape is None:
        shape = gaps_full.shape if gaps_full is not None else (256, 256)
    ny, nx = int(shape[0]), int(shape[1])
    if ny < 8 or nx < 8:
        raise DipHealError(f"shape {shape} is too small; expected at least 8 x 8 pixels")
    if gaps_full is None:
        return np.zeros((ny, nx), dtype=bool)
    if ny > gaps_full.shape[0] or nx > gaps_full.shape[1]:
        raise DipHealError(
            f"shape {shape} is larger than the {detector} detector {gaps_full.shape}; "
            "give a smaller shape or another detector"
        )
    return gaps_full[:ny, :nx].copy()


def _pattern(kind: str, fibre_axis: str, rng: np.random.Generator, counts: float, xx: np.ndarray, yy: np.ndarray,
             cx: float, cy: float) -> np.ndarray:
    """The expected counts: the central scattering, rings, the features of ``kind``, a flat background."""
    ny, nx = xx.shape
    dx, dy = xx - cx, yy - cy
    r = np.hypot(dx, dy)
    phi = np.arctan2(dy, dx)
    size = float(min(ny, nx))

    r0 = size * rng.uniform(0.02, 0.05)
    p = rng.uniform(2.2, 3.4)
    img = counts * (1.0 + (r / r0) ** 2) ** (-p / 2.0)

    n_rings = {"saxs": 3, "waxs": 6, "fibre": 2, "gisaxs": 1}[kind]
    for _ in range(n_rings):
        rad = size * rng.uniform(0.08, 0.48)
        width = rng.uniform(0.8, 3.0) if kind == "waxs" else rng.uniform(1.5, 6.0)
        amp = counts * rng.uniform(0.002, 0.02) * (size / (rad + 1.0)) ** 0.5
        img += amp * np.exp(-0.5 * ((r - rad) / width) ** 2)

    if kind in ("saxs", "waxs"):
        rad = size * rng.uniform(0.15, 0.4)
        phi0 = rng.uniform(-np.pi, np.pi)
        amp = counts * rng.uniform(0.01, 0.04)
        img += amp * np.exp(-0.5 * ((r - rad) / (size * 0.02)) ** 2) * np.cos(phi - phi0) ** 8
    elif kind == "fibre":
        axis = rng.uniform(-0.2, 0.2)
        if fibre_axis == "horizontal":  # the same pattern turned by 90 degrees: layer lines across row gaps
            _add_fibre(img, yy, xx, cy, cx, dy, dx, axis, size, counts)
        else:
            _add_fibre(img, xx, yy, cx, cy, dx, dy, axis, size, counts)
    else:
        _add_gisaxs(img, rng, xx, yy, cx, cy, size, counts)
    img += rng.uniform(0.5, 3.0)  # flat background (air, fluorescence)
    return img


def _add_gisaxs(img: np.ndarray, rng: np.random.Generator, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float,
                size: float, counts: float) -> None:
    """Add (in place) a sample horizon, the shadow below it, a Yoneda band and a Bragg rod."""
    dx = xx - cx
    horizon = cy - size * rng.uniform(0.02, 0.06)
    img *= np.where(yy > horizon, 0.02, 1.0)
    yoneda = horizon - size * 0.05
    img += counts * 0.01 * np.exp(-0.5 * ((yy - yoneda) / 2.0) ** 2) * np.exp(-np.abs(dx) / (size * 0.3)) * (yy < horizon)
    rod_x = cx + size * rng.uniform(0.1, 0.25)
    img += counts * 0.006 * np.exp(-0.5 * ((xx - rod_x) / 2.0) ** 2) * (yy < horizon) * np.exp(-(horizon - yy).clip(0) / (size * 0.3))


def _shadow(dx: np.ndarray, dy: np.ndarray, rb: float, holder: bool, rng: np.random.Generator) -> np.ndarray:
    """The beamstop disk of radius ``rb`` about the centre, and its holder arm to the frame edge."""
    stop = np.hypot(dx, dy) <= rb
    if holder:
        ang = rng.uniform(-np.pi, np.pi)
        ux, uy = np.cos(ang), np.sin(ang)
        along = dx * ux + dy * uy
        across = np.abs(-dx * uy + dy * ux)
        stop |= (along > 0) & (across <= max(1.5, rb * 0.35))
    return stop

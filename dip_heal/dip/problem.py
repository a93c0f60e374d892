"""The problem a fit solves: the checked frame, its known and held-out pixels, the padded grid.

Shapes
------
Any ``H x W`` is padded by reflection to a multiple of ``2**depth`` (at least two cells of the
deepest scale); the padding counts as unknown. The output has the input's shape; nothing is
cropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .._intensity import normalise
from ..errors import DipHealError, NothingToHeal
from ..frame import check_image_and_mask

__all__ = ["Problem", "Grid", "validate", "prepare", "make_holdout", "pixel_runs", "pad_amounts",
           "HOLDOUT_MAX_THICKNESS", "HOLDOUT_LENGTHS"]

logger = logging.getLogger(__name__)


def pixel_runs(mask: np.ndarray, axis: int) -> np.ndarray:
    """At every True pixel of ``mask``, the length of the run of True pixels along ``axis`` it lies in."""
    m = np.moveaxis(mask, axis, -1)
    flat = m.reshape(-1, m.shape[-1])
    padded = np.pad(flat, ((0, 0), (1, 0)))
    starts = flat & ~padded[:, :-1]
    ids = np.cumsum(starts.ravel()).reshape(flat.shape)
    ids = np.where(flat, ids, 0)
    lengths = np.bincount(ids.ravel())
    lengths[0] = 0
    out = lengths[ids].reshape(m.shape)
    return np.moveaxis(out, -1, axis)


#: Held-out segments: thickness cap (px) and length range (times the thickness, end excluded).
#: As thick as the holes (a PILATUS frame's 17 px module gaps give 17 px segments): thinner
#: segments favour local fills (Telea) over the network, whose lead grows with the hole's width.
HOLDOUT_MAX_THICKNESS = 24
HOLDOUT_LENGTHS = (2, 7)


def make_holdout(known: np.ndarray, heal: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Withhold a seeded subset of known pixels, drawn as segments shaped like the holes.

    Each segment's thickness is drawn from the thickness of the holes, weighted by pixels (the
    shorter of the vertical and horizontal runs through a hole pixel, capped at
    :data:`HOLDOUT_MAX_THICKNESS` = 24 px): a PILATUS frame whose holes are mostly module gaps
    gets mostly 17 and 7 px thick segments, so the held-out error measures what healing those
    gaps needs, not single dead pixels. Each segment runs parallel to the hole it was drawn from,
    beside it (one to four thicknesses away across it, or anywhere when there is no measured
    pixel there), and is 2 to 6 times as long as thick, until ``fraction`` of the known pixels
    are covered: held-out pixels then sit at the holes' distances from the beam centre and cross
    the pattern the way the holes do.

    Thinner segments (capped at 8 px, as before 2026-11-22) ranked Telea's fill above the
    network on frames whose 17 px gaps the network heals better (benchmarks/README.md).

    Parameters
    ----------
    known : (M, N) ndarray of bool
        Pixels the fit may use.
    heal : (M, N) ndarray of bool
        Pixels to heal (their shape sets the segments' thickness).
    fraction : float
        Target fraction of ``known`` to withhold.
    seed : int

    Returns
    -------
    holdout : (M, N) ndarray of bool
        A subset of ``known``.
    """
    holdout = np.zeros(known.shape, dtype=bool)
    n_known = int(known.sum())
    if fraction <= 0 or n_known == 0:
        return holdout
    target = int(round(fraction * n_known))
    rng = np.random.default_rng(seed)
    ny, nx = known.shape
    kn = np.argwhere(known)
    hole_px = np.argwhere(heal)
    if len(hole_px):
        run_v, run_h = pixel_runs(heal, 0), pixel_runs(heal, 1)
    count = 0
    for _ in range(100000):
        if count >= target:
            break
        if len(hole_px):
            # a hole pixel (so thickness is pixel-weighted), the hole's thickness and direction
            # there, and a segment parallel to it, beside it across its thin direction
            hy, hx = hole_px[rng.integers(len(hole_px))]
            tv, th = int(run_v[hy, hx]), int(run_h[hy, hx])
            thick = max(1, min(tv, th, HOLDOUT_MAX_THICKNESS))
            horizontal = tv < th or (tv == th and rng.random() < 0.5)
            across = (tv if horizontal else th) + int(rng.integers(thick, 4 * thick + 1))
            across *= 1 if rng.random() < 0.5 else -1
            y, x = (hy + across, hx) if horizontal else (hy, hx + across)
            if not (0 <= y < ny and 0 <= x < nx) or not known[y, x]:
                y, x = kn[rng.integers(len(kn))]  # no room beside this hole: anywhere, same shape
        else:  # nothing to heal (a sweep's validation only): short segments anywhere
            y, x = kn[rng.integers(len(kn))]
            thick = 2
            horizontal = rng.random() < 0.5
        length = int(thick * rng.integers(*HOLDOUT_LENGTHS))
        if horizontal:
            y0, x0 = max(0, y - thick // 2), max(0, x - length // 2)
            sl = (slice(y0, min(ny, y0 + thick)), slice(x0, min(nx, x0 + length)))
        else:
            y0, x0 = max(0, y - length // 2), max(0, x - thick // 2)
            sl = (slice(y0, min(ny, y0 + length)), slice(x0, min(nx, x0 + thick)))
        before = int(holdout[sl].sum())
        holdout[sl] |= known[sl]
        count += int(holdout[sl].sum()) - before
    return holdout


def pad_amounts(n: int, mult: int) -> tuple[int, int]:
    """Padding before and after ``n`` pixels to a multiple of ``mult`` (at least ``2 * mult``)."""
    total = max(-(-n // mult) * mult, 2 * mult)
    extra = total - n
    return extra // 2, extra - extra // 2


def validate(image: np.ndarray, heal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D frame as float32 and its bool mask of the same shape, or a DipHealError saying what is wrong."""
    image, heal = check_image_and_mask(image, heal)
    if min(image.shape) < 2:
        raise DipHealError(f"got a frame of shape {image.shape}; expected at least 2 x 2 pixels")
    return image.astype(np.float32, copy=False), heal


@dataclass
class Problem:
    """One frame to heal, checked.

    Attributes
    ----------
    image : (M, N) ndarray of float32
    heal : (M, N) ndarray of bool
        The pixels to heal: the mask and every non-finite pixel.
    known : (M, N) ndarray of bool
        ``~heal``.
    holdout : (M, N) ndarray of bool
        Known pixels withheld from the loss (may be empty).
    fit_px : (M, N) ndarray of bool
        Pixels in the loss: ``known & ~holdout``.
    y : (M, N) ndarray of float32
        Normalised log intensity (:func:`dip_heal._intensity.normalise`).
    scale : float
    """

    image: np.ndarray
    heal: np.ndarray
    known: np.ndarray
    holdout: np.ndarray
    fit_px: np.ndarray
    y: np.ndarray
    scale: float


def prepare(image: np.ndarray, heal: np.ndarray, holdout_fraction: float, seed: int,
            holdout: np.ndarray | None = None) -> Problem:
    """Check a frame and its mask, draw (or take) the held-out pixels, normalise.

    Raises
    ------
    DipHealError
        Bad shapes or dtypes, a mask that heals every pixel, no pixel left for the loss.
    NothingToHeal
        The mask selects no pixel.
    """
    image, heal = validate(image, heal)
    finite = np.isfinite(image)
    heal_all = heal | ~finite
    if (~finite & ~heal).any():
        logger.warning("%d non-finite pixels outside the mask are healed too", int((~finite & ~heal).sum()))
    if not heal_all.any():
        raise NothingToHeal("the mask selects no pixel to heal; nothing to do")
    known = ~heal_all
    if not known.any():
        raise DipHealError(
            "the mask heals every pixel (or the frame has no finite value); expected some measured pixels "
            "to fit; check the mask polarity (True/non-zero = heal)"
        )
    if holdout is None:
        holdout = make_holdout(known, heal_all, holdout_fraction, seed)
    else:
        holdout = np.asarray(holdout, dtype=bool) & known
    fit_px = known & ~holdout
    if not fit_px.any():
        raise DipHealError("no known pixel is left for the loss after the held-out set; lower holdout_fraction")
    y, scale = normalise(image, known)
    return Problem(image, heal_all, known, holdout, fit_px, y, scale)


@dataclass(frozen=True)
class Grid:
    """The network's padded grid: ``pads`` = (top, bottom, left, right), its ``shape``, the ``crop`` back."""

    pads: tuple[int, int, int, int]
    shape: tuple[int, int]
    crop: tuple[slice, slice]

    @classmethod
    def for_frame(cls, shape: tuple[int, int], depth: int) -> "Grid":
        mult = 2**depth
        (pt, pb), (pl, pr) = pad_amounts(shape[0], mult), pad_amounts(shape[1], mult)
        crop = (slice(pt, pt + shape[0]), slice(pl, pl + shape[1]))
        return cls((pt, pb, pl, pr), (shape[0] + pt + pb, shape[1] + pl + pr), crop)

    def pad(self, a: np.ndarray, **kwargs) -> np.ndarray:
        pt, pb, pl, pr = self.pads
        return np.pad(a, ((pt, pb), (pl, pr)), **kwargs)

    def pad_image(self, y: np.ndarray) -> np.ndarray:
        """Reflection padding (the values the network sees; not in the loss)."""
        return self.pad(y, mode="reflect") if any(self.pads) else y

    def pad_weights(self, fit_px: np.ndarray) -> np.ndarray:
        """The loss pixels on the grid (the padding is not)."""
        return self.pad(fit_px, constant_values=False)



"""Scattering priors for the DIP loss: azimuthal smoothness and Friedel (centrosymmetric) consistency.

Both act on the network's output in the pixels to heal only (the data term owns the measured
pixels), and both are weighted by how well the *measured* pixels already obey them
(:func:`symmetry_scores`), so a GISAXS frame (a horizon breaks centrosymmetry) or an oriented
fibre (not smooth along the rings) is not forced into a symmetry it does not have.

- Azimuthal smoothness: ``mean |o(p) - o(R p)|`` over the pixels to heal, ``R`` the rotation
  about the beam centre by one pixel of arc (``1 / r`` radians), ``o(R p)`` read by bilinear
  interpolation (so a hole next to measured pixels of the same ring is pulled towards them).
- Friedel consistency: ``mean |o(p) - o(2c - p)|`` over the pixels to heal whose mirror through
  the beam centre is inside the frame and also to be healed (where the mirror is measured, the
  ``mirror_input`` guide channel already carries it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["symmetry_scores", "prior_factor", "PriorTerms"]

logger = logging.getLogger(__name__)

#: fewest pixel pairs a symmetry score is computed from (fewer: score 0, the prior is off)
MIN_PAIRS = 200
#: pixels sampled for the scores on big frames
MAX_SAMPLES = 200_000
#: symmetry scores up to this give a prior no weight (noise and a misplaced centre score ~0.1)
SCORE_FLOOR = 0.2


def prior_factor(score: float) -> float:
    """Weight factor of a prior from its symmetry score: 0 up to ``SCORE_FLOOR``, then linear to 1.

    Examples
    --------
    >>> prior_factor(0.1), round(prior_factor(0.6), 6), prior_factor(1.0)
    (0.0, 0.5, 1.0)
    """
    return float(np.clip((score - SCORE_FLOOR) / (1.0 - SCORE_FLOOR), 0.0, 1.0))


def _sample(y: np.ndarray, known: np.ndarray, qy: np.ndarray, qx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear values of ``y`` at (qy, qx), and where all four neighbours are measured."""
    m, n = known.shape
    y0, x0 = np.floor(qy).astype(np.int64), np.floor(qx).astype(np.int64)
    ok = (y0 >= 0) & (y0 < m - 1) & (x0 >= 0) & (x0 < n - 1)
    y0c, x0c = np.where(ok, y0, 0), np.where(ok, x0, 0)
    for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
        ok &= known[y0c + a, x0c + b]
    fy, fx = qy - y0, qx - x0
    v = (y[y0c, x0c] * (1 - fy) * (1 - fx) + y[y0c, x0c + 1] * (1 - fy) * fx
         + y[y0c + 1, x0c] * fy * (1 - fx) + y[y0c + 1, x0c + 1] * fy * fx)
    return v, ok


def symmetry_scores(
    y: np.ndarray, known: np.ndarray, center: tuple[float, float], seed: int = 0
) -> dict[str, float]:
    """How azimuthally smooth and how centrosymmetric the measured pixels are, each in [0, 1].

    ``azimuthal = 1 - D_arc / D_radial``: the mean absolute difference between measured pixels
    one pixel apart along the ring, over the same one pixel apart along the radius (rings: the
    first is noise only, the second noise plus the radial profile). ``friedel = 1 - D_mirror /
    D_ring``: the difference to the mirror pixel through the centre, over the difference to a
    pixel of the same radius at a random azimuth (an oriented but centrosymmetric pattern scores
    high; an isotropic one about 0, which the azimuthal term covers; a horizon lowers it).
    Both are clipped to [0, 1]; fewer than ``MIN_PAIRS`` measured pairs give 0.

    Parameters
    ----------
    y : (M, N) ndarray of float
        Normalised image.
    known : (M, N) ndarray of bool
        Measured pixels (the pixels in the data term).
    center : (x, y)
        Beam centre in pixels.
    seed : int
        Seed of the pixel sample and the random azimuths.

    Returns
    -------
    dict with ``azimuthal`` and ``friedel``

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> rings = np.cos(np.hypot(xx - 32, yy - 32) / 2.0)
    >>> s = symmetry_scores(rings, np.ones((64, 64), bool), (32.0, 32.0))
    >>> s["azimuthal"] > 0.5
    True
    """
    y = np.asarray(y, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    rng = np.random.default_rng(seed)
    py, px = np.nonzero(known)
    if py.size > MAX_SAMPLES:
        pick = rng.choice(py.size, MAX_SAMPLES, replace=False)
        py, px = py[pick], px[pick]
    cx, cy = float(center[0]), float(center[1])
    dx, dy = px - cx, py - cy
    r = np.hypot(dx, dy)
    far = r >= 2.0
    py, px, dx, dy, r = py[far], px[far], dx[far], dy[far], r[far]
    scores = {"azimuthal": 0.0, "friedel": 0.0}
    if py.size < MIN_PAIRS:
        return scores
    yp, okp = _sample(y, known, py.astype(float) + 0.5, px.astype(float) + 0.5)

    def mean_diff(qy: np.ndarray, qx: np.ndarray) -> float:
        # both ends read bilinearly at exact positions (no rounding of the pair's geometry);
        # p half a pixel off the grid so it averages four pixels as the other end does
        v, ok = _sample(y, known, qy + 0.5, qx + 0.5)
        ok &= okp
        if ok.sum() < MIN_PAIRS:
            return float("nan")
        return float(np.abs(yp[ok] - v[ok]).mean())

    ux, uy = dx / r, dy / r
    d_arc = mean_diff(py + ux, px - uy)  # one pixel along the ring (perpendicular to the radius)
    d_rad = mean_diff(py + uy, px + ux)  # one pixel outwards
    if np.isfinite(d_arc) and np.isfinite(d_rad) and d_rad > 0:
        scores["azimuthal"] = float(np.clip(1.0 - d_arc / d_rad, 0.0, 1.0))
    d_mir = mean_diff(2 * cy - py, 2 * cx - px)
    t = rng.uniform(0, 2 * np.pi, py.size)
    d_ring = mean_diff(cy + dx * np.sin(t) + dy * np.cos(t), cx + dx * np.cos(t) - dy * np.sin(t))
    if np.isfinite(d_mir) and np.isfinite(d_ring) and d_ring > 0:
        scores["friedel"] = float(np.clip(1.0 - d_mir / d_ring, 0.0, 1.0))
    return scores


@dataclass
class PriorTerms:
    """The two prior penalties of one fit, on the padded network grid.

    Build with :meth:`build`; call with the network's output ``(1, 1, Hp, Wp)``.
    """

    azim_grid: "torch.Tensor | None"  # (1, 1, K, 2) sampling grid of the rotated heal pixels
    azim_index: "torch.Tensor | None"  # (K,) flat indices of those heal pixels
    fr_a: "torch.Tensor | None"  # (P,) flat indices of heal pixels with a healed mirror
    fr_b: "torch.Tensor | None"  # (P,) their mirrors
    w_azim: float
    w_friedel: float

    @classmethod
    def build(
        cls,
        heal: np.ndarray,
        center: tuple[float, float],
        pads: tuple[int, int, int, int],
        padded_shape: tuple[int, int],
        w_azim: float,
        w_friedel: float,
        device: "torch.device",
    ) -> "PriorTerms":
        """Index the pixels each penalty acts on.

        Parameters
        ----------
        heal : (M, N) ndarray of bool
            Pixels to heal (frame grid).
        center : (x, y)
            Beam centre in frame pixels.
        pads : (top, bottom, left, right)
            Padding of the network grid.
        padded_shape : (Hp, Wp)
        w_azim, w_friedel : float
            Weights (0: that term is off).
        device : torch.device
        """
        import torch

        pt, _, pl, _ = pads
        hp, wp = padded_shape
        m, n = heal.shape
        cx, cy = float(center[0]) + pl, float(center[1]) + pt
        hy, hx = np.nonzero(heal)
        hy, hx = hy + pt, hx + pl
        azim_grid = azim_index = fr_a = fr_b = None
        if w_azim > 0 and hy.size:
            dx, dy = hx - cx, hy - cy
            r = np.maximum(np.hypot(dx, dy), 1.0)
            d = 1.0 / r
            qx = cx + dx * np.cos(d) - dy * np.sin(d)
            qy = cy + dx * np.sin(d) + dy * np.cos(d)
            grid = np.stack([qx / max(wp - 1, 1) * 2 - 1, qy / max(hp - 1, 1) * 2 - 1], axis=-1)
            azim_grid = torch.from_numpy(grid.astype(np.float32))[None, None].to(device)
            azim_index = torch.from_numpy(hy * wp + hx).to(device)
        if w_friedel > 0 and hy.size:
            my = np.rint(2 * cy - hy).astype(np.int64)
            mx = np.rint(2 * cx - hx).astype(np.int64)
            inside = (my >= pt) & (my < pt + m) & (mx >= pl) & (mx < pl + n)
            ok = np.zeros(hy.size, dtype=bool)
            ok[inside] = heal[my[inside] - pt, mx[inside] - pl]
            ok &= (my != hy) | (mx != hx)
            if ok.any():
                fr_a = torch.from_numpy(hy[ok] * wp + hx[ok]).to(device)
                fr_b = torch.from_numpy(my[ok] * wp + mx[ok]).to(device)
        return cls(azim_grid, azim_index, fr_a, fr_b, float(w_azim), float(w_friedel))

    @property
    def active(self) -> bool:
        """True when at least one penalty has pixels and a weight."""
        return self.azim_grid is not None or self.fr_a is not None

    def __call__(self, out: "torch.Tensor") -> "torch.Tensor":
        """Weighted sum of the penalties on ``out`` (1, 1, Hp, Wp)."""
        import torch.nn.functional as F

        total = out.new_zeros(())
        flat = out.reshape(-1)
        if self.azim_grid is not None and self.azim_index is not None:
            rot = F.grid_sample(out, self.azim_grid, mode="bilinear", align_corners=True).reshape(-1)
            total = total + self.w_azim * (flat[self.azim_index] - rot).abs().mean()
        if self.fr_a is not None and self.fr_b is not None:
            total = total + self.w_friedel * (flat[self.fr_a] - flat[self.fr_b]).abs().mean()
        return total

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

__all__ = ["symmetry_scores", "prior_factor", "PriorTerms", "mirror_score", "fibre_axis", "specular_axis",
           "mirror_images", "symmetry_fill", "FibreAxis", "SpecularAxis", "SYMMETRY_THRESHOLD"]

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


# --------------------------------------------------------------------------------------------
# mirror symmetries as fills (issue 19): the fibre's quadrant fold and GISAXS's specular mirror
# --------------------------------------------------------------------------------------------

#: a mirror fill is offered (to the blend) only when its measured mirror score passes this
SYMMETRY_THRESHOLD = 0.3


def _reflect(py: np.ndarray, px: np.ndarray, center: tuple[float, float], angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (py, px) mirrored about the line through ``center`` (x, y) at ``angle`` (radians from +x)."""
    cx, cy = float(center[0]), float(center[1])
    ux, uy = np.cos(angle), np.sin(angle)
    dx, dy = px - cx, py - cy
    t = dx * ux + dy * uy
    return cy + 2 * t * uy - dy, cx + 2 * t * ux - dx


#: pixels sampled for each candidate of an axis search (fibre_axis, specular_axis)
SEARCH_SAMPLES = 20_000


def _score_pixels(known: np.ndarray, seed: int, samples: int = MAX_SAMPLES
                  ) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    py, px = np.nonzero(known)
    if py.size > samples:
        pick = rng.choice(py.size, samples, replace=False)
        py, px = py[pick], px[pick]
    return py, px, rng


def _mirror_scores(y: np.ndarray, known: np.ndarray, center: tuple[float, float], angles: np.ndarray,
                   seed: int, samples: int = MAX_SAMPLES) -> np.ndarray:
    """:func:`mirror_score` for many angles over one pixel sample (one reference difference)."""
    y = np.asarray(y, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    py, px, rng = _score_pixels(known, seed, samples)
    cx, cy = float(center[0]), float(center[1])
    dx, dy = px - cx, py - cy
    far = np.hypot(dx, dy) >= 2.0
    py, px, dx, dy = py[far], px[far], dx[far], dy[far]
    out = np.zeros(len(angles))
    if py.size < MIN_PAIRS:
        return out
    yp = y[py, px].astype(np.float64)

    def mean_diff(qy: np.ndarray, qx: np.ndarray) -> float:
        v, ok = _sample(y, known, qy, qx)
        if ok.sum() < MIN_PAIRS:
            return float("nan")
        return float(np.abs(yp[ok] - v[ok]).mean())

    t = rng.uniform(0, 2 * np.pi, py.size)
    d_ring = mean_diff(cy + dx * np.sin(t) + dy * np.cos(t), cx + dx * np.cos(t) - dy * np.sin(t))
    if not (np.isfinite(d_ring) and d_ring > 0):
        return out
    for i, a in enumerate(angles):
        qy, qx = _reflect(py.astype(float), px.astype(float), (cx, cy), float(a))
        d = mean_diff(qy, qx)
        out[i] = float(np.clip(1.0 - d / d_ring, 0.0, 1.0)) if np.isfinite(d) else 0.0
    return out


def mirror_score(y: np.ndarray, known: np.ndarray, center: tuple[float, float], angle: float,
                 seed: int = 0) -> float:
    """How well the measured pixels obey a mirror about the line through ``center`` at ``angle``, in [0, 1].

    ``1 - D_mirror / D_ring``, as :func:`symmetry_scores`' Friedel score: the mean absolute
    difference of a measured pixel to its (bilinear, all four neighbours measured) mirror image,
    over its difference to a pixel of the same radius at a random azimuth. Rings (isotropic)
    score about 0 (a mirror adds nothing to the azimuthal model), a fibre about its meridian
    and equator or a GISAXS frame about its specular plane high; fewer than ``MIN_PAIRS`` pairs
    give 0.

    Parameters
    ----------
    y : (M, N) ndarray of float
        Normalised image.
    known : (M, N) ndarray of bool
        Measured pixels.
    center : (x, y)
        A point on the mirror line (the beam centre).
    angle : float
        The line's direction, radians from the +x (column) axis; ``pi / 2`` is vertical.
    seed : int

    Returns
    -------
    float

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> img = np.exp(-((xx - 32.0) / 6) ** 2) * (1 + (yy / 64.0))  # left-right symmetric, not rotationally
    >>> mirror_score(img, np.ones((64, 64), bool), (32.0, 32.0), np.pi / 2) > 0.8
    True
    """
    return float(_mirror_scores(y, known, center, np.array([angle]), seed)[0])


@dataclass(frozen=True)
class FibreAxis:
    """The fibre (meridian) direction found, and how well the measured pixels obey the fold.

    Attributes
    ----------
    angle : float
        The meridian's direction, radians from +x in [0, pi) (the equator is perpendicular).
    meridian, equator : float
        :func:`mirror_score` about each line.
    score : float
        The fold's score, the smaller of the two.
    center : (x, y)
    """

    angle: float
    meridian: float
    equator: float
    score: float
    center: tuple[float, float]


def fibre_axis(y: np.ndarray, known: np.ndarray, center: tuple[float, float], *, n_angles: int = 36,
               seed: int = 0) -> FibreAxis:
    """The fibre axis: the angle whose mirror lines (it and its perpendicular) the measured pixels obey best.

    A coarse search over ``n_angles`` angles in [0, pi / 2) (each with its perpendicular), the
    best refined by a tenth of the step on each side; the score of an angle is the smaller of
    the two lines' :func:`mirror_score` (a fold needs both). Which of the two is the meridian
    (the fibre's direction) cannot be told from the mirrors; ``angle`` is the one nearer vertical.

    Parameters
    ----------
    y, known : (M, N) ndarray
        Normalised image and its measured pixels.
    center : (x, y)
        Beam centre.
    n_angles : int
    seed : int

    Returns
    -------
    FibreAxis
    """
    step = (np.pi / 2) / n_angles
    coarse = np.arange(n_angles) * step

    def both(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = _mirror_scores(y, known, center, angles, seed, SEARCH_SAMPLES)
        b = _mirror_scores(y, known, center, angles + np.pi / 2, seed, SEARCH_SAMPLES)
        return a, b

    a, b = both(coarse)
    k = int(np.argmax(np.minimum(a, b)))
    fine = coarse[k] + np.linspace(-step, step, 21)
    fa, fb = both(fine)
    j = int(np.argmax(np.minimum(fa, fb)))
    ang = float(fine[j])
    # the chosen axis scored on the full sample
    s1 = float(_mirror_scores(y, known, center, np.array([ang]), seed)[0])
    s2 = float(_mirror_scores(y, known, center, np.array([ang + np.pi / 2]), seed)[0])
    # name the line nearer vertical the meridian
    if abs(np.cos(ang)) > abs(np.sin(ang)):
        ang, s1, s2 = ang + np.pi / 2, s2, s1
    ang = float(np.mod(ang, np.pi))
    logger.info("fibre axis %.1f deg: meridian mirror %.2f, equator mirror %.2f", np.degrees(ang), s1, s2)
    return FibreAxis(ang, s1, s2, min(s1, s2), (float(center[0]), float(center[1])))


@dataclass(frozen=True)
class SpecularAxis:
    """The GISAXS specular plane found: the vertical mirror line ``x`` and its :func:`mirror_score`."""

    x: float
    score: float
    center: tuple[float, float]


def specular_axis(y: np.ndarray, known: np.ndarray, center: tuple[float, float], *, search: float = 0.1,
                  seed: int = 0) -> SpecularAxis:
    """The vertical mirror line (the specular plane of a GISAXS frame) the measured pixels obey best.

    Candidate lines ``x`` from ``center``'s x less to more ``search`` of the frame's width (whole and
    half pixels, a coarse pass then the best's neighbourhood), each scored with :func:`mirror_score`
    (the random-azimuth reference about ``center``).

    Parameters
    ----------
    y, known : (M, N) ndarray
        Normalised image and its measured pixels.
    center : (x, y)
        Beam centre (estimated or given): the search's middle and the reference's centre.
    search : float
        Half-width of the search, a fraction of the frame's width.
    seed : int

    Returns
    -------
    SpecularAxis
    """
    cx, cy = float(center[0]), float(center[1])
    half = max(2.0, search * y.shape[1])
    xs = np.arange(np.floor(cx - half), np.ceil(cx + half) + 1, 2.0)
    vertical = np.array([np.pi / 2])
    sc = np.array([_mirror_scores(y, known, (x, cy), vertical, seed, SEARCH_SAMPLES)[0] for x in xs])
    x0 = float(xs[int(np.argmax(sc))])
    fine = x0 + np.arange(-2.0, 2.01, 0.5)
    fs = np.array([_mirror_scores(y, known, (x, cy), vertical, seed, SEARCH_SAMPLES)[0] for x in fine])
    x = float(fine[int(np.argmax(fs))])
    score = float(_mirror_scores(y, known, (x, cy), vertical, seed)[0])  # on the full sample
    logger.info("specular plane x=%.1f: mirror %.2f", x, score)
    return SpecularAxis(x, score, (x, cy))


def mirror_images(y: np.ndarray, known: np.ndarray, points: tuple[np.ndarray, np.ndarray],
                  center: tuple[float, float], angles: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the measured mirror images of pixels ``points`` about lines through ``center``.

    For every line (``angles``, radians from +x) a pixel's mirror image is read bilinearly where
    its four neighbours are measured; two lines at right angles add their composition (the
    point mirror through ``center``), so a fold's three images are averaged (MuscleX's quadrant
    folding: the mean of the measured quadrants).

    Returns
    -------
    values : (K,) ndarray
        The mean of the measured images (0 where none is).
    ok : (K,) ndarray of bool
        Whether any image is measured.
    """
    py, px = (np.asarray(p, dtype=np.float64) for p in points)
    y = np.asarray(y, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    total = np.zeros(py.size)
    count = np.zeros(py.size)
    images = [_reflect(py, px, center, float(a)) for a in angles]
    if len(angles) == 2:
        cx, cy = float(center[0]), float(center[1])
        images.append((2 * cy - py, 2 * cx - px))
    for qy, qx in images:
        v, ok = _sample(y, known, qy, qx)
        total += np.where(ok, v, 0.0)
        count += ok
    good = count > 0
    return np.where(good, total / np.maximum(count, 1), 0.0), good


#: the Gaussian (pixels) a symmetry fill and its score smooth the measured pixels with (a single
#: mirror image carries its pixel's counting noise; the local mean of the images does not)
SYMMETRY_SMOOTH = 1.5


def smooth_known(y: np.ndarray, known: np.ndarray, sigma: float = SYMMETRY_SMOOTH) -> np.ndarray:
    """The Gaussian mean of the measured pixels (normalised convolution); 0 where none is near.

    Examples
    --------
    >>> k = np.ones((5, 5), bool); k[2, 2] = False
    >>> float(smooth_known(np.where(k, 1.0, 9.0), k)[2, 2])
    1.0
    """
    from scipy import ndimage

    if sigma <= 0:
        return np.where(known, y, 0.0).astype(np.float64)
    k = np.asarray(known, np.float64)
    num = ndimage.gaussian_filter(np.where(known, y, 0.0).astype(np.float64), sigma, mode="constant")
    den = ndimage.gaussian_filter(k, sigma, mode="constant")
    return np.where(den > 1e-6, num / np.maximum(den, 1e-6), 0.0)


def symmetry_fill(y: np.ndarray, known: np.ndarray, heal: np.ndarray, kind: str, *,
                  center: tuple[float, float], seed: int = 0,
                  smooth: float = SYMMETRY_SMOOTH) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """A symmetry's fill of the ``heal`` pixels, from the measured pixels, and its measured score.

    Parameters
    ----------
    y : (M, N) ndarray
        Normalised image.
    known : (M, N) ndarray of bool
        The measured pixels the fill and its score read.
    heal : (M, N) ndarray of bool
        The pixels to fill.
    kind : {'fold', 'mirror'}
        ``fold``: the fibre's quadrant fold about the axis :func:`fibre_axis` finds; ``mirror``:
        the left-right mirror about the specular plane :func:`specular_axis` finds.
    center : (x, y)
        Beam centre.
    seed : int
    smooth : float
        The axis is searched, scored and the images read on the measured pixels' Gaussian mean
        of this width (:func:`smooth_known`; 0: the pixels themselves).

    Returns
    -------
    values : (M, N) ndarray of float64
        The fill on ``heal`` where a mirror image is measured (0 elsewhere).
    ok : (M, N) ndarray of bool
        Where ``values`` holds a fill.
    info : dict
        ``score`` (the symmetry's measured score) and the axis (``angle`` in degrees, or ``x``).
    """
    y = smooth_known(y, known, smooth)
    if kind == "fold":
        ax = fibre_axis(y, known, center, seed=seed)
        line_c, angles = ax.center, (ax.angle, ax.angle + np.pi / 2)
        info = {"score": ax.score, "angle": float(np.degrees(ax.angle)), "meridian": ax.meridian,
                "equator": ax.equator}
    elif kind == "mirror":
        sp = specular_axis(y, known, center, seed=seed)
        line_c, angles = sp.center, (np.pi / 2,)
        info = {"score": sp.score, "x": sp.x}
    else:
        from .errors import DipHealError

        raise DipHealError(f"got symmetry {kind!r}; expected 'fold' or 'mirror'")
    hy, hx = np.nonzero(heal)
    # pixel centres: _sample reads position (row, col) = the pixel's own value at integer coordinates
    vals, ok = mirror_images(y, known, (hy, hx), line_c, angles)
    out = np.zeros(y.shape)
    okm = np.zeros(y.shape, bool)
    out[hy, hx] = vals
    okm[hy, hx] = ok
    return out, okm, info

"""Recognising a picture's colour map (:func:`detect_colormap`) and inverting it
(:func:`invert_colormap`): every pixel's position ``t`` on the map, or off the map."""

from __future__ import annotations

import dataclasses
import functools
import logging
import math

import numpy as np

from ..errors import DipHealError
from .colormaps import COLORMAPS, colormap_lut

__all__ = ["ColormapMatch", "detect_colormap", "invert_colormap", "MIN_COLOURS", "MIN_COVERED"]

logger = logging.getLogger(__name__)

#: Fewest distinct on-map colours for an automatic match (a flat or two-colour picture is no render).
MIN_COLOURS = 8
#: Least fraction of the picture's pixels the best map must cover for an automatic match.
MIN_COVERED = 0.2


@dataclasses.dataclass(frozen=True)
class _Samples:
    """A map sampled densely along its colours: ``rgb`` (K, 3) in 0..255 at positions ``t``."""

    name: str
    rgb: np.ndarray
    t: np.ndarray
    levels: int


@functools.lru_cache(maxsize=32)
def _samples(name: str) -> _Samples:
    lut = colormap_lut(name) * 255.0
    n = len(lut)
    pos = np.arange(n) / (n - 1)
    rgb, t = [lut[:1]], [pos[:1]]
    for i in range(n - 1):
        step = float(np.abs(lut[i + 1] - lut[i]).max())
        k = int(min(8, max(1, math.ceil(step))))
        if step > 16:  # a jump (MVE385's dark ramp), not a smooth stretch: nothing lies between
            k = 1
        f = np.arange(1, k + 1) / k
        rgb.append(lut[i] + f[:, None] * (lut[i + 1] - lut[i]))
        t.append(pos[i] + f * (pos[i + 1] - pos[i]))
    return _Samples(name, np.concatenate(rgb), np.concatenate(t), n)


def _unique_colours(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct colours of an (M, N, 3) uint8 picture: (K, 3) colours, counts, (M, N) index."""
    flat = rgb[..., :3].reshape(-1, 3).astype(np.uint32)
    key = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    uk, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    cols = np.stack([(uk >> 16) & 255, (uk >> 8) & 255, uk & 255], axis=1).astype(np.float64)
    return cols, counts, inv.reshape(rgb.shape[:2])


@functools.lru_cache(maxsize=32)
def _exact_levels(name: str) -> dict[int, list[int]]:
    """Packed colour -> levels of the map that draw exactly that colour (truncated or rounded to 0..255)."""
    lut = colormap_lut(name) * 255
    out: dict[int, list[int]] = {}
    for table in (np.floor(lut + 1e-6), np.rint(lut)):
        q = np.clip(table, 0, 255).astype(np.int64)
        keys = (q[:, 0] << 16) | (q[:, 1] << 8) | q[:, 2]
        for level, k in enumerate(keys.tolist()):
            if level not in out.setdefault(k, []):
                out[k].append(level)
    return out


def _nearest(samples: _Samples, cols: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray, list]:
    """For each colour: distance (largest channel difference) to the map, its position, candidates.

    A colour the map draws exactly (a level's colour, truncated or rounded to 0..255) takes that
    level; any other colour the position of the nearest point of the densely sampled map. The
    third result lists, for a colour the map draws at levels more than two apart (MVE385's dark
    ramp revisits blues its jet part has), those candidate positions; else None.
    """
    from scipy.spatial import cKDTree

    exact = _exact_levels(samples.name)
    tree = cKDTree(samples.rgb)
    _, idx = tree.query(cols, k=1)
    dist = np.abs(samples.rgb[idx] - cols).max(axis=1)
    t = samples.t[idx].copy()
    cand: list = [None] * len(cols)
    keys = (cols[:, 0].astype(np.int64) << 16) | (cols[:, 1].astype(np.int64) << 8) | cols[:, 2].astype(np.int64)
    n = samples.levels - 1
    for j, k in enumerate(keys.tolist()):
        levels = exact.get(k)
        if levels is None:
            continue
        dist[j] = 0.0
        lv = np.asarray(sorted(levels), np.float64)
        groups = np.split(lv, np.flatnonzero(np.diff(lv) > 1) + 1)  # runs of neighbouring levels
        means = np.array([g.mean() for g in groups]) / n
        t[j] = means[-1]
        if len(groups) > 1:
            cand[j] = means
    return dist, t, cand


@dataclasses.dataclass(frozen=True)
class ColormapMatch:
    """How well one catalogue map explains a picture's colours."""

    name: str
    covered: float  # fraction of the picture's pixels on the map
    colours: int  # distinct picture colours on the map
    mean_distance: float  # over the covered pixels, in 0..255 units


def _match(name: str, cols: np.ndarray, counts: np.ndarray, tolerance: float) -> ColormapMatch:
    dist, _, _ = _nearest(_samples(name), cols, tolerance)
    on = dist <= tolerance
    total = float(counts.sum())
    cov = float(counts[on].sum()) / total if total else 0.0
    md = float((dist[on] * counts[on]).sum() / counts[on].sum()) if on.any() else float("inf")
    return ColormapMatch(name, cov, int(on.sum()), md)


def detect_colormap(rgb: np.ndarray, *, tolerance: float = 3.0,
                    candidates: list[str] | None = None) -> tuple[str | None, list[ColormapMatch]]:
    """The catalogue map that explains most of a picture's pixels.

    Parameters
    ----------
    rgb : (M, N, 3) or (M, N, 4) ndarray of uint8
        The picture (alpha is ignored).
    tolerance : float
        Largest channel difference (0..255) between a pixel and the map for the pixel to be on it.
    candidates : list of str, optional
        Maps to try (default all of :data:`COLORMAPS`).

    Returns
    -------
    name : str or None
        The map covering most pixels among those showing at least :data:`MIN_COLOURS` distinct
        colours (ties: the closer one), or None when none covers :data:`MIN_COVERED` of the pixels.
    matches : list of ColormapMatch
        Every candidate, best first.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] not in (3, 4):
        raise DipHealError(f"got a picture of shape {rgb.shape}; expected (M, N, 3) RGB; pass a colour image")
    cols, counts, _ = _unique_colours(rgb)
    names = candidates or list(COLORMAPS)
    matches = []
    for n in names:
        try:
            matches.append(_match(n, cols, counts, tolerance))
        except ImportError:  # matplotlib absent: its maps cannot be tried
            logger.debug("colour map %s needs matplotlib; skipped", n)
    # a map must show enough of its colours to count (white margins and black text are on gray and hot)
    matches.sort(key=lambda m: (m.colours < MIN_COLOURS, -round(m.covered, 4), m.mean_distance))
    best = matches[0] if matches else None
    if best is None or best.covered < MIN_COVERED or best.colours < MIN_COLOURS:
        return None, matches
    return best.name, matches


def invert_colormap(rgb: np.ndarray, name: str, *, tolerance: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Position on the map of every pixel, and whether the pixel is on the map.

    Parameters
    ----------
    rgb : (M, N, 3) or (M, N, 4) ndarray of uint8
    name : str
        A catalogue map (see :func:`colormap_lut`).
    tolerance : float
        Largest channel difference (0..255) for a pixel to be on the map.

    Returns
    -------
    t : (M, N) ndarray of float64
        Position in [0, 1] (0 = the map's first colour); NaN off the map. A colour the map passes
        twice (far apart) takes the position nearer the median of its unambiguous neighbours.
    on_map : (M, N) ndarray of bool

    Examples
    --------
    >>> lut = np.floor(colormap_lut("viridis") * 255).astype(np.uint8)
    >>> t, on = invert_colormap(lut[[[0, 128, 255]]], "viridis")
    >>> (t * 255).round().tolist(), on.tolist()
    ([[0.0, 128.0, 255.0]], [[True, True, True]])
    """
    rgb = np.asarray(rgb)
    samples = _samples(name)
    cols, _, inv = _unique_colours(rgb)
    dist, tpos, cand = _nearest(samples, cols, tolerance)
    on = (dist <= tolerance)[inv]
    t = np.where(on, tpos[inv], np.nan)
    if any(c is not None for c in cand):
        t = _resolve_ambiguous(t, cand, inv)
    return t, on


def _resolve_ambiguous(t: np.ndarray, cand: list, inv: np.ndarray) -> np.ndarray:
    """Ambiguous colours take the candidate nearest the median of their unambiguous neighbours (5 x 5,
    wider where it has none; neighbours at the map's first colour count only when there are no others)."""
    amb = np.array([c is not None for c in cand])
    bad = amb[inv]
    clear = np.where(bad, np.nan, t)
    ys, xs = np.nonzero(bad)
    out = t.copy()
    for y, x in zip(ys, xs):
        c = cand[int(inv[y, x])]
        ref = float(c.max())
        for r in (2, 4, 8):
            win = clear[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
            # the map's first colour is often "nothing" (a gap, no counts): a reference only if alone
            lit = win[win > 0] if (win > 0).any() else win[np.isfinite(win)]
            if lit.size:
                ref = float(np.median(lit))
                break
        out[y, x] = float(c[np.argmin(np.abs(c - ref))])
    logger.info("%d pixels have a colour the map draws at two far-apart levels; each took the level nearer "
                "its neighbours", ys.size)
    return out

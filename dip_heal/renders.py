"""Colour-map renders (PNG pictures of a frame) read as the scalar field they show, and written back.

A render is an RGB picture of a frame drawn through a colour map, often inside a figure (frame,
axes, tick marks, labels, colour bar). The MVE385 seed project worked on such PNGs. This module

- recognises the colour map by matching the picture's colours against a catalogue
  (:data:`COLORMAPS`: MATLAB's parula and jet, matplotlib's viridis, magma, inferno, plasma, jet,
  turbo, hot and gray, and the MVE385 dark-blue map), or takes the one the user names;
- inverts it: every pixel whose colour lies on the map (within a tolerance) gets its position
  ``t`` on the map, 0 (the map's first colour) to 1 (its last);
- crops the figure to its image area: the largest connected region of pixels on the map, trimmed
  of edge rows and columns that are mostly off the map. Pixels off the map (the figure frame,
  axes, tick marks, labels, the colour bar, margins) are not data;
- writes a healed field back as the same picture: measured pixels and everything that is not data
  keep their exact original colour, healed pixels get the colour of their healed level, taken from
  the picture itself where that level occurs in it (so the colour rounding matches).

What the :class:`~dip_heal.frame.Frame` of a render holds
---------------------------------------------------------
``data`` and ``raw`` (float32, the picture's shape) hold ``u = 256**t - 1`` ("render units",
0 to 255) on data pixels and 0 elsewhere; ``valid`` is True on data pixels only. The fit
normalises ``log1p(u) / scale``, and ``log1p(u) = t * ln 256``, so the network fits the colour
position ``t`` itself, linearly. That is the right space for the usual render, whose colour is
linear in log counts (MVE385: ``CData = log10(counts)`` drawn with ``CLim = [0, 2]``): fitting
``log1p`` of the colour index would take the log of a log and squeeze the bright end. A render
whose colour is linear in counts is then fitted in counts, not in their log; give the raw frame for
those. ``meta["render"]`` keeps the colour map, the image area, the original RGB(A) picture and the
colour seen for every level, which :func:`write_render` needs.

A render carries at most as many levels as its map has colours (256 for all maps here), and the
colour limits are not in the picture: it is a coarse copy of the frame. The detector's raw frame
(CBF, TIFF, EDF, HDF5, or the MATLAB ``.fig`` with :mod:`dip_heal.matfig`) is better wherever
the user has it, and the log says so on every read.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .errors import DipHealError
from .frame import Frame, atomic_path

__all__ = [
    "COLORMAPS",
    "RENDER_UNITS",
    "colormap_lut",
    "colormap_names",
    "colormap_option",
    "detect_colormap",
    "invert_colormap",
    "image_area",
    "render_colors",
    "read_render",
    "render_scalar",
    "scalar_to_units",
    "units_to_scalar",
    "write_render",
    "write_scalar_tiff",
    "fit_window",
    "fit_in_window",
    "synthetic_render",
]

logger = logging.getLogger(__name__)

#: ``log(256)``: render units are ``u = 256**t - 1``, so ``log1p(u) = t * RENDER_UNITS``.
RENDER_UNITS = math.log(256.0)

#: Colour maps the detector knows: name -> where it comes from.
COLORMAPS: dict[str, str] = {
    "mve385": "the MVE385 seed project's dark-blue map: 8 dark blues (0, 0, k/8), then MATLAB jet(256) "
              "from its 9th colour (identical to the Colormap stored in its .fig files)",
    "parula": "MATLAB parula (R2017a and later, 256 colours; 41 anchors within 0.6/255 of MATLAB's table)",
    "matlab-jet": "MATLAB jet(256)",
    "jet": "matplotlib jet",
    "viridis": "matplotlib viridis",
    "magma": "matplotlib magma",
    "inferno": "matplotlib inferno",
    "plasma": "matplotlib plasma",
    "turbo": "matplotlib turbo",
    "hot": "matplotlib hot",
    "gray": "matplotlib gray",
}

# MATLAB parula (R2017a+) at entries 0, 10, 17, ... 255 of its 256; linear in between.
_PARULA_AT = (0, 10, 17, 23, 31, 41, 50, 56, 61, 66, 73, 80, 87, 95, 103, 108, 113, 116, 119, 122, 124,
              132, 136, 147, 151, 161, 168, 181, 188, 192, 196, 201, 205, 209, 212, 215, 225, 238, 246, 253,
              255)
_PARULA_RGB = (
    (0.2422, 0.1504, 0.6603), (0.2611, 0.1893, 0.7719), (0.2717, 0.2184, 0.8439), (0.2774, 0.2489, 0.8908),
    (0.2811, 0.293, 0.9352), (0.2791, 0.3475, 0.9733), (0.267, 0.3973, 0.9924), (0.2473, 0.4319, 0.9983),
    (0.2189, 0.462, 0.9968), (0.1903, 0.4919, 0.9867), (0.1785, 0.5296, 0.9677), (0.1716, 0.5655, 0.9393),
    (0.1492, 0.5997, 0.9147), (0.1321, 0.6363, 0.8932), (0.1048, 0.671, 0.8695), (0.0789, 0.6902, 0.8462),
    (0.0328, 0.7071, 0.8183), (0.0091, 0.7163, 0.8003), (0.0009, 0.7248, 0.7815), (0.0094, 0.7327, 0.7623),
    (0.0253, 0.7376, 0.7492), (0.1252, 0.7552, 0.695), (0.1609, 0.7635, 0.6671), (0.2244, 0.7869, 0.5813),
    (0.2589, 0.7937, 0.5454), (0.3795, 0.8026, 0.4454), (0.4753, 0.8011, 0.3691), (0.6567, 0.7818, 0.2329),
    (0.7468, 0.7654, 0.1782), (0.7945, 0.7554, 0.157), (0.8389, 0.7457, 0.1546), (0.8903, 0.7353, 0.1695),
    (0.9272, 0.7298, 0.1973), (0.9606, 0.7285, 0.2312), (0.9842, 0.733, 0.2446), (0.9966, 0.7458, 0.2351),
    (0.9923, 0.8034, 0.1939), (0.9619, 0.884, 0.1557), (0.9618, 0.932, 0.1304), (0.973, 0.9724, 0.0938),
    (0.9769, 0.9839, 0.0805),
)

#: Fewest distinct on-map colours for an automatic match (a flat or two-colour picture is no render).
MIN_COLOURS = 8
#: Least fraction of the picture's pixels the best map must cover for an automatic match.
MIN_COVERED = 0.2

_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("dip_heal_colormap", default=None)


# --------------------------------------------------------------------------------------------
# the catalogue


def _matlab_jet(m: int = 256) -> np.ndarray:
    """MATLAB's ``jet(m)``, by its published construction."""
    n = int(math.ceil(m / 4))
    u = np.r_[np.arange(1, n + 1) / n, np.ones(n - 1), np.arange(n, 0, -1) / n]
    g = int(math.ceil(n / 2)) - int(m % 4 == 1) + np.arange(1, len(u) + 1)
    r, b = g + n, g - n
    gg, rr, bb = g[g <= m], r[r <= m], b[b >= 1]
    lut = np.zeros((m, 3))
    lut[rr - 1, 0] = u[: len(rr)]
    lut[gg - 1, 1] = u[: len(gg)]
    lut[bb - 1, 2] = u[len(u) - len(bb):]
    return lut


def colormap_names() -> list[str]:
    """Names :func:`colormap_lut` accepts (each also reversed with a ``_r`` suffix)."""
    return list(COLORMAPS)


def colormap_lut(name: str) -> np.ndarray:
    """The colours of a catalogue map, first to last.

    Parameters
    ----------
    name : str
        One of :data:`COLORMAPS`, optionally with ``_r`` for the reversed map; ``dark-blue`` is
        an alias of ``mve385``.

    Returns
    -------
    lut : (256, 3) ndarray of float64
        RGB in [0, 1].

    Raises
    ------
    DipHealError
        An unknown name.

    Examples
    --------
    >>> colormap_lut("mve385")[[0, 7, 8, 255]].round(4).tolist()
    [[0.0, 0.0, 0.125], [0.0, 0.0, 1.0], [0.0, 0.0, 0.6406], [0.5, 0.0, 0.0]]
    """
    key = name.strip().lower()
    rev = key.endswith("_r")
    base = key[:-2] if rev else key
    base = {"dark-blue": "mve385", "darkblue": "mve385", "grey": "gray"}.get(base, base)
    if base not in COLORMAPS:
        raise DipHealError(
            f"unknown colour map {name!r}; expected one of {', '.join(COLORMAPS)} (add _r for reversed); "
            "give --colormap NAME"
        )
    if base == "mve385":
        lut = _matlab_jet(256)
        lut[:8] = 0.0
        lut[:8, 2] = np.arange(1, 9) / 8
    elif base == "matlab-jet":
        lut = _matlab_jet(256)
    elif base == "parula":
        x = np.arange(256)
        anchors = np.asarray(_PARULA_RGB)
        lut = np.stack([np.interp(x, _PARULA_AT, anchors[:, c]) for c in range(3)], axis=1)
    else:
        import matplotlib

        lut = np.asarray(matplotlib.colormaps[base].resampled(256)(np.arange(256))[:, :3], np.float64)
    return lut[::-1].copy() if rev else lut


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


# --------------------------------------------------------------------------------------------
# the image area


def image_area(on_map: np.ndarray, *, min_fraction: float = 0.5) -> tuple[int, int, int, int]:
    """The image area of a figure: rows ``r0..r1`` and columns ``c0..c1`` (inclusive).

    The largest 4-connected region of on-map pixels, its bounding box trimmed of edge rows and
    columns that are less than ``min_fraction`` on the map (axis lines, a partial frame).

    Parameters
    ----------
    on_map : (M, N) ndarray of bool
    min_fraction : float

    Returns
    -------
    (r0, r1, c0, c1) : tuple of int

    Raises
    ------
    DipHealError
        No pixel on the map.

    Examples
    --------
    >>> on = np.zeros((6, 8), bool); on[1:5, 2:7] = True; on[0, 0] = True
    >>> image_area(on)
    (1, 4, 2, 6)
    """
    from scipy import ndimage

    on_map = np.asarray(on_map, bool)
    if not on_map.any():
        raise DipHealError("no pixel of the picture is on the colour map; expected a colour-map render; "
                           "give the right --colormap")
    lab, n = ndimage.label(on_map)
    sizes = np.bincount(lab.ravel())[1:]
    comp = lab == (int(np.argmax(sizes)) + 1)
    rows, cols = np.flatnonzero(comp.any(axis=1)), np.flatnonzero(comp.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    while r1 > r0 or c1 > c0:
        box = on_map[r0 : r1 + 1, c0 : c1 + 1]
        edges = {"top": box[0].mean(), "bottom": box[-1].mean(), "left": box[:, 0].mean(),
                 "right": box[:, -1].mean()}
        side = min(edges, key=edges.get)
        if edges[side] >= min_fraction:
            break
        if side == "top" and r1 > r0:
            r0 += 1
        elif side == "bottom" and r1 > r0:
            r1 -= 1
        elif side == "left" and c1 > c0:
            c0 += 1
        elif side == "right" and c1 > c0:
            c1 -= 1
        else:
            break
    return r0, r1, c0, c1


# --------------------------------------------------------------------------------------------
# scalar <-> render units <-> colours


def scalar_to_units(t: np.ndarray) -> np.ndarray:
    """Render units ``256**t - 1`` of map positions ``t`` (see the module docstring)."""
    return np.expm1(np.clip(np.asarray(t, np.float64), 0.0, 1.0) * RENDER_UNITS)


def units_to_scalar(u: np.ndarray) -> np.ndarray:
    """Map positions ``log1p(u) / log(256)`` of render units, clipped to [0, 1]; NaN stays NaN."""
    u = np.asarray(u, np.float64)
    with np.errstate(invalid="ignore"):
        return np.clip(np.log1p(np.maximum(u, 0.0)) / RENDER_UNITS, 0.0, 1.0)


def render_colors(t: np.ndarray, name: str, *, palette: dict[int, tuple[int, int, int]] | None = None,
                  rounding: str = "floor") -> np.ndarray:
    """Colours of map positions ``t``: level ``round(t * (N - 1))`` of the N-colour map.

    Parameters
    ----------
    t : ndarray of float
        Positions in [0, 1] (clipped; NaN draws level 0).
    name : str
        Catalogue map.
    palette : dict of int to (r, g, b), optional
        Colours seen in the picture for some levels; those win over the map's own (so a re-drawn
        level matches the picture's colour rounding exactly).
    rounding : {"floor", "round"}
        How map colours in [0, 1] became 0..255 in the picture (MATLAB and matplotlib truncate).

    Returns
    -------
    rgb : (..., 3) ndarray of uint8
    """
    lut = colormap_lut(name)
    n = len(lut)
    q = np.floor(lut * 255 + 1e-6) if rounding == "floor" else np.rint(lut * 255)
    table = np.clip(q, 0, 255).astype(np.uint8)
    for level, c in (palette or {}).items():
        table[int(level)] = c
    level = np.rint(np.nan_to_num(np.clip(np.asarray(t, np.float64), 0, 1), nan=0.0) * (n - 1)).astype(np.intp)
    return table[level]


def _palette(rgb: np.ndarray, t: np.ndarray, data: np.ndarray, n: int) -> dict[int, tuple[int, int, int]]:
    """The picture's most common colour for every level it shows."""
    lv = np.rint(t[data] * (n - 1)).astype(np.int64)
    key = (rgb[..., 0][data].astype(np.int64) << 16) | (rgb[..., 1][data].astype(np.int64) << 8) | rgb[..., 2][data]
    out: dict[int, tuple[int, int, int]] = {}
    if lv.size == 0:
        return out
    pairs, counts = np.unique(np.stack([lv, key], 1), axis=0, return_counts=True)
    order = np.lexsort((-counts, pairs[:, 0]))
    seen = set()
    for i in order:
        level, k = int(pairs[i, 0]), int(pairs[i, 1])
        if level in seen:
            continue
        seen.add(level)
        out[level] = ((k >> 16) & 255, (k >> 8) & 255, k & 255)
    return out


def _rounding(name: str, palette: dict[int, tuple[int, int, int]]) -> str:
    """Whether the picture's colours were truncated or rounded from the map's."""
    if not palette:
        return "floor"
    lut = colormap_lut(name) * 255
    lv = np.array(list(palette))
    seen = np.array([palette[k] for k in lv], np.float64)
    fl = np.abs(np.floor(lut[lv] + 1e-6) - seen).sum()
    ro = np.abs(np.rint(lut[lv]) - seen).sum()
    return "floor" if fl <= ro else "round"


# --------------------------------------------------------------------------------------------
# reading and writing


@contextlib.contextmanager
def colormap_option(name: str | None) -> Iterator[None]:
    """Within the block, :func:`read_render` uses the colour map ``name`` (None = detect it).

    This is how ``--colormap NAME`` reaches the reader from the command line.
    """
    if name is not None:
        colormap_lut(name)  # an unknown name fails here, before any work
    token = _override.set(name)
    try:
        yield
    finally:
        _override.reset(token)


def read_render(path: str | os.PathLike, rgba: np.ndarray, *, fmt: str = "png", header: dict[str, str] | None = None,
                index: int = 0, colormap: str | None = None, tolerance: float | None = None) -> Frame | None:
    """A colour-map render as a :class:`~dip_heal.frame.Frame` of render units.

    Parameters
    ----------
    path : path-like
        The picture's file (recorded in ``meta``).
    rgba : (M, N, 3) or (M, N, 4) ndarray of uint8
        Its pixels.
    fmt : str
        ``png`` or ``jpeg`` (a JPEG is read as a render only with a named map).
    header : dict, optional
        Text chunks of the file.
    index : int
        Frame index (recorded).
    colormap : str, optional
        The map; default: the one set by :func:`colormap_option`, else detected.
    tolerance : float, optional
        Channel tolerance for "on the map"; default 3 (PNG) or 24 (JPEG).

    Returns
    -------
    Frame or None
        None when no map was named and none matches (the caller falls back to luminance).

    Raises
    ------
    DipHealError
        A named map that covers almost none of the picture.
    """
    rgba = np.asarray(rgba)
    rgb = np.ascontiguousarray(rgba[..., :3])
    name = colormap if colormap is not None else _override.get()
    tol = float(tolerance if tolerance is not None else (3.0 if fmt == "png" else 24.0))
    if name is None:
        if fmt != "png":
            return None  # lossy colours: only with a named map
        name, matches = detect_colormap(rgb, tolerance=tol)
        if name is None:
            best = matches[0] if matches else None
            logger.info("%s: no colour map matches (best %s, %.0f %% of pixels); read as luminance", path,
                        best.name if best else "none", 100 * best.covered if best else 0)
            return None
        how = "detected"
        runner = next((m for m in matches[1:] if m.covered > 0), None)
        if runner is not None:
            how += f"; next best {runner.name} {100 * runner.covered:.1f} %"
    else:
        colormap_lut(name)
        how = "as given"
    t, on = invert_colormap(rgb, name, tolerance=tol)
    if on.mean() < 0.05:
        raise DipHealError(
            f"{path}: only {100 * on.mean():.1f} % of the pixels are on the {name} map; expected a render drawn "
            f"with it; give the right --colormap (one of {', '.join(COLORMAPS)}) or the raw frame"
        )
    r0, r1, c0, c1 = image_area(on)
    M, N = on.shape
    inside = np.zeros((M, N), bool)
    inside[r0 : r1 + 1, c0 : c1 + 1] = True
    data = on & inside
    n_levels = len(colormap_lut(name))
    palette = _palette(rgb, np.where(data, t, 0.0), data, n_levels)
    rounding = _rounding(name, palette)
    units = np.where(data, scalar_to_units(np.nan_to_num(t)), 0.0).astype(np.float32)
    cut = {"top": r0, "bottom": M - 1 - r1, "left": c0, "right": N - 1 - c1}
    marks = int((inside & ~on).sum())
    logger.warning(
        "%s is a colour-map render (%s map, %s; %.1f %% of its pixels on the map): its pixels are colours, "
        "not intensities. It carries at most %d levels (%d distinct here) and no colour limits; healing works "
        "on the map position t (0..1). Use the detector's raw frame (CBF/TIFF/EDF/HDF5, or the MATLAB .fig) "
        "where you have it.",
        path, name, how, 100 * on.mean(), n_levels, len(palette),
    )
    logger.info(
        "%s: image area rows %d..%d, columns %d..%d (%d x %d); cropped off %s (figure frame, axes, labels, "
        "colour bar, margins: not data); %d pixels inside it are off the map (tick marks, annotations) and are "
        "not data either",
        path, r0, r1, c0, c1, r1 - r0 + 1, c1 - c0 + 1,
        ", ".join(f"{v} px {k}" for k, v in cut.items() if v) or "nothing", marks,
    )
    hdr = dict(header or {})
    hdr.update({"colormap": name, "render_area": f"{r0},{r1},{c0},{c1}"})
    meta: dict[str, Any] = {
        "path": str(path), "format": fmt, "detector": None, "dtype": "float32", "header": hdr,
        "dataset": None, "index": index,
        "render": {
            "colormap": name, "tolerance": tol, "area": (r0, r1, c0, c1), "levels": n_levels,
            "rgba": rgba.copy(), "palette": palette, "rounding": rounding, "on_map": float(on.mean()),
            "cropped": cut, "marks": marks,
        },
    }
    return Frame(data=units, valid=data, raw=units.copy(), meta=meta, masks={})


def render_scalar(frame: Frame, data: np.ndarray | None = None) -> np.ndarray:
    """The map position ``t`` of a render frame's image area (NaN where ``data`` is NaN).

    Parameters
    ----------
    frame : Frame
        A frame from :func:`read_render`.
    data : (M, N) ndarray, optional
        Render units to convert (default ``frame.data``), e.g. a healed composite.

    Returns
    -------
    t : (r1 - r0 + 1, c1 - c0 + 1) ndarray of float32
        Without ``data``, NaN where the picture is not data (tick marks inside the area).
    """
    info = _info(frame)
    r0, r1, c0, c1 = info["area"]
    u = np.asarray(frame.data if data is None else data, np.float64)
    if data is None:
        u = np.where(frame.valid, u, np.nan)
    u = u[r0 : r1 + 1, c0 : c1 + 1]
    return np.where(np.isnan(u), np.nan, units_to_scalar(u)).astype(np.float32)


def _info(frame: Frame) -> dict[str, Any]:
    info = frame.meta.get("render")
    if info is None:
        raise DipHealError(f"{frame.meta.get('path')}: not a colour-map render; expected a frame read from a "
                           "render PNG; write it as .tif/.edf instead")
    return info


def write_render(path: str | os.PathLike, data: np.ndarray, like: Frame) -> Path:
    """Write render units back as the picture they came from, atomically, never over the input.

    Pixels that are not data (frame, axes, labels, tick marks) and data pixels whose value is
    unchanged keep their exact original colour (and alpha); changed data pixels get the colour of
    their level (:func:`render_colors`, with the picture's own colour for levels it shows).

    Parameters
    ----------
    path : path-like
        A ``.png`` file.
    data : (M, N) ndarray
        Render units, e.g. the healed composite of :func:`dip_heal.frame.composite_native`.
    like : Frame
        The render it came from.

    Returns
    -------
    Path

    Raises
    ------
    DipHealError
        Data of another shape, a frame that is not a render.
    """
    from PIL import Image

    info = _info(like)
    arr = np.asarray(data, np.float64)
    rgba = np.asarray(info["rgba"])
    if arr.shape != rgba.shape[:2]:
        raise DipHealError(f"data shape {arr.shape} does not match the render {rgba.shape[:2]}; "
                           "write data of the render's shape")
    old = np.asarray(like.raw, np.float64)
    changed = like.valid & np.isfinite(arr) & (arr != old)
    out = rgba.copy()
    if changed.any():
        t = units_to_scalar(arr[changed])
        out[changed, :3] = render_colors(t, info["colormap"], palette=info["palette"], rounding=info["rounding"])
    final = Path(path)
    mode = "RGBA" if out.shape[-1] == 4 else "RGB"
    with atomic_path(final, protect=(like.meta.get("path"),) if like.meta.get("path") else ()) as tmp:
        Image.fromarray(np.ascontiguousarray(out), mode=mode).save(tmp, format="PNG")
    logger.info("wrote %s (%s map re-drawn at %d changed pixels; every other pixel as in the input)", final,
                info["colormap"], int(changed.sum()))
    return final


def write_scalar_tiff(path: str | os.PathLike, data: np.ndarray, like: Frame) -> Path:
    """Write the map position ``t`` of the image area as a float32 TIFF, atomically.

    The TIFF's ImageDescription (tag 270) is JSON with the map, the image area in the picture's
    coordinates and what ``t`` means.

    Parameters
    ----------
    path : path-like
    data : (M, N) ndarray
        Render units of the whole picture (e.g. the healed composite).
    like : Frame
        The render.

    Returns
    -------
    Path
    """
    from PIL import Image

    info = _info(like)
    t = render_scalar(like, data)
    r0, r1, c0, c1 = info["area"]
    desc = json.dumps({
        "dip_heal_render": 1, "colormap": info["colormap"], "area_rows": [r0, r1], "area_cols": [c0, c1],
        "scalar": "t in [0, 1]: position on the colour map (0 = its first colour); if the render drew "
                  "v between colour limits [a, b], v = a + t * (b - a)",
        "levels": info["levels"],
    })
    final = Path(path)
    with atomic_path(final, protect=(like.meta.get("path"),) if like.meta.get("path") else ()) as tmp:
        Image.fromarray(np.ascontiguousarray(t, np.float32), mode="F").save(tmp, format="TIFF", tiffinfo={270: desc})
    logger.info("wrote %s (float32 map position t of the image area, %d x %d)", final, t.shape[0], t.shape[1])
    return final


# --------------------------------------------------------------------------------------------
# fitting on the image area


def fit_window(frame: Frame) -> tuple[slice, slice] | None:
    """The image area of a render as slices, or None for any other frame."""
    info = frame.meta.get("render")
    if info is None:
        return None
    r0, r1, c0, c1 = info["area"]
    if (r0, c0) == (0, 0) and (r1, c1) == (frame.shape[0] - 1, frame.shape[1] - 1):
        return None
    return slice(r0, r1 + 1), slice(c0, c1 + 1)


def fit_in_window(frame: Frame, fit_fn: Callable[..., Any], image: np.ndarray, heal: np.ndarray, *args: Any,
                  callback: Callable[..., Any] | None = None, center: tuple[float, float] | None = None,
                  **kwargs: Any) -> Any:
    """``fit_fn(image, heal, ...)`` on a render's image area only, with the result in the frame's shape.

    For any other frame this is ``fit_fn(image, heal, *args, callback=callback, center=center, **kwargs)``.
    For a render, the fit sees the image area; snapshots, the composite, the network output and the
    held-out pixels come back pasted into the whole picture (outside the area: ``frame.data``), and a
    beam centre is shifted into and out of the area.
    """
    win = fit_window(frame)
    if win is None:
        return fit_fn(image, heal, *args, callback=callback, center=center, **kwargs)
    rs, cs = win
    dy, dx = rs.start, cs.start
    logger.info("fitting the image area only: rows %d..%d, columns %d..%d", rs.start, rs.stop - 1, cs.start,
                cs.stop - 1)

    def paste(a: np.ndarray | None, fill: np.ndarray | None = None) -> np.ndarray | None:
        if a is None:
            return None
        base = np.array(frame.data if fill is None else fill, dtype=np.asarray(a).dtype, copy=True)
        base[rs, cs] = a
        return base

    def wrapped(snap: Any, state: dict[str, Any]) -> Any:
        return callback(dataclasses.replace(snap, healed=paste(snap.healed)), state)

    c = None if center is None else (float(center[0]) - dx, float(center[1]) - dy)
    res = fit_fn(image[rs, cs], heal[rs, cs], *args, callback=wrapped if callback is not None else None, center=c,
                 **kwargs)
    extra = dict(res.extra)
    if extra.get("center") is not None:
        cx, cy = extra["center"]
        extra["center"] = (float(cx) + dx, float(cy) + dy)
    extra["fit_window"] = (rs.start, rs.stop - 1, cs.start, cs.stop - 1)
    holdout = paste(res.holdout, np.zeros(frame.shape, bool)) if res.holdout is not None else None
    return dataclasses.replace(res, healed=paste(res.healed), output=paste(res.output), holdout=holdout,
                               snapshots=[dataclasses.replace(s, healed=paste(s.healed)) for s in res.snapshots],
                               extra=extra)


# --------------------------------------------------------------------------------------------
# a synthetic render (tests, the example)


def synthetic_render(t: np.ndarray, name: str, *, frame: int = 1, margin: int = 0, frame_rgb=(50, 50, 50),
                     background=(255, 255, 255), ticks: int = 0) -> np.ndarray:
    """Draw map positions ``t`` through a map inside a figure frame, like MATLAB's exported axes.

    Parameters
    ----------
    t : (M, N) ndarray of float
        Map positions in [0, 1].
    name : str
        Catalogue map.
    frame : int
        Width of the grey frame line around the image.
    margin : int
        Background margin around the frame.
    frame_rgb, background : (r, g, b)
    ticks : int
        Tick marks (3 px long, inward) every ``ticks`` pixels along the left and bottom edges (0 = none).

    Returns
    -------
    rgb : (M + 2 frame + 2 margin, N + 2 frame + 2 margin, 3) ndarray of uint8

    Examples
    --------
    >>> synthetic_render(np.zeros((2, 3)), "gray", frame=1).shape
    (4, 5, 3)
    """
    img = render_colors(np.asarray(t, np.float64), name)
    M, N = img.shape[:2]
    f, m = int(frame), int(margin)
    out = np.empty((M + 2 * (f + m), N + 2 * (f + m), 3), np.uint8)
    out[...] = background
    out[m : m + M + 2 * f, m : m + N + 2 * f] = frame_rgb
    out[m + f : m + f + M, m + f : m + f + N] = img
    if ticks:
        for r in range(ticks, M, ticks):
            out[m + f + r, m + f : m + f + 3] = frame_rgb
        for c in range(ticks, N, ticks):
            out[m + f + M - 3 : m + f + M, m + f + c] = frame_rgb
    return out

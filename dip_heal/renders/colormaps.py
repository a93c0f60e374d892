"""The colour-map catalogue (:data:`COLORMAPS`), map positions <-> render units <-> colours."""

from __future__ import annotations

import math

import numpy as np

from ..errors import DipHealError

__all__ = ["COLORMAPS", "RENDER_UNITS", "colormap_names", "colormap_lut", "render_colors", "scalar_to_units",
           "units_to_scalar"]

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

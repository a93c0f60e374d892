"""Reading a colour-map render as a :class:`~dip_heal.frame.Frame` of render units
(:func:`read_render`), with the map named by ``--colormap`` (:func:`colormap_option`) or detected."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from typing import Any, Iterator

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from .colormaps import COLORMAPS, colormap_lut, scalar_to_units
from .inversion import detect_colormap, invert_colormap
from .window import image_area

__all__ = ["colormap_option", "read_render"]

logger = logging.getLogger(__name__)

_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("dip_heal_colormap", default=None)



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
    which = _which_map(path, rgb, name, fmt, tol)
    if which is None:
        return None
    name, how = which
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
    _log_render(path, name, how, on, n_levels, len(palette), (r0, r1, c0, c1), cut, marks)
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


def _which_map(path: str | os.PathLike, rgb: np.ndarray, name: str | None, fmt: str,
               tol: float) -> tuple[str, str] | None:
    """(map, how it was chosen): ``name`` when given, else the detected one; None when none matches."""
    if name is not None:
        colormap_lut(name)
        return name, "as given"
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
    return name, how


def _log_render(path: str | os.PathLike, name: str, how: str, on: np.ndarray, n_levels: int, n_seen: int,
                area: tuple[int, int, int, int], cut: dict[str, int], marks: int) -> None:
    """The warning that a render is not intensities, and what the image-area crop left out."""
    r0, r1, c0, c1 = area
    logger.warning(
        "%s is a colour-map render (%s map, %s; %.1f %% of its pixels on the map): its pixels are colours, "
        "not intensities. It carries at most %d levels (%d distinct here) and no colour limits; healing works "
        "on the map position t (0..1). Use the detector's raw frame (CBF/TIFF/EDF/HDF5, or the MATLAB .fig) "
        "where you have it.",
        path, name, how, 100 * on.mean(), n_levels, n_seen,
    )
    logger.info(
        "%s: image area rows %d..%d, columns %d..%d (%d x %d); cropped off %s (figure frame, axes, labels, "
        "colour bar, margins: not data); %d pixels inside it are off the map (tick marks, annotations) and are "
        "not data either",
        path, r0, r1, c0, c1, r1 - r0 + 1, c1 - c0 + 1,
        ", ".join(f"{v} px {k}" for k, v in cut.items() if v) or "nothing", marks,
    )


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

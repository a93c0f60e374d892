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

The package: :mod:`~dip_heal.renders.colormaps` (the catalogue, positions <-> units <-> colours),
:mod:`~dip_heal.renders.inversion` (recognising and inverting a map), :mod:`~dip_heal.renders.window`
(the image area, fitting on it), :mod:`~dip_heal.renders.read`, :mod:`~dip_heal.renders.write` and
:mod:`~dip_heal.renders.synthetic`.
"""

from __future__ import annotations

from .colormaps import (
    COLORMAPS,
    RENDER_UNITS,
    colormap_lut,
    colormap_names,
    render_colors,
    scalar_to_units,
    units_to_scalar,
)
from .inversion import MIN_COLOURS, MIN_COVERED, ColormapMatch, detect_colormap, invert_colormap  # noqa: F401
from .read import colormap_option, read_render
from .synthetic import synthetic_render
from .window import fit_in_window, fit_window, image_area
from .write import render_scalar, write_render, write_scalar_tiff

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

"""Masks of pixels to heal: the recipe (:class:`MaskSpec`), the builder, and mask files.

Convention everywhere in dip-heal: a mask is a bool (M, N) array, **True = pixel to heal**.
Pixels to *ignore* (outside the detector's active area: neither measured nor worth healing) are
kept apart in the ``"ignore"`` layer and never count as pixels to heal, as pyFAI's inpainting keeps
``topaint`` apart from ``mask``.

A :class:`MaskSpec` is a JSON recipe: which automatic components to use (module gaps from the
detector geometry, format sentinels, masks stored in the file, empty stripes, beamstop, holder,
hot pixels), a dilation margin, user shapes (rectangle, circle, polygon, thick line, flood fill,
threshold) and the exact edits made in the interactive editor. Applying the same spec to a
series re-detects the beamstop on every frame.

Mask files state their polarity: NPY (bool, True = heal) and PNG (0 = heal, 255 = keep) get a
sidecar ``<file>.json``; EDF and TIFF (uint8, pyFAI's 1 = masked) carry it in the header too;
HDF5 stores it as attributes; Fit2D ``.msk`` is bit set = masked by definition.

The package, one concept per module: :mod:`~dip_heal.masks.spec` (the recipe),
:mod:`~dip_heal.masks.shapes` (user shapes and editor operations), :mod:`~dip_heal.masks.finders`
and :mod:`~dip_heal.masks.render_finders` (automatic layers of detector frames and of colour-map
renders), :mod:`~dip_heal.masks.layers` (the builder), :mod:`~dip_heal.masks.files` (mask files),
:mod:`~dip_heal.masks.overlay` (the preview), :mod:`~dip_heal.masks.frame_files` (one frame ->
files), and the interactive editor (:mod:`~dip_heal.masks.editor`, imported only by
``dip-heal mask --interactive``; its model :mod:`~dip_heal.masks.edits`, its tools
:mod:`~dip_heal.masks.editor_events`, its display controls :mod:`~dip_heal.masks.editor_view`).
"""

from __future__ import annotations

from .files import CONVENTIONS, MASK_FORMATS, read_mask, write_mask
from .frame_files import default_mask_path, mask_frame_files, mask_images  # noqa: F401
from .layers import CAUSES, build_mask, build_mask_layers
from .overlay import DRAW_ORDER, overlay_rgb, write_overlay  # noqa: F401  (DRAW_ORDER: the editor's)
from .shapes import apply_shape, shape_mask
from .spec import SPECS_DIR, MaskSpec, shipped_spec_path, shipped_specs  # noqa: F401

__all__ = [
    "MaskSpec",
    "build_mask",
    "build_mask_layers",
    "apply_shape",
    "shape_mask",
    "read_mask",
    "write_mask",
    "overlay_rgb",
    "write_overlay",
    "mask_frame_files",
    "mask_images",
    "CAUSES",
    "MASK_FORMATS",
    "CONVENTIONS",
]


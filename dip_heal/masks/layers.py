"""The mask of one frame, cause by cause: :func:`build_mask_layers` applies a :class:`MaskSpec`
(detector geometry and sentinels from :mod:`dip_heal.detectors`, masks stored in the file, stripes,
beamstop and holder from :mod:`dip_heal.beam` or, on colour-map renders,
:mod:`dip_heal.masks.render_finders`, hot pixels, user shapes, dilation, editor edits), and
:func:`build_mask` unites the layers."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame, check_mask_shape
from .finders import empty_stripes, hot_pixels, zero_border
from .shapes import apply_shape, shape_mask
from .spec import MaskSpec

__all__ = ["CAUSES", "build_mask_layers", "build_mask"]

logger = logging.getLogger(__name__)

#: Layers of pixels to heal, in overlay order, with their overlay colours (RGB).
CAUSES: dict[str, tuple[int, int, int]] = {
    "gaps": (60, 120, 255),
    "sentinel": (255, 60, 60),
    "file_mask": (200, 60, 255),
    "stripes": (255, 160, 0),
    "beamstop": (0, 230, 90),
    "holder": (0, 220, 220),
    "hot": (255, 255, 0),
    "user": (255, 80, 200),
}


def build_mask_layers(frame: Frame, spec: MaskSpec | None = None) -> dict[str, np.ndarray]:
    """Every cause of the mask as its own layer (for overlays and the editor).

    Parameters
    ----------
    frame : Frame
        The frame (``raw``, ``data``, ``valid``, ``meta``, ``masks``).
    spec : MaskSpec, optional
        The recipe; default ``MaskSpec()``.

    Returns
    -------
    layers : dict of str to (M, N) ndarray of bool
        Keys of :data:`CAUSES` (True = heal for that cause) plus ``"ignore"`` (not measured and not
        to heal). The detector, beam centre and holder polygon used are logged and stored in
        ``frame.meta["mask_info"]``.

    Raises
    ------
    DipHealError
        Unknown detector, a detector of another shape, a frame with no valid pixels, a file mask
        or a shape that does not fit the frame.
    """
    spec = spec or MaskSpec()
    raw = np.asarray(frame.raw)
    if raw.ndim != 2:
        raise DipHealError(f"got a frame of shape {raw.shape}; expected a 2-D frame (M, N); select one frame")
    info: dict[str, Any] = {}
    layers: dict[str, np.ndarray] = {k: np.zeros(raw.shape, bool) for k in CAUSES}
    # issue 22: a colour-map render (dip_heal.renders) has its own finders (dip_heal.masks.render_finders)
    render = frame.meta.get("render") is not None
    geo = None
    if spec.poni is not None:
        from ..geometry import load_geometry

        geo = load_geometry(spec.poni, raw.shape)
        info["geometry"] = geo.record()
    det = _detector_layers(frame, spec, raw, render, layers, geo)
    info["detector"] = det
    measured, ignore = _measured_pixels(frame, spec, raw, render, layers)
    if spec.beamstop == "auto" or spec.holder == "auto":
        _beam_layers(frame, spec, render, measured, layers, info, geo)
    elif geo is not None or spec.beam_center is not None:  # no beam layers: still record the centre known
        info["center"] = tuple(float(c) for c in (geo.center if geo is not None else spec.beam_center))
    if spec.hot_pixels:
        layers["hot"] = hot_pixels(frame.data, measured, spec.hot_sigma)
    _user_layers(frame, spec, measured, layers)
    if ignore.any():
        for k in CAUSES:
            layers[k] &= ~ignore
    layers["ignore"] = ignore
    frame.meta["mask_info"] = info
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "mask: detector %s; %s", det,
            ", ".join(f"{k} {int(v.sum())}" for k, v in layers.items() if v.any()) or "nothing",
        )
    return layers


def _detector_layers(frame: Frame, spec: MaskSpec, raw: np.ndarray, render: bool,
                     layers: dict[str, np.ndarray], geo: Any = None) -> str | None:
    """The ``gaps``, ``sentinel`` and ``file_mask`` layers; returns the detector used (a PONI's
    detector, when it is a modular one pyFAI knows, stands for ``auto``)."""
    from .. import detectors as dets

    shape = raw.shape
    header = frame.meta.get("header") or {}
    if geo is not None and spec.detector.lower() in ("auto", "") and geo.detector_name in dets.known_detectors():
        det = geo.detector_name
    elif render and spec.detector.lower() in ("auto", ""):
        det = None  # a render's pixels are not the detector's: no module geometry unless named
    else:
        det = dets.resolve_detector(spec.detector, shape, header, frame.meta.get("detector"))
    if spec.gaps and det is not None:
        layers["gaps"] = dets.gap_mask(det, shape)
    if spec.sentinels:
        layers["sentinel"] = dets.sentinel_mask(raw, detector=det, header=header, overflow=spec.overflow,
                                                hdf5=frame.meta.get("format") in ("hdf5", "nxcansas"))
    if spec.file_masks:
        for name, m in (frame.masks or {}).items():
            m = np.asarray(m)
            check_mask_shape(m, shape, f"file mask {name}")
            if name == "pixel_mask" or np.issubdtype(m.dtype, np.unsignedinteger) and m.dtype.itemsize >= 4:
                layers["file_mask"] |= (m.astype(np.uint64) & int(spec.pixel_mask_bits)) != 0
            else:
                layers["file_mask"] |= m.astype(bool)
    return det


def _measured_pixels(frame: Frame, spec: MaskSpec, raw: np.ndarray, render: bool,
                     layers: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(measured, ignore): the pixels the finders below may use, and those never to heal; fills the
    ``stripes`` layer.

    Raises
    ------
    DipHealError
        No measured pixel is left.
    """
    shape = raw.shape
    measured = np.isfinite(frame.data) & ~layers["sentinel"] & ~layers["gaps"] & ~layers["file_mask"]
    ccd_area = _active_area(spec, raw, render or bool(layers["gaps"].any()))
    ignore = zero_border(raw) & ~layers["gaps"] if ccd_area else np.zeros(shape, bool)
    if render:  # issue 22: figure frame, axes, tick marks, labels: not data, not to heal
        ignore = ignore | ~frame.valid
    if ignore.any():
        measured &= ~ignore
    if spec.stripes and render:  # issue 22: gaps sit at the map's lowest level, not at zero
        from .render_finders import minimum_stripes

        layers["stripes"] = minimum_stripes(frame.data, measured) & measured
        measured &= ~layers["stripes"]
    elif spec.stripes:
        layers["stripes"] = empty_stripes(raw, measured, spec.stripe_fraction) & measured
        measured &= ~layers["stripes"]
    if not measured.any():
        raise DipHealError(
            f"the frame {shape} has no valid pixels (all gaps, sentinels or empty); expected measured pixels; "
            "check the file, or the detector (--detector none)"
        )
    return measured, ignore


def _active_area(spec: MaskSpec, raw: np.ndarray, not_ccd: bool) -> bool:
    """Whether the zero border outside a round CCD's active area is ignored: asked for, or
    ``"auto"`` and the frame's four corners are exactly zero (not on a colour-map render nor on a
    module detector, ``not_ccd``, whose zeros are counts)."""
    if spec.ignore_zero_border or spec.active_area == "on":
        return True
    if spec.active_area == "off" or not_ccd:
        return False
    M, N = raw.shape
    corners = raw[[0, 0, M - 1, M - 1], [0, N - 1, 0, N - 1]]
    if not np.all(corners == 0):
        return False
    logger.info("round active area: the four corners are exactly zero; the zero border is not healed "
                "(--no-active-area heals it)")
    return True


def _beam_layers(frame: Frame, spec: MaskSpec, render: bool, measured: np.ndarray,
                 layers: dict[str, np.ndarray], info: dict[str, Any], geo: Any = None) -> None:
    """The automatic ``beamstop`` and ``holder`` layers, at the PONI's, the given or the estimated beam centre."""
    from ..beam import find_beamstop, find_center, find_holder

    shape = measured.shape
    if spec.beam_center is not None:
        from ..polar import check_center

        check_center(spec.beam_center, shape, what="--center")
    if geo is not None:
        center = geo.center
        info["center_estimate"] = {"method": "poni", "sure": True}
    elif spec.beam_center is not None:
        center = spec.beam_center
        info["center_estimate"] = {"method": "given", "sure": True}
    else:
        est = find_center(frame.data, measured)
        center = (est.x, est.y)
        info["center_estimate"] = est.to_dict()
    info["center"] = tuple(float(c) for c in center)
    if render:  # issue 22: the shadow at the map's lowest level, and a dark band to the edge
        from .render_finders import find_band_holder, find_dark_beamstop

        bs = find_dark_beamstop(frame.data, measured, center, margin=spec.beamstop_margin)
    else:
        bs = find_beamstop(frame.data, measured, center, margin=spec.beamstop_margin)
    if spec.beamstop == "auto":
        layers["beamstop"] = bs
    if spec.holder == "auto" and render:
        poly = find_band_holder(frame.data, measured & ~bs, center, beamstop=bs)
        info["holder_polygon"] = poly
        if poly is not None:
            layers["holder"] = shape_mask({"kind": "polygon", "points": poly}, shape)
    elif spec.holder == "auto" and bs.any():
        poly = find_holder(frame.data, measured, bs)
        info["holder_polygon"] = poly
        if poly is not None:
            layers["holder"] = shape_mask({"kind": "polygon", "points": poly}, shape)


def _user_layers(frame: Frame, spec: MaskSpec, measured: np.ndarray, layers: dict[str, np.ndarray]) -> None:
    """The spec's shapes, the dilation of every layer, then the editor's edits (not dilated)."""
    from ..beam import grow

    for s in spec.shapes:
        apply_shape(layers, s, frame.data, measured)
    if spec.dilate > 0:
        for k in CAUSES:
            if layers[k].any():
                layers[k] = grow(layers[k], spec.dilate)
    for s in spec.edits:
        apply_shape(layers, s, frame.data, measured)


def build_mask(frame: Frame, spec: MaskSpec | None = None) -> np.ndarray:
    """The mask of pixels to heal for one frame.

    Parameters
    ----------
    frame : Frame
        The frame, e.g. from :func:`dip_heal.io.read_image`.
    spec : MaskSpec, optional
        The recipe; default ``MaskSpec()`` (gaps, sentinels, file masks, empty stripes and the
        automatic beamstop).

    Returns
    -------
    heal : (M, N) ndarray of bool
        True = pixel to heal. Pixels to ignore (see :func:`build_mask_layers`) are False.

    Raises
    ------
    DipHealError
        See :func:`build_mask_layers`.

    Examples
    --------
    >>> raw = np.full((8, 8), 5, dtype=np.int32); raw[2, 3] = -2; raw[:, 6] = 0
    >>> heal = build_mask(Frame.from_array(raw), MaskSpec(beamstop="none"))
    >>> int(heal.sum()), bool(heal[2, 3]), bool(heal[0, 6])
    (9, True, True)
    """
    layers = build_mask_layers(frame, spec)
    out = np.zeros(frame.shape, bool)
    for k in CAUSES:
        out |= layers[k]
    return out

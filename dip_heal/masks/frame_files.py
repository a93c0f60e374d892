"""One frame -> mask files: what ``dip-heal mask`` does per frame."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..frame import Frame
from .files import write_mask
from .layers import CAUSES, build_mask_layers
from .overlay import write_overlay
from .spec import MaskSpec

__all__ = ["mask_frame_files"]

logger = logging.getLogger(__name__)


def mask_frame_files(
    image_path: str | os.PathLike,
    spec: MaskSpec,
    out: str | os.PathLike,
    *,
    format: str | None = None,
    flip_vertical: bool = False,
    overlay: bool = True,
    spec_out: str | os.PathLike | None = None,
    frame: Frame | None = None,
) -> dict[str, Path]:
    """Read a frame, build its mask and write the mask, its spec JSON and an overlay PNG.

    Parameters
    ----------
    image_path : path-like
        The frame.
    spec : MaskSpec
        The recipe.
    out : path-like
        The mask file (format from the extension or ``format``).
    format : str, optional
        Mask format (see :func:`write_mask`).
    flip_vertical : bool
        Write the mask upside down (Dioptas orientation).
    overlay : bool
        Also write ``<out stem>.overlay.png``.
    spec_out : path-like, optional
        Where the spec goes; default ``<out>.spec.json``.
    frame : Frame, optional
        An already-read frame (skips reading).

    Returns
    -------
    dict
        ``mask``, ``spec`` and (with ``overlay``) ``overlay`` paths.
    """
    from ..io import read_image

    fr = frame if frame is not None else read_image(image_path)
    layers = build_mask_layers(fr, spec)
    heal = np.zeros(fr.shape, bool)
    for k in CAUSES:
        heal |= layers[k]
    out = Path(out)
    protect = (str(image_path).split("::", 1)[0],)
    paths = {"mask": write_mask(out, heal, format=format, flip_vertical=flip_vertical, protect=protect,
                                ignore=layers["ignore"])}
    sp = Path(spec_out) if spec_out else out.with_name(out.name + ".spec.json")
    paths["spec"] = sp
    spec.to_json(sp)
    if overlay:
        paths["overlay"] = write_overlay(out.with_name(out.stem + ".overlay.png"), fr.data, layers, fr.valid,
                                         protect=protect)
    counts = {k: int(v.sum()) for k, v in layers.items() if v.any()}
    logger.info("%s: %d pixels to heal (%s) -> %s", image_path, int(heal.sum()), counts, out)
    return paths

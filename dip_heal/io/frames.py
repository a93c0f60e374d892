"""A :class:`~dip_heal.frame.Frame` from the array a reader got: validity (from
:mod:`dip_heal.detectors` only), the masks stored in the file, and the frame index check."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame

__all__ = ["make_frame", "valid_from_raw", "check_index"]

logger = logging.getLogger(__name__)


def valid_from_raw(raw: np.ndarray, *, hdf5: bool) -> np.ndarray:
    """True where ``raw`` holds a measurement: not a sentinel (:func:`dip_heal.detectors.sentinel_mask`)."""
    from ..detectors import sentinel_mask

    if not (raw.dtype == bool or np.issubdtype(raw.dtype, np.number)):
        raise DipHealError(
            f"pixel type {raw.dtype} is not numeric; expected integer or float intensities; "
            "convert the frame to a numeric array"
        )
    return ~sentinel_mask(raw, overflow=False, hdf5=hdf5)


def make_frame(raw: np.ndarray, meta: dict[str, Any], *, hdf5: bool = False,
                masks: dict[str, np.ndarray] | None = None) -> Frame:
    raw = np.asarray(raw)
    if raw.ndim != 2:
        raise DipHealError(
            f"{meta.get('path')}: got an array of shape {raw.shape}; expected a 2-D frame (M, N); "
            "select one frame (read_image(path, index=k), or path.h5::/dataset[k] for HDF5)"
        )
    if raw.size == 0:
        raise DipHealError(
            f"{meta.get('path')}: the frame is empty {raw.shape}; expected pixels; check the file"
        )
    if raw.dtype.byteorder not in ("=", "|"):
        raw = raw.astype(raw.dtype.newbyteorder("="))
    valid = valid_from_raw(raw, hdf5=hdf5)
    masks = dict(masks or {})
    if "Imask" in masks:
        valid &= ~masks["Imask"].astype(bool)
    if "pixel_mask" in masks:
        valid &= (masks["pixel_mask"].astype(np.uint64) & 0xFFFF) == 0
    meta.setdefault("detector", None)
    meta.setdefault("header", {})
    meta.setdefault("dataset", None)
    meta.setdefault("index", 0)
    meta["dtype"] = str(raw.dtype)
    data = raw.astype(np.float32)
    n_bad = int(valid.size - np.count_nonzero(valid))
    logger.debug("read %s (%s, %s %s): %d invalid pixels", meta.get("path"), meta.get("format"),
                 raw.shape, raw.dtype, n_bad)
    return Frame(data=data, valid=valid, raw=raw, meta=meta, masks=masks)


def check_index(index: int, n: int, path: Path) -> int:
    if not -n <= index < n:
        raise DipHealError(
            f"{path}: frame index {index} out of range; expected 0..{n - 1} ({n} frames); "
            "pick an existing frame"
        )
    return index % n

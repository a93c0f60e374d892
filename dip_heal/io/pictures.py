"""PNG/JPEG pictures (Pillow): 16-bit and float images as intensities, colour-map renders through
:mod:`dip_heal.renders`, other 8-bit pictures as their luminance."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..frame import Frame
from .frames import check_index, make_frame

__all__ = ["read_pil", "luminance"]

logger = logging.getLogger(__name__)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(M, N, 3) -> (M, N) float32 ITU-R 601 luminance (as Pillow's ``convert("L")``, unrounded)."""
    return (np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)



def read_pil(path: Path, fmt: str, index: int | None) -> Frame:
    from PIL import Image

    with Image.open(path) as im:
        n = int(getattr(im, "n_frames", 1) or 1)
        k = 0 if index is None else check_index(index, n, path)
        if k:
            im.seek(k)
        mode = im.mode
        header = {"mode": mode}
        header.update({str(k_): str(v) for k_, v in im.info.items() if isinstance(v, (str, int, float))})
        if mode not in ("I;16", "I;16B", "I;16L", "I", "F", "L", "1", "LA"):
            # issue 22: a colour-map render is read as the map's scalar (dip_heal.renders)
            from ..renders import read_render

            alpha = "A" in mode or "transparency" in im.info
            rendered = read_render(path, np.asarray(im.convert("RGBA" if alpha else "RGB")), fmt=fmt,
                                   header=header, index=k)
            if rendered is not None:
                return rendered
        if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            raw = np.asarray(im)
        else:
            logger.warning(
                "%s is an 8-bit %s (%s): a colour-map render is not intensities; use the detector's "
                "raw frame (CBF/TIFF/EDF/HDF5) where you have it", path, fmt.upper(), mode,
            )
            if mode in ("L", "1"):
                raw = np.asarray(im.convert("L"))
            else:  # RGB, RGBA, P, LA, CMYK...: ITU-R 601 luminance, as float32
                raw = luminance(np.asarray(im.convert("RGB")))
    return make_frame(raw, {"path": str(path), "format": fmt, "header": header, "index": k})

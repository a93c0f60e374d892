"""Detector formats read through fabio: CBF, EDF, TIFF, mar345, MarCCD, Bruker."""

from __future__ import annotations

import contextlib
import io as _stdio
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..detectors import detector_name
from ..errors import DipHealError
from ..frame import Frame
from .formats import SUPPORTED_TEXT, base_suffix
from .frames import check_index, make_frame
from .pictures import luminance

__all__ = ["read_fabio"]

logger = logging.getLogger(__name__)

# fabio class name -> our format name
_FABIO_FORMAT = {
    "cbfimage": "cbf",
    "edfimage": "edf",
    "tifimage": "tiff",
    "pilatusimage": "tiff",
    "mar345image": "mar345",
    "marccdimage": "marccd",
    "brukerimage": "bruker",
    "bruker100image": "bruker",
}



def _header_str(header: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in dict(header or {}).items():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[str(k)] = str(v)
    return out



def read_fabio(path: Path, index: int | None, fmt_hint: str) -> Frame:
    import fabio

    from ..integrity import check_compressed, fabio_guard, missing_data_error

    check_compressed(path)  # a gzip/bz2 stream cut short can come back as zeros without a word
    sink = _stdio.StringIO()
    try:
        with fabio_guard(path) as said, contextlib.redirect_stdout(sink):  # some fabio readers print
            img = fabio.open(str(path))
            np.asarray(img.data)  # some readers decode lazily: read the pixels inside the guard
    except DipHealError:
        raise
    except Exception as exc:  # fabio raises many types for files it cannot parse
        bad = [m for m in said.messages if m] if "said" in locals() else []
        if isinstance(exc, AssertionError) or any(_looks_truncated(m) for m in bad):
            raise missing_data_error(path, bad[0] if bad else str(exc)) from None
        if fmt_hint == "fabio":
            raise DipHealError(
                f"{path}: unknown image format (extension {base_suffix(path) or 'none'!r}); "
                f"expected one of: {SUPPORTED_TEXT}; convert the frame to .tif, .edf or .npy"
            ) from exc
        raise DipHealError(
            f"{path}: could not read it as {fmt_hint} ({type(exc).__name__}: {exc}); "
            f"expected a valid {fmt_hint} file; check that the file is complete"
        ) from exc
    if sink.getvalue().strip():
        logger.debug("fabio said: %s", sink.getvalue().strip())
    cls = type(img).__name__.lower()
    fmt = _FABIO_FORMAT.get(cls, cls.replace("image", ""))
    nframes = int(getattr(img, "nframes", 1) or 1)
    k = 0 if index is None else check_index(index, nframes, path)
    if k:
        img = img.getframe(k)
    header = _header_str(img.header)
    texts = [header.get("_array_data.header_contents", ""), header.get("Detector", ""),
             header.get("title", ""), header.get("model", ""), header.get("detector", ""),
             header.get("DetectorName", ""), header.get("imageDescription", "")]
    if fmt == "tiff":
        texts.extend(_tiff_tags(path))
    if fmt == "mar345":
        texts.append("mar345")
    det = None
    for t in texts:
        det = detector_name(t)
        if det:
            break
    meta = {"path": str(path), "format": fmt, "detector": det, "header": header, "index": k}
    raw = np.asarray(img.data)
    if raw.ndim < 2 or raw.size == 0:
        raise missing_data_error(path, said.messages[0] if said.messages else "no pixel data")
    if raw.ndim == 3 and raw.shape[-1] in (3, 4):
        logger.warning("%s is a colour (%d-channel) image: a colour-map render is not intensities; "
                       "using its luminance; use the detector's raw frame where you have it",
                       path, raw.shape[-1])
        raw = luminance(raw[..., :3])
    return make_frame(raw, meta)


def _looks_truncated(message: str) -> bool:
    from ..integrity import MISSING_DATA

    return bool(MISSING_DATA.search(message))

def _tiff_tags(path: Path) -> list[str]:
    """ImageDescription (270) and Model (272) of a TIFF, where PILATUS writes its name."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            tags = getattr(im, "tag_v2", {})
            return [str(tags.get(272, "")).strip("\x00 "), str(tags.get(270, ""))]
    except Exception:  # header only: a TIFF Pillow cannot parse still reads through fabio
        return []

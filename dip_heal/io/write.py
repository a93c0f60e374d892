"""``write_image`` (CBF, EDF, TIFF, NPY; atomically, never over the input) and
``output_path_like``."""

from __future__ import annotations

import contextlib
import io as _stdio
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame, atomic_path
from .formats import EXT_FORMAT, WRITE_FORMATS

__all__ = ["write_image", "output_path_like"]

logger = logging.getLogger(__name__)

_WRITE_EXT = {"cbf": ".cbf", "edf": ".edf", "tiff": ".tif", "npy": ".npy"}

# dtypes each writer keeps bit-exact
_TIFF_DTYPES = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32")}
_CBF_DTYPES = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32")}
_EDF_KEEP_OUT = {"headerid", "image", "byteorder", "datatype", "dim_1", "dim_2", "dim_3", "size",
                 "edf_datablockid", "edf_binarysize", "edf_headersize", "compression"}


def _format_for_output(path: Path, format: str | None) -> str:
    if format is not None:
        fmt = format.lower().lstrip(".")
        fmt = {"tif": "tiff", "jpg": "jpeg"}.get(fmt, fmt)
        what = f"format={format!r}"
    else:
        fmt = EXT_FORMAT.get(path.suffix.lower(), path.suffix.lower().lstrip(".") or "none")
        what = f"extension {path.suffix or '(none)'!r}"
    if fmt not in WRITE_FORMATS:
        raise DipHealError(
            f"cannot write {fmt} ({what} of {path.name}); expected one of .tif, .edf, .cbf, .npy; "
            "write .tif (or .edf/.npy) instead"
        )
    return fmt


def _cast(data: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``data`` in ``dtype``: floats to ints are rounded and clipped to the dtype's range."""
    if data.dtype == dtype:
        return data
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)):
            raise DipHealError(
                f"data has NaN/inf; expected finite values to write {dtype}; "
                "write a float32 .tif/.edf/.npy or fill the holes first"
            )
        info = np.iinfo(dtype)
        return np.clip(np.rint(data), info.min, info.max).astype(dtype)
    return data.astype(dtype)


def _target_dtype(arr: np.ndarray, like: Frame | None, dtype: Any, fmt: str, out: Path) -> np.dtype:
    """The dtype to write: ``dtype``, else the input's, else the data's; one the format holds."""
    if dtype is not None:
        target = np.dtype(dtype)
    elif like is not None:
        target = like.raw.dtype
    else:
        target = arr.dtype
    if target == bool:
        target = np.dtype(np.uint8)
    target = target.newbyteorder("=") if target.byteorder not in ("=", "|") else target
    if fmt == "cbf" and target not in _CBF_DTYPES:
        raise DipHealError(
            f"CBF cannot hold {target} pixels (integers up to 32 bits only); expected an integer frame; "
            "write a .tif (float32) or .edf instead"
        )
    if fmt == "tiff" and target not in _TIFF_DTYPES:
        if np.issubdtype(target, np.floating) or np.issubdtype(target, np.integer):
            logger.info("TIFF cannot hold %s; writing float32 to %s", target, out)
            target = np.dtype(np.float32)
    return target


def write_image(
    path: str | os.PathLike,
    data: np.ndarray,
    like: Frame | None = None,
    *,
    format: str | None = None,
    dtype: Any = None,
) -> Path:
    """Write a frame as CBF, EDF, TIFF or NPY, atomically, never over the input.

    Parameters
    ----------
    path : path-like
        Output file; its extension picks the format unless ``format`` is given.
    data : (M, N) ndarray
        The frame to write.
    like : Frame, optional
        The input frame: its ``raw`` dtype is the default output dtype (so an int32 CBF stays an
        int32 CBF), its header is carried over when the format is the same (CBF, EDF), and its
        file may not be overwritten.
    format : {"cbf", "edf", "tiff", "npy"}, optional
        Overrides the extension.
    dtype : dtype-like, optional
        Output dtype; default ``like.raw.dtype``, else ``data.dtype``. Floats written as integers
        are rounded and clipped. Where the format cannot hold the dtype (CBF floats, TIFF float64)
        float32 TIFF/EDF is the fallback: CBF raises, TIFF writes float32.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    DipHealError
        Unwritable format (e.g. ``.h5``, ``.mar3450``), output path equal to the input, data not
        2-D or not the shape of ``like``, a dtype the format cannot hold, NaN into integers.
    """
    out = Path(path)
    if like is not None and like.meta.get("render") is not None and (format or out.suffix).lower().lstrip(".") == "png":
        from ..renders import write_render  # issue 22: a render is written back as the same picture

        return write_render(out, data, like)
    fmt = _format_for_output(out, format)
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise DipHealError(
            f"got data of shape {arr.shape}; expected a 2-D frame (M, N); write one frame at a time"
        )
    if like is not None and tuple(like.raw.shape) != arr.shape:
        raise DipHealError(
            f"data shape {arr.shape} does not match the input frame {tuple(like.raw.shape)}; "
            "write data of the input's shape (or pass like=None)"
        )
    arr = _cast(arr, _target_dtype(arr, like, dtype, fmt, out))
    protect = ()
    if like is not None and like.meta.get("path"):
        protect = (like.meta["path"],)
    same_fmt = like is not None and like.meta.get("format") == fmt
    header = dict(like.meta.get("header", {})) if same_fmt else {}
    with atomic_path(out, protect=protect) as tmp:
        if fmt == "npy":
            with open(tmp, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
        else:
            _write_fabio(tmp, arr, fmt, header)
    logger.info("wrote %s (%s, %s %s)", out, fmt, arr.shape, arr.dtype)
    return out


def _write_fabio(tmp: Path, arr: np.ndarray, fmt: str, header: dict[str, str]) -> None:
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage
    from fabio.tifimage import TifImage

    if fmt == "cbf":
        hdr = {}
        if "_array_data.header_contents" in header:
            hdr["_array_data.header_convention"] = header.get("_array_data.header_convention", "PILATUS_1.2")
            hdr["_array_data.header_contents"] = header["_array_data.header_contents"]
        img = CbfImage(data=arr, header=hdr)
    elif fmt == "edf":
        hdr = {k: v for k, v in header.items() if k.lower() not in _EDF_KEEP_OUT}
        img = EdfImage(data=arr, header=hdr)
    else:
        img = TifImage(data=arr)
    sink = _stdio.StringIO()
    with contextlib.redirect_stdout(sink):
        img.write(str(tmp))


def output_path_like(frame: Frame, out_dir: str | os.PathLike, stem: str) -> Path:
    """Output path in ``out_dir`` whose extension matches the input's format where writable.

    CBF -> ``.cbf``, EDF -> ``.edf``, TIFF -> ``.tif``, NPY -> ``.npy``; formats dip-heal
    cannot write (mar345, MarCCD, Bruker, HDF5, NXcanSAS, PNG/JPEG) -> ``.tif``, which
    :func:`write_image` writes in the input dtype where TIFF holds it (ints up to 32 bits,
    float32) and as float32 otherwise.

    Parameters
    ----------
    frame : Frame
        The input frame.
    out_dir : path-like
        Output folder.
    stem : str
        File name without extension.

    Returns
    -------
    path : Path

    Examples
    --------
    >>> f = Frame.from_array(np.zeros((2, 2), np.int32), format="cbf")
    >>> output_path_like(f, "out", "healed").as_posix()
    'out/healed.cbf'
    >>> f = Frame.from_array(np.zeros((2, 2), np.uint16), format="marccd")
    >>> output_path_like(f, "out", "healed").as_posix()
    'out/healed.tif'
    """
    if frame.meta.get("render") is not None:  # issue 22: the healed picture, beside a run's preview healed.png
        return Path(out_dir) / f"{stem}_render.png"
    fmt = frame.meta.get("format")
    ext = _WRITE_EXT.get(fmt, ".tif")
    if fmt == "cbf" and frame.raw.dtype not in _CBF_DTYPES:
        ext = ".tif"
    return Path(out_dir) / f"{stem}{ext}"

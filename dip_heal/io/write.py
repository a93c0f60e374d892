"""``write_image`` (CBF, EDF, TIFF, NPY, HDF5/NeXus, NXcanSAS, Bruker; atomically, never
over the input) and ``output_path_like``.

A frame written like an input of the same format keeps that input's header: every TIFF tag, the
CBF, EDF and Bruker headers (MarCCD and mar345 into EDF), the whole HDF5 tree (:mod:`dip_heal.io.hdf5_write`).
With ``provenance=`` (:func:`dip_heal.io.provenance.provenance`) each format also records what
healed it.
"""

from __future__ import annotations

import contextlib
import io as _stdio
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame, atomic_path
from .formats import EXT_FORMAT, WRITE_FORMATS, base_suffix
from .provenance import TIFF_PROVENANCE_TAG, flat_provenance, provenance_json

__all__ = ["write_image", "output_path_like"]

logger = logging.getLogger(__name__)

_WRITE_EXT = {"cbf": ".cbf", "edf": ".edf", "tiff": ".tif", "npy": ".npy"}

# dtypes each writer keeps bit-exact
_TIFF_DTYPES = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32")}
_CBF_DTYPES = {np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "uint32", "int32")}
_EDF_KEEP_OUT = {"headerid", "image", "byteorder", "datatype", "dim_1", "dim_2", "dim_3", "size",
                 "edf_datablockid", "edf_binarysize", "edf_headersize", "compression"}
# TIFF tags tifffile writes itself from the array (the layout of the pixels), or from keywords
_TIFF_LAYOUT = {254, 256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 338, 339,
                340, 341, 347}
# tags that point at other IFDs by file offset: meaningless in a new file
_TIFF_POINTERS = {330, 34665, 34853, 40965}
# written only like an input of the same format
_LIKE_ONLY = {"hdf5", "nxcansas", "bruker"}
# fabio cannot write these (MarCCD), or not safely (mar345): EDF with their header
_AS_EDF = {"marccd", "mar345"}


def _format_for_output(path: Path, format: str | None, like: Frame | None = None) -> str:
    if format is not None:
        fmt = format.lower().lstrip(".")
        fmt = {"tif": "tiff", "jpg": "jpeg", "h5": "hdf5"}.get(fmt, fmt)
        what = f"format={format!r}"
    else:
        fmt = EXT_FORMAT.get(path.suffix.lower(), path.suffix.lower().lstrip(".") or "none")
        what = f"extension {path.suffix or '(none)'!r}"
    like_fmt = like.meta.get("format") if like is not None else None
    like_src = like.meta.get("path") if like is not None else None
    if format is None and like_fmt in _LIKE_ONLY and like_src \
            and path.suffix.lower() == base_suffix(Path(str(like_src).split("::")[0])):
        fmt = like_fmt  # the input's own extension (a Bruker frame's ``.0026``, an ``.nxs``)
    if fmt == "hdf5" and like_fmt == "nxcansas":
        fmt = "nxcansas"
    if fmt not in WRITE_FORMATS:
        raise DipHealError(
            f"cannot write {fmt} ({what} of {path.name}); expected one of .tif, .edf, .cbf, .npy (or the "
            "input's own format); write .tif (or .edf/.npy) instead"
        )
    if fmt in _LIKE_ONLY and (like_fmt != fmt or not like.meta.get("path")):  # type: ignore[union-attr]
        raise DipHealError(
            f"cannot write {fmt} ({what} of {path.name}) without a {fmt} input to copy (got like="
            f"{like_fmt or 'None'}); expected like= a frame read from a {fmt} file; write .tif, .edf or .npy instead"
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
    provenance: dict[str, Any] | None = None,
    heal: np.ndarray | None = None,
    log_as: str | os.PathLike | None = None,
) -> Path:
    """Write a frame in its input's format, atomically, never over the input.

    Parameters
    ----------
    path : path-like
        Output file; its extension picks the format unless ``format`` is given.
    data : (M, N) ndarray
        The frame to write.
    like : Frame, optional
        The input frame: its ``raw`` dtype is the default output dtype (so an int32 CBF stays an
        int32 CBF), its header is carried over when the format is the same (every TIFF tag; the
        CBF, EDF and Bruker headers; MarCCD and mar345 headers into EDF; an HDF5 file's whole
        tree, with ``data`` in place of the frame it was read from), and its file may not be
        overwritten. HDF5, NXcanSAS and Bruker are written only like an input of that format.
    format : {"cbf", "edf", "tiff", "npy", "hdf5", "nxcansas", "bruker"}, optional
        Overrides the extension.
    dtype : dtype-like, optional
        Output dtype; default ``like.raw.dtype``, else ``data.dtype``. Floats written as integers
        are rounded and clipped. Where the format cannot hold the dtype (CBF floats, TIFF float64)
        float32 TIFF/EDF is the fallback: CBF raises, TIFF writes float32.
    provenance : dict, optional
        What healed the frame (:func:`dip_heal.io.provenance.provenance`), stored in the format's
        own place: a private TIFF tag (65000), a CBF header line, ``dip_heal_*`` EDF header keys,
        a Bruker ``TITLE`` line, an HDF5 ``NXprocess`` group, an NPY's ``NAME.provenance.json``.
        Default None: nothing added.
    heal : (M, N) ndarray of bool, optional
        The healed pixels, stored in HDF5 outputs (NXprocess ``heal_mask``; NXcanSAS also
        ``I_healed_mask`` beside ``Imask``).
    log_as : path-like, optional
        The name the log line shows instead of ``path``: a file's final name when it is written
        inside a temporary folder (:func:`dip_heal.outputs.shown`).

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    DipHealError
        Unwritable format (e.g. ``.png``, or ``.h5`` without an HDF5 input), output path equal to
        the input, data not 2-D or not the shape of ``like``, a dtype the format cannot hold, NaN
        into integers.
    """
    out = Path(path)
    if like is not None and like.meta.get("render") is not None and (format or out.suffix).lower().lstrip(".") == "png":
        from ..renders import write_render  # issue 22: a render is written back as the same picture

        return write_render(out, data, like, log_as=log_as)
    fmt = _format_for_output(out, format, like)
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
    source = like.meta.get("path") if same_fmt and like is not None else None  # the input to copy tags from
    if fmt == "edf" and like is not None and like.meta.get("format") in _AS_EDF:
        header = dict(like.meta.get("header", {}))
        logger.info("dip-heal cannot write %s (fabio cannot, or not safely): writing %s as EDF with the %s "
                    "header copied", like.meta["format"], out, like.meta["format"])
    with atomic_path(out, protect=protect) as tmp:
        if fmt == "npy":
            with open(tmp, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
        elif fmt in ("hdf5", "nxcansas"):
            from .hdf5_write import write_hdf5_like

            write_hdf5_like(tmp, arr, like, provenance=provenance, heal=heal)  # type: ignore[arg-type]
        elif fmt == "tiff" and (provenance is not None or source is not None):
            _write_tiff(tmp, arr, source, provenance)
        else:
            _write_fabio(tmp, arr, fmt, header, provenance, source)
    if fmt == "npy" and provenance is not None:
        side = out.with_name(out.name + ".provenance.json")
        with atomic_path(side, protect=protect) as stmp:
            stmp.write_text(json.dumps(provenance, indent=1, sort_keys=True, default=str) + "\n")
    logger.info("wrote %s (%s, %s %s)", log_as or out, fmt, arr.shape, arr.dtype)
    return out


def _tiff_tags(source: str | None) -> list[tuple[Any, ...]]:
    """``extratags`` that reproduce every tag of ``source``'s first page but the pixel layout."""
    import tifffile

    extra: list[tuple[Any, ...]] = []
    if source is None:
        return extra
    with tifffile.TiffFile(source) as tf:
        for tag in tf.pages[0].tags.values():
            if tag.code in _TIFF_LAYOUT:
                continue
            if tag.code in _TIFF_POINTERS or int(tag.dtype) in (13, 18):
                logger.info("%s: TIFF tag %d points into the input file; not copied", source, tag.code)
                continue
            value = tag.value
            if tag.dtype == 5 or tag.dtype == 10:  # RATIONAL: tifffile gives (num, den) pairs flat or nested
                value = tuple(np.asarray(value).ravel().tolist())
            extra.append((tag.code, int(tag.dtype), tag.count, value, True))
    return extra


def _write_tiff(tmp: Path, arr: np.ndarray, source: str | None, provenance: dict[str, Any] | None) -> None:
    """TIFF with every tag of ``source``'s first page, plus the provenance tag."""
    import tifffile

    extra = _tiff_tags(source)
    if provenance is not None:
        extra = [t for t in extra if t[0] != TIFF_PROVENANCE_TAG]
        extra.append((TIFF_PROVENANCE_TAG, 2, 0, provenance_json(provenance), True))
    kw: dict[str, Any] = {}
    res = {t[0]: t[3] for t in extra if t[0] in (282, 283, 296)}  # tifffile writes these itself
    extra = [t for t in extra if t[0] not in (282, 283, 296)]
    if 282 in res and 283 in res:
        kw["resolution"] = (tuple(res[282][:2]), tuple(res[283][:2]))
    if 296 in res:
        kw["resolutionunit"] = int(np.ravel(res[296])[0])
    tifffile.imwrite(tmp, arr, photometric="minisblack", metadata=None, software=False, datetime=False,
                     extratags=extra, **kw)


def _write_fabio(tmp: Path, arr: np.ndarray, fmt: str, header: dict[str, str],
                 provenance: dict[str, Any] | None = None, source: str | None = None) -> None:
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage
    from fabio.tifimage import TifImage

    if fmt == "cbf":
        hdr = {}
        contents = header.get("_array_data.header_contents")
        if provenance is not None:
            line = f"# dip-heal provenance: {provenance_json(provenance)}"
            contents = f"{contents.rstrip()}\n{line}" if contents else line
        if contents is not None:
            hdr["_array_data.header_convention"] = header.get("_array_data.header_convention", "PILATUS_1.2")
            hdr["_array_data.header_contents"] = contents
        img = CbfImage(data=arr, header=hdr)
    elif fmt == "edf":
        hdr = _edf_safe({k: v for k, v in header.items() if k.lower() not in _EDF_KEEP_OUT})
        if provenance is not None:
            hdr.update(flat_provenance(provenance))
        img = EdfImage(data=arr, header=hdr)
    elif fmt == "bruker":
        from .fabio_write import fabio_like

        img = fabio_like(fmt, arr, source, header, provenance)
    else:
        img = TifImage(data=arr)
    sink = _stdio.StringIO()
    with contextlib.redirect_stdout(sink):
        img.write(str(tmp))


_EDF_UNSAFE = set("{};\n\r")
#: EDF header key listing the keys whose values were percent-encoded (``urllib.parse.unquote`` restores them).
EDF_QUOTED_KEYS = "dip_heal_quoted_keys"


def _edf_safe(header: dict[str, str]) -> dict[str, str]:
    """``header`` as EDF holds it: a value with ``{``, ``}``, ``;`` or a line break (which end an EDF
    header or a value) is percent-encoded, and its key is listed in ``dip_heal_quoted_keys``."""
    from urllib.parse import quote

    out: dict[str, str] = {}
    quoted = []
    for k, v in header.items():
        v = str(v)
        if _EDF_UNSAFE & set(v):
            v = quote(v, safe=" !\"#$&'()*+,-./:<=>?@[\\]^_`|~")
            quoted.append(k)
        out[k] = v
    if quoted:
        out[EDF_QUOTED_KEYS] = ",".join(quoted)
        logger.info("EDF cannot hold {, }, ; or line breaks in a header value: %d value(s) percent-encoded (%s)",
                    len(quoted), EDF_QUOTED_KEYS)
    return out


def output_path_like(frame: Frame, out_dir: str | os.PathLike, stem: str) -> Path:
    """Output path in ``out_dir`` with the input's own extension where dip-heal writes its format.

    CBF -> ``.cbf``, EDF -> ``.edf``, TIFF -> ``.tif``, NPY -> ``.npy``; HDF5/NeXus, NXcanSAS
    and Bruker -> the input's own extension (``.h5``, ``.nxs``, ``.sfrm``, ...: a copy of the
    input's HDF5 tree, a Bruker frame with the input's header); MarCCD (which fabio cannot
    write) and mar345 (whose fabio writer aborts on counts above about 1000) -> ``.edf`` with
    their header; PNG/JPEG and MATLAB figures -> ``.tif``, which :func:`write_image` writes in
    the input dtype where TIFF holds it (ints up to 32 bits, float32) and as float32 otherwise.

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
    'out/healed.edf'
    """
    if frame.meta.get("render") is not None:  # issue 22: the healed picture, beside a run's preview healed.png
        return Path(out_dir) / f"{stem}_render.png"
    fmt = frame.meta.get("format")
    src = frame.meta.get("path")
    ext = _WRITE_EXT.get(fmt, ".tif")
    if fmt in _LIKE_ONLY and src:
        from .formats import split_selector

        file = split_selector(src)[0]
        ext = base_suffix(file) or {"hdf5": ".h5", "nxcansas": ".h5", "bruker": ".sfrm"}.get(fmt, ".tif")
        if fmt == "bruker" and EXT_FORMAT.get(ext) not in (None, "bruker"):
            ext = ".sfrm"
    elif fmt in _AS_EDF:
        ext = ".edf"
    if fmt == "cbf" and frame.raw.dtype not in _CBF_DTYPES:
        ext = ".tif"
    return Path(out_dir) / f"{stem}{ext}"

"""Read and write detector frames: CBF, EDF, TIFF, mar345, MarCCD, Bruker, EIGER/NeXus HDF5,
NXcanSAS, NPY, PNG/JPEG.

Every reader returns a :class:`~dip_heal.frame.Frame`: the array as stored (``raw``), float32
intensities (``data``), the pixels that hold a measurement (``valid``), masks stored in the file
and the header. Parsing is left to fabio (detector formats), h5py + hdf5plugin (HDF5, including
bitshuffle-LZ4 EIGER data), Pillow (PNG/JPEG) and numpy (NPY).

Sentinels (pixels that are not measurements, so ``valid`` is False):

- signed integers: negative values (PILATUS module gaps ``-1``, bad pixels ``-2``);
- ``uint32``/``uint64``: ``2**bits - 1`` always (EIGER fills masked pixels with it; no counter
  reaches 4294967295 in one frame);
- ``uint16``/``uint8``: ``2**bits - 1`` only for HDF5 (EIGER/NeXus) sources. A CCD (MarCCD,
  FReLoN, Rayonix, ...) legitimately saturates at 65535, so for TIFF/EDF/MarCCD/... a pixel at
  65535 stays valid (mask saturated pixels explicitly if they must not be used);
- floats: NaN and +/-inf;
- NXcanSAS ``Imask`` True, and NeXus ``pixel_mask & 0xFFFF`` non-zero.
"""

from __future__ import annotations

import contextlib
import io as _stdio
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DipHealError
from .frame import Frame, atomic_path

__all__ = [
    "Frame",
    "read_image",
    "write_image",
    "output_path_like",
    "detector_name",
    "READ_FORMATS",
    "WRITE_FORMATS",
]

logger = logging.getLogger(__name__)

#: Extension (after removing ``.gz``/``.bz2``) -> format name, for reading.
_EXT_FORMAT: dict[str, str] = {
    ".cbf": "cbf",
    ".edf": "edf",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".mar2300": "mar345",
    ".mar3450": "mar345",
    ".mar345": "mar345",
    ".mar2000": "mar345",
    ".mar1200": "mar345",
    ".mar1600": "mar345",
    ".mar1800": "mar345",
    ".mar2400": "mar345",
    ".mar3000": "mar345",
    ".mccd": "marccd",
    ".sfrm": "bruker",
    ".gfrm": "bruker",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".nxs": "hdf5",
    ".nx5": "hdf5",
    ".cxi": "hdf5",
    ".npy": "npy",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".fig": "matfig",  # issue 22: MATLAB figures (dip_heal.matfig)
}

#: Formats :func:`read_image` understands (Bruker frames are found by content, e.g. ``name.0026``).
READ_FORMATS = (
    "cbf", "edf", "tiff", "mar345", "marccd", "bruker", "hdf5", "nxcansas", "npy", "png", "jpeg", "matfig",
)
#: Formats :func:`write_image` writes.
WRITE_FORMATS = ("cbf", "edf", "tiff", "npy")
_WRITE_EXT = {"cbf": ".cbf", "edf": ".edf", "tiff": ".tif", "npy": ".npy"}
_SUPPORTED_TEXT = (
    "CBF (.cbf[.gz|.bz2]), EDF (.edf[.gz|.bz2]), TIFF (.tif/.tiff), mar345 (.mar3450/.mar2300), "
    "MarCCD (.mccd[.bz2]), Bruker frames (.sfrm or detected by content), HDF5/NeXus/EIGER/NXcanSAS "
    "(.h5/.nxs/.hdf5, select with path.h5::/entry/data/data[0]), NPY (.npy), PNG/JPEG (colour-map renders "
    "too), MATLAB figures (.fig)"
)
_COMPRESSED = (".gz", ".bz2")

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


# --------------------------------------------------------------------------------------------
# detector names
# --------------------------------------------------------------------------------------------

# lower-case names pyFAI's detector_factory resolves (checked in tests/test_io.py)
_PYFAI_NAMES = {
    "pilatus100k": "Pilatus100k", "pilatus200k": "Pilatus200k", "pilatus300k": "Pilatus300k",
    "pilatus300kw": "Pilatus300kw", "pilatus900k": "Pilatus900k", "pilatus1m": "Pilatus1M",
    "pilatus2m": "Pilatus2M", "pilatus6m": "Pilatus6M",
    "pilatus300k_cdte": "Pilatus300k_CdTe", "pilatus300kw_cdte": "Pilatus300kw_CdTe",
    "pilatus1m_cdte": "Pilatus1M_CdTe", "pilatus2m_cdte": "Pilatus2M_CdTe",
    "pilatus4_1m": "Pilatus4_1M", "pilatus4_2m": "Pilatus4_2M", "pilatus4_4m": "Pilatus4_4M",
    "pilatus4_260k": "Pilatus4_260k", "pilatus4_260kw": "Pilatus4_260kw",
    "pilatus4_1m_cdte": "Pilatus4_1M_CdTe", "pilatus4_2m_cdte": "Pilatus4_2M_CdTe",
    "pilatus4_4m_cdte": "Pilatus4_4M_CdTe",
    "eiger500k": "Eiger500k", "eiger1m": "Eiger1M", "eiger4m": "Eiger4M", "eiger9m": "Eiger9M",
    "eiger16m": "Eiger16M",
    "eiger2_250k": "Eiger2_250k", "eiger2_500k": "Eiger2_500k", "eiger2_1m": "Eiger2_1M",
    "eiger2_1m-w": "Eiger2_1M-W", "eiger2_2m-w": "Eiger2_2M-W", "eiger2_4m": "Eiger2_4M",
    "eiger2_9m": "Eiger2_9M", "eiger2_16m": "Eiger2_16M",
    "eiger2_cdte_500k": "Eiger2_CdTe_500k", "eiger2_cdte_1m": "Eiger2_CdTe_1M",
    "eiger2_cdte_1m-w": "Eiger2_CdTe_1M-W", "eiger2_cdte_2m-w": "Eiger2_CdTe_2M-W",
    "eiger2_cdte_4m": "Eiger2_CdTe_4M", "eiger2_cdte_9m": "Eiger2_CdTe_9M",
    "eiger2_cdte_16m": "Eiger2_CdTe_16M",
    "frelon": "FReLoN", "mar345": "Mar345",
}

_DET_RE = re.compile(
    r"\b(PILATUS|EIGER)\s*([234])?\s*(?:X[E]?|R|S)?\s*(CdTe|Si)?\s*(\d+(?:\.\d+)?)\s*([KM])\s*(-?\s*W\b)?",
    re.IGNORECASE,
)


def detector_name(text: str | None) -> str | None:
    """pyFAI detector name for a header's detector description, or None.

    Parameters
    ----------
    text : str or None
        Header text, e.g. ``"# Detector: PILATUS3 6M, S/N 60-0126"`` or ``"Dectris EIGER2 Si 9M"``.

    Returns
    -------
    name : str or None
        A name ``pyFAI.detector_factory`` accepts (``"Pilatus6M"``, ``"Eiger2_9M"``,
        ``"FReLoN"``), or None when the text names no detector pyFAI knows.

    Examples
    --------
    >>> detector_name("# Detector: PILATUS3 6M, S/N 60-0126")
    'Pilatus6M'
    >>> detector_name("Dectris EIGER2 Si 9M")
    'Eiger2_9M'
    >>> detector_name("PILATUS3 300K, S/N 3-0327")
    'Pilatus300k'
    >>> detector_name("a camera") is None
    True
    """
    if not text:
        return None
    m = _DET_RE.search(text)
    if m:
        family, gen, sensor, num, unit, wide = m.groups()
        size = f"{num}{unit}".lower()
        size += "w" if wide else ""
        cdte = bool(sensor) and sensor.lower() == "cdte"
        family = family.lower()
        if family == "pilatus":
            key = f"pilatus4_{size}" if gen == "4" else f"pilatus{size}"
            key += "_cdte" if cdte else ""
        else:
            size = size.replace("w", "-w")
            if gen == "2":
                key = f"eiger2_cdte_{size}" if cdte else f"eiger2_{size}"
            else:
                key = f"eiger{size}"
        if key in _PYFAI_NAMES:
            return _PYFAI_NAMES[key]
    low = text.lower()
    if "frelon" in low:
        return "FReLoN"
    if re.search(r"\bmar\s*345\b", low):
        return "Mar345"
    return None


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def split_selector(path: str | os.PathLike) -> tuple[Path, str | None, int | None]:
    """``file.h5::/entry/data/data[1]`` -> (file, dataset, index); a plain path -> (path, None, None)."""
    text = os.fspath(path)
    if "::" not in text:
        return Path(text), None, None
    file_part, sel = text.rsplit("::", 1)
    index = None
    m = re.fullmatch(r"(.*?)\[\s*(-?\d+)\s*\]\s*", sel)
    if m:
        sel, index = m.group(1), int(m.group(2))
    sel = sel.strip() or None
    return Path(file_part), sel, index


def _base_suffix(path: Path) -> str:
    """Lower-case extension with a trailing ``.gz``/``.bz2`` removed."""
    name = path.name.lower()
    for c in _COMPRESSED:
        if name.endswith(c):
            name = name[: -len(c)]
            break
    return Path(name).suffix


def _sniff(path: Path) -> str | None:
    """Format by magic bytes (uncompressed files only), or None."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff-like"  # fabio tells TIFF from MarCCD
    if head.startswith(b"###CBF"):
        return "cbf"
    return None


# what a file's content may be under each extension's format (TIFF-like: TIFF or MarCCD)
_CONTENT_FITS = {"tiff": {"tiff-like"}, "marccd": {"tiff-like"}}


def _detect_format(path: Path) -> str:
    """Our format name, from the content where it is unambiguous, else the extension.

    A file whose extension names one known format and whose content is recognisably another
    (CBF bytes named ``.tif``) is refused: one of the two is wrong, and guessing could write the
    healed frame in a format the user did not expect.
    """
    sniffed = _sniff(path)
    ext_fmt = _EXT_FORMAT.get(_base_suffix(path))
    if sniffed is not None and ext_fmt is not None and not _compressed(path) \
            and sniffed != ext_fmt and sniffed not in _CONTENT_FITS.get(ext_fmt, set()):
        content = "TIFF" if sniffed == "tiff-like" else sniffed.upper()
        raise DipHealError(
            f"{path} has extension {_base_suffix(path)!r} ({ext_fmt}) but its content is {content}; expected "
            "content that matches the extension; rename the file to the right extension"
        )
    if sniffed == "tiff-like":
        return ext_fmt or "fabio"
    if sniffed is not None:
        return sniffed
    if ext_fmt in ("hdf5", "npy", "png", "jpeg"):
        # extension says so but magic bytes disagree (or the file is compressed)
        raise DipHealError(
            f"{path} has extension {_base_suffix(path)!r} but its content is not {ext_fmt}; "
            f"expected an uncompressed {ext_fmt} file; check the file (supported: {_SUPPORTED_TEXT})"
        )
    return ext_fmt or "fabio"


def _compressed(path: Path) -> bool:
    return path.name.lower().endswith(_COMPRESSED)


def _header_str(header: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in dict(header or {}).items():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[str(k)] = str(v)
    return out


def _valid_from_raw(raw: np.ndarray, *, hdf5: bool) -> np.ndarray:
    """True where ``raw`` holds a measurement (see the module docstring for the sentinels)."""
    if raw.dtype == bool:
        return np.ones(raw.shape, bool)
    if np.issubdtype(raw.dtype, np.floating) or np.issubdtype(raw.dtype, np.complexfloating):
        return np.isfinite(raw)
    if np.issubdtype(raw.dtype, np.signedinteger):
        return raw >= 0
    if np.issubdtype(raw.dtype, np.unsignedinteger):
        top = np.iinfo(raw.dtype).max
        if raw.dtype.itemsize >= 4 or hdf5:
            return raw != top
        return np.ones(raw.shape, bool)
    raise DipHealError(
        f"pixel type {raw.dtype} is not numeric; expected integer or float intensities; "
        "convert the frame to a numeric array"
    )


def _make_frame(raw: np.ndarray, meta: dict[str, Any], *, hdf5: bool = False,
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
    valid = _valid_from_raw(raw, hdf5=hdf5)
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


def _check_index(index: int, n: int, path: Path) -> int:
    if not -n <= index < n:
        raise DipHealError(
            f"{path}: frame index {index} out of range; expected 0..{n - 1} ({n} frames); "
            "pick an existing frame"
        )
    return index % n


def _read_fabio(path: Path, index: int | None, fmt_hint: str) -> Frame:
    import fabio

    from .integrity import check_compressed, fabio_guard, missing_data_error

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
                f"{path}: unknown image format (extension {_base_suffix(path) or 'none'!r}); "
                f"expected one of: {_SUPPORTED_TEXT}; convert the frame to .tif, .edf or .npy"
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
    k = 0 if index is None else _check_index(index, nframes, path)
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
        raw = _luminance(raw[..., :3])
    return _make_frame(raw, meta)


def _looks_truncated(message: str) -> bool:
    from .integrity import _MISSING

    return bool(_MISSING.search(message))


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """(M, N, 3) -> (M, N) float32 ITU-R 601 luminance (as Pillow's ``convert("L")``, unrounded)."""
    return (np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)


def _tiff_tags(path: Path) -> list[str]:
    """ImageDescription (270) and Model (272) of a TIFF, where PILATUS writes its name."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            tags = getattr(im, "tag_v2", {})
            return [str(tags.get(272, "")).strip("\x00 "), str(tags.get(270, ""))]
    except Exception:  # header only: a TIFF Pillow cannot parse still reads through fabio
        return []


def _read_npy(path: Path, index: int | None) -> Frame:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "could only read" in str(exc) or "Failed to read all data" in str(exc):
            raise DipHealError(f"{path}: the file is truncated ({_npy_detail(path)}); expected a complete .npy; "
                               "copy or save it again") from None
        if "allow_pickle" in str(exc):
            raise DipHealError(f"{path}: holds an object array (pickled Python objects), which dip-heal never "
                               "loads; expected a numeric 2-D array; save it with np.save(path, "
                               "np.asarray(a, dtype=float))") from None
        raise DipHealError(
            f"{path}: could not read the .npy ({exc}); expected a numeric array saved with np.save; "
            "save a plain numeric 2-D array"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise DipHealError(
            f"{path}: array of dtype {arr.dtype}; expected numeric intensities; save a numeric 2-D array"
        )
    if arr.ndim != 2:
        raise DipHealError(
            f"{path}: got an array of shape {arr.shape}; expected a 2-D frame (M, N); "
            "save one frame, e.g. np.save(path, stack[k])"
        )
    if index not in (None, 0):
        _check_index(index, 1, path)
    return _make_frame(arr, {"path": str(path), "format": "npy", "header": {}})


def _npy_detail(path: Path) -> str:
    """``"N data bytes found, M expected"`` for a truncated .npy."""
    try:
        with open(path, "rb") as fh:
            major, _minor = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read(fh)
            offset = fh.tell()
        want = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return f"{path.stat().st_size - offset} data bytes found, {want} expected"
    except Exception:  # a header too broken to parse
        return "the data block is shorter than its header says"


def _read_pil(path: Path, fmt: str, index: int | None) -> Frame:
    from PIL import Image

    with Image.open(path) as im:
        n = int(getattr(im, "n_frames", 1) or 1)
        k = 0 if index is None else _check_index(index, n, path)
        if k:
            im.seek(k)
        mode = im.mode
        header = {"mode": mode}
        header.update({str(k_): str(v) for k_, v in im.info.items() if isinstance(v, (str, int, float))})
        if mode not in ("I;16", "I;16B", "I;16L", "I", "F", "L", "1", "LA"):
            # issue 22: a colour-map render is read as the map's scalar (dip_heal.renders)
            from .renders import read_render

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
                raw = _luminance(np.asarray(im.convert("RGB")))
    return _make_frame(raw, {"path": str(path), "format": fmt, "header": header, "index": k})


# ---------------- HDF5 ----------------


def _attr_str(obj: Any, name: str) -> str | None:
    v = obj.attrs.get(name)
    if v is None:
        return None
    if isinstance(v, np.ndarray):
        v = v.ravel()[0] if v.size else None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return None if v is None else str(v)


def _find_sasdata(h5: Any) -> Any | None:
    """First NXcanSAS SASdata group (canSAS_class == SASdata under a SASentry), or None."""
    found = []

    def visit(name: str, obj: Any) -> None:
        if found:
            return
        import h5py

        if isinstance(obj, h5py.Group) and _attr_str(obj, "canSAS_class") == "SASdata":
            found.append(obj)

    h5.visititems(visit)
    if found:
        return found[0]
    # NX_class NXdata inside an entry declaring definition NXcanSAS
    for entry in h5.values():
        try:
            definition = entry.get("definition") if hasattr(entry, "get") else None
            if definition is not None and "nxcansas" in _as_text(definition[()]).lower():
                for child in entry.values():
                    if hasattr(child, "attrs") and _attr_str(child, "NX_class") == "NXdata":
                        return child
        except Exception:  # a malformed definition field: not NXcanSAS then
            continue
    return None


def _as_text(v: Any) -> str:
    if isinstance(v, np.ndarray):
        v = v.ravel()[0] if v.size else ""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _default_signal(h5: Any) -> tuple[str, str] | None:
    """Dataset name picked without a selector, and why."""
    import h5py

    # 1. NeXus default chain: root@default -> entry@default -> NXdata@signal
    grp = h5
    for _ in range(4):
        d = _attr_str(grp, "default")
        if not d or d not in grp:
            break
        grp = grp[d]
        sig = _attr_str(grp, "signal")
        if isinstance(grp, h5py.Group) and sig and sig in grp and isinstance(grp[sig], h5py.Dataset):
            return grp[sig].name, "NeXus default NXdata signal"
    # 2. first NXdata with a 2-D+ signal, then NXdetector/data
    candidates: list[tuple[int, str, str]] = []

    def visit(name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Group):
            return
        cls = _attr_str(obj, "NX_class")
        if cls == "NXdata":
            sig = _attr_str(obj, "signal") or "data"
            try:
                ds = obj.get(sig)
            except (KeyError, OSError):  # dangling external link (master without data files)
                ds = None
            if isinstance(ds, h5py.Dataset) and ds.ndim >= 2:
                candidates.append((0, f"{obj.name}/{sig}", "NXdata signal"))
            elif sig == "data":
                for key in sorted(obj):
                    try:
                        ds = obj.get(key)
                    except (KeyError, OSError):
                        continue
                    if key.startswith("data_") and isinstance(ds, h5py.Dataset) and ds.ndim >= 2:
                        candidates.append((0, f"{obj.name}/{key}", "NXdata EIGER data block"))
                        break
        elif cls == "NXdetector":
            ds = obj.get("data")
            if isinstance(ds, h5py.Dataset) and ds.ndim >= 2:
                candidates.append((1, f"{obj.name}/data", "NXdetector data"))

    h5.visititems(visit)
    if candidates:
        candidates.sort(key=lambda c: c[0])
        return candidates[0][1], candidates[0][2]
    # 3. largest 2-D+ numeric dataset
    best: list[tuple[int, str]] = []

    def visit_any(name: str, obj: Any) -> None:
        leaf = name.rsplit("/", 1)[-1].lower()
        if any(w in leaf for w in _NOT_IMAGES):
            return  # a mask or a correction map is never the frame
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "biuf":
            best.append((int(np.prod(obj.shape)), obj.name))

    h5.visititems(visit_any)
    if best:
        best.sort(reverse=True)
        return best[0][1], "largest 2-D dataset (no NeXus NXdata found)"
    return None


_NOT_IMAGES = ("mask", "flatfield", "flat_field", "countrate", "correction", "lut")
_EIGER_BLOCK = re.compile(r"data_\d{6}")


def _eiger_block(group: Any, index: int | None, path: Path) -> tuple[str, int, int]:
    """For an EIGER master's ``data_000001``-style block, the block holding frame ``index``
    counted across all blocks of its NXdata group: (dataset, index in block, overall index)."""
    import h5py

    blocks = []
    for key in sorted(k for k in group if _EIGER_BLOCK.fullmatch(k)):
        try:
            b = group[key]
        except (KeyError, OSError):  # data file of this block is missing
            logger.warning("%s: %s/%s is not readable (missing data file?)", path, group.name, key)
            continue
        if isinstance(b, h5py.Dataset) and b.ndim == 3:
            blocks.append((f"{group.name}/{key}", b))
    total = sum(b.shape[0] for _, b in blocks)
    if total == 0:
        raise DipHealError(
            f"{path}: no readable data block in {group.name}; expected the EIGER data files "
            "(name_data_000001.h5, ...) beside the master; copy them next to it"
        )
    k = 0 if index is None else _check_index(index, total, path)
    rest = k
    for name, b in blocks:
        if rest < b.shape[0]:
            return name, rest, k
        rest -= b.shape[0]
    raise AssertionError("unreachable: index checked against the total")  # pragma: no cover


_PIXEL_MASK_PATHS = (
    "/entry/instrument/detector/pixel_mask",
    "/entry/instrument/detector/detectorSpecific/pixel_mask",
)


def _nexus_detector_info(h5: Any) -> tuple[np.ndarray | None, str | None, dict[str, str]]:
    """pixel_mask, detector name and a small header from the NXdetector group(s)."""
    import h5py

    mask = None
    for p in _PIXEL_MASK_PATHS:
        try:
            if p in h5 and isinstance(h5[p], h5py.Dataset):
                mask = h5[p][()]
                break
        except (KeyError, OSError):
            continue
    header: dict[str, str] = {}
    texts: list[str] = []
    groups = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and _attr_str(obj, "NX_class") == "NXdetector":
            groups.append(obj)

    h5.visititems(visit)
    if "/entry/instrument/detector" in h5 and not groups:
        groups.append(h5["/entry/instrument/detector"])
    for g in groups:
        if mask is None and isinstance(g.get("pixel_mask"), h5py.Dataset):
            mask = g["pixel_mask"][()]
        for key in ("description", "local_name", "type", "detector", "name", "detector_readout_time",
                    "count_time", "frame_time", "sensor_material", "sensor_thickness", "x_pixel_size",
                    "y_pixel_size", "bit_depth_image", "pixel_mask_applied"):
            ds = g.get(key)
            if isinstance(ds, h5py.Dataset) and ds.size == 1:
                text = _as_text(ds[()])
                header[f"{g.name}/{key}"] = text
                if key in ("description", "local_name", "type", "detector", "name"):
                    texts.append(text)
    det = None
    for t in texts:
        det = detector_name(t)
        if det:
            break
    return mask, det, header


def _read_hdf5(path: Path, dataset: str | None, index: int | None) -> Frame:
    import h5py
    import hdf5plugin  # noqa: F401  (registers bitshuffle/LZ4 filters for EIGER data)

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        m = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        if m:
            raise DipHealError(f"{path}: the HDF5 file is truncated ({m.group(1)} bytes found, {m.group(2)} "
                               "expected); expected a complete file; copy it again (an EIGER master still being "
                               "written?)") from None
        raise DipHealError(
            f"{path}: could not open as HDF5 ({exc}); expected a readable HDF5/NeXus file; check the file"
        ) from exc
    with h5:
        masks: dict[str, np.ndarray] = {}
        fmt = "hdf5"
        sasdata = _find_sasdata(h5) if dataset is None else None
        if sasdata is not None:
            sig = _attr_str(sasdata, "signal") or "I"
            ds = sasdata[sig]
            dataset = ds.name
            why = "NXcanSAS SASdata signal"
            fmt = "nxcansas"
            mask_name = _attr_str(sasdata, "mask") or "Imask"
            if mask_name in sasdata:
                masks["Imask"] = np.asarray(sasdata[mask_name][()])
        elif dataset is None:
            found = _default_signal(h5)
            if found is None:
                raise DipHealError(
                    f"{path}: no 2-D image dataset found (an EIGER master without its data files?); "
                    "expected an image dataset (NXdata signal or /entry/data/data); put the data files "
                    "beside the master or name a dataset with path.h5::/group/dataset"
                )
            dataset, why = found
        else:
            why = "selected"
            if dataset not in h5:
                raise DipHealError(
                    f"{path}: no dataset {dataset!r}; expected an existing HDF5 path; "
                    "list them with h5ls -r or pick e.g. ::/entry/data/data"
                )
            if not isinstance(h5[dataset], h5py.Dataset):
                raise DipHealError(
                    f"{path}: {dataset!r} is a group; expected a dataset; name the dataset inside it"
                )
            ds0 = h5[dataset]
            if _attr_str(ds0.parent, "canSAS_class") == "SASdata":
                fmt = "nxcansas"
                mask_name = _attr_str(ds0.parent, "mask") or "Imask"
                if mask_name in ds0.parent and mask_name != ds0.name.rsplit("/", 1)[-1]:
                    masks["Imask"] = np.asarray(ds0.parent[mask_name][()])
        ds = h5[dataset]
        k_all = None
        if why != "selected" and _EIGER_BLOCK.fullmatch(dataset.rsplit("/", 1)[-1]) and ds.ndim == 3:
            # ds.parent would be the group in the linked data file: take the master's group
            dataset, index, k_all = _eiger_block(h5[dataset.rsplit("/", 1)[0] or "/"], index, path)
            ds = h5[dataset]
        if ds.ndim == 2:
            if index not in (None, 0):
                _check_index(index, 1, path)
            k = 0
            raw = ds[()]
        elif ds.ndim == 3:
            k = 0 if index is None else _check_index(index, ds.shape[0], path)
            raw = ds[k]
        else:
            raise DipHealError(
                f"{path}::{dataset} has shape {ds.shape}; expected (M, N) or (frames, M, N); "
                "select a 2-D or 3-D dataset"
            )
        if k_all is not None:  # frame k of this block is frame k_all of the series
            logger.info("%s: using dataset %s frame %d (frame %d of the series; %s)", path, dataset, k,
                        k_all, why)
        else:
            logger.info("%s: using dataset %s frame %d (%s)", path, dataset, k, why)
        header = {f"{dataset}@{a}": _as_text(v) for a, v in ds.attrs.items()}
        det = None
        if fmt == "hdf5":
            pmask, det, det_header = _nexus_detector_info(h5)
            header.update(det_header)
            if pmask is not None:
                if pmask.ndim == 3 and pmask.shape[1:] == raw.shape:
                    pmask = pmask[0]
                if pmask.shape == raw.shape:
                    masks["pixel_mask"] = pmask
                else:
                    logger.warning("%s: pixel_mask shape %s does not match the frame %s; ignored",
                                   path, pmask.shape, raw.shape)
    if "Imask" in masks:
        im = masks["Imask"]
        if im.ndim == 3 and im.shape[1:] == raw.shape:
            im = im[k]
        if im.shape != raw.shape:
            logger.warning("%s: Imask shape %s does not match the frame %s; ignored",
                           path, im.shape, raw.shape)
            masks.pop("Imask")
        else:
            masks["Imask"] = im.astype(bool)
    meta = {"path": str(path), "format": fmt, "detector": det, "header": header,
            "dataset": dataset, "index": k}
    return _make_frame(raw, meta, hdf5=True, masks=masks)


def read_image(path: str | os.PathLike, index: int | None = None) -> Frame:
    """Read one detector frame.

    Parameters
    ----------
    path : path-like
        The file. For HDF5, ``file.h5::/entry/data/data[1]`` selects a dataset and a frame;
        without a selector the NXcanSAS ``I``, else the NeXus NXdata/NXdetector signal is used
        (logged at INFO). Compressed CBF/EDF/MarCCD/Bruker (``.gz``, ``.bz2``) are read directly.
    index : int, optional
        Frame of a multi-frame file (HDF5 stack, multi-frame EDF/TIFF); default 0. A ``[k]``
        in the HDF5 selector wins over it.

    Returns
    -------
    frame : Frame
        ``raw`` (M, N) as stored, ``data`` (M, N) float32, ``valid`` (M, N) bool, ``meta`` with
        ``path``, ``format``, ``detector``, ``dtype``, ``header``, ``dataset``, ``index``, and
        ``masks`` stored in the file (``pixel_mask``, ``Imask``).

    Raises
    ------
    DipHealError
        Missing or empty file, unknown format, a file that is not a 2-D frame, a bad selector or
        frame index.
    """
    file, dataset, sel_index = split_selector(path)
    if sel_index is not None:
        index = sel_index
    if not file.exists():
        raise DipHealError(f"no such file: {file}; expected an existing image file; check the path")
    if file.is_dir():
        raise DipHealError(f"{file} is a folder; expected an image file; name one file")
    if file.stat().st_size == 0:
        raise DipHealError(
            f"{file} is an empty file (0 bytes); expected an image; check the file was fully written"
        )
    fmt = _detect_format(file)
    if dataset is not None and fmt != "hdf5":
        raise DipHealError(
            f"{file}: a ::dataset selector only applies to HDF5 files, got format {fmt}; "
            "drop the '::...' part"
        )
    if fmt == "hdf5":
        return _read_hdf5(file, dataset, index)
    if fmt == "npy":
        return _read_npy(file, index)
    if fmt in ("png", "jpeg"):
        return _read_pil(file, fmt, index)
    if fmt == "matfig":  # issue 22: the image CData of a MATLAB .fig
        from .matfig import read_matfig

        return read_matfig(file, index)
    return _read_fabio(file, index, fmt)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

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
        fmt = _EXT_FORMAT.get(path.suffix.lower(), path.suffix.lower().lstrip(".") or "none")
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
        from .renders import write_render  # issue 22: a render is written back as the same picture

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
    arr = _cast(arr, target)
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

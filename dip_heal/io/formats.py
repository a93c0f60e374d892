"""File formats: extensions, magic bytes, and the ``file.h5::/dataset[k]`` selector."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import DipHealError

__all__ = ["EXT_FORMAT", "READ_FORMATS", "WRITE_FORMATS", "SUPPORTED_TEXT", "split_selector", "base_suffix",
           "detect_format", "compressed"]

#: Extension (after removing ``.gz``/``.bz2``) -> format name, for reading.
EXT_FORMAT: dict[str, str] = {
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
#: Formats :func:`write_image` writes (HDF5 and NXcanSAS only like an HDF5 input: a copy of its tree;
#: Bruker with fabio, like a Bruker input).
WRITE_FORMATS = ("cbf", "edf", "tiff", "npy", "hdf5", "nxcansas", "bruker")
SUPPORTED_TEXT = (
    "CBF (.cbf[.gz|.bz2]), EDF (.edf[.gz|.bz2]), TIFF (.tif/.tiff), mar345 (.mar3450/.mar2300), "
    "MarCCD (.mccd[.bz2]), Bruker frames (.sfrm or detected by content), HDF5/NeXus/EIGER/NXcanSAS "
    "(.h5/.nxs/.hdf5, select with path.h5::/entry/data/data[0]), NPY (.npy), PNG/JPEG (colour-map renders "
    "too), MATLAB figures (.fig)"
)
_COMPRESSED = (".gz", ".bz2")


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


def base_suffix(path: Path) -> str:
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


def detect_format(path: Path) -> str:
    """Our format name, from the content where it is unambiguous, else the extension.

    A file whose extension names one known format and whose content is recognisably another
    (CBF bytes named ``.tif``) is refused: one of the two is wrong, and guessing could write the
    healed frame in a format the user did not expect.
    """
    sniffed = _sniff(path)
    ext_fmt = EXT_FORMAT.get(base_suffix(path))
    if sniffed is not None and ext_fmt is not None and not compressed(path) \
            and sniffed != ext_fmt and sniffed not in _CONTENT_FITS.get(ext_fmt, set()):
        content = "TIFF" if sniffed == "tiff-like" else sniffed.upper()
        raise DipHealError(
            f"{path} has extension {base_suffix(path)!r} ({ext_fmt}) but its content is {content}; expected "
            "content that matches the extension; rename the file to the right extension"
        )
    if sniffed == "tiff-like":
        return ext_fmt or "fabio"
    if sniffed is not None:
        return sniffed
    if ext_fmt in ("hdf5", "npy", "png", "jpeg"):
        # extension says so but magic bytes disagree (or the file is compressed)
        raise DipHealError(
            f"{path} has extension {base_suffix(path)!r} but its content is not {ext_fmt}; "
            f"expected an uncompressed {ext_fmt} file; check the file (supported: {SUPPORTED_TEXT})"
        )
    return ext_fmt or "fabio"


def compressed(path: Path) -> bool:
    return path.name.lower().endswith(_COMPRESSED)

"""``read_image``: one frame from any supported file, dispatched on its format."""

from __future__ import annotations

import os

from ..errors import DipHealError
from ..frame import Frame
from .fabio_formats import read_fabio
from .formats import detect_format, split_selector
from .hdf5 import read_hdf5
from .npy import read_npy
from .pictures import read_pil

__all__ = ["read_image"]


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
    fmt = detect_format(file)
    if dataset is not None and fmt != "hdf5":
        raise DipHealError(
            f"{file}: a ::dataset selector only applies to HDF5 files, got format {fmt}; "
            "drop the '::...' part"
        )
    if fmt == "hdf5":
        return read_hdf5(file, dataset, index)
    if fmt == "npy":
        return read_npy(file, index)
    if fmt in ("png", "jpeg"):
        return read_pil(file, fmt, index)
    if fmt == "matfig":  # issue 22: the image CData of a MATLAB .fig
        from ..matfig import read_matfig

        return read_matfig(file, index)
    return read_fabio(file, index, fmt)

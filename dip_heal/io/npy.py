"""NPY frames (``np.save``), never unpickled."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from .frames import check_index, make_frame

__all__ = ["read_npy"]


def read_npy(path: Path, index: int | None) -> Frame:
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
        check_index(index, 1, path)
    return make_frame(arr, {"path": str(path), "format": "npy", "header": {}})


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

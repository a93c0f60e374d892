"""The in-memory frame every part of dip-heal works on, and the composite back to raw units."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import DipHealError

__all__ = ["Frame", "composite_native", "atomic_path", "check_mask_shape", "check_image_and_mask"]


@dataclass
class Frame:
    """One detector frame.

    Attributes
    ----------
    data : (M, N) ndarray of float32
        Intensities in the file's own units. Sentinel pixels keep their raw value (cast to float).
    valid : (M, N) ndarray of bool
        True where ``raw`` holds a measurement: finite, not a format sentinel (negative on
        PILATUS-type signed integers, ``2**bits - 1`` on unsigned EIGER-type data), and not flagged
        by a mask stored in the same file (NXcanSAS ``Imask``, NeXus ``pixel_mask``).
    raw : (M, N) ndarray
        The array exactly as stored, in its own dtype; measured pixels of any output are copied
        from here bit for bit.
    meta : dict
        ``path``, ``format`` (``cbf``, ``edf``, ``tiff``, ``mar345``, ``marccd``, ``bruker``,
        ``hdf5``, ``nxcansas``, ``npy``, ``png``, ``jpeg``, ``matfig``), ``detector`` (pyFAI detector
        name or None), ``dtype`` (str), ``header`` (dict of str), and for HDF5 ``dataset`` and
        ``index``; a colour-map render adds ``render`` (:mod:`dip_heal.renders`: its ``data`` are
        render units, ``valid`` its data pixels), a MATLAB figure ``figure`` (:mod:`dip_heal.matfig`).
    masks : dict of str to (M, N) ndarray
        Masks that came with the file: ``pixel_mask`` (uint32 NXmx bits), ``Imask`` (bool,
        True = masked), keyed by their name in the file.
    """

    data: np.ndarray
    valid: np.ndarray
    raw: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @classmethod
    def from_array(cls, array: np.ndarray, **meta: Any) -> "Frame":
        """Wrap a 2-D array; NaN/inf are invalid, as are negative values of signed integers."""
        raw = np.asarray(array)
        if raw.ndim != 2:
            raise DipHealError(
                f"got an array of shape {raw.shape}; expected a 2-D frame (M, N); select one frame first"
            )
        data = raw.astype(np.float32)
        valid = np.isfinite(data)
        if np.issubdtype(raw.dtype, np.signedinteger):
            valid &= raw >= 0
        meta.setdefault("format", "npy")
        meta.setdefault("detector", None)
        meta.setdefault("dtype", str(raw.dtype))
        meta.setdefault("header", {})
        return cls(data=data, valid=valid, raw=raw, meta=meta)


def check_mask_shape(mask: np.ndarray, shape: tuple[int, ...], what: str = "mask") -> None:
    """Refuse a mask of another shape than the frame (never crop or pad)."""
    if tuple(mask.shape) != tuple(shape):
        raise DipHealError(
            f"{what} shape {tuple(mask.shape)} does not match the frame {tuple(shape)}; "
            "build the mask from this frame (dip-heal mask IMAGE)"
        )


def check_image_and_mask(image: np.ndarray, heal: np.ndarray, *,
                         numeric_mask: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D frame and its mask of pixels to heal, checked: the one check of every healing method.

    Parameters
    ----------
    image : (M, N) array-like
    heal : (M, N) array-like of bool
        True = pixel to heal. With ``numeric_mask``, numbers are accepted (nonzero = heal).

    Returns
    -------
    image : (M, N) ndarray, as given
    heal : (M, N) ndarray of bool

    Raises
    ------
    DipHealError
        Not 2-D, a mask of another shape, a mask that is not bool (or numeric).
    """
    image = np.asarray(image)
    heal = np.asarray(heal)
    if image.ndim != 2:
        raise DipHealError(f"got an image of shape {image.shape}; expected a 2-D frame (M, N); select one frame")
    check_mask_shape(heal, image.shape, "heal mask")
    if heal.dtype != bool:
        if not (numeric_mask and np.issubdtype(heal.dtype, np.number)):
            raise DipHealError(f"got a heal mask of dtype {heal.dtype}; expected bool (True = pixel to heal)")
        heal = heal != 0
    return image, heal


def composite_native(raw: np.ndarray, healed: np.ndarray, heal: np.ndarray) -> np.ndarray:
    """Measured pixels from ``raw`` bit for bit, ``healed`` in the holes, in ``raw``'s dtype.

    Integer dtypes get the healed values rounded and clipped to the dtype's range (an unsigned
    type's ``2**bits - 1`` sentinel is avoided by clipping one below it).

    Parameters
    ----------
    raw : (M, N) ndarray
        The frame as stored.
    healed : (M, N) ndarray of float
        The healed intensities, same units as ``raw``.
    heal : (M, N) ndarray of bool
        True = pixel that was healed.

    Returns
    -------
    out : (M, N) ndarray of raw.dtype

    Examples
    --------
    >>> raw = np.array([[1, -1], [3, 4]], dtype=np.int32)
    >>> composite_native(raw, np.full((2, 2), 2.6), raw < 0)
    array([[1, 3],
           [3, 4]], dtype=int32)
    """
    check_mask_shape(heal, raw.shape, "heal mask")
    check_mask_shape(healed, raw.shape, "healed image")
    out = raw.copy()
    fill = np.asarray(healed, dtype=np.float64)[heal]
    if np.issubdtype(raw.dtype, np.integer):
        info = np.iinfo(raw.dtype)
        hi = info.max - 1 if np.issubdtype(raw.dtype, np.unsignedinteger) else info.max
        fill = np.clip(np.rint(np.nan_to_num(fill, nan=0.0)), max(info.min, 0), hi)
    out[heal] = fill.astype(raw.dtype)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, protect: tuple[str | os.PathLike, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        The final output path.
    protect : tuple of path-like
        Inputs that must never be overwritten; naming one of them as ``path`` raises.
    """
    final = Path(path)
    for p in protect:
        if p is not None and Path(p).exists() and final.exists() and os.path.samefile(final, p):
            raise DipHealError(
                f"output {final} is the input file; expected a new path; choose another --out"
            )
        if p is not None and Path(p).resolve() == final.resolve():
            raise DipHealError(
                f"output {final} is the input file; expected a new path; choose another --out"
            )
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=final.suffix or ".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise

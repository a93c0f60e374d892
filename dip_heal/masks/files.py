"""Mask files that state their polarity: :func:`write_mask`, :func:`read_mask` (one reader per
format), their ``<file>.json`` sidecars, and the refusal of a detector frame given as a mask.

NPY (bool, True = heal) and PNG (0 = heal, 255 = keep) get a sidecar ``<file>.json``; EDF and TIFF
(uint8, pyFAI's 1 = masked) carry the polarity in the header too; HDF5 stores it as attributes;
Fit2D ``.msk`` is bit set = masked by definition.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import DipHealError
from ..frame import atomic_path, check_mask_shape

__all__ = ["write_mask", "read_mask", "sidecar_path", "MASK_FORMATS", "CONVENTIONS"]

logger = logging.getLogger(__name__)

#: File formats ``write_mask`` writes, by extension.
MASK_FORMATS: dict[str, str] = {
    ".npy": "npy",
    ".png": "png",
    ".edf": "edf",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".mask": "dioptas",
    ".msk": "msk",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".nxs": "hdf5",
}

#: Mask polarity conventions ``read_mask`` understands.
CONVENTIONS: dict[str, str] = {
    "heal": "nonzero = pixel to heal (dip-heal NPY/HDF5)",
    "pyfai": "nonzero = masked (pyFAI, silx, Dioptas, Fit2D, NXmx pixel_mask, NXcanSAS Imask)",
    "dioptas": "nonzero = masked, stored upside down (Dioptas); flipped on reading",
    "keep": "zero = masked, nonzero = valid (PNG masks, SciAnalysis, scikit-beam, pySimpleMask, BioXTAS RAW)",
}


def _fmt_for(path: Path, fmt: str | None) -> str:
    if fmt:
        f = fmt.lower().lstrip(".")
        f = {"tif": "tiff", "h5": "hdf5", "nxs": "hdf5", "fit2d": "msk", "mask": "dioptas"}.get(f, f)
        if f not in set(MASK_FORMATS.values()):
            raise DipHealError(
                f"mask format {fmt!r}; expected one of {sorted(set(MASK_FORMATS.values()))}; choose one (--format)"
            )
        return f
    ext = path.suffix.lower()
    if ext not in MASK_FORMATS:
        raise DipHealError(
            f"mask file {path.name} has extension {ext!r}; expected one of {sorted(MASK_FORMATS)}; "
            "rename it or give --format"
        )
    return MASK_FORMATS[ext]



def sidecar_path(path: Path) -> Path:
    """The sidecar ``<file>.json`` beside a mask file."""
    return path.with_name(path.name + ".json")


_POLARITY = {
    "npy": ("heal", "bool: True = pixel to heal"),
    "png": ("keep", "uint8: 0 = pixel to heal, 255 = keep"),
    "edf": ("pyfai", "uint8: 1 = masked (pixel to heal), 0 = keep (pyFAI convention)"),
    "tiff": ("pyfai", "uint8: 1 = masked (pixel to heal), 0 = keep (pyFAI convention)"),
    "dioptas": ("pyfai", "uint8 TIFF: 1 = masked (pixel to heal), 0 = keep, stored upside down (Dioptas .mask)"),
    "msk": ("pyfai", "Fit2D bit mask: bit set = masked (pixel to heal)"),
    "hdf5": ("heal", "uint8 dataset 'mask': 1 = pixel to heal (pyFAI: 1 = masked)"),
}


def write_mask(
    path: str | os.PathLike,
    heal: np.ndarray,
    *,
    format: str | None = None,
    flip_vertical: bool = False,
    protect: Iterable[str | os.PathLike] = (),
    ignore: np.ndarray | None = None,
) -> Path:
    """Write a mask file that states its polarity.

    Parameters
    ----------
    path : path-like
        Output file; the format follows the extension (``.npy .png .edf .tif .mask .msk .h5``)
        or ``format``. ``.mask`` is Dioptas's: an uncompressed TIFF, 1 = masked, stored upside down
        (Dioptas shows images with the first row at the bottom), as Dioptas's Load Mask reads it.
    heal : (M, N) ndarray of bool
        True = pixel to heal.
    format : str, optional
        ``npy``, ``png``, ``edf``, ``tiff``, ``dioptas``, ``msk`` (Fit2D) or ``hdf5``.
    flip_vertical : bool
        Store upside down (Dioptas/Fit2D orientation); recorded in the sidecar. A Dioptas
        ``.mask`` is stored upside down already: the flag stores it the frame's way up.
    protect : paths
        Inputs that must not be overwritten.
    ignore : (M, N) ndarray of bool, optional
        Pixels to ignore (HDF5 only: written as dataset ``ignore``).

    Returns
    -------
    Path
        The mask file. A sidecar ``<file>.json`` records format, polarity, shape and flip.
    """
    path = Path(path)
    fmt = _fmt_for(path, format)
    heal = np.asarray(heal)
    if heal.ndim != 2:
        raise DipHealError(f"got a mask of shape {heal.shape}; expected (M, N); pass one 2-D mask")
    heal = heal.astype(bool)
    if fmt == "dioptas":  # Dioptas's orientation unless asked otherwise
        flip_vertical = not flip_vertical
    data = np.flipud(heal) if flip_vertical else heal
    conv, text = _POLARITY[fmt]
    with atomic_path(path, protect=tuple(protect)) as tmp:
        _WRITERS[fmt](tmp, data, conv=conv, text=text, flip_vertical=flip_vertical, ignore=ignore)
    side = {"dip_heal_mask": 1, "format": fmt, "convention": conv, "polarity": text,
            "shape": list(heal.shape), "flip_vertical": bool(flip_vertical)}
    with atomic_path(sidecar_path(path)) as tmp:
        tmp.write_text(json.dumps(side, indent=1) + "\n")
    return path


def _write_npy(tmp: Path, data: np.ndarray, **_: Any) -> None:
    with open(tmp, "wb") as fh:
        np.save(fh, data)


def _write_png(tmp: Path, data: np.ndarray, **_: Any) -> None:
    from PIL import Image

    Image.fromarray(np.where(data, 0, 255).astype(np.uint8), mode="L").save(tmp, format="PNG")


def _write_edf(tmp: Path, data: np.ndarray, *, text: str, flip_vertical: bool, **_: Any) -> None:
    import fabio.edfimage

    hdr = {"masked_value": "nonzero", "dip_heal_polarity": text, "program_name": "dip-heal",
           "flip_vertical": str(bool(flip_vertical))}
    fabio.edfimage.EdfImage(data=data.astype(np.uint8), header=hdr).write(str(tmp))


def _write_tiff(tmp: Path, data: np.ndarray, *, conv: str, text: str, flip_vertical: bool, **_: Any) -> None:
    from PIL import Image

    desc = json.dumps({"dip_heal_mask": 1, "polarity": text, "convention": conv,
                       "flip_vertical": bool(flip_vertical)})
    img = Image.fromarray(data.astype(np.uint8), mode="L")
    # uncompressed: fabio's TIFF reader takes no deflate (it warns and falls back to PIL on every read)
    img.save(tmp, format="TIFF", tiffinfo={270: desc})


def _write_msk(tmp: Path, data: np.ndarray, **_: Any) -> None:
    import fabio.fit2dmaskimage

    fabio.fit2dmaskimage.Fit2dMaskImage(data=data.astype(np.uint8)).write(str(tmp))


def _write_hdf5(tmp: Path, data: np.ndarray, *, conv: str, text: str, flip_vertical: bool,
                ignore: np.ndarray | None) -> None:
    import h5py

    with h5py.File(tmp, "w") as h5:
        ds = h5.create_dataset("mask", data=data.astype(np.uint8), compression="gzip")
        ds.attrs["polarity"] = text
        ds.attrs["convention"] = conv
        ds.attrs["flip_vertical"] = bool(flip_vertical)
        if ignore is not None:
            check_mask_shape(np.asarray(ignore), data.shape, "ignore mask")
            di = h5.create_dataset("ignore", data=np.asarray(ignore, np.uint8), compression="gzip")
            di.attrs["polarity"] = "uint8: 1 = not measured, not to heal (ignore)"


_WRITERS = {"npy": _write_npy, "png": _write_png, "edf": _write_edf, "tiff": _write_tiff, "dioptas": _write_tiff,
            "msk": _write_msk, "hdf5": _write_hdf5}


def read_mask(
    path: str | os.PathLike,
    shape: tuple[int, int] | None = None,
    *,
    convention: str | None = None,
    flip_vertical: bool = False,
) -> np.ndarray:
    """Read a mask file as bool, True = pixel to heal.

    Parameters
    ----------
    path : path-like
        ``.npy`` (bool True = heal; integers: nonzero = heal), ``.png`` (0 = heal, 255 = keep; the
        red channel of colour PNGs, as SciAnalysis), ``.edf``/``.tif`` (pyFAI: nonzero =
        masked), ``.mask`` (Dioptas TIFF: 1 = masked, upside down), ``.msk`` (Fit2D, bit set =
        masked), ``.h5``/``.nxs`` (dataset ``mask``, NXmx
        ``pixel_mask`` (nonzero & 0xFFFF), or NXcanSAS ``Imask``; ``file.h5::/path`` picks one).
        A sidecar ``<file>.json`` written by dip-heal fixes the polarity and orientation.
    shape : (int, int), optional
        The frame's shape; a mask of another shape is refused (never cropped or padded).
    convention : str, optional
        Override the polarity: one of :data:`CONVENTIONS` (``"heal"``, ``"pyfai"``,
        ``"dioptas"``, ``"keep"``).
    flip_vertical : bool
        Flip the rows (files stored in Dioptas/Fit2D orientation).

    Returns
    -------
    heal : (M, N) ndarray of bool

    Raises
    ------
    DipHealError
        Missing file, unknown format or convention, not 2-D, or a shape other than ``shape``
        (naming both shapes).
    """
    p, dataset = _mask_file(path)
    if convention is not None and convention not in CONVENTIONS:
        raise DipHealError(
            f"mask convention {convention!r}; expected one of {', '.join(CONVENTIONS)}; see masks/README.md"
        )
    dioptas_file = p.suffix.lower() == ".mask"  # Dioptas: TIFF, 1 = masked, stored upside down
    fmt = "tiff" if dioptas_file else _fmt_for(p, None)
    side = _read_sidecar(p)
    if fmt == "npy":
        arr, default_conv = _read_npy(p, convention, side)
    elif fmt == "png":
        arr, default_conv = _read_png(p, convention, side)
    elif fmt in ("edf", "tiff", "msk"):
        arr, default_conv = _read_fabio(p, fmt, convention, side, dioptas_file)
    else:  # hdf5
        arr, default_conv = _read_hdf5(p, dataset, side)
    return _to_heal(arr, p, convention or default_conv, side, flip_vertical, shape)


def _mask_file(path: str | os.PathLike) -> tuple[Path, str | None]:
    """The file and the HDF5 dataset of ``file.h5::/path``; the file must exist."""
    spath = str(path)
    dataset = None
    if "::" in spath:
        spath, dataset = spath.split("::", 1)
    p = Path(spath)
    if not p.exists():
        raise DipHealError(f"no such mask file: {p}; expected an existing mask; check the path")
    if p.is_dir():
        raise DipHealError(f"mask {p} is a folder; expected a mask file; name one file")
    return p, dataset


def _read_sidecar(p: Path) -> dict[str, Any]:
    side: dict[str, Any] = {}
    if sidecar_path(p).exists():
        try:
            side = json.loads(sidecar_path(p).read_text())
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring unreadable sidecar %s", sidecar_path(p))
    return side


def _read_npy(p: Path, convention: str | None, side: dict[str, Any]) -> tuple[np.ndarray, str | None]:
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DipHealError(f"mask {p}: cannot read it as .npy ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                           "expected a bool or integer array saved with np.save; save a plain 2-D mask") from None
    if arr.dtype.kind not in "biuf":
        raise DipHealError(f"mask {p}: array of dtype {arr.dtype}; expected bool or integer values; "
                           "save a plain 2-D bool mask")
    default_conv = side.get("convention") or "heal"
    _refuse_frame_like(arr, p, convention or side.get("convention"))
    return arr, default_conv


def _read_png(p: Path, convention: str | None, side: dict[str, Any]) -> tuple[np.ndarray, str | None]:
    from PIL import Image

    with Image.open(p) as im:
        a = np.asarray(im)
    arr = a[..., 0] if a.ndim == 3 else a
    default_conv = side.get("convention") or "keep"
    _refuse_frame_like(arr, p, convention or side.get("convention"))
    if convention is None and default_conv == "keep":
        arr = arr > 127  # keep where bright (SciAnalysis threshold)
    return arr, default_conv


def _read_fabio(p: Path, fmt: str, convention: str | None, side: dict[str, Any],
                dioptas_file: bool) -> tuple[np.ndarray, str | None]:
    """EDF, TIFF (and Dioptas ``.mask``) or Fit2D ``.msk``; a dip-heal header fixes the polarity."""
    import fabio

    default_conv = side.get("convention")
    try:
        img = fabio.open(str(p))
    except Exception as exc:  # fabio raises many types for files it cannot parse
        raise DipHealError(f"mask {p}: cannot read it as {fmt} ({type(exc).__name__}); expected a mask image; "
                           "check the file") from None
    arr = np.asarray(img.data)
    hdr = {str(k): str(v) for k, v in (img.header or {}).items()}
    if not any('"convention"' in v for v in hdr.values()):
        _refuse_frame_like(arr, p, convention or side.get("convention"))
    if default_conv is None:
        for v in hdr.values():
            if '"convention"' in v:
                try:
                    default_conv = json.loads(v).get("convention")
                    side.setdefault("flip_vertical", json.loads(v).get("flip_vertical", False))
                except (json.JSONDecodeError, AttributeError):
                    pass
        if hdr.get("flip_vertical") == "True":
            side.setdefault("flip_vertical", True)
    return arr, default_conv or ("dioptas" if dioptas_file else "pyfai")


def _read_hdf5(p: Path, dataset: str | None, side: dict[str, Any]) -> tuple[np.ndarray, str | None]:
    """Dataset ``dataset``, else the first named ``mask``, ``pixel_mask`` or ``Imask``."""
    import h5py

    try:
        import hdf5plugin  # noqa: F401
    except ImportError:  # pragma: no cover
        pass
    default_conv = side.get("convention")
    with h5py.File(p, "r") as h5:
        ds = _find_mask_dataset(h5, p, dataset)
        arr = np.asarray(ds[()])
        name = ds.name.split("/")[-1]
        conv_attr = ds.attrs.get("convention")
        if isinstance(conv_attr, bytes):
            conv_attr = conv_attr.decode()
        if conv_attr:
            default_conv = str(conv_attr)
        if name == "pixel_mask":
            arr = (arr.astype(np.uint64) & 0xFFFF) != 0
            default_conv = default_conv or "pyfai"
        default_conv = default_conv or ("pyfai" if name == "Imask" else "heal")
        if ds.attrs.get("flip_vertical", False):
            side.setdefault("flip_vertical", True)
    return arr, default_conv


def _find_mask_dataset(h5: Any, p: Path, dataset: str | None) -> Any:
    if dataset:
        if dataset not in h5:
            raise DipHealError(f"{p} has no dataset {dataset}; expected an existing path; check the selector")
        return h5[dataset]
    found: list[str] = []
    h5.visititems(lambda n, o: found.append(n) if hasattr(o, "shape") else None)
    for want in ("mask", "pixel_mask", "Imask"):
        hits = [n for n in found if n.split("/")[-1] == want]
        if hits:
            return h5[hits[0]]
    raise DipHealError(
        f"{p} has no dataset named mask, pixel_mask or Imask; expected one; "
        "select it with file.h5::/path/to/mask"
    )


def _to_heal(arr: np.ndarray, p: Path, conv: str | None, side: dict[str, Any], flip_vertical: bool,
             shape: tuple[int, int] | None) -> np.ndarray:
    """The stored array as bool True = heal, in the frame's orientation, checked against ``shape``."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise DipHealError(f"mask {p} has shape {arr.shape}; expected a 2-D (M, N) mask; select one 2-D mask")
    if conv == "keep":
        heal = arr == 0
    else:
        heal = arr != 0
    if side.get("flip_vertical"):
        heal = np.flipud(heal)
    if flip_vertical or conv == "dioptas":
        heal = np.flipud(heal)
    if shape is not None:
        check_mask_shape(heal, tuple(shape), f"mask {p.name}")
    return np.ascontiguousarray(heal)


_MAX_MASK_LEVELS = 16


def _refuse_frame_like(arr: np.ndarray, path: Path, convention: str | None) -> None:
    """Refuse a "mask" with many distinct values (a detector frame given as --mask) unless its convention is given."""
    if convention is not None or arr.size == 0:
        return
    sample = np.asarray(arr).ravel()
    if sample.size > 1_000_000:
        sample = sample[:: sample.size // 1_000_000 + 1]
    levels = np.unique(sample)
    if levels.size > _MAX_MASK_LEVELS:
        raise DipHealError(
            f"mask {path} holds {levels.size} distinct values, like a detector frame, not a mask; expected a few "
            "levels (0/1, 0/255); give the mask file (dip-heal mask IMAGE), or --mask-convention to use it anyway"
        )


"""HDF5 frames (h5py + hdf5plugin): NeXus/NXmx and EIGER masters with their data blocks, NXcanSAS,
the ``file.h5::/dataset[k]`` selector, ``pixel_mask`` and ``Imask``."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..detectors import detector_name
from ..errors import DipHealError
from ..frame import Frame
from .frames import check_index, make_frame

__all__ = ["read_hdf5"]

logger = logging.getLogger(__name__)


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
    k = 0 if index is None else check_index(index, total, path)
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


def read_hdf5(path: Path, dataset: str | None, index: int | None) -> Frame:
    """One frame of an HDF5/NeXus/NXcanSAS file (``dataset`` None: found, see :func:`_choose_dataset`)."""
    h5 = _open(path)
    with h5:
        masks: dict[str, np.ndarray] = {}
        dataset, why, fmt = _choose_dataset(h5, path, dataset, masks)
        dataset, raw, k = _read_frame(h5, path, dataset, why, index)
        header = {f"{dataset}@{a}": _as_text(v) for a, v in h5[dataset].attrs.items()}
        det = None
        if fmt == "hdf5":
            det = _add_detector_info(h5, path, raw.shape, header, masks)
    if "Imask" in masks:
        _fit_imask(masks, raw.shape, k, path)
    meta = {"path": str(path), "format": fmt, "detector": det, "header": header,
            "dataset": dataset, "index": k}
    return make_frame(raw, meta, hdf5=True, masks=masks)


def _open(path: Path) -> Any:
    import h5py
    import hdf5plugin  # noqa: F401  (registers bitshuffle/LZ4 filters for EIGER data)

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        m = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        if m:
            raise DipHealError(f"{path}: the HDF5 file is truncated ({m.group(1)} bytes found, {m.group(2)} "
                               "expected); expected a complete file; copy it again (an EIGER master still being "
                               "written?)") from None
        raise DipHealError(
            f"{path}: could not open as HDF5 ({exc}); expected a readable HDF5/NeXus file; check the file"
        ) from exc


def _choose_dataset(h5: Any, path: Path, dataset: str | None,
                    masks: dict[str, np.ndarray]) -> tuple[str, str, str]:
    """(dataset, why it was chosen, format): the NXcanSAS signal, else the NeXus default, else
    ``dataset`` as selected. An NXcanSAS ``Imask`` beside it goes into ``masks``."""
    import h5py

    fmt = "hdf5"
    sasdata = _find_sasdata(h5) if dataset is None else None
    if sasdata is not None:
        sig = _attr_str(sasdata, "signal") or "I"
        dataset = sasdata[sig].name
        mask_name = _attr_str(sasdata, "mask") or "Imask"
        if mask_name in sasdata:
            masks["Imask"] = np.asarray(sasdata[mask_name][()])
        return dataset, "NXcanSAS SASdata signal", "nxcansas"
    if dataset is None:
        found = _default_signal(h5)
        if found is None:
            raise DipHealError(
                f"{path}: no 2-D image dataset found (an EIGER master without its data files?); "
                "expected an image dataset (NXdata signal or /entry/data/data); put the data files "
                "beside the master or name a dataset with path.h5::/group/dataset"
            )
        return found[0], found[1], fmt
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
    return dataset, "selected", fmt


def _read_frame(h5: Any, path: Path, dataset: str, why: str,
                index: int | None) -> tuple[str, np.ndarray, int]:
    """(dataset, frame ``index`` of it, that index); an EIGER data block counts across all blocks."""
    ds = h5[dataset]
    k_all = None
    if why != "selected" and _EIGER_BLOCK.fullmatch(dataset.rsplit("/", 1)[-1]) and ds.ndim == 3:
        # ds.parent would be the group in the linked data file: take the master's group
        dataset, index, k_all = _eiger_block(h5[dataset.rsplit("/", 1)[0] or "/"], index, path)
        ds = h5[dataset]
    if ds.ndim == 2:
        if index not in (None, 0):
            check_index(index, 1, path)
        k = 0
        raw = ds[()]
    elif ds.ndim == 3:
        k = 0 if index is None else check_index(index, ds.shape[0], path)
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
    return dataset, raw, k


def _add_detector_info(h5: Any, path: Path, shape: tuple[int, ...], header: dict[str, str],
                       masks: dict[str, np.ndarray]) -> str | None:
    """The NeXus detector's name; its header fields go into ``header``, its ``pixel_mask`` (when it
    fits the frame) into ``masks``."""
    pmask, det, det_header = _nexus_detector_info(h5)
    header.update(det_header)
    if pmask is not None:
        if pmask.ndim == 3 and pmask.shape[1:] == shape:
            pmask = pmask[0]
        if pmask.shape == shape:
            masks["pixel_mask"] = pmask
        else:
            logger.warning("%s: pixel_mask shape %s does not match the frame %s; ignored",
                           path, pmask.shape, shape)
    return det


def _fit_imask(masks: dict[str, np.ndarray], shape: tuple[int, ...], k: int, path: Path) -> None:
    """The NXcanSAS ``Imask`` of frame ``k`` as bool, or dropped (with a warning) when it does not fit."""
    im = masks["Imask"]
    if im.ndim == 3 and im.shape[1:] == shape:
        im = im[k]
    if im.shape != shape:
        logger.warning("%s: Imask shape %s does not match the frame %s; ignored",
                       path, im.shape, shape)
        masks.pop("Imask")
    else:
        masks["Imask"] = im.astype(bool)

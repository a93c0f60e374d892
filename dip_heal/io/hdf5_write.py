"""HDF5/NeXus and NXcanSAS outputs: a copy of the input file's tree with the healed frame in
place of the one it was read from, and an ``NXprocess`` group saying what healed it.

The copy keeps every group, dataset, attribute and link of the input (soft and external links
stay links; ``h5py.Group.copy`` per top-level object, root attributes too). The healed frame is
written into the copied dataset (the frame index of a stack only), so its dtype, chunks and
compression filter stay (bitshuffle-LZ4 through hdf5plugin); where the filter cannot encode,
the dataset is written again with gzip, and the log says so. A dataset reached through an
external link (an EIGER master's ``data_000001``) becomes a dataset of the output, so the
linked file is never written.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame

__all__ = ["write_hdf5_like", "PROCESS_GROUP", "HEALED_MASK"]

logger = logging.getLogger(__name__)

#: Name of the NXprocess group added to the entry that holds the frame.
PROCESS_GROUP = "dip_heal"
#: NXcanSAS: the healed pixels, beside ``Imask`` in the SASdata group.
HEALED_MASK = "I_healed_mask"


def _copy_tree(src: Any, dst: Any) -> None:
    import h5py

    for key, value in src.attrs.items():
        dst.attrs[key] = value
    for name in src:
        link = src.get(name, getlink=True)
        if isinstance(link, h5py.SoftLink):
            dst[name] = h5py.SoftLink(link.path)
        elif isinstance(link, h5py.ExternalLink):
            dst[name] = h5py.ExternalLink(link.filename, link.path)
        else:
            src.copy(src[name], dst, name=name)


def _relink(dst: Any, source_dir: Path, out_dir: Path) -> None:
    """External links with a relative file name, re-pointed from ``out_dir`` to the file they
    named beside the input (so they still resolve from the output's folder)."""
    import os

    import h5py

    fixes = []

    def visit(name: str, link: Any) -> None:
        if isinstance(link, h5py.ExternalLink) and not Path(link.filename).is_absolute():
            target = source_dir / link.filename
            if target.exists():
                fixes.append((name, os.path.relpath(target, out_dir), link.path))

    dst.visititems_links(visit)
    for name, filename, path in fixes:
        del dst[name]
        dst[name] = h5py.ExternalLink(filename, path)
        logger.debug("%s: external link %s -> %s:%s", dst.filename, name, filename, path)


def _own_dataset(dst: Any, src: Any, dataset: str) -> Any:
    """``dataset`` in ``dst`` as a dataset of ``dst`` itself (one reached through an external or
    soft link into another file is copied in, in place of the link)."""
    import h5py

    parent, name = dataset.rsplit("/", 1)
    group = dst[parent or "/"]
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.HardLink):
        ds = group[name]
        if Path(ds.file.filename).resolve() == Path(dst.filename).resolve():
            return ds
        raise DipHealError(
            f"{dataset} lies in a group linked from another file; expected the frame's dataset in the "
            "file or linked as a dataset; select the data file itself (data_000001.h5::/entry/data/data)"
        )
    if isinstance(link, h5py.SoftLink) and link.path in dst:
        ds = dst[dataset]
        if Path(ds.file.filename).resolve() == Path(dst.filename).resolve():
            return ds  # a soft link within the file: heal its target, the link stays a link
    if link is not None:  # an external link to the frame's dataset: the dataset itself instead
        del group[name]
    source = src[dataset]
    source.file.copy(source, group, name=name)  # H5Ocopy: same dtype, chunks, filters and attributes
    logger.info("%s: %s was linked from %s; written into the output", dst.filename, dataset, source.file.filename)
    return group[name]


def _write_frame(dst: Any, dataset: str, ds: Any, k: int, arr: np.ndarray) -> Any:
    """Frame ``k`` of ``ds`` (or ``ds`` if 2-D) := ``arr``; gzip where its filter cannot encode."""
    try:
        if ds.ndim == 2:
            ds[...] = arr
        else:
            ds[k] = arr
        return ds
    except (OSError, ValueError) as exc:
        logger.info("%s: cannot write %s with its filter (%s); writing it gzip-compressed instead",
                    dst.filename, dataset, exc)
    data = ds[()]
    if ds.ndim == 2:
        data = arr
    else:
        data[k] = arr
    attrs = dict(ds.attrs)
    parent, name = dataset.rsplit("/", 1)
    group = dst[parent or "/"]
    chunks = ds.chunks
    del group[name]
    new = group.create_dataset(name, data=data, chunks=chunks, compression="gzip")
    for key, value in attrs.items():
        new.attrs[key] = value
    return new


def _entry(dst: Any, dataset: str) -> Any:
    top = dataset.strip("/").split("/")[0]
    return dst[top] if top and top in dst and hasattr(dst[top], "create_group") else dst


def _add_process(dst: Any, dataset: str, k: int, provenance: dict[str, Any] | None,
                 heal: np.ndarray | None, nxcansas: bool) -> None:
    """The ``NXprocess`` group (``/entry/dip_heal``): program, version, date, config, heal mask, frame."""
    entry = _entry(dst, dataset)
    name = PROCESS_GROUP
    while name in entry:
        name += "_"
    g = entry.create_group(name)
    g.attrs["NX_class"] = "NXprocess"
    if nxcansas:
        g.attrs["canSAS_class"] = "SASprocess"
    record = dict(provenance or {})
    g["program"] = str(record.get("program", "dip-heal"))
    g["version"] = str(record.get("version", ""))
    g["date"] = str(record.get("date", datetime.now(timezone.utc).isoformat(timespec="seconds")))
    g["method"] = str(record.get("method", ""))
    g["config"] = json.dumps(record, sort_keys=True, default=str)
    g["n_healed"] = int(record.get("n_healed", int(heal.sum()) if heal is not None else 0))
    g["healed_dataset"] = dataset
    g["healed_frame_index"] = int(k)
    if record.get("heal_mask"):
        g["heal_mask_file"] = str(record["heal_mask"])
    if heal is not None:
        d = g.create_dataset("heal_mask", data=heal.astype(np.uint8), compression="gzip")
        d.attrs["long_name"] = "1 = pixel healed by dip-heal"


def write_hdf5_like(tmp: Path, arr: np.ndarray, like: Frame, *, provenance: dict[str, Any] | None = None,
                    heal: np.ndarray | None = None) -> None:
    """Write ``tmp``: ``like``'s file with ``arr`` in place of the frame ``like`` was read from.

    Parameters
    ----------
    tmp : Path
        The file to write (a temporary path of :func:`dip_heal.frame.atomic_path`).
    arr : (M, N) ndarray
        The frame, in the dataset's dtype.
    like : Frame
        A frame read from an HDF5/NeXus or NXcanSAS file (``meta`` ``path``, ``dataset``, ``index``).
    provenance : dict, optional
        Adds the ``NXprocess`` group (``/ENTRY/dip_heal``).
    heal : (M, N) ndarray of bool, optional
        The healed pixels: the NXprocess ``heal_mask``; for NXcanSAS also ``I_healed_mask`` beside
        ``Imask`` (the original ``Imask`` is kept).
    """
    import h5py
    import hdf5plugin  # noqa: F401  (bitshuffle/LZ4 filters)

    source, dataset, k = Path(like.meta["path"]), like.meta.get("dataset"), int(like.meta.get("index") or 0)
    if not dataset:
        raise DipHealError(
            f"{source}: the frame has no HDF5 dataset recorded; expected a frame from read_image; "
            "read the frame with dip_heal.read_image"
        )
    nxcansas = like.meta.get("format") == "nxcansas"
    with h5py.File(source, "r") as src, h5py.File(tmp, "w") as dst:
        _copy_tree(src, dst)
        _relink(dst, source.resolve().parent, Path(tmp).resolve().parent)
        ds = _own_dataset(dst, src, dataset)
        if ds.dtype != arr.dtype:
            arr = arr.astype(ds.dtype)
        ds = _write_frame(dst, dataset, ds, k, arr)
        if nxcansas and heal is not None:
            group = ds.parent
            name = HEALED_MASK
            while name in group:
                name += "_"
            full = np.zeros(ds.shape, bool)
            if ds.ndim == 2:
                full[...] = heal
            else:
                full[k] = heal
            m = group.create_dataset(name, data=full, compression="gzip")
            m.attrs["long_name"] = "True = pixel of I healed by dip-heal (Imask keeps the original mask)"
        if provenance is not None or heal is not None:
            _add_process(dst, dataset, k, provenance, heal, nxcansas)

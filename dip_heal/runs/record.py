"""What every run folder records: its input, the versions, JSON written atomically."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from ..frame import Frame, atomic_path

__all__ = ["versions", "write_json", "input_record"]


def versions() -> dict[str, str]:
    """Versions of dip-heal and the packages that change a result."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("dip-heal", "torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def input_record(image_path: str | os.PathLike, mask_path: str | os.PathLike | None, mask_convention: str | None,
                 frame: Frame, geometry: Any = None) -> dict[str, Any]:
    """The keys a single fit's ``config.json`` and a sweep's ``sweep.json`` share.

    ``input``, ``mask`` (absolute paths), ``mask_convention``, ``shape`` and ``versions``; with a
    ``geometry`` (a :class:`dip_heal.geometry.Geometry`), ``geometry``: the PONI's path, SHA-256
    and parameters.
    """
    out = {
        "input": str(Path(image_path).resolve()),
        "mask": str(Path(mask_path).resolve()) if mask_path is not None else None,
        "mask_convention": mask_convention,
        "shape": list(frame.shape),
        "versions": versions(),
    }
    if geometry is not None:
        out["geometry"] = geometry.record()
    return out

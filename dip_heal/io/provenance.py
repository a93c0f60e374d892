"""Provenance of a healed output: what healed it, how many pixels, where its heal mask is.

:func:`provenance` builds the record from what the caller knows; each writer in
:mod:`dip_heal.io.write` stores it in its format's own place (TIFF: a private ASCII tag; CBF: a
line of ``_array_data.header_contents``; EDF (and MarCCD, mar345 as EDF): ``dip_heal_*`` header
keys; Bruker: a line of ``TITLE``; HDF5 and
NXcanSAS: an ``NXprocess`` group; NPY: a ``.provenance.json`` file beside it).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["provenance", "provenance_json", "flat_provenance", "TIFF_PROVENANCE_TAG", "PROGRAM"]

PROGRAM = "dip-heal"
#: The private TIFF tag (ASCII) holding the provenance JSON.
TIFF_PROVENANCE_TAG = 65000


def provenance(method: str, n_healed: int, mask_path: str | os.PathLike | None = None, *,
               version: str | None = None, config: dict[str, Any] | None = None,
               geometry: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance record of one healed output.

    Parameters
    ----------
    method : str
        What healed it: a preset (``"preset default"``), a sweep pick (``"sweep pick trial 3
        iteration 50"``), a blind model (``"blind msdnet-xray-small"``).
    n_healed : int
        Number of healed pixels.
    mask_path : path-like, optional
        Where the heal mask is; its file name is recorded (it sits beside the output).
    version : str, optional
        dip-heal's version; default the installed one.
    config : dict, optional
        The configuration that produced it (stored where the format has room: HDF5's NXprocess).
    geometry : dict, optional
        The beamline geometry used (:meth:`dip_heal.geometry.Geometry.record`: the PONI's path,
        SHA-256 and parameters).

    Returns
    -------
    dict
        ``program``, ``version``, ``method``, ``n_healed``, ``heal_mask``, ``date`` (UTC, ISO 8601)
        and, if given, ``config`` and ``geometry``.

    Examples
    --------
    >>> p = provenance("preset default", 12, "run/heal_mask.npy", version="1.0")
    >>> p["heal_mask"], p["n_healed"], p["version"]
    ('heal_mask.npy', 12, '1.0')
    """
    if version is None:
        from importlib.metadata import PackageNotFoundError, version as _dist_version

        try:
            version = _dist_version("dip-heal")
        except PackageNotFoundError:
            version = "0.0.0+unknown"
    record: dict[str, Any] = {
        "program": PROGRAM,
        "version": str(version),
        "method": str(method),
        "n_healed": int(n_healed),
        "heal_mask": Path(mask_path).name if mask_path is not None else None,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if config is not None:
        record["config"] = config
    if geometry is not None:
        record["geometry"] = geometry
    return record


def provenance_json(record: dict[str, Any]) -> str:
    """The record as one line of JSON (sorted keys)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def flat_provenance(record: dict[str, Any]) -> dict[str, str]:
    """``dip_heal_<key>`` -> text, for key = value headers (EDF); no ``config``,
    no ``;``."""
    return {f"dip_heal_{k}": str(v).replace(";", ",") for k, v in record.items() if k != "config"}

"""Bruker frames written like their input (fabio's ``Bruker100Image``): the input's header, with
the provenance in a free line of ``TITLE``.

fabio cannot write MarCCD, and its mar345 (PCK) writer aborts the process on counts above about
a thousand, so MarCCD and mar345 inputs are written as EDF with their header copied
(:func:`dip_heal.io.write.output_path_like`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import DipHealError

__all__ = ["fabio_like", "provenance_line"]

logger = logging.getLogger(__name__)

_TITLE_LINES = 8
_TITLE_WIDTH = 72


def provenance_line(record: dict[str, Any]) -> str:
    """A short text form of a provenance record, for headers with little room."""
    return (f"{record.get('program', 'dip-heal')} {record.get('version')} healed {record.get('n_healed')} px "
            f"({record.get('method')}), mask {record.get('heal_mask')}, {record.get('date')}")


def _title_with(title: str, text: str) -> str:
    """``TITLE``'s lines with ``text`` in its free lines (72 characters each, 8 lines)."""
    lines = (title or "").split("\n")
    lines = (lines + [""] * _TITLE_LINES)[:_TITLE_LINES]
    chunks = [text[i:i + _TITLE_WIDTH] for i in range(0, len(text), _TITLE_WIDTH)]
    free = [i for i, line in enumerate(lines) if not line.strip()]
    if len(free) < len(chunks):
        free = list(range(_TITLE_LINES - len(chunks), _TITLE_LINES))
    for i, chunk in zip(free, chunks):
        lines[i] = chunk
    return "\n".join(lines)


def fabio_like(fmt: str, arr: np.ndarray, source: str | None, header: dict[str, str],
               provenance: dict[str, Any] | None) -> Any:
    """A fabio image of ``arr`` with ``source``'s header, ready to ``write``.

    Parameters
    ----------
    fmt : {"bruker"}
    arr : (M, N) ndarray
    source : str, optional
        The input file (its header is read again with fabio, as fabio parsed it).
    header : dict of str
        The input's header as dip-heal read it (used when ``source`` cannot be read).
    provenance : dict, optional

    Returns
    -------
    fabio.fabioimage.FabioImage
    """
    import fabio
    from fabio.bruker100image import Bruker100Image

    if fmt != "bruker":
        raise DipHealError(f"cannot write {fmt} with fabio; expected bruker; write .edf instead")
    hdr: dict[str, Any] = dict(header)
    if source is not None:
        try:
            hdr = dict(fabio.open(str(source)).header)
        except Exception as exc:  # the input went away: its header as read
            logger.warning("%s: could not read its header again (%s); using the header as first read", source, exc)
    if provenance is not None:
        from .provenance import provenance_json

        hdr["TITLE"] = _title_with(str(hdr.get("TITLE", "")), "dip-heal provenance: " + provenance_json(
            {k: v for k, v in provenance.items() if k != "config"}))
    return Bruker100Image(data=arr, header=hdr)

"""Benchmark cases: the JSON case files, parsed and checked (see :mod:`dip_heal.bench` for the protocol)."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ..errors import DipHealError
from .gaps import INVALID_RULES

__all__ = ["Case", "KINDS", "parse_case", "load_cases"]


KINDS = ("pasted", "pair")


@dataclass(frozen=True)
class Case:
    """One benchmark case, as read from a case file.

    Attributes
    ----------
    name : str
    file : str
        Frame path, relative to the data folder (or absolute).
    crop : (y0, x0, h, w) or None
        Region of the frame to heal and score; None = the whole frame.
    invalid : str
        One of :data:`INVALID_RULES`.
    seed : int
        Seed of the pasted-gap offsets.
    kind : {'pasted', 'pair'}
    file_b : str or None
        The second frame of a pair.
    shift : (dy, dx)
        Pair geometry: frame A's pixel ``(y, x)`` is frame B's ``(y - dy, x - dx)``.
    center : (x, y) or None
        Beam centre in the full frame, for ``pyfai`` and ``azimuthal``.
    poni : str or None
        pyFAI calibration file of the full frame (relative to the data folder, or to the case
        file's folder when it is there), for ``pyfai``, ``azimuthal`` and ``dip`` (the polar
        inputs and the azimuthal model).
    pixel_size : float or None
        Pixel size in metres, for ``pyfai`` without a PONI file.
    """

    name: str
    file: str
    crop: tuple[int, int, int, int] | None = None
    invalid: str = "negative"
    seed: int = 0
    kind: str = "pasted"
    file_b: str | None = None
    shift: tuple[int, int] = (0, 0)
    center: tuple[float, float] | None = None
    poni: str | None = None
    pixel_size: float | None = None


_CASE_KEYS = {"name", "file", "crop", "invalid", "seed", "kind", "file_b", "shift", "center", "poni",
              "pixel_size", "note", "comment"}


def _int_list(value: Any, n: int, what: str, name: str) -> tuple[int, ...]:
    if (not isinstance(value, (list, tuple)) or len(value) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
                       for v in value)):
        raise DipHealError(f"case {name!r}: got {what} = {value!r}; expected a list of {n} integers")
    return tuple(int(v) for v in value)


def parse_case(entry: Any, index: int = 0) -> Case:
    """Validate one case-file entry.

    Parameters
    ----------
    entry : dict
        One object of a case file.
    index : int
        Its position in the file (for messages).

    Returns
    -------
    Case

    Raises
    ------
    DipHealError
        Not an object, a missing ``name`` or ``file``, an unknown key, or a value of the wrong
        type (crop of 4 integers with positive size, a known ``invalid`` rule and ``kind``,
        ``file_b`` and ``shift`` for a pair).
    """
    if not isinstance(entry, dict):
        raise DipHealError(f"case #{index}: got a {type(entry).__name__}; expected a JSON object")
    name = entry.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise DipHealError(f"case #{index}: got name {name!r}; expected a non-empty name usable as a file name")
    unknown = sorted(set(entry) - _CASE_KEYS)
    if unknown:
        raise DipHealError(
            f"case {name!r}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(_CASE_KEYS))}"
        )
    file = entry.get("file")
    if not isinstance(file, str) or not file:
        raise DipHealError(f"case {name!r}: got file = {file!r}; expected the frame's path (relative to --data)")
    crop = entry.get("crop")
    if crop is not None:
        crop = _int_list(crop, 4, "crop", name)
        if crop[0] < 0 or crop[1] < 0 or crop[2] < 1 or crop[3] < 1:
            raise DipHealError(f"case {name!r}: got crop = {list(crop)}; expected [y0, x0, h, w] with y0, x0 >= 0 "
                               "and h, w >= 1")
    invalid = entry.get("invalid", "negative")
    if invalid not in INVALID_RULES:
        raise DipHealError(f"case {name!r}: got invalid = {invalid!r}; expected one of {', '.join(INVALID_RULES)}")
    seed = entry.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DipHealError(f"case {name!r}: got seed = {seed!r}; expected an integer >= 0")
    kind = entry.get("kind", "pasted")
    if kind not in KINDS:
        raise DipHealError(f"case {name!r}: got kind = {kind!r}; expected one of {', '.join(KINDS)}")
    file_b = entry.get("file_b")
    shift = (0, 0)
    if kind == "pair":
        if not isinstance(file_b, str) or not file_b:
            raise DipHealError(f"case {name!r}: a pair needs file_b, the second frame; got {file_b!r}")
        shift = _int_list(entry.get("shift"), 2, "shift", name)
        if shift == (0, 0):
            raise DipHealError(f"case {name!r}: got shift = [0, 0]; expected the detector shift [dy, dx] between the frames")
    center = entry.get("center")
    if center is not None:
        if (not isinstance(center, (list, tuple)) or len(center) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in center)):
            raise DipHealError(f"case {name!r}: got center = {center!r}; expected [x, y] in pixels")
        center = (float(center[0]), float(center[1]))
    poni = entry.get("poni")
    if poni is not None and (not isinstance(poni, str) or not poni):
        raise DipHealError(f"case {name!r}: got poni = {poni!r}; expected a .poni file path")
    pixel_size = entry.get("pixel_size")
    if pixel_size is not None and (isinstance(pixel_size, bool) or not isinstance(pixel_size, (int, float))
                                   or not pixel_size > 0):
        raise DipHealError(f"case {name!r}: got pixel_size = {pixel_size!r}; expected metres > 0 (e.g. 172e-6)")
    return Case(name=name, file=file, crop=crop, invalid=invalid, seed=seed, kind=kind, file_b=file_b,
                shift=shift, center=center, poni=poni, pixel_size=None if pixel_size is None else float(pixel_size))


def load_cases(path: str | os.PathLike) -> tuple[list[Case], list[tuple[str, str]]]:
    """Read a case file.

    Parameters
    ----------
    path : path-like
        A JSON list of case objects (see the module docstring).

    Returns
    -------
    cases : list of Case
        The valid entries, in file order.
    rejected : list of (name, reason)
        Entries that failed validation; the run reports and skips them.

    Raises
    ------
    DipHealError
        A missing file, invalid JSON, not a list, or two cases with one name.
    """
    p = Path(path)
    if not p.is_file():
        raise DipHealError(f"no such case file: {p}; expected a JSON list of cases (e.g. cases-dev.json)")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DipHealError(f"{p} is not valid JSON ({exc}); expected a JSON list of cases") from None
    if not isinstance(data, list):
        raise DipHealError(f"{p}: got a JSON {type(data).__name__}; expected a list of case objects")
    cases: list[Case] = []
    rejected: list[tuple[str, str]] = []
    for i, entry in enumerate(data):
        try:
            case = parse_case(entry, i)
            if case.poni is not None and not Path(case.poni).is_absolute() and (p.parent / case.poni).is_file():
                case = dataclasses.replace(case, poni=str((p.parent / case.poni).resolve()))  # beside the case file
            cases.append(case)
        except DipHealError as exc:
            name = entry.get("name", f"#{i}") if isinstance(entry, dict) else f"#{i}"
            rejected.append((str(name), str(exc)))
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DipHealError(f"{p}: case name(s) {', '.join(dup)} appear more than once; expected unique names")
    return cases, rejected

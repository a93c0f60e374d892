"""Healing-quality benchmark: cases with ground truth, classical baselines, the DIP, one table.

Protocol (Chavez et al. 2022; ``../shared/data/SOURCES.md``)
-------------------------------------------------------------
A *pasted* case takes a crop ``[y0, x0, h, w]`` of a real frame and pastes artificial module gaps
over measured pixels: 17-pixel rows every 212 + 17 = 229 pixels and 7-pixel columns every
494 + 7 = 501 pixels, their offsets drawn from the case's ``seed`` (first gap row at
``40 + U{0..211}``, first gap column at ``U{60..w-21}``, ``numpy.random.default_rng(seed)``, rows
first; this reproduces the 256 x 256 centre crops in ``ttq/``). Pixels that are not measurements
in the original (the case's ``invalid`` rule) are healed too but neither scored nor used as
truth. The score pixels are the pasted-gap pixels valid in the original.

A *pair* case (``"kind": "pair"``) takes two frames of one sample with the detector moved by a
known ``shift = [dy, dx]`` pixels: the scattering seen at pixel ``(y, x)`` of frame A is seen at
``(y - dy, x - dx)`` of frame B. A's own invalid pixels (its module gaps) are healed and scored
against B's measured values there, after a least-squares intensity scale
``s = sum(a b) / sum(b b)`` over the pixels measured in both.

Scores, in normalised log intensity: ``y = log1p(max(I, 0)) / scale`` with ``scale`` the maximum
of ``log1p(max(I, 0))`` over the known pixels of the crop; ``L1 = mean |y_hat - y_true|`` and the
Pearson ``r`` of ``y_hat`` and ``y_true``, both over the score pixels.

Case files are JSON lists of objects::

    {"name": "corkcont2", "file": "fabio_history/corkcont2_H_0089.mccd.bz2",
     "crop": [848, 890, 512, 512], "invalid": "negative", "seed": 100}

with optional ``kind`` (``pasted`` or ``pair``), ``file_b`` and ``shift`` (pairs), ``center``
(``[x, y]`` beam centre in the full frame), ``poni`` (a pyFAI calibration) and ``pixel_size``
(metres), which the ``pyfai`` method uses.

``invalid`` rules: ``negative`` = value < 0, non-finite, or >= 2**32 - 1; ``zero_is_gap`` = also
0; ``pilatus2m`` = ``negative`` plus the PILATUS 2M module-gap rows and columns (rows
``195..211 + 212 k``, columns ``487..493 + 494 k`` of the full frame).
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ._intensity import normalised_log
from .methods import CLASSICAL, heal_method
from .errors import DipHealError
from .frame import atomic_path

__all__ = [
    "Case",
    "PreparedCase",
    "MethodScore",
    "BenchResult",
    "INVALID_RULES",
    "ROW_GAP",
    "ROW_MODULE",
    "COL_GAP",
    "COL_MODULE",
    "load_cases",
    "parse_case",
    "invalid_pixels",
    "paste_gaps",
    "normalised_log",
    "l1_pearson",
    "score_healed",
    "lsq_scale",
    "prepare_case",
    "run_case",
    "run_bench",
    "write_outputs",
    "panel_figure",
    "bars_figure",
    "paste_offsets",
    "log_scale",
]

logger = logging.getLogger(__name__)

#: Pasted module gaps: rows ``ROW_GAP`` tall every ``ROW_MODULE + ROW_GAP`` rows, columns
#: ``COL_GAP`` wide every ``COL_MODULE + COL_GAP`` columns.
ROW_GAP, ROW_MODULE = 17, 212
COL_GAP, COL_MODULE = 7, 494

INVALID_RULES = ("negative", "zero_is_gap", "pilatus2m")
KINDS = ("pasted", "pair")

_SENTINEL_U32 = float(2**32 - 1)
# PILATUS 2M module layout (rows, cols): 195 x 487 modules, gaps 17 x 7
_P2M_MODULE, _P2M_GAP = (195, 487), (17, 7)


# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------


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
        Beam centre in the full frame, for ``pyfai``.
    poni : str or None
        pyFAI calibration file (relative to the data folder), for ``pyfai``.
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
            cases.append(parse_case(entry, i))
        except DipHealError as exc:
            name = entry.get("name", f"#{i}") if isinstance(entry, dict) else f"#{i}"
            rejected.append((str(name), str(exc)))
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DipHealError(f"{p}: case name(s) {', '.join(dup)} appear more than once; expected unique names")
    return cases, rejected


# --------------------------------------------------------------------------------------------
# masks: invalid pixels and pasted gaps
# --------------------------------------------------------------------------------------------


def invalid_pixels(raw: np.ndarray, rule: str, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Pixels that are not measurements under a case's ``invalid`` rule.

    Parameters
    ----------
    raw : (M, N) ndarray
        Values as stored (any dtype).
    rule : {'negative', 'zero_is_gap', 'pilatus2m'}
        ``negative``: < 0, non-finite, or >= 2**32 - 1; ``zero_is_gap``: also 0; ``pilatus2m``:
        ``negative`` plus the PILATUS 2M module-gap rows and columns.
    offset : (row, col)
        Position of ``raw[0, 0]`` in the full frame (for ``pilatus2m`` on a crop).

    Returns
    -------
    invalid : (M, N) ndarray of bool

    Raises
    ------
    DipHealError
        An unknown rule or a non-2-D array.

    Examples
    --------
    >>> invalid_pixels(np.array([[0, -1, 5], [np.nan, 2**32 - 1, 3]]), "negative").astype(int)
    array([[0, 1, 0],
           [1, 1, 0]])
    >>> invalid_pixels(np.array([[0, 1]]), "zero_is_gap").tolist()
    [[True, False]]
    """
    if rule not in INVALID_RULES:
        raise DipHealError(f"got invalid rule {rule!r}; expected one of {', '.join(INVALID_RULES)}")
    a = np.asarray(raw)
    if a.ndim != 2:
        raise DipHealError(f"got an array of shape {a.shape}; expected a 2-D frame (M, N)")
    v = a.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v < 0) | (v >= _SENTINEL_U32)
        if rule == "zero_is_gap":
            bad |= v == 0
    if rule == "pilatus2m":
        rows = np.arange(offset[0], offset[0] + a.shape[0])
        cols = np.arange(offset[1], offset[1] + a.shape[1])
        gr = (rows % (_P2M_MODULE[0] + _P2M_GAP[0])) >= _P2M_MODULE[0]
        gc = (cols % (_P2M_MODULE[1] + _P2M_GAP[1])) >= _P2M_MODULE[1]
        bad |= gr[:, None] | gc[None, :]
    return bad


def paste_offsets(shape: tuple[int, int], seed: int) -> tuple[int, int]:
    """First pasted gap row and column for a crop of ``shape`` (see the module docstring).

    Parameters
    ----------
    shape : (h, w)
    seed : int

    Returns
    -------
    (row, col) : tuple of int
    """
    rng = np.random.default_rng(seed)
    oy = int(rng.integers(40, 40 + ROW_MODULE))
    w = int(shape[1])
    ox = int(rng.integers(60, w - 20)) if w - 20 > 60 else int(rng.integers(0, COL_MODULE + COL_GAP))
    return oy, ox


def paste_gaps(shape: tuple[int, int], seed: int, *, row_gap: int = ROW_GAP, row_module: int = ROW_MODULE,
               col_gap: int = COL_GAP, col_module: int = COL_MODULE,
               offsets: tuple[int, int] | None = None) -> np.ndarray:
    """Artificial module gaps: full-width rows and full-height columns, periodic.

    Parameters
    ----------
    shape : (h, w)
    seed : int
        Draws the offsets (:func:`paste_offsets`) unless ``offsets`` is given.
    row_gap, row_module : int
        Gap rows are ``row_gap`` tall and start every ``row_module + row_gap`` rows.
    col_gap, col_module : int
        Gap columns are ``col_gap`` wide and start every ``col_module + col_gap`` columns.
    offsets : (row, col), optional
        Start of one gap row and one gap column (the pattern repeats both ways).

    Returns
    -------
    gaps : (h, w) ndarray of bool
        True = pasted gap pixel.

    Examples
    --------
    >>> g = paste_gaps((10, 12), 0, row_gap=2, row_module=3, col_gap=1, col_module=4, offsets=(1, 2))
    >>> np.flatnonzero(g.all(axis=1)).tolist(), np.flatnonzero(g.all(axis=0)).tolist()
    ([1, 2, 6, 7], [2, 7])
    """
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise DipHealError(f"got shape {shape}; expected a positive (h, w)")
    if min(row_gap, col_gap) < 0 or min(row_module, col_module) < 1:
        raise DipHealError("gap widths must be >= 0 and module sizes >= 1")
    oy, ox = offsets if offsets is not None else paste_offsets((h, w), seed)
    rows = ((np.arange(h) - oy) % (row_module + row_gap)) < row_gap
    cols = ((np.arange(w) - ox) % (col_module + col_gap)) < col_gap
    return rows[:, None] | cols[None, :]


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def log_scale(image: np.ndarray, known: np.ndarray) -> float:
    """``max(log1p(max(I, 0)))`` over the known pixels (1 when that is 0 or there are none)."""
    k = np.asarray(known, bool)
    if not k.any():
        return 1.0
    s = float(normalised_log(np.asarray(image)[k], 1.0).max())
    return s if s > 0 else 1.0


def l1_pearson(y_hat: np.ndarray, y_true: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Mean absolute error and Pearson correlation over ``mask``.

    Parameters
    ----------
    y_hat, y_true : (M, N) ndarray
    mask : (M, N) ndarray of bool
        The pixels to score.

    Returns
    -------
    l1 : float
    r : float
        NaN when either side is constant on ``mask``.

    Raises
    ------
    DipHealError
        Shapes differ or ``mask`` selects no pixel.

    Examples
    --------
    >>> l1, r = l1_pearson(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 5.0]), np.array([True] * 3))
    >>> round(l1, 6), round(r, 6)
    (0.666667, 0.981981)
    """
    a = np.asarray(y_hat, dtype=np.float64)
    b = np.asarray(y_true, dtype=np.float64)
    m = np.asarray(mask, bool)
    if a.shape != b.shape or a.shape != m.shape:
        raise DipHealError(f"shapes {a.shape}, {b.shape}, {m.shape} differ; expected one shape for prediction, "
                           "truth and score mask")
    if not m.any():
        raise DipHealError("the score mask selects no pixel; expected pasted-gap pixels to score")
    a, b = a[m], b[m]
    l1 = float(np.mean(np.abs(a - b)))
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(np.sum(da * da)) * float(np.sum(db * db)))
    r = float(np.sum(da * db) / den) if den > 0 else float("nan")
    return l1, r


def score_healed(healed: np.ndarray, truth: np.ndarray, score: np.ndarray, scale: float) -> tuple[float, float]:
    """L1 and Pearson r of healed vs. truth in normalised log intensity over ``score``.

    Parameters
    ----------
    healed, truth : (M, N) ndarray
        Intensities (counts).
    score : (M, N) ndarray of bool
    scale : float
        The case's normalisation (:func:`log_scale` of the input's known pixels).

    Returns
    -------
    l1, r : float
    """
    return l1_pearson(normalised_log(healed, scale), normalised_log(truth, scale), score)


def lsq_scale(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Least-squares factor ``s`` minimising ``||a - s b||`` over ``mask``.

    Examples
    --------
    >>> lsq_scale(np.array([2.0, 4.0]), np.array([1.0, 2.0]), np.array([True, True]))
    2.0
    """
    m = np.asarray(mask, bool)
    av = np.asarray(a, np.float64)[m]
    bv = np.asarray(b, np.float64)[m]
    den = float(np.sum(bv * bv))
    if not m.any() or den <= 0:
        raise DipHealError("no overlapping measured pixels with signal between the two frames of the pair; "
                           "expected overlap; check shift and crop")
    return float(np.sum(av * bv)) / den


# --------------------------------------------------------------------------------------------
# preparing a case
# --------------------------------------------------------------------------------------------


@dataclass
class PreparedCase:
    """A case ready to heal and score.

    Attributes
    ----------
    case : Case
    image : (h, w) ndarray of float64
        The input the methods get: the crop with every pixel to heal set to 0.
    heal : (h, w) ndarray of bool
        Pixels to heal: pasted gaps plus the crop's invalid pixels (pairs: A's invalid pixels).
    score : (h, w) ndarray of bool
        Pixels scored.
    truth : (h, w) ndarray of float64
        Ground truth on ``score`` (elsewhere the original crop, for display).
    scale : float
        Normalisation of the scores (from ``image``'s known pixels).
    offset : (row, col)
        The crop's corner in the full frame.
    full_shape : (M, N)
        The full frame's shape.
    pair_scale : float or None
        The least-squares intensity factor applied to frame B (pairs).
    """

    case: Case
    image: np.ndarray
    heal: np.ndarray
    score: np.ndarray
    truth: np.ndarray
    scale: float
    offset: tuple[int, int]
    full_shape: tuple[int, int]
    pair_scale: float | None = None


def _read_raw(path: Path) -> np.ndarray:
    """The frame's values as stored (via :func:`dip_heal.io.read_image`)."""
    if not path.is_file():
        raise DipHealError(f"no such file: {path}; expected an existing frame; check --data and the case's file")
    from .io import read_image

    return np.asarray(read_image(path).raw)


def _resolve(data_dir: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else data_dir / p


def _crop_box(case: Case, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    if case.crop is None:
        return 0, 0, int(shape[0]), int(shape[1])
    y0, x0, h, w = case.crop
    if y0 + h > shape[0] or x0 + w > shape[1]:
        raise DipHealError(
            f"case {case.name!r}: crop [{y0}, {x0}, {h}, {w}] exceeds the frame {tuple(shape)}; "
            "expected y0 + h <= rows and x0 + w <= columns"
        )
    return y0, x0, h, w


def prepare_case(case: Case, data_dir: str | os.PathLike) -> PreparedCase:
    """Read a case's frame(s), crop, build the heal and score masks and the truth.

    Parameters
    ----------
    case : Case
    data_dir : path-like
        Folder the case's relative paths start from.

    Returns
    -------
    PreparedCase

    Raises
    ------
    DipHealError
        A missing or unreadable file, a crop that exceeds the frame, two pair frames of
        different shapes, or no pixel to score.
    """
    data_dir = Path(data_dir)
    raw = _read_raw(_resolve(data_dir, case.file))
    if raw.ndim != 2:
        raise DipHealError(f"case {case.name!r}: got a frame of shape {raw.shape}; expected a 2-D frame")
    y0, x0, h, w = _crop_box(case, raw.shape)
    crop = raw[y0:y0 + h, x0:x0 + w]
    invalid = invalid_pixels(crop, case.invalid, (y0, x0))
    values = crop.astype(np.float64)
    pair_scale = None
    if case.kind == "pasted":
        gaps = paste_gaps((h, w), case.seed)
        heal = gaps | invalid
        score = gaps & ~invalid
        truth = np.where(invalid, 0.0, values)
    else:
        raw_b = _read_raw(_resolve(data_dir, case.file_b or ""))
        if raw_b.shape != raw.shape:
            raise DipHealError(f"case {case.name!r}: frames of shapes {raw.shape} and {raw_b.shape}; "
                               "expected two frames of one detector")
        dy, dx = case.shift
        b_vals = np.zeros((h, w))
        b_ok = np.zeros((h, w), bool)
        # A (y, x) <-> B (y - dy, x - dx)
        ys, xs = np.arange(y0, y0 + h) - dy, np.arange(x0, x0 + w) - dx
        iy = (ys >= 0) & (ys < raw_b.shape[0])
        ix = (xs >= 0) & (xs < raw_b.shape[1])
        if iy.any() and ix.any():
            ry, rx = ys[iy], xs[ix]
            sub = raw_b[ry.min():ry.max() + 1, rx.min():rx.max() + 1]
            sub_inv = invalid_pixels(sub, case.invalid, (int(ry.min()), int(rx.min())))
            b_vals[np.ix_(iy, ix)] = sub.astype(np.float64)
            b_ok[np.ix_(iy, ix)] = ~sub_inv
        heal = invalid
        both = ~invalid & b_ok
        pair_scale = lsq_scale(values, b_vals, both)
        score = heal & b_ok
        truth = np.where(score, pair_scale * b_vals, np.where(invalid, 0.0, values))
        logger.info("case %s: pair scale %.4g over %d pixels", case.name, pair_scale, int(both.sum()))
    if not score.any():
        raise DipHealError(f"case {case.name!r}: no pixel to score (no pasted gap or overlap on valid pixels); "
                           "expected a larger crop or another seed/shift")
    if heal.all():
        raise DipHealError(f"case {case.name!r}: every pixel of the crop is to heal; expected measured pixels")
    image = np.where(heal, 0.0, values)
    scale = log_scale(image, ~heal)
    return PreparedCase(case=case, image=image, heal=heal, score=score, truth=truth, scale=scale,
                        offset=(y0, x0), full_shape=(int(raw.shape[0]), int(raw.shape[1])), pair_scale=pair_scale)


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------


@dataclass
class MethodScore:
    """One method on one case."""

    case: str
    method: str
    l1: float = float("nan")
    r: float = float("nan")
    seconds: float = float("nan")
    n_scored: int = 0
    iterations: int | None = None
    snapshot: int | None = None
    label: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BenchResult:
    """Scores of every method on every case, plus the cases that were skipped."""

    methods: list[str]
    cases: list[str]
    scores: list[MethodScore] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def get(self, case: str, method: str) -> MethodScore | None:
        for s in self.scores:
            if s.case == case and s.method == method:
                return s
        return None

    def mean(self, method: str) -> tuple[float, float, float, int]:
        """Mean L1, r and seconds of ``method`` over the cases it healed, and their count."""
        ok = [s for s in self.scores if s.method == method and s.ok]
        if not ok:
            return float("nan"), float("nan"), float("nan"), 0
        return (float(np.mean([s.l1 for s in ok])), float(np.nanmean([s.r for s in ok])),
                float(np.mean([s.seconds for s in ok])), len(ok))

    def failures(self) -> dict[str, tuple[int, str]]:
        """Methods that failed on some case: ``{method: (cases failed, first error)}``."""
        out: dict[str, tuple[int, str]] = {}
        for s in self.scores:
            if not s.ok:
                n, first = out.get(s.method, (0, s.error or ""))
                out[s.method] = (n + 1, first)
        return out

    def label(self, method: str) -> str:
        """Row label: the method, with the iteration budget of iterative methods."""
        for s in self.scores:
            if s.method == method and s.ok and s.label:
                return s.label
        return method

    def to_markdown(self) -> str:
        """The Markdown table: L1 x 1e-3 / Pearson r per case and mean, then seconds per case."""
        return _markdown(self)

    def to_csv(self) -> str:
        """Long-format CSV, one row per case and method, plus one ``mean`` row per method."""
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["case", "method", "l1_e3", "r", "seconds", "iterations", "snapshot", "n_scored", "status"])
        for s in self.scores:
            wr.writerow([s.case, s.method, _num(s.l1 * 1e3, 4), _num(s.r, 5), _num(s.seconds, 3),
                         "" if s.iterations is None else s.iterations, "" if s.snapshot is None else s.snapshot,
                         s.n_scored, "ok" if s.ok else f"error: {s.error}"])
        for m in self.methods:
            l1, r, sec, n = self.mean(m)
            wr.writerow(["mean", m, _num(l1 * 1e3, 4), _num(r, 5), _num(sec, 3), "", "", "",
                         f"ok ({n}/{len(self.cases)} cases)"])
        for name, reason in self.skipped:
            wr.writerow([name, "", "", "", "", "", "", "", f"skipped: {reason}"])
        return buf.getvalue()


def _num(v: float, nd: int) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def _markdown(res: BenchResult) -> str:
    cases = res.cases
    head = ["method", *cases, "mean"]
    lines = [
        "L1 x 1e-3 / Pearson r in normalised log intensity on the pasted-gap pixels (lower L1, higher r "
        "is better):",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for m in res.methods:
        cells = [res.label(m)]
        for c in cases:
            s = res.get(c, m)
            cells.append("–" if s is None else (f"{s.l1 * 1e3:.2f} / {s.r:.4f}" if s.ok else "failed"))
        l1, r, _, n = res.mean(m)
        mean = f"{l1 * 1e3:.2f} / {r:.4f}" if n else "–"
        if n and n < len(cases):
            mean += f" ({n}/{len(cases)})"
        cells.append(mean)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Wall time per case in seconds (this machine; for iterative methods the iterations run "
              "and, when it differs, the iteration of the snapshot kept):", "",
              "| " + " | ".join(["method", *cases, "total"]) + " |", "|" + "---|" * (len(cases) + 2)]
    for m in res.methods:
        cells = [res.label(m)]
        total = 0.0
        for c in cases:
            s = res.get(c, m)
            if s is None or not s.ok:
                cells.append("–")
                continue
            total += s.seconds
            txt = f"{s.seconds:.2f}"
            if s.iterations is not None:
                txt += f" ({s.iterations} it"
                if s.snapshot is not None and s.snapshot != s.iterations:
                    txt += f", kept {s.snapshot}"
                txt += ")"
            cells.append(txt)
        cells.append(f"{total:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    failed = [s for s in res.scores if not s.ok]
    if failed or res.skipped:
        lines += [""]
        for s in failed:
            lines.append(f"- {s.method} failed on {s.case}: {s.error}")
        for name, reason in res.skipped:
            lines.append(f"- case {name} skipped: {reason}")
    return "\n".join(lines) + "\n"


def _method_opts(method: str, func: Callable[..., np.ndarray], prep: PreparedCase, data_dir: Path,
                 opts: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Keyword options for one call: the user's, the case's geometry for pyfai, an info dict."""
    base = method.partition(":")[0]
    kw: dict[str, Any] = dict(opts.get(base, {}))
    kw.update(opts.get(method, {}))
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params = {}
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    case = prep.case
    if base == "pyfai":
        kw.setdefault("offset", prep.offset)
        if case.poni is not None:
            kw.setdefault("poni", str(_resolve(data_dir, case.poni)))
        if case.center is not None:
            kw.setdefault("center", case.center)
        if case.pixel_size is not None:
            kw.setdefault("pixel_size", case.pixel_size)
    info: dict[str, Any] | None = None
    if "info" in params or accepts_any:
        info = {}
        kw["info"] = info
    if not accepts_any:
        kw = {k: v for k, v in kw.items() if k in params}
    return kw, info


def run_case(prep: PreparedCase, methods: Sequence[str], *, data_dir: str | os.PathLike = ".",
             method_opts: dict[str, dict[str, Any]] | None = None) -> tuple[list[MethodScore], dict[str, np.ndarray]]:
    """Heal one prepared case with every method and score it.

    Parameters
    ----------
    prep : PreparedCase
    methods : sequence of str
        Registry names (``name`` or ``name:arg``).
    data_dir : path-like
        Folder of the case's relative paths (PONI files).
    method_opts : dict, optional
        Extra keyword options per method name (or base name), e.g. ``{"dip": {"num_iter": 500}}``.

    Returns
    -------
    scores : list of MethodScore
    healed : dict of str to (h, w) ndarray of float32
        Every successful method's output.
    """
    opts = method_opts or {}
    scores: list[MethodScore] = []
    healed: dict[str, np.ndarray] = {}
    n = int(prep.score.sum())
    for m in methods:
        func = heal_method(m)
        kw, info = _method_opts(m, func, prep, Path(data_dir), opts)
        t0 = time.perf_counter()
        try:
            out = np.asarray(func(prep.image.copy(), prep.heal.copy(), **kw), dtype=np.float32)
            seconds = time.perf_counter() - t0
            if out.shape != prep.image.shape:
                raise DipHealError(f"method returned shape {out.shape}; expected {prep.image.shape}")
            l1, r = score_healed(out, prep.truth, prep.score, prep.scale)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one failing method must not stop the benchmark
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            logger.warning("case %s: method %s failed: %s", prep.case.name, m, msg)
            logger.debug("traceback", exc_info=True)
            scores.append(MethodScore(prep.case.name, m, error=msg, n_scored=n))
            continue
        iterations = snapshot = None
        label = None
        if info:
            iterations = info.get("iterations")
            snapshot = info.get("snapshot")
            if "seconds" in info:
                seconds = float(info["seconds"])
            budget = info.get("num_iter", iterations)
            if budget is not None:
                label = f"{m} ({info.get('preset', 'default')}, {budget} it)"
        healed[m] = out
        scores.append(MethodScore(prep.case.name, m, l1=l1, r=r, seconds=seconds, n_scored=n,
                                  iterations=iterations, snapshot=snapshot, label=label))
        logger.info("case %s: %s L1 %.2fe-3 r %.4f in %.2f s", prep.case.name, m, l1 * 1e3, r, seconds)
    return scores, healed


def _check_method_arg(method: str) -> None:
    """Refuse, before any work, a method argument that names a missing file or folder."""
    base, sep, arg = method.partition(":")
    if not sep or not arg:
        return
    if base == "blind" and not (Path(arg) / "card.json").is_file():
        raise DipHealError(f"--methods {method}: {arg} is not a model folder (no card.json); expected a folder "
                           "written by dip-heal train; check the path")
    if base == "dip" and (arg.endswith(".json") or "/" in arg or os.sep in arg) and not Path(arg).exists():
        raise DipHealError(f"--methods {method}: no such config file or sweep folder {arg}; expected a FitConfig "
                           "JSON, a sweep run folder or a preset name; check the path")


def run_bench(cases: str | os.PathLike | Sequence[Case], data_dir: str | os.PathLike,
              methods: Sequence[str] = CLASSICAL, *, out: str | os.PathLike | None = None,
              method_opts: dict[str, dict[str, Any]] | None = None, panels: bool = True) -> BenchResult:
    """Run the benchmark: every method on every case; write the report when ``out`` is given.

    Parameters
    ----------
    cases : path-like or sequence of Case
        A case file or parsed cases.
    data_dir : path-like
        Folder the cases' file paths start from.
    methods : sequence of str
        Registry names; default the classical methods.
    out : path-like, optional
        Folder for ``table.md``, ``results.csv``, ``bars.png`` and ``panels/<case>.png``
        (written atomically; panels as each case finishes).
    method_opts : dict, optional
        Extra keyword options per method (e.g. ``{"dip": {"num_iter": 500}}``).
    panels : bool
        Write the difference-map panels (needs ``out``).

    Returns
    -------
    BenchResult

    Raises
    ------
    DipHealError
        An unknown method (the message lists the known ones), a missing data folder or an
        unreadable case file. A case whose file is missing or whose crop exceeds the frame is
        reported in the result and skipped.
    """
    methods = list(dict.fromkeys(str(m).strip() for m in methods if str(m).strip()))
    if not methods:
        raise DipHealError("no method given; expected at least one, e.g. biharmonic,ns,telea,pyfai")
    for m in methods:
        heal_method(m)  # unknown names fail before any work
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise DipHealError(f"--out {out} is a file; expected a folder for the bench's table and figures; "
                           "choose another --out")
    for m in methods:
        _check_method_arg(m)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DipHealError(f"data folder {data_dir} does not exist; expected the folder of the case files' frames")
    rejected: list[tuple[str, str]] = []
    if isinstance(cases, (str, os.PathLike)):
        case_list, rejected = load_cases(cases)
    else:
        case_list = list(cases)
    result = BenchResult(methods=methods, cases=[], skipped=list(rejected))
    for name, reason in rejected:
        logger.warning("case %s skipped: %s", name, reason)
    for case in case_list:
        try:
            prep = prepare_case(case, data_dir)
        except Exception as exc:  # an unreadable case is reported and skipped; the run goes on
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if not isinstance(exc, (DipHealError, OSError)):
                msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
            logger.warning("case %s skipped: %s", case.name, msg)
            result.skipped.append((case.name, msg))
            continue
        logger.info("case %s: %dx%d, %d pixels to heal, %d scored", case.name, *prep.image.shape,
                    int(prep.heal.sum()), int(prep.score.sum()))
        scores, healed = run_case(prep, methods, data_dir=data_dir, method_opts=method_opts)
        result.cases.append(case.name)
        result.scores.extend(scores)
        if out is not None and panels and healed:
            fig = panel_figure(prep, healed)
            _save_figure(fig, Path(out) / "panels" / f"{case.name}.png")
    if not result.cases:  # before anything is written: no table for a bench that did not run
        where = f"{cases}: " if isinstance(cases, (str, os.PathLike)) else ""
        raise DipHealError(
            f"{where}no case could be run ({len(result.skipped)} skipped: "
            + "; ".join(f"{n}: {r}" for n, r in result.skipped[:3]) + "); check the case file and --data"
        )
    if out is not None:
        write_outputs(result, out)
    return result


# --------------------------------------------------------------------------------------------
# figures and files
# --------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig: Any, path: Path) -> None:
    plt = _pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=fig.dpi, format="png")
    finally:
        plt.close(fig)


def panel_figure(prep: PreparedCase, healed: dict[str, np.ndarray], *, max_side: int = 512) -> Any:
    """Difference-map panel of one case (as Chavez et al. 2022, Fig. 8).

    Top row: the ground truth (input with the truth in the score pixels), then each method's
    healed image, in normalised log intensity with one colour scale. Bottom row: the input (holes
    blank), then ``|y_hat - y_true|`` of each method on the score pixels with one shared colour
    scale.

    Parameters
    ----------
    prep : PreparedCase
    healed : dict of str to (h, w) ndarray
        Method name -> healed image in counts.
    max_side : int
        Larger crops are shown subsampled to about this many pixels a side.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    plt = _pyplot()
    names = list(healed)
    k = max(1, int(np.ceil(max(prep.image.shape) / max_side)))
    sl = (slice(None, None, k), slice(None, None, k))
    y_true = normalised_log(prep.truth, prep.scale)
    truth_img = np.where(prep.score | ~prep.heal, y_true, np.nan)
    diffs = {m: np.where(prep.score, np.abs(normalised_log(h, prep.scale) - y_true), np.nan) for m, h in healed.items()}
    stack = np.concatenate([d[prep.score] for d in diffs.values()]) if diffs else np.zeros(1)
    dmax = float(np.nanpercentile(stack, 99)) if stack.size else 1.0
    dmax = dmax if dmax > 0 else 1.0
    ncol = len(names) + 1
    fig, axes = plt.subplots(2, ncol, figsize=(2.6 * ncol, 5.6), squeeze=False, dpi=100)
    kw = dict(cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[0, 0].imshow(truth_img[sl], **kw)
    axes[0, 0].set_title("ground truth", fontsize=9)
    axes[1, 0].imshow(np.where(prep.heal, np.nan, y_true)[sl], **kw)
    axes[1, 0].set_title("input", fontsize=9)
    im_d = None
    for j, m in enumerate(names, start=1):
        axes[0, j].imshow(normalised_log(healed[m], prep.scale)[sl], **kw)
        axes[0, j].set_title(m, fontsize=9)
        im_d = axes[1, j].imshow(diffs[m][sl], cmap="magma", vmin=0.0, vmax=dmax, interpolation="nearest")
        l1 = float(np.nanmean(diffs[m][prep.score]))
        axes[1, j].set_title(f"|diff|  L1 {l1 * 1e3:.1f}e-3", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if im_d is not None:
        fig.colorbar(im_d, ax=list(axes[1, 1:]), fraction=0.02, pad=0.01, label="|y_hat - y_true|")
    fig.suptitle(f"{prep.case.name}: normalised log intensity, {int(prep.score.sum())} scored pixels", fontsize=10)
    return fig


def bars_figure(result: BenchResult) -> Any:
    """Grouped bars: L1 (log axis) and Pearson r per case and method, plus the mean.

    Parameters
    ----------
    result : BenchResult

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    plt = _pyplot()
    groups = [*result.cases, "mean"]
    n_m = max(1, len(result.methods))
    width = 0.8 / n_m
    x = np.arange(len(groups))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, 1.1 * len(groups) + 2), 6.5), sharex=True, dpi=100)
    for i, m in enumerate(result.methods):
        l1s, rs = [], []
        for c in result.cases:
            s = result.get(c, m)
            l1s.append(s.l1 * 1e3 if s is not None and s.ok else np.nan)
            rs.append(s.r if s is not None and s.ok else np.nan)
        ml1, mr, _, _ = result.mean(m)
        l1s.append(ml1 * 1e3)
        rs.append(mr)
        pos = x - 0.4 + width * (i + 0.5)
        ax1.bar(pos, l1s, width, label=result.label(m))
        ax2.bar(pos, rs, width)
    ax1.set_yscale("log")
    ax1.set_ylabel("L1 x 1e-3 (lower is better)")
    ax2.set_ylabel("Pearson r (higher is better)")
    ax2.set_ylim(min(0.0, float(np.nanmin([s.r for s in result.scores if s.ok] or [0.0]))), 1.0)
    ax2.set_xticks(x)
    ax2.set_xticklabels(groups, rotation=30, ha="right")
    ax1.legend(fontsize=8, ncol=min(3, n_m))
    ax1.set_title("Healing quality on the benchmark cases (normalised log intensity)")
    fig.tight_layout()
    return fig


def write_outputs(result: BenchResult, out: str | os.PathLike) -> dict[str, Path]:
    """Write ``table.md``, ``results.csv`` and ``bars.png`` into ``out`` (atomically).

    Parameters
    ----------
    result : BenchResult
    out : path-like
        Output folder (created).

    Returns
    -------
    paths : dict of str to Path
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "table.md", "csv": out / "results.csv", "bars": out / "bars.png"}
    with atomic_path(paths["table"]) as tmp:
        tmp.write_text(result.to_markdown())
    with atomic_path(paths["csv"]) as tmp:
        tmp.write_text(result.to_csv())
    if result.scores:
        _save_figure(bars_figure(result), paths["bars"])
    else:
        paths.pop("bars")
    return paths

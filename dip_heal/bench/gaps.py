"""Pasted module gaps and the invalid-pixel rules of the benchmark's frames."""

from __future__ import annotations


import numpy as np

from ..errors import DipHealError

__all__ = ["INVALID_RULES", "ROW_GAP", "ROW_MODULE", "COL_GAP", "COL_MODULE", "invalid_pixels", "paste_offsets",
           "paste_gaps"]


#: Pasted module gaps: rows ``ROW_GAP`` tall every ``ROW_MODULE + ROW_GAP`` rows, columns
#: ``COL_GAP`` wide every ``COL_MODULE + COL_GAP`` columns.
ROW_GAP, ROW_MODULE = 17, 212
COL_GAP, COL_MODULE = 7, 494

INVALID_RULES = ("negative", "zero_is_gap", "pilatus2m", "pilatus1m")

_SENTINEL_U32 = float(2**32 - 1)
# PILATUS 2M and 1M module layout (rows, cols): 195 x 487 modules, gaps 17 x 7 (the 1M: 5 x 2 modules,
# 1043 x 981, its gap rows 195..211 + 212 k and gap columns 487..493 as the 2M's)
_P2M_MODULE, _P2M_GAP = (195, 487), (17, 7)


def invalid_pixels(raw: np.ndarray, rule: str, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Pixels that are not measurements under a case's ``invalid`` rule.

    Parameters
    ----------
    raw : (M, N) ndarray
        Values as stored (any dtype).
    rule : {'negative', 'zero_is_gap', 'pilatus2m', 'pilatus1m'}
        ``negative``: < 0, non-finite, or >= 2**32 - 1; ``zero_is_gap``: also 0; ``pilatus2m``,
        ``pilatus1m``: ``negative`` plus the PILATUS 2M (1M) module-gap rows and columns, whatever
        they hold (a frame whose gap rows hold counts of unknown origin never scores them).
    offset : (row, col)
        Position of ``raw[0, 0]`` in the full frame (for ``pilatus2m`` and ``pilatus1m`` on a crop).

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
    if rule in ("pilatus2m", "pilatus1m"):
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

"""Run a network over a frame of any size in overlapping tiles, blending overlaps by weight.

Tiles are cut with :func:`torch.nn.functional.unfold` on a regular grid (the frame is padded at
the bottom and right so the grid covers it), the network runs on batches of tiles, and the
outputs are put back with :func:`torch.nn.functional.fold`, each tile multiplied by a taper that
falls linearly over the overlap; dividing by the folded taper gives the weighted average of all
tiles covering a pixel. For an identity model the result is the input (to rounding).

:func:`predict_holes` runs the network only where there are holes: on rectangles around them
(:func:`hole_regions`: bands along rows and columns that are mostly holes, such as module gaps,
and boxes around the other holes, each with ``context`` measured pixels on every side), each
tiled as above, and keeps each rectangle's output on the holes at least ``context`` pixels from
its cut edges.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DipHealError

__all__ = ["tile_grid", "taper", "predict_tiled", "hole_regions", "predict_holes"]


def tile_grid(size: int, tile: int, overlap: int) -> tuple[int, int, int]:
    """Tile length, stride and padded length covering ``size`` pixels along one axis.

    The number of tiles is the fewest of length ``tile`` that cover ``size`` with ``overlap``;
    the tiles are then shortened as far as that number still covers the axis, so little work
    is spent on padding.

    Parameters
    ----------
    size : int
        Pixels along the axis.
    tile : int
        Largest tile length (shrunk to ``size`` when larger).
    overlap : int
        Overlap between neighbouring tiles, ``0 <= overlap < tile``.

    Returns
    -------
    tile, stride, padded : int

    Examples
    --------
    >>> tile_grid(37, 16, 4)
    (15, 11, 37)
    >>> tile_grid(9, 16, 4)
    (9, 5, 9)
    >>> tile_grid(1043, 256, 32)
    (235, 203, 1047)
    """
    if tile < 1 or overlap < 0:
        raise DipHealError(f"tile {tile}, overlap {overlap}; expected tile >= 1 and overlap >= 0")
    t = min(int(tile), int(size))
    ov = min(int(overlap), t - 1)
    n = max(1, -(-(size - t) // (t - ov)) + 1)
    t = max(ov + 1, -(-(size + (n - 1) * ov) // n))
    stride = t - ov
    return t, stride, (n - 1) * stride + t


def taper(length: int, overlap: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """1-D blending weights: 1 in the middle, falling linearly to ``1/(overlap+1)`` at both ends.

    Examples
    --------
    >>> taper(6, 2).tolist()
    [0.3333333432674408, 0.6666666865348816, 1.0, 1.0, 0.6666666865348816, 0.3333333432674408]
    """
    i = torch.arange(length, dtype=torch.float64)
    ramp = torch.minimum(i + 1, length - i) / (overlap + 1)
    return ramp.clamp(max=1.0).to(dtype)


def predict_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    tile: int | tuple[int, int] = 256,
    overlap: int = 32,
    batch: int = 8,
    out_channels: int | None = None,
) -> torch.Tensor:
    """Apply ``fn`` to overlapping tiles of ``x`` and stitch the outputs.

    Parameters
    ----------
    fn : callable
        Maps ``(B, C, th, tw)`` to ``(B, C_out, th, tw)`` (a network in eval mode).
    x : (C, H, W) tensor
        The input frame (channels first).
    tile : int or (int, int)
        Tile height and width (each shrunk to the frame when larger).
    overlap : int
        Pixels shared by neighbouring tiles; their outputs are averaged with a linear taper.
    batch : int
        Tiles per call of ``fn``.
    out_channels : int, optional
        ``C_out``; found from the first batch when omitted.

    Returns
    -------
    (C_out, H, W) tensor
        On ``x``'s device and dtype.

    Raises
    ------
    DipHealError
        For a non-3-D input or a bad tile, overlap or batch.
    """
    if x.ndim != 3:
        raise DipHealError(f"got a tensor of shape {tuple(x.shape)}; expected (C, H, W) for tiled prediction")
    if batch < 1:
        raise DipHealError(f"batch {batch}; expected at least 1 tile per batch")
    th_req, tw_req = (tile, tile) if isinstance(tile, int) else tile
    c, h, w = x.shape
    th, sh, hp = tile_grid(h, th_req, overlap)
    tw, sw, wp = tile_grid(w, tw_req, overlap)
    xp = F.pad(x[None], (0, wp - w, 0, hp - h), mode="replicate") if (hp > h or wp > w) else x[None]
    cols = F.unfold(xp, kernel_size=(th, tw), stride=(sh, sw))  # (1, C*th*tw, L)
    n_tiles = cols.shape[-1]
    tiles = cols[0].T.reshape(n_tiles, c, th, tw)
    weight = (taper(th, th - sh, dtype=x.dtype)[:, None] * taper(tw, tw - sw, dtype=x.dtype)[None, :]).to(x.device)
    outs = []
    for i in range(0, n_tiles, batch):
        y = fn(tiles[i : i + batch])
        if y.shape[-2:] != (th, tw) or y.shape[0] != tiles[i : i + batch].shape[0]:
            raise DipHealError(
                f"the model returned {tuple(y.shape)} for tiles {tuple(tiles[i:i + batch].shape)}; "
                "expected the same batch and tile size"
            )
        outs.append((y * weight).to(x.dtype))
    out = torch.cat(outs, 0)
    co = out.shape[1] if out_channels is None else out_channels
    num = F.fold(out.reshape(n_tiles, co * th * tw).T[None], (hp, wp), kernel_size=(th, tw), stride=(sh, sw))
    wcols = weight.reshape(1, th * tw, 1).expand(1, th * tw, n_tiles)
    den = F.fold(wcols, (hp, wp), kernel_size=(th, tw), stride=(sh, sw))
    return (num / den)[0, :, :h, :w]


Box = tuple[int, int, int, int]


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True in a 1-D bool array."""
    d = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _merge(boxes: list[Box]) -> list[Box]:
    """Union overlapping boxes ``(r0, r1, c0, c1)`` until none overlap."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        out: list[Box] = []
        for b in boxes:
            for k, o in enumerate(out):
                if b[0] < o[1] and o[0] < b[1] and b[2] < o[3] and o[2] < b[3]:
                    out[k] = (min(b[0], o[0]), max(b[1], o[1]), min(b[2], o[2]), max(b[3], o[3]))
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return boxes


def hole_regions(heal: np.ndarray, context: int, *, line_fraction: float = 0.5, max_boxes: int = 256,
                 max_area: float = 0.8) -> list[Box] | None:
    """Rectangles ``(r0, r1, c0, c1)`` that hold every hole with ``context`` pixels around it.

    Rows in which at least ``line_fraction`` of the pixels are holes (a horizontal module gap, a
    dead row) make full-width bands, columns likewise full-height bands, and the other holes
    (a beamstop, dead pixels) boxes around their connected parts; each grows by ``context`` on
    every side (clipped to the frame) and overlapping boxes are merged.

    Parameters
    ----------
    heal : (M, N) ndarray of bool
        True = pixel to heal.
    context : int
        Pixels of context on each side of a hole.
    line_fraction : float
        Share of holes that makes a row or a column a band.
    max_boxes : int
        More connected parts than this: None (the full frame is cheaper to plan).
    max_area : float
        Rectangles covering more than this share of the frame: None (run the full frame).

    Returns
    -------
    list of (r0, r1, c0, c1), or None
        None when the rectangles would not save work (then tile the whole frame); an empty list
        when there is no hole.

    Examples
    --------
    >>> heal = np.zeros((100, 100), bool); heal[50:53] = True; heal[10, 10] = True
    >>> hole_regions(heal, 4)
    [(46, 57, 0, 100), (6, 15, 6, 15)]
    """
    from scipy import ndimage

    heal = np.asarray(heal, bool)
    h, w = heal.shape
    c = int(context)
    if c < 0:
        raise DipHealError(f"context {context}; expected at least 0 pixels")
    if not heal.any():
        return []
    rows = heal.mean(axis=1) >= line_fraction
    cols = heal.mean(axis=0) >= line_fraction
    boxes: list[Box] = [(max(a - c, 0), min(b + c, h), 0, w) for a, b in _runs(rows)]
    boxes += [(0, h, max(a - c, 0), min(b + c, w)) for a, b in _runs(cols)]
    rest = heal & ~rows[:, None] & ~cols[None, :]
    if rest.any():
        labels, n = ndimage.label(rest, structure=np.ones((3, 3), bool))
        if n > max_boxes:
            return None
        parts = [(max(s[0].start - c, 0), min(s[0].stop + c, h), max(s[1].start - c, 0), min(s[1].stop + c, w))
                 for s in ndimage.find_objects(labels)]
        boxes += _merge(parts)
    if sum((b[1] - b[0]) * (b[3] - b[2]) for b in boxes) > max_area * h * w:
        return None
    return boxes


def predict_holes(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    heal: np.ndarray,
    *,
    context: int = 32,
    tile: int | tuple[int, int] = 256,
    overlap: int = 32,
    batch: int = 8,
    out_channels: int | None = None,
) -> torch.Tensor:
    """:func:`predict_tiled` on the rectangles of :func:`hole_regions` only; valid on the holes.

    Each rectangle is tiled and run like a frame of its own; a hole takes the output of the first
    rectangle in which it lies at least ``context`` pixels from every cut edge (the frame's own
    edges do not count). When the rectangles would cover most of the frame the whole frame is
    tiled instead (:func:`predict_tiled`, the same result as calling it).

    Parameters
    ----------
    fn : callable
        Maps ``(B, C, th, tw)`` to ``(B, C_out, th, tw)``.
    x : (C, H, W) tensor
    heal : (H, W) ndarray of bool
        The holes: the only pixels whose output is kept.
    context : int
        Pixels of measured context kept around each hole.
    tile, overlap, batch, out_channels
        As :func:`predict_tiled`.

    Returns
    -------
    (C_out, H, W) tensor
        The network's output on the holes; 0 elsewhere (unless the whole frame was tiled).

    Raises
    ------
    DipHealError
        A heal mask whose shape is not the frame's, or bad tiling arguments.
    """
    if x.ndim != 3:
        raise DipHealError(f"got a tensor of shape {tuple(x.shape)}; expected (C, H, W) for tiled prediction")
    heal = np.asarray(heal, bool)
    _, h, w = x.shape
    if heal.shape != (h, w):
        raise DipHealError(f"heal mask of shape {heal.shape} for a frame of {(h, w)}; expected the frame's shape")
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    boxes = None if (h <= th and w <= tw) else hole_regions(heal, context)
    if boxes is None:
        return predict_tiled(fn, x, tile=tile, overlap=overlap, batch=batch, out_channels=out_channels)
    out: torch.Tensor | None = None
    todo = torch.from_numpy(heal.copy()).to(x.device)
    c = int(context)
    for r0, r1, c0, c1 in boxes:
        # the core: the rectangle less its context on every side cut out of the frame
        a0, a1 = r0 + (c if r0 > 0 else 0), r1 - (c if r1 < h else 0)
        b0, b1 = c0 + (c if c0 > 0 else 0), c1 - (c if c1 < w else 0)
        take = torch.zeros_like(todo)
        take[a0:a1, b0:b1] = todo[a0:a1, b0:b1]
        if not bool(take.any()):
            continue
        y = predict_tiled(fn, x[:, r0:r1, c0:c1], tile=tile, overlap=overlap, batch=batch, out_channels=out_channels)
        if out is None:
            out = torch.zeros((y.shape[0], h, w), dtype=x.dtype, device=x.device)
        part = out[:, r0:r1, c0:c1]
        sel = take[r0:r1, c0:c1]
        part[:, sel] = y[:, sel].to(x.dtype)
        todo &= ~take
    if bool(todo.any()):  # pragma: no cover - every hole lies in the core of its own rectangle
        raise DipHealError(f"{int(todo.sum())} hole pixel(s) outside every rectangle; expected none (a bug)")
    if out is None:
        co = 1 if out_channels is None else out_channels
        out = torch.zeros((co, h, w), dtype=x.dtype, device=x.device)
    return out

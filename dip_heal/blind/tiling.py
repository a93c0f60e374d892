"""Run a network over a frame of any size in overlapping tiles, blending overlaps by weight.

Tiles are cut with :func:`torch.nn.functional.unfold` on a regular grid (the frame is padded at
the bottom and right so the grid covers it), the network runs on batches of tiles, and the
outputs are put back with :func:`torch.nn.functional.fold`, each tile multiplied by a taper that
falls linearly over the overlap; dividing by the folded taper gives the weighted average of all
tiles covering a pixel. For an identity model the result is the input (to rounding).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import DipHealError

__all__ = ["tile_grid", "taper", "predict_tiled"]


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

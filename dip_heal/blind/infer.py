"""Fast inference for the blind models: the same networks, evaluated without the training-time overheads.

:func:`inference_fn` wraps a trained network in a callable for :func:`dip_heal.blind.tiling.predict_tiled`
and :func:`dip_heal.blind.tiling.predict_holes`:

- an :class:`~dip_heal.blind.nets.MSDNet` without normalisation runs on one preallocated feature
  buffer that each layer writes its new maps into, instead of concatenating all earlier maps
  again at every layer, and adds its k*k shifted maps with slice adds instead of col2im (the two
  took more than two thirds of the plain forward's time on a CPU). Each layer computes the same
  float sums in the same order as :class:`~dip_heal.blind.nets._MSDLayer`, so the output is
  bit-identical to ``net(x)`` in float32;
- any other network (TUNet, a normalised MSDNet) runs as ``net(x)``;
- ``dtype=torch.bfloat16`` casts a copy of the network and the tiles to bfloat16 (useful where the
  CPU has AMX/AVX-512 bf16 units; see ``benchmarks/bench_bulk.py`` for when it wins) and returns
  float32.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn as nn

__all__ = ["inference_fn", "msdnet_forward"]


def _msd_plan(net: nn.Module) -> list[tuple[list[nn.Conv2d], nn.Module | None]] | None:
    """Per layer: its convolutions and activation, when ``net`` is an MSDNet the buffer path can run."""
    from .nets import MSDNet

    if not isinstance(net, MSDNet):
        return None
    plan = []
    for name in net._order:  # noqa: SLF001 - same package: the layer order is the net's own
        if name == "final_convolution":
            continue
        if not name.startswith("layer_"):
            return None  # a separate activation or normalisation of the whole stack
        layer = getattr(net, name)
        convs = [m for n, m in layer.named_children() if n.startswith("conv_")]
        if not layer._fast or any(c.kernel_size[0] % 2 == 0 for c in convs):  # noqa: SLF001
            return None
        plan.append((convs, layer._act))  # noqa: SLF001
    return plan


def _thin_conv_into(x: torch.Tensor, conv: nn.Conv2d, out: torch.Tensor) -> None:
    """``_MSDLayer._thin_conv(x, conv)`` written into ``out`` (B, H, W), with shifted slice adds for col2im.

    The channel mix is the same matrix product; the k*k shifted maps are then added in the
    order col2im adds them (tap by tap, from zero), so every sum is the same float sum and the
    result is bit-identical, at a fraction of col2im's time.
    """
    b, c, h, w = x.shape
    k = conv.kernel_size[0]
    d = conv.dilation[0]
    pad = (k // 2) * d
    weight = conv.weight[0].flip(-1, -2).permute(1, 2, 0).reshape(k * k, c)
    z = torch.matmul(weight, x.reshape(b, c, h * w)).view(b, k * k, h, w)
    out.zero_()
    for i in range(k):
        oy = i * d - pad
        ys, ye = max(0, -oy), min(h, h - oy)
        for j in range(k):
            ox = j * d - pad
            xs, xe = max(0, -ox), min(w, w - ox)
            if ys < ye and xs < xe:
                out[:, ys + oy : ye + oy, xs + ox : xe + ox] += z[:, i * k + j, ys:ye, xs:xe]
    out += conv.bias.view(1, 1, 1)


def msdnet_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``net(x)`` for an MSDNet, computed on one feature buffer; None when ``net`` is not one it can run.

    Parameters
    ----------
    net : nn.Module
        A :class:`~dip_heal.blind.nets.MSDNet` (zero padding, no normalisation).
    x : (B, C, H, W) tensor

    Returns
    -------
    (B, out_channels, H, W) tensor or None
    """
    plan = _msd_plan(net)
    if plan is None:
        return None
    b, c, h, w = x.shape
    total = c + sum(len(convs) for convs, _ in plan)
    buf = torch.empty((b, total, h, w), dtype=x.dtype, device=x.device)
    buf[:, :c] = x
    ch = c
    for convs, act in plan:
        cur = buf[:, :ch]  # the same values as the concatenation _MSDLayer builds
        for j, conv in enumerate(convs):
            new = buf[:, ch + j]
            _thin_conv_into(cur, conv, new)
            if act is not None:
                new.copy_(act(new))
        ch += len(convs)
    return net.final_convolution(buf)


def inference_fn(net: nn.Module, *, residual: bool = False,
                 dtype: torch.dtype = torch.float32) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable mapping a batch of input tiles to the network's output (plus the input's first channel when residual).

    Parameters
    ----------
    net : nn.Module
        A trained network in eval mode.
    residual : bool
        Add the first input channel to the output (models whose net predicts a correction).
    dtype : torch.dtype
        ``torch.float32`` (bit-identical to ``net``) or ``torch.bfloat16`` (a bf16 copy of the net;
        the result is returned in float32).

    Returns
    -------
    callable
        ``fn(tiles) -> tensor``; call it under :func:`torch.inference_mode`.
    """
    model = net.eval()
    if dtype != torch.float32:
        model = copy.deepcopy(net).to(dtype).eval()

    def run(t: torch.Tensor) -> torch.Tensor:
        xin = t.to(dtype)
        y = msdnet_forward(model, xin)
        if y is None:
            y = model(xin)
        y = y.to(t.dtype)
        return y + t[:, :1] if residual else y

    return run

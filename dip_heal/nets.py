"""The Deep Image Prior encoder-decoder (the original repository's ``skip`` network), in torch.

The module layout follows ``models/skip.py`` of the original code so that the parameter count
and the order of operations match: for each scale, a ``deeper`` branch (stride-2 conv, BN,
activation, conv, BN, activation, the next scale, upsampling), then BN of the upsampled tensor,
a conv, BN, activation and a 1x1 conv, BN, activation; a final 1x1 conv and a sigmoid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DipHealError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from .config import FitConfig

__all__ = ["build_net", "skip_net", "count_parameters"]


def _act(name: str) -> "nn.Module":
    from torch import nn

    if name == "LeakyReLU":
        return nn.LeakyReLU(0.2, inplace=True)
    if name == "ReLU":
        return nn.ReLU(inplace=True)
    if name == "ELU":
        return nn.ELU(inplace=True)
    raise DipHealError(f"unknown activation {name!r}; expected LeakyReLU, ReLU or ELU")


def _norm(kind: str, ch: int) -> "nn.Module":
    from torch import nn

    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    if kind == "none":
        return nn.Identity()
    raise DipHealError(f"unknown normalisation {kind!r}; expected batch, instance or none")


def _conv(cin: int, cout: int, k: int, stride: int, bias: bool, pad: str) -> "nn.Module":
    from torch import nn

    p = (k - 1) // 2
    if pad == "reflection":
        return nn.Sequential(nn.ReflectionPad2d(p), nn.Conv2d(cin, cout, k, stride, padding=0, bias=bias))
    if pad == "zero":
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding=p, bias=bias))
    raise DipHealError(f"unknown padding {pad!r}; expected reflection or zero")


def skip_net(
    num_input_channels: int = 2,
    num_output_channels: int = 1,
    num_channels_down: list[int] | None = None,
    num_channels_up: list[int] | None = None,
    num_channels_skip: list[int] | None = None,
    filter_size_down: int = 3,
    filter_size_up: int = 3,
    filter_skip_size: int = 1,
    need_sigmoid: bool = True,
    need_bias: bool = True,
    pad: str = "reflection",
    upsample_mode: str = "nearest",
    act_fun: str = "LeakyReLU",
    norm: str = "batch",
    need1x1_up: bool = True,
) -> "nn.Sequential":
    """Build the DIP ``skip`` encoder-decoder with the original code's argument names.

    Defaults are the seed configuration: 5 scales of 128 channels, no skip channels.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(B, num_input_channels, H, W)`` to ``(B, num_output_channels, H, W)`` for H and W
        multiples of ``2**len(num_channels_down)``.
    """
    from torch import nn

    down = list(num_channels_down) if num_channels_down is not None else [128] * 5
    up = list(num_channels_up) if num_channels_up is not None else list(down)
    skip = list(num_channels_skip) if num_channels_skip is not None else [0] * len(down)
    if not (len(down) == len(up) == len(skip)) or len(down) == 0:
        raise DipHealError(
            f"got {len(down)} down, {len(up)} up and {len(skip)} skip channel counts; expected equal, non-empty lists"
        )
    if upsample_mode not in ("nearest", "bilinear"):
        raise DipHealError(f"unknown upsample mode {upsample_mode!r}; expected nearest or bilinear")
    n_scales = len(down)
    model = nn.Sequential()
    model_tmp = model
    input_depth = num_input_channels
    for i in range(n_scales):
        deeper = nn.Sequential()
        skip_branch = nn.Sequential()
        if skip[i] != 0:
            model_tmp.add_module("concat", _Concat(skip_branch, deeper))
        else:
            model_tmp.add_module("deeper", deeper)
        model_tmp.add_module("bn", _norm(norm, skip[i] + (up[i + 1] if i < n_scales - 1 else down[i])))
        if skip[i] != 0:
            skip_branch.add_module("conv", _conv(input_depth, skip[i], filter_skip_size, 1, need_bias, pad))
            skip_branch.add_module("bn", _norm(norm, skip[i]))
            skip_branch.add_module("act", _act(act_fun))
        deeper.add_module("conv1", _conv(input_depth, down[i], filter_size_down, 2, need_bias, pad))
        deeper.add_module("bn1", _norm(norm, down[i]))
        deeper.add_module("act1", _act(act_fun))
        deeper.add_module("conv2", _conv(down[i], down[i], filter_size_down, 1, need_bias, pad))
        deeper.add_module("bn2", _norm(norm, down[i]))
        deeper.add_module("act2", _act(act_fun))
        deeper_main = nn.Sequential()
        if i == n_scales - 1:
            k = down[i]
        else:
            deeper.add_module("deeper", deeper_main)
            k = up[i + 1]
        deeper.add_module("up", nn.Upsample(scale_factor=2, mode=upsample_mode))
        model_tmp.add_module("conv", _conv(skip[i] + k, up[i], filter_size_up, 1, need_bias, pad))
        model_tmp.add_module("bn2", _norm(norm, up[i]))
        model_tmp.add_module("act", _act(act_fun))
        if need1x1_up:
            model_tmp.add_module("conv1x1", _conv(up[i], up[i], 1, 1, need_bias, pad))
            model_tmp.add_module("bn3", _norm(norm, up[i]))
            model_tmp.add_module("act3", _act(act_fun))
        input_depth = down[i]
        model_tmp = deeper_main
    model.add_module("out", _conv(up[0], num_output_channels, 1, 1, need_bias, pad))
    if need_sigmoid:
        model.add_module("sigmoid", nn.Sigmoid())
    return model


class _Concat:  # built lazily as an nn.Module subclass (torch is imported on use)
    def __new__(cls, *branches):  # type: ignore[misc]
        import torch
        from torch import nn

        class Concat(nn.Module):
            def __init__(self, *mods: nn.Module) -> None:
                super().__init__()
                for idx, m in enumerate(mods):
                    self.add_module(str(idx), m)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                outs = [m(x) for m in self._modules.values()]
                h = min(o.shape[2] for o in outs)
                w = min(o.shape[3] for o in outs)
                crops = []
                for o in outs:
                    dh, dw = (o.shape[2] - h) // 2, (o.shape[3] - w) // 2
                    crops.append(o[:, :, dh : dh + h, dw : dw + w])
                return torch.cat(crops, dim=1)

        return Concat(*branches)


def build_net(config: "FitConfig", in_channels: int | None = None, out_channels: int = 1) -> "nn.Sequential":
    """The network a :class:`~dip_heal.config.FitConfig` describes.

    Parameters
    ----------
    config : FitConfig
    in_channels : int, optional
        Input channels (default: 2 for a meshgrid, ``config.input_depth`` for noise).
    out_channels : int
        Output channels (1 for a detector frame).
    """
    if in_channels is None:
        in_channels = 2 if config.net_input == "meshgrid" else config.input_depth
    ch = list(config.channels) if isinstance(config.channels, tuple) else [config.channels] * config.depth
    return skip_net(
        in_channels,
        out_channels,
        num_channels_down=ch,
        num_channels_up=ch,
        num_channels_skip=[config.channels_skip] * config.depth,
        filter_size_down=config.kernel_size,
        filter_size_up=config.kernel_size,
        pad=config.pad,
        upsample_mode=config.upsample,
        act_fun=config.act,
        norm=config.norm,
        need1x1_up=config.need1x1_up,
    )


def count_parameters(net: "nn.Module") -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)

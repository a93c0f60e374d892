"""Blind inpainting networks of Chavez et al. (2022): the tunable U-Net and the mixed-scale dense net.

Both are plain ``torch.nn`` modules written from the papers' descriptions (Chavez et al. 2022,
J. Appl. Cryst. 55, doi:10.1107/S1600576722007105; Pelt & Sethian 2018, PNAS 115, 254) and
laid out so that a ``state_dict`` saved by dlsia's ``TUNet`` / ``MixedScaleDenseNetwork`` loads
into them unchanged (same submodule names).

Parameter counts (``count_parameters``) reproduce the paper's tables:

- ``TUNet(depth=4, base_channels=64, growth_rate=2)`` (3x3 transposed convolutions up, the
  default): 8,561,985 with batch normalisation (8.562 M, +0.07 % of the table's 8.556 M) and
  8,556,353 without (8.556 M). With 2x2 transposed convolutions (dlsia's default
  ``maxpool_kernel_size=2``) the same net has 7,701,825 (-10 %), so the table's nets step up
  with 3x3 kernels.
- ``MSDNet(num_layers=200, max_dilation=15)`` without normalisation (the default): 181,302
  (0.181 M); with batch normalisation after every layer it would be 221,902 (0.222 M), so the
  tables count a net without it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["TUNet", "MSDNet", "build_net", "count_parameters", "ARCHITECTURES"]

ARCHITECTURES = ("tunet", "msdnet")

_ACTIVATIONS = {"relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU, "none": None}
_NORMS = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "none": None}


def _pick(table: dict[str, Any], name: str, what: str) -> Any:
    key = str(name).lower()
    if key not in table:
        from ..errors import DipHealError

        raise DipHealError(f"unknown {what} {name!r}; expected one of {', '.join(table)}")
    return table[key]


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters (what the paper's tables count)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


class TUNet(nn.Module):
    """Tunable U-Net: ``depth`` levels, channels growing by ``growth_rate`` per level.

    Each level is two 3x3 convolutions (each followed by normalisation and activation); levels are
    joined by 2x2 max pooling down and 2x2 transposed convolutions up, with skip concatenation.
    Level ``i`` has ``base_channels * growth_rate**i`` channels (times ``hidden_rate`` at the end
    of an encoder level). The last decoder level ends in a 1x1 convolution to ``out_channels``.

    Any input size works: the input is padded (reflect) to a multiple of ``2**(depth-1)`` and the
    output cropped back.

    Parameters
    ----------
    depth : int
        Number of levels (>= 2).
    base_channels : int
        Channels at the first level.
    growth_rate : float
        Channel growth factor from one level to the next.
    hidden_rate : float
        Growth factor within a level (encoder output = middle channels * hidden_rate).
    in_channels, out_channels : int
        Input and output channels.
    normalization : {'batch', 'instance', 'none'}
    activation : {'relu', 'leakyrelu', 'elu', 'none'}
    conv_kernel_size : int
        Odd kernel size of the convolutions.
    up_kernel_size : int
        Kernel of the stride-2 transposed convolutions (3 reproduces the paper's parameter
        counts; 2 is dlsia's default).

    Examples
    --------
    >>> net = TUNet(depth=2, base_channels=4)
    >>> net(torch.zeros(1, 1, 9, 7)).shape
    torch.Size([1, 1, 9, 7])
    """

    def __init__(
        self,
        depth: int = 4,
        base_channels: int = 16,
        growth_rate: float = 2.0,
        hidden_rate: float = 1.0,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        normalization: str = "batch",
        activation: str = "relu",
        conv_kernel_size: int = 3,
        up_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        from ..errors import DipHealError

        if int(up_kernel_size) < 2:
            raise DipHealError(f"TUNet up_kernel_size {up_kernel_size}; expected 2 or more")
        if int(depth) < 2:
            raise DipHealError(f"TUNet depth {depth}; expected at least 2 levels")
        if int(base_channels) < 1 or float(growth_rate) <= 0 or float(hidden_rate) <= 0:
            raise DipHealError(
                f"TUNet base_channels={base_channels}, growth_rate={growth_rate}, hidden_rate={hidden_rate}; "
                "expected positive values"
            )
        if int(conv_kernel_size) % 2 != 1:
            raise DipHealError(f"conv_kernel_size {conv_kernel_size}; expected an odd number")
        self.hparams = dict(
            depth=int(depth), base_channels=int(base_channels), growth_rate=float(growth_rate),
            hidden_rate=float(hidden_rate), in_channels=int(in_channels), out_channels=int(out_channels),
            normalization=str(normalization).lower(), activation=str(activation).lower(),
            conv_kernel_size=int(conv_kernel_size), up_kernel_size=int(up_kernel_size),
        )
        self.depth = int(depth)
        self._norm = _pick(_NORMS, normalization, "normalization")
        act = _pick(_ACTIVATIONS, activation, "activation")
        self._act = act() if act is not None else None
        self._k = int(conv_kernel_size)

        # channel bookkeeping per level
        enc_in, enc_mid, enc_out = {}, {}, {}
        for i in range(self.depth):
            enc_in[i] = int(in_channels) if i == 0 else enc_out[i - 1]
            enc_mid[i] = int(base_channels) if i == 0 else int(enc_in[i] * float(growth_rate))
            enc_out[i] = int(enc_mid[i] * float(hidden_rate))
        dec_in = {i: enc_out[i] for i in range(self.depth - 1)}
        dec_mid = dict(dec_in)
        dec_out = {i: enc_mid[i] for i in range(self.depth - 1)}
        dec_in[self.depth - 2] = enc_in[self.depth - 1]
        for i in range(self.depth - 1):
            dec_in[i] += enc_out[i]

        self.encoders = [f"Encode_{i}" for i in range(self.depth - 1)] + [f"Final_layer_{self.depth - 1}"]
        self.decoders = [f"Decode_{i}" for i in range(self.depth - 1)]
        for i in range(self.depth):
            self.add_module(self.encoders[i], self._block(enc_in[i], enc_mid[i], enc_out[i]))
        for i in range(self.depth - 1):
            if i == 0:
                block = self._block(dec_in[0], dec_mid[0], dec_out[0])
                block.append(nn.Conv2d(dec_out[0], int(out_channels), kernel_size=1))
            else:
                block = self._block(dec_in[i], dec_mid[i], dec_out[i])
            self.add_module(self.decoders[i], block)
        self.pool = nn.MaxPool2d(2, 2)
        for i in range(self.depth - 1):
            up_in = enc_out[i + 1] if i == self.depth - 2 else dec_out[i + 1]
            k = int(up_kernel_size)
            pad = (k - 1) // 2
            self.add_module(
                f"Step Up {i}",
                nn.ConvTranspose2d(up_in, enc_out[i], kernel_size=k, stride=2, padding=pad, output_padding=2 + 2 * pad - k),
            )

    def _block(self, cin: int, cmid: int, cout: int) -> nn.Sequential:
        mods: list[nn.Module] = []
        for a, b in ((cin, cmid), (cmid, cout)):
            mods.append(nn.Conv2d(a, b, self._k, padding=self._k // 2))
            if self._norm is not None:
                mods.append(self._norm(b))
            if self._act is not None:
                mods.append(self._act)
        return nn.Sequential(*mods)

    def output_layer(self) -> nn.Conv2d:
        """The final 1x1 convolution."""
        return getattr(self, self.decoders[0])[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, in_channels, H, W)`` to ``(B, out_channels, H, W)``."""
        h, w = x.shape[-2:]
        m = 2 ** (self.depth - 1)
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if (ph < h and pw < w) else "replicate"
            x = nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
        skips = []
        for i in range(self.depth - 1):
            x = getattr(self, self.encoders[i])(x)
            skips.append(x)
            x = self.pool(x)
        x = getattr(self, self.encoders[-1])(x)
        for i in range(self.depth - 2, -1, -1):
            x = getattr(self, f"Step Up {i}")(x)
            x = getattr(self, self.decoders[i])(torch.cat((skips[i], x), dim=1))
        return x[..., :h, :w]


class _MSDLayer(nn.Module):
    """One mixed-scale dense layer: ``width`` dilated convolutions of all previous maps.

    The parameters are ordinary ``Conv2d`` modules (``conv_j``), as in dlsia. With zero padding
    the forward pass computes each single-output dilated convolution as one channel-mixing
    matrix product to ``k*k`` maps followed by ``k*k`` shifted sums, which gives the same result
    as ``Conv2d`` and runs 2-3 times faster on a CPU for these thin layers.
    """

    def __init__(self, in_channels: int, dilations: list[int], kernel_size: int, padding_mode: str,
                 activation: nn.Module | None = None) -> None:
        super().__init__()
        self.out_channels = in_channels + len(dilations)
        self.dilations = [int(d) for d in dilations]
        self._fast = padding_mode == "zeros"
        self._act = activation
        for j, d in enumerate(dilations):
            pad = ((kernel_size - 1) * int(d) + 1) // 2
            self.add_module(
                f"conv_{j}",
                nn.Conv2d(in_channels, 1, kernel_size, dilation=int(d), padding=pad, padding_mode=padding_mode),
            )

    @staticmethod
    def _thin_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        b, c, h, w = x.shape
        k = conv.kernel_size[0]
        d = conv.dilation[0]
        # out[y, x] = sum_ij w_ij . x[y + (i - c) d, x + (j - c) d]: mix channels once per tap
        # (a matrix product), then add the k*k shifted maps with fold (col2im), taps reversed.
        weight = conv.weight[0].flip(-1, -2).permute(1, 2, 0).reshape(k * k, c)
        z = torch.matmul(weight, x.reshape(b, c, h * w))
        out = nn.functional.fold(z, (h, w), kernel_size=k, dilation=d, padding=(k // 2) * d)
        return out + conv.bias.view(1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convs = [m for n, m in self.named_children() if n.startswith("conv_")]
        if self._fast and all(c.kernel_size[0] % 2 == 1 for c in convs):
            new = [self._thin_conv(x, c) for c in convs]
        else:
            new = [c(x) for c in convs]
        if self._act is not None:
            new = [self._act(n) for n in new]
        return torch.cat([x] + new, dim=1)


class MSDNet(nn.Module):
    """Mixed-scale dense network (Pelt & Sethian 2018) as used by Chavez et al. (2022).

    Layer ``i`` convolves the concatenation of the input and all earlier layers' outputs with
    ``layer_width`` 3x3 kernels of dilations cycling through ``1 .. max_dilation``; a final 1x1
    convolution maps all maps to ``out_channels``. The spatial size is unchanged.

    Parameters
    ----------
    num_layers : int
        Number of layers.
    max_dilation : int
        Dilations cycle ``1, 2, ..., max_dilation``.
    layer_width : int
        Feature maps added per layer.
    in_channels, out_channels : int
    normalization : {'none', 'batch', 'instance'}
        Normalisation after each layer (the paper's parameter counts have none).
    activation : {'relu', 'leakyrelu', 'elu', 'none'}
    conv_kernel_size : int
    padding_mode : str
        ``zeros`` (as dlsia), ``reflect`` or ``replicate``.

    Examples
    --------
    >>> net = MSDNet(num_layers=3, max_dilation=2)
    >>> count_parameters(net), net(torch.zeros(1, 1, 5, 6)).shape
    (62, torch.Size([1, 1, 5, 6]))
    """

    def __init__(
        self,
        num_layers: int = 50,
        max_dilation: int = 10,
        layer_width: int = 1,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        normalization: str = "none",
        activation: str = "relu",
        conv_kernel_size: int = 3,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        from ..errors import DipHealError

        if int(num_layers) < 1 or int(max_dilation) < 1 or int(layer_width) < 1:
            raise DipHealError(
                f"MSDNet num_layers={num_layers}, max_dilation={max_dilation}, layer_width={layer_width}; "
                "expected positive integers"
            )
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise DipHealError(f"padding_mode {padding_mode!r}; expected zeros, reflect, replicate or circular")
        self.hparams = dict(
            num_layers=int(num_layers), max_dilation=int(max_dilation), layer_width=int(layer_width),
            in_channels=int(in_channels), out_channels=int(out_channels),
            normalization=str(normalization).lower(), activation=str(activation).lower(),
            conv_kernel_size=int(conv_kernel_size), padding_mode=padding_mode,
        )
        norm = _pick(_NORMS, normalization, "normalization")
        act = _pick(_ACTIVATIONS, activation, "activation")
        self._act = act() if act is not None else None
        self._order: list[str] = []
        ch = int(in_channels)
        # Without normalisation the activation acts on each layer's new maps only: the same as
        # dlsia's activation of the whole concatenation for non-negative inputs (earlier maps
        # are already activated), at a fraction of the cost.
        inner = self._act if norm is None else None
        for i in range(int(num_layers)):
            dil = [((i * int(layer_width) + j) % int(max_dilation)) + 1 for j in range(int(layer_width))]
            layer = _MSDLayer(ch, dil, int(conv_kernel_size), padding_mode, activation=inner)
            self.add_module(f"layer_{i}", layer)
            self._order.append(f"layer_{i}")
            ch = layer.out_channels
            if self._act is not None and inner is None:
                self._order.append("_act")
            if norm is not None:
                self.add_module(f"normalization_{i}", norm(ch))
                self._order.append(f"normalization_{i}")
        self.add_module("final_convolution", nn.Conv2d(ch, int(out_channels), kernel_size=1))
        self._order.append("final_convolution")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, in_channels, H, W)`` to ``(B, out_channels, H, W)``."""
        for name in self._order:
            x = self._act(x) if name == "_act" else getattr(self, name)(x)
        return x

    def output_layer(self) -> nn.Conv2d:
        """The final 1x1 convolution."""
        return self.final_convolution

    @property
    def receptive_radius(self) -> int:
        """Half-width in pixels of the receptive field."""
        h = self.hparams
        dil = [((i * h["layer_width"] + j) % h["max_dilation"]) + 1
               for i in range(h["num_layers"]) for j in range(h["layer_width"])]
        # a dense net's longest path visits every layer once
        return int(sum(dil) * (h["conv_kernel_size"] // 2)) if dil else 0


def build_net(arch: str, hparams: dict[str, Any]) -> nn.Module:
    """Build a network from its architecture name and hyperparameters (as stored in a model card).

    Raises
    ------
    DipHealError
        For an unknown architecture or hyperparameter.
    """
    from ..errors import DipHealError

    cls = {"tunet": TUNet, "msdnet": MSDNet}.get(str(arch).lower())
    if cls is None:
        raise DipHealError(
            f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}; "
            "retrain the model or fix 'architecture' in card.json"
        )
    try:
        return cls(**hparams)
    except TypeError as exc:
        raise DipHealError(
            f"bad hyperparameters for {arch}: {exc}; expected the keyword arguments of dip_heal.blind.{cls.__name__}"
        ) from None

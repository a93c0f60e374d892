"""The network of one fit, its forward pass and its optimiser step."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable

from ..config import FitConfig
from .inputs import NetInputs

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DipModel", "lr_factor"]


class DipModel:
    """The encoder-decoder of ``config`` on ``inputs``, with Adam and the noises of the original DIP.

    With an azimuthal model in ``inputs.base`` the network fits the residual from it,
    ``base + 2 (sigmoid - 0.5)``, and its last layer starts at exactly zero (iteration 0 is the
    model itself). The output layer (1x1 convolution and sigmoid) runs in fp32 even under bf16
    autocast: bf16 would quantise the output to steps of ~0.004 in normalised log intensity, as
    large as the errors.

    Parameters
    ----------
    config : FitConfig
    inputs : NetInputs
    device : torch.device
    """

    def __init__(self, config: FitConfig, inputs: NetInputs, device: "torch.device") -> None:
        import torch

        from ..nets import build_net

        self.config = config
        self.device = device
        self.base = inputs.base
        net = build_net(config, in_channels=inputs.tensor.shape[1]).to(device)
        if self.base is not None and hasattr(net, "out"):
            with torch.no_grad():
                for p in net.out.parameters():
                    p.zero_()
        self.body, self.head = net[:-2], net[-2:]
        mem = torch.channels_last if config.channels_last else torch.contiguous_format
        self.net = net.to(memory_format=mem)
        self.input = inputs.tensor.contiguous(memory_format=mem)
        self.conv_weights = [p for p in self.net.parameters() if p.dim() == 4]
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.steps = [0]  # optimiser steps taken (a list: a coarse stage's model shares the count)
        self._noise_buf, self.noise = _noise_buffer(self.input, config.channels_last)
        self.autocast: Any = (torch.autocast(device_type=device.type, dtype=torch.bfloat16)
                              if config.precision == "bf16" else contextlib.nullcontext())

    @classmethod
    def sharing(cls, other: "DipModel", inputs: NetInputs) -> "DipModel":
        """A model on other ``inputs`` (another grid) that shares ``other``'s network and optimiser.

        Steps of either train the same parameters with the same Adam state: the coarse stage of a
        coarse-to-fine fit (:mod:`dip_heal.dip.coarse`).
        """
        import torch

        new = cls.__new__(cls)
        new.__dict__.update(other.__dict__)
        mem = torch.channels_last if other.config.channels_last else torch.contiguous_format
        new.base = inputs.base
        new.input = inputs.tensor.contiguous(memory_format=mem)
        new._noise_buf, new.noise = _noise_buffer(new.input, other.config.channels_last)
        return new

    def load_state(self, state: dict[str, Any]) -> None:
        """Start from another fit's state (a warm start): ``{"net": weights, "adam": optimiser state}``
        as :meth:`state` returns it, or bare network weights (a pretrained start; Adam starts afresh).

        With a key ``"shrink": lam`` (0 < lam < 1) the floating-point weights start at
        ``lam * warm + (1 - lam) * random``, the random ones this fit's own seeded start ("shrink
        and perturb", Ash & Adams 2020): a warm start keeps what the previous frame taught, and
        loses part of its fit to that frame's noise.

        Carrying Adam's moments matters: a fresh Adam's first steps move every weight by about
        the learning rate, which throws a converged network far off before it settles again.

        Raises
        ------
        DipHealError
            Weights of another network (other channels, depth or input channels).
        """
        from ..errors import DipHealError

        weights = state.get("net", state) if isinstance(state, dict) else state
        shrink = float(state.get("shrink", 1.0)) if isinstance(state, dict) and "net" in state else 1.0
        if shrink != 1.0:  # shrink and perturb: toward this fit's own random start
            fresh = self.net.state_dict()
            weights = {k: (shrink * v.to(fresh[k].dtype) + (1.0 - shrink) * fresh[k].cpu())
                       if k in fresh and v.is_floating_point() and v.shape == fresh[k].shape else v
                       for k, v in weights.items()}
        try:
            self.net.load_state_dict(weights)
            if isinstance(state, dict) and "adam" in state:
                import copy

                self.opt.load_state_dict(copy.deepcopy(state["adam"]))  # Adam would update the caller's moments
        except (RuntimeError, KeyError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0][:160]
            raise DipHealError(f"the starting weights do not fit this network ({first}); expected weights of a "
                               "fit with the same channels, depth and inputs") from None

    def state(self) -> dict[str, Any]:
        """The network's weights and Adam's state, copied to the CPU (for a warm start of the next fit)."""
        import copy

        net = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in self.net.state_dict().items()}
        adam = copy.deepcopy(self.opt.state_dict())
        for st in adam["state"].values():
            for k, v in st.items():
                if hasattr(v, "detach"):
                    st[k] = v.detach().to("cpu", copy=True)
        return {"net": net, "adam": adam}

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        h = self.body(x)
        with torch.autocast(device_type=self.device.type, enabled=False):
            o = self.head(h.float())
        return o if self.base is None else self.base + (o - 0.5) * 2.0

    def step(self, loss_fn: Callable[["torch.Tensor"], "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        """One Adam step on ``loss_fn(output)``, with fresh weight and input noise; (loss, output)."""
        import torch

        cfg = self.config
        self.opt.zero_grad(set_to_none=True)
        if cfg.param_noise and cfg.param_noise_scale > 0:
            with torch.no_grad():
                for w in self.conv_weights:
                    # drawn contiguous: randn_like of a channels-last weight is 8x slower
                    w.add_(torch.randn(w.shape, dtype=w.dtype, device=w.device) * (w.std() * cfg.param_noise_scale))
        if cfg.reg_noise_std > 0:
            self._noise_buf.normal_()
            inp = self.input + self.noise * cfg.reg_noise_std
        else:
            inp = self.input
        with self.autocast:
            out = self.forward(inp)
        out = out.float()
        loss = loss_fn(out)
        loss.backward()
        if cfg.lr_schedule != "constant":  # set each step: a warm start's Adam state carries the last frame's lr
            lr = cfg.lr * lr_factor(cfg.lr_schedule, self.steps[0], cfg.num_iter, cfg.lr_floor)
            for group in self.opt.param_groups:
                group["lr"] = lr
        self.opt.step()
        self.steps[0] += 1
        return loss, out

    def predict(self, crop: tuple[slice, slice]) -> "torch.Tensor":
        """The output on the clean input, cropped to the frame, on the CPU."""
        import torch

        with torch.no_grad(), self.autocast:
            out = self.forward(self.input).float()
        return out[0, 0, crop[0], crop[1]].detach().cpu()


def lr_factor(schedule: str, step: int, total: int, floor: float) -> float:
    """The learning rate of optimiser step ``step`` (from 0) as a fraction of ``FitConfig.lr``.

    Parameters
    ----------
    schedule : {'constant', 'cosine'}
    step, total : int
        The step and the schedule's length (``num_iter``); steps past it keep the last rate.
    floor : float
        The cosine's last value.

    Examples
    --------
    >>> lr_factor("cosine", 0, 100, 0.1), lr_factor("cosine", 50, 100, 0.1), lr_factor("cosine", 100, 100, 0.1)
    (1.0, 0.55, 0.1)
    """
    import math

    if schedule == "constant":
        return 1.0
    t = min(max(step, 0), total) / max(total, 1)
    return round(floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t)), 12)


def _noise_buffer(inp: "torch.Tensor", channels_last: bool) -> tuple["torch.Tensor", "torch.Tensor"]:
    """A buffer to draw the input noise into, and its view in ``inp``'s layout.

    The buffer is contiguous in memory: ``normal_()`` on a channels-last tensor takes the
    element-by-element path, 8x slower (about 10 % of a default step at 256x256 on a 2-core CPU).
    """
    import torch

    if not channels_last:
        buf = torch.empty_like(inp)
        return buf, buf
    n, c, h, w = inp.shape
    buf = torch.empty((n, h, w, c), dtype=inp.dtype, device=inp.device)
    return buf, buf.permute(0, 3, 1, 2)

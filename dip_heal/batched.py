"""K sweep trials advancing together as one grouped-convolution network.

Every convolution of the K networks becomes one ``Conv2d(..., groups=K)`` and every BatchNorm
one ``BatchNorm2d(K * C)`` (with batch 1, BatchNorm's statistics are per channel over H x W, so
the K trials never mix). Each trial keeps its own seed (its weights are those of the net
:func:`dip_heal.nets.build_net` builds after ``torch.manual_seed(seed)``), learning rate, input
noise and weight noise; Adam runs per trial (one moment estimate per parameter, a learning rate
per trial slice).

A batched trial is reproducible by rerunning the same batch; compared with a sequential fit of the
same trial it agrees to float rounding (the grouped kernels sum in another order), not bit for bit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .config import FitConfig
from .errors import DipHealError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["grouped_net", "fit_batched", "BATCH_FIELDS"]

logger = logging.getLogger(__name__)

#: FitConfig fields that may differ between the trials of one batch.
BATCH_FIELDS = ("lr", "reg_noise_std", "param_noise", "param_noise_scale", "seed")


def grouped_net(nets: "list[nn.Module]") -> "nn.Module":
    """Merge K networks of identical structure into one grouped network.

    The merged network maps ``(1, K * C_in, H, W)`` to ``(1, K * C_out, H, W)``; trial ``k``
    reads channels ``k * C_in ... (k + 1) * C_in - 1``.
    """
    import copy

    import torch
    from torch import nn

    k = len(nets)
    if k == 0:
        raise DipHealError("got no network to batch; expected at least one")
    merged = copy.deepcopy(nets[0])
    per = [dict(n.named_modules()) for n in nets]
    for name, mod in list(merged.named_modules()):
        parent_name, _, attr = name.rpartition(".")
        parent = merged.get_submodule(parent_name) if parent_name else merged
        if isinstance(mod, nn.Conv2d):
            g = mod.groups
            new = nn.Conv2d(mod.in_channels * k, mod.out_channels * k, mod.kernel_size, mod.stride,
                            mod.padding, mod.dilation, groups=g * k, bias=mod.bias is not None,
                            padding_mode=mod.padding_mode)
            with torch.no_grad():
                new.weight.copy_(torch.cat([p[name].weight for p in per], dim=0))
                if mod.bias is not None:
                    new.bias.copy_(torch.cat([p[name].bias for p in per], dim=0))
            setattr(parent, attr, new)
        elif isinstance(mod, nn.BatchNorm2d):
            new = nn.BatchNorm2d(mod.num_features * k, eps=mod.eps, momentum=mod.momentum, affine=mod.affine)
            with torch.no_grad():
                if mod.affine:
                    new.weight.copy_(torch.cat([p[name].weight for p in per]))
                    new.bias.copy_(torch.cat([p[name].bias for p in per]))
            setattr(parent, attr, new)
        elif isinstance(mod, nn.InstanceNorm2d):
            raise DipHealError("batched trials need norm='batch' or 'none'; instance norm is not supported")
    return merged


class _PerTrialAdam:
    """Adam where every parameter's first dimension is split into K trial slices with own lr."""

    def __init__(self, params: "list[torch.Tensor]", lrs: "torch.Tensor", k: int,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.params = params
        self.k = k
        self.lrs = lrs
        self.b1, self.b2 = betas
        self.eps = eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        self.t += 1
        c1 = 1 - self.b1**self.t
        c2 = 1 - self.b2**self.t
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                if p.grad is None:
                    continue
                g = p.grad
                m.mul_(self.b1).add_(g, alpha=1 - self.b1)
                v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
                upd = (m / c1) / ((v / c2).sqrt_().add_(self.eps))
                shape = (self.k, -1)
                p.view(shape).sub_(upd.view(shape) * self.lrs[:, None])


def fit_batched(
    image: np.ndarray,
    heal: np.ndarray,
    configs: list[FitConfig],
    *,
    device: "str | torch.device | None" = None,
    holdout: np.ndarray | None = None,
    callback: Callable[[int, int, Any, dict[str, Any]], bool | None] | None = None,
) -> list[Any]:
    """Fit K trials of one sweep together.

    Parameters
    ----------
    image, heal : (M, N) ndarray
        As for :func:`dip_heal.fit.fit`.
    configs : list of FitConfig
        One per trial; they may differ only in :data:`BATCH_FIELDS`.
    device : str or torch.device, optional
    holdout : (M, N) ndarray of bool, optional
        Shared held-out pixels (default: drawn from the first config's ``holdout_fraction`` and
        seed).
    callback : callable, optional
        ``callback(trial_index, iteration, snapshot, state)`` at every snapshot.

    Returns
    -------
    list of FitResult
        One per trial, in the order of ``configs``.
    """
    import torch

    from .fit import (
        FitResult,
        Snapshot,
        SnapshotSelector,
        _net_input,
        _pad_amounts,
        _validate,
        denormalise,
        make_holdout,
        normalise,
        pick_device,
    )
    from .nets import build_net

    if not configs:
        raise DipHealError("got no trial configuration; expected at least one")
    base = configs[0]
    for c in configs[1:]:
        strip = {f: getattr(base, f) for f in BATCH_FIELDS}
        if replace(c, **strip) != base:
            raise DipHealError(
                f"batched trials may differ only in {', '.join(BATCH_FIELDS)}; run other settings in another batch"
            )
    if (base.polar_input or base.mirror_input or base.ema or base.select != "final" and base.patience
            or base.blend or base.guide != "none" or base.time_limit):
        raise DipHealError("batched trials support meshgrid/noise inputs without EMA, early stopping, blends, "
                           "guides or time limits")
    image, heal = _validate(image, heal)
    known = ~heal & np.isfinite(image)
    if not known.any():
        raise DipHealError("the mask heals every pixel; expected some measured pixels to fit")
    if holdout is None:
        holdout = make_holdout(known, heal | ~known, base.holdout_fraction, base.seed)
    fit_px = known & ~holdout
    k = len(configs)
    dev = pick_device(device)
    y, scale = normalise(image, known)
    mult = 2**base.depth
    (pt, pb), (pl, pr) = _pad_amounts(image.shape[0], mult), _pad_amounts(image.shape[1], mult)
    ypad = np.pad(y, ((pt, pb), (pl, pr)), mode="reflect")
    wpad = np.pad(fit_px, ((pt, pb), (pl, pr)))
    crop = (slice(pt, pt + image.shape[0]), slice(pl, pl + image.shape[1]))

    nets = []
    for c in configs:
        torch.manual_seed(c.seed)
        nets.append(build_net(c))
    net = grouped_net(nets).to(dev)
    base_input = _net_input(base, ypad.shape, dev)
    cin = base_input.shape[1]
    net_input = base_input.repeat(1, k, 1, 1)
    target = torch.from_numpy(ypad)[None, None].to(dev)
    weight = torch.from_numpy(wpad.astype(np.float32))[None, None].to(dev)
    n_fit = float(wpad.sum())
    lrs = torch.tensor([c.lr for c in configs], dtype=torch.float32, device=dev)
    stds = torch.tensor([c.reg_noise_std for c in configs], dtype=torch.float32, device=dev)
    stds = stds.repeat_interleave(cin)[None, :, None, None]
    pn = torch.tensor([c.param_noise_scale if c.param_noise else 0.0 for c in configs], device=dev)
    params = list(net.parameters())
    conv_w = [p for p in params if p.dim() == 4]
    opt = _PerTrialAdam(params, lrs, k)
    gens = [torch.Generator(device=dev).manual_seed(c.seed + 1) for c in configs]
    autocast = torch.autocast(device_type=dev.type, dtype=torch.bfloat16) if base.precision == "bf16" else None
    hold_t = torch.from_numpy(holdout)
    heal_t = torch.from_numpy(heal | ~known)
    y_t = torch.from_numpy(y)
    snaps: list[list[Snapshot]] = [[] for _ in configs]
    metrics: list[list[dict[str, float]]] = [[] for _ in configs]
    t0 = time.perf_counter()

    def forward(x: "torch.Tensor") -> "torch.Tensor":
        if autocast is None:
            return net(x)
        with autocast:
            return net(x).float()

    for it in range(1, base.num_iter + 1):
        opt.zero_grad()
        if bool((pn > 0).any()):
            with torch.no_grad():
                for w in conv_w:
                    wv = w.view(k, -1)
                    noise = torch.cat([torch.randn(wv.shape[1], generator=g, device=dev)[None] for g in gens])
                    wv.add_(noise * (wv.std(dim=1, keepdim=True) * pn[:, None]))
        noise = torch.cat([torch.randn(base_input.shape, generator=g, device=dev) for g in gens], dim=1)
        out = forward(net_input + noise * stds)
        err = (out - target).square() if base.loss == "mse" else (out - target).abs()
        per_trial = (err * weight).sum(dim=(0, 2, 3)) / n_fit
        per_trial.sum().backward()
        opt.step()
        elapsed = time.perf_counter() - t0
        losses = per_trial.detach().cpu().tolist()
        for i in range(k):
            metrics[i].append({"iteration": it, "loss": losses[i], "seconds": elapsed})
        if it % base.snapshot_every == 0 or it == base.num_iter:
            with torch.no_grad():
                clean = forward(net_input)[0, :, crop[0], crop[1]].cpu()
            for i, c in enumerate(configs):
                o = clean[i]
                val = float((o[hold_t] - y_t[hold_t]).abs().mean()) if holdout.any() else None
                comp = denormalise(torch.where(heal_t, o, y_t).numpy(), scale)
                comp[known] = image[known]
                snap = Snapshot(iteration=it, healed=comp, val_l1=val, loss=losses[i], seconds=elapsed)
                snaps[i].append(snap)
                metrics[i][-1]["val_l1"] = val if val is not None else float("nan")
                if callback is not None:
                    callback(i, it, snap, metrics[i][-1])
    seconds = time.perf_counter() - t0
    results = []
    with torch.no_grad():
        full = forward(net_input)[0, :, crop[0], crop[1]].cpu().numpy()
    for i, c in enumerate(configs):
        selector = SnapshotSelector(c)  # the rule fit() uses (no early stop in a batch)
        for s in snaps[i]:
            selector.update(s)
        chosen = selector.chosen if selector.chosen is not None else snaps[i][-1]
        results.append(FitResult(healed=chosen.healed, output=denormalise(full[i], scale), iteration=chosen.iteration,
                                 snapshots=snaps[i], metrics=metrics[i], config=c, seed=c.seed, seconds=seconds,
                                 holdout=holdout if holdout.any() else None, scale=scale,
                                 extra={"batched": k, "device": str(dev)}))
    logger.info("batched fit of %d trials: %d iterations in %.1f s", k, base.num_iter, seconds)
    return results

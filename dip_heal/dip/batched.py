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

from .._runtime import pick_device
from ..config import FitConfig
from ..errors import DipHealError
from .result import FitResult, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["grouped_net", "fit_batched", "PerTrialAdam", "BATCH_FIELDS"]

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


class PerTrialAdam:
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


def _check_batch(configs: list[FitConfig]) -> FitConfig:
    """The first config, once every config is known to differ from it in :data:`BATCH_FIELDS` only."""
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
            or base.blend or base.guide != "none" or base.time_limit or base.lr_schedule != "constant"):
        raise DipHealError("batched trials support meshgrid/noise inputs without EMA, early stopping, blends, "
                           "guides, time limits or learning-rate schedules")
    return base


def fit_batched(
    image: np.ndarray,
    heal: np.ndarray,
    configs: list[FitConfig],
    *,
    device: "str | torch.device | None" = None,
    holdout: np.ndarray | None = None,
    callback: Callable[[int, int, Any, dict[str, Any]], bool | None] | None = None,
) -> list[FitResult]:
    """Fit K trials of one sweep together.

    The frame is checked and prepared as :func:`dip_heal.fit` prepares it
    (:func:`dip_heal.dip.problem.prepare`), on the same padded grid and input.

    Parameters
    ----------
    image, heal : (M, N) ndarray
        As for :func:`dip_heal.fit`.
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
    from .callbacks import HeldOutScore
    from .engine import Snapshotter
    from .problem import Grid, prepare

    base = _check_batch(configs)
    problem = prepare(image, heal, base.holdout_fraction, base.seed, holdout)
    k = len(configs)
    dev = pick_device(device)
    grid = Grid.for_frame(problem.image.shape, base.depth)
    batch = _Batch(configs, problem, grid, dev)
    snapshotter = Snapshotter(HeldOutScore(problem.y, problem.heal, problem.holdout).score, problem.image,
                              problem.known, problem.scale)
    snaps: list[list[Snapshot]] = [[] for _ in configs]
    metrics: list[list[dict[str, float]]] = [[] for _ in configs]
    t0 = time.perf_counter()
    for it in range(1, base.num_iter + 1):
        losses = batch.step()
        elapsed = time.perf_counter() - t0
        for i in range(k):
            metrics[i].append({"iteration": it, "loss": losses[i], "seconds": elapsed})
        if it % base.snapshot_every == 0 or it == base.num_iter:
            clean = batch.predict()
            for i in range(k):
                snap = snapshotter.make(it, clean[i], losses[i], elapsed)
                snaps[i].append(snap)
                metrics[i][-1]["val_l1"] = snap.val_l1 if snap.val_l1 is not None else float("nan")
                if callback is not None:
                    callback(i, it, snap, metrics[i][-1])
    seconds = time.perf_counter() - t0
    full = batch.predict().numpy()
    logger.info("batched fit of %d trials: %d iterations in %.1f s", k, base.num_iter, seconds)
    return [_result(c, snaps[i], metrics[i], full[i], problem, seconds, k, dev) for i, c in enumerate(configs)]


class _Batch:
    """The grouped network of K trials, its per-trial noises and Adam: one step for all of them."""

    def __init__(self, configs: list[FitConfig], problem: Any, grid: Any, dev: "torch.device") -> None:
        import torch

        from ..nets import build_net
        from .inputs import coordinate_input
        from .losses import DataLoss

        base, k = configs[0], len(configs)
        nets = []
        for c in configs:
            torch.manual_seed(c.seed)
            nets.append(build_net(c))
        self.k, self.dev, self.crop = k, dev, grid.crop
        self.net = grouped_net(nets).to(dev)
        self.base_input = coordinate_input(base, grid.shape, dev)
        cin = self.base_input.shape[1]
        self.input = self.base_input.repeat(1, k, 1, 1)
        self.data = DataLoss("mse" if base.loss == "mse" else "l1", grid.pad(problem.y, mode="reflect"),
                             grid.pad_weights(problem.fit_px), problem.scale, dev)
        stds = torch.tensor([c.reg_noise_std for c in configs], dtype=torch.float32, device=dev)
        self.stds = stds.repeat_interleave(cin)[None, :, None, None]
        self.pn = torch.tensor([c.param_noise_scale if c.param_noise else 0.0 for c in configs], device=dev)
        params = list(self.net.parameters())
        self.conv_w = [p for p in params if p.dim() == 4]
        self.opt = PerTrialAdam(params, torch.tensor([c.lr for c in configs], dtype=torch.float32, device=dev), k)
        self.gens = [torch.Generator(device=dev).manual_seed(c.seed + 1) for c in configs]
        self.autocast = (torch.autocast(device_type=dev.type, dtype=torch.bfloat16) if base.precision == "bf16"
                         else None)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        if self.autocast is None:
            return self.net(x)
        with self.autocast:
            return self.net(x).float()

    def step(self) -> list[float]:
        """One iteration of every trial; their losses."""
        import torch

        k, dev, gens = self.k, self.dev, self.gens
        self.opt.zero_grad()
        if bool((self.pn > 0).any()):
            with torch.no_grad():
                for w in self.conv_w:
                    wv = w.view(k, -1)
                    noise = torch.cat([torch.randn(wv.shape[1], generator=g, device=dev)[None] for g in gens])
                    wv.add_(noise * (wv.std(dim=1, keepdim=True) * self.pn[:, None]))
        noise = torch.cat([torch.randn(self.base_input.shape, generator=g, device=dev) for g in gens], dim=1)
        per_trial = self.data.per_channel(self.forward(self.input + noise * self.stds))
        per_trial.sum().backward()
        self.opt.step()
        return per_trial.detach().cpu().tolist()

    def predict(self) -> "torch.Tensor":
        """The K clean outputs, cropped to the frame, on the CPU: (K, M, N)."""
        import torch

        with torch.no_grad():
            return self.forward(self.input)[0, :, self.crop[0], self.crop[1]].cpu()


def _result(config: FitConfig, snaps: list[Snapshot], metrics: list[dict[str, float]], full: np.ndarray,
            problem: Any, seconds: float, k: int, dev: Any) -> FitResult:
    from .._intensity import denormalise
    from .callbacks import SnapshotSelector

    selector = SnapshotSelector(config)  # the rule fit() uses (no early stop in a batch)
    for s in snaps:
        selector.update(s)
    chosen = selector.chosen if selector.chosen is not None else snaps[-1]
    return FitResult(healed=chosen.healed, output=denormalise(full, problem.scale), iteration=chosen.iteration,
                     snapshots=snaps, metrics=metrics, config=config, seed=config.seed, seconds=seconds,
                     holdout=problem.holdout if problem.holdout.any() else None, scale=problem.scale,
                     extra={"batched": k, "device": str(dev)})

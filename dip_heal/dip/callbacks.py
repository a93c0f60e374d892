"""What the fit loop does besides stepping, as callbacks on a :class:`FitState`.

A callback implements any of ``on_fit_start(state)``, ``on_step_end(state)`` (after every
optimiser step), ``on_snapshot(state)`` (after a snapshot was taken; ``state.stop = True``
ends the fit) and ``on_fit_end(state)``. They run in the order given, so the order is part of
the result: the snapshot selection decides before a user callback sees the state, and the time
limit looks last. The engine (:mod:`dip_heal.dip.engine`) calls them; each is tested on its own
with a fake state.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..config import FitConfig
from .result import Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["FitState", "Callback", "EMA", "HeldOutScore", "SnapshotSelector", "TimeLimit", "Progress",
           "UserCallback", "fit_callbacks"]

logger = logging.getLogger(__name__)


@dataclass
class FitState:
    """What the loop knows: the iteration, its training output and record, the snapshots, whether to stop."""

    num_iter: int
    t0: float = field(default_factory=time.perf_counter)
    iteration: int = 0
    output: Any = None  # the training output of this iteration (a tensor)
    record: dict[str, float] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    metrics: list[dict[str, float]] = field(default_factory=list)
    stop: bool = False

    def elapsed(self) -> float:
        """Seconds since the fit started (its set-up included)."""
        return time.perf_counter() - self.t0


class Callback:
    """Does nothing; subclasses override the hooks they need."""

    def on_fit_start(self, state: FitState) -> None:
        pass

    def on_step_end(self, state: FitState) -> None:
        pass

    def on_snapshot(self, state: FitState) -> None:
        pass

    def on_fit_end(self, state: FitState) -> None:
        pass


class EMA(Callback):
    """Moving average of the network's outputs over iterations, used by the snapshots instead of the output.

    ``avg = d * avg + (1 - d) * out`` with ``d = min(decay, (1 + t) / (10 + t))`` at iteration
    ``t``: a warm-up as TensorFlow's ExponentialMovingAverage, so early outputs are soon forgotten.
    The average stays on the device; snapshots copy it.
    """

    def __init__(self, decay: float, crop: tuple[slice, slice]) -> None:
        self.decay = decay
        self.crop = crop
        self.value: "torch.Tensor | None" = None

    def on_step_end(self, state: FitState) -> None:
        it = state.iteration
        decay = min(self.decay, (1.0 + it) / (10.0 + it))
        o = state.output.detach()[0, 0, self.crop[0], self.crop[1]]
        self.value = o.clone() if self.value is None else self.value.mul_(decay).add_(o, alpha=1 - decay)

    def current(self, out: "torch.Tensor") -> "torch.Tensor":
        """The average (on the CPU) once there is one, else ``out``."""
        return out if self.value is None else self.value.cpu().clone()


class HeldOutScore:
    """A snapshot's composite in normalised units and its L1 on the held-out pixels (None without any)."""

    def __init__(self, y: np.ndarray, heal: np.ndarray, holdout: np.ndarray) -> None:
        import torch

        self.any = bool(holdout.any())
        self.hold_t = torch.from_numpy(holdout)
        self.y_t = torch.from_numpy(y)
        self.heal_t = torch.from_numpy(heal)

    def score(self, out: "torch.Tensor") -> tuple[np.ndarray, float | None, None]:
        import torch

        y_np = torch.where(self.heal_t, out, self.y_t).numpy()
        val = float((out[self.hold_t] - self.y_t[self.hold_t]).abs().mean()) if self.any else None
        return y_np, val, None


class SnapshotSelector(Callback):
    """Which snapshot a fit returns, and when it stops early.

    With ``select='final'`` the latest snapshot; with ``select='best_val'`` the one with the
    lowest held-out L1, or, with ``val_tol > 0``, the latest whose held-out L1 is within
    ``(1 + val_tol)`` of the lowest so far. ``patience`` snapshots in a row that are neither a
    new lowest nor within the tolerance stop the fit.

    Parameters
    ----------
    config : FitConfig
        Reads ``select``, ``patience`` and ``val_tol``.
    """

    def __init__(self, config: FitConfig) -> None:
        self.config = config
        self.best_val: float | None = None
        self.chosen: Snapshot | None = None
        self.since = 0

    def update(self, snap: Snapshot) -> bool:
        """Take one snapshot in; True when the fit should stop."""
        cfg = self.config
        if cfg.select != "best_val":
            self.chosen = snap
            return False
        if snap.val_l1 is None:
            self.chosen = self.chosen or snap
            return False
        v = snap.val_l1
        if self.best_val is None or v < self.best_val:
            self.best_val, self.chosen, self.since = v, snap, 0
        elif cfg.val_tol > 0 and v <= self.best_val * (1.0 + cfg.val_tol):
            self.chosen, self.since = snap, 0
        else:
            self.since += 1
        return bool(cfg.patience) and self.since >= cfg.patience

    def on_snapshot(self, state: FitState) -> None:
        it = state.iteration
        stop = self.update(state.snapshot)
        state.record["returned"] = self.chosen.iteration if self.chosen is not None else it
        if stop:
            logger.info("early stop at iteration %d (returning iteration %d)", it, state.record["returned"])
        state.stop = stop or state.stop


class TimeLimit(Callback):
    """Stop at a snapshot when the next snapshot interval, as long as the last one, would pass ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.last = 0.0

    def on_fit_start(self, state: FitState) -> None:
        self.last = state.elapsed()

    def on_snapshot(self, state: FitState) -> None:
        it = state.iteration
        if state.stop or it == 0:
            return
        now = state.elapsed()
        if it < state.num_iter and now + (now - self.last) > self.limit:
            logger.info("time limit: stopping at iteration %d after %.0f s (limit %.0f s)", it, now, self.limit)
            state.stop = True
            return
        self.last = now


class Progress(Callback):
    """A tqdm bar over the iterations: the running training loss from the first iteration on, the
    held-out L1 of the latest snapshot once one is scored (never ``nan``).

    The running loss is an exponential average (weight ``smooth`` on the past) of the finite
    ``state.record["loss"]`` values; the postfix is refreshed with the bar, not at every step.
    """

    def __init__(self, total: int, *, smooth: float = 0.9) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="fit", unit="it", leave=False)
        self.smooth = smooth
        self.loss: float | None = None
        self.val: float | None = None

    def postfix(self) -> dict[str, str]:
        """What the bar shows after its count: ``loss`` once known, ``val`` once a snapshot was scored."""
        shown = {}
        if self.loss is not None:
            shown["loss"] = f"{self.loss:.3g}"
        if self.val is not None:
            shown["val"] = f"{self.val:.4g}"
        return shown

    def on_fit_start(self, state: FitState) -> None:
        if state.iteration:  # iterations already run (a coarse stage)
            self.bar.update(state.iteration)

    def on_step_end(self, state: FitState) -> None:
        loss = state.record.get("loss")
        if loss is not None and math.isfinite(loss):
            self.loss = loss if self.loss is None else self.smooth * self.loss + (1 - self.smooth) * loss
        self.bar.set_postfix(self.postfix(), refresh=False)
        self.bar.update(1)

    def on_snapshot(self, state: FitState) -> None:
        val = state.snapshot.val_l1 if state.snapshot is not None else None
        if val is not None and math.isfinite(val):
            self.val = float(val)
        self.bar.set_postfix(self.postfix())

    def on_fit_end(self, state: FitState) -> None:
        self.bar.close()


class UserCallback(Callback):
    """``fn(snapshot, state_dict)`` at every snapshot (:func:`dip_heal.fit`'s ``callback``); True stops."""

    def __init__(self, fn: Callable[[Snapshot, dict[str, Any]], bool | None]) -> None:
        self.fn = fn

    def on_snapshot(self, state: FitState) -> None:
        state.stop = bool(self.fn(state.snapshot, dict(state.record))) or state.stop


def fit_callbacks(config: FitConfig, crop: tuple[slice, slice], *, progress: bool = False,
                  callback: Callable[[Snapshot, dict[str, Any]], bool | None] | None = None,
                  ) -> tuple[list[Callback], SnapshotSelector, EMA | None]:
    """The callbacks of one fit in the order they run, and the selector and moving average among them.

    EMA (``config.ema > 0``), progress bar, snapshot selection and early stop, the caller's
    ``callback``, time limit (``config.time_limit > 0``).
    """
    selector = SnapshotSelector(config)
    ema = EMA(config.ema, crop) if config.ema > 0 else None
    chain = (ema, Progress(config.num_iter) if progress else None, selector,
             UserCallback(callback) if callback is not None else None,
             TimeLimit(config.time_limit) if config.time_limit else None)
    return [cb for cb in chain if cb is not None], selector, ema


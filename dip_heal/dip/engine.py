"""The fit loop: step, record, snapshot, and let the callbacks decide when to stop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .._intensity import denormalise
from .callbacks import Callback, FitState
from .result import Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Snapshotter", "run"]


class Snapshotter:
    """Takes a snapshot: the network's clean output (or its moving average), scored, as a composite.

    Parameters
    ----------
    score : callable
        ``score(output) -> (normalised composite, held-out L1 or None, blend weights or None)``
        (:class:`~dip_heal.dip.callbacks.HeldOutScore` or :class:`~dip_heal.dip.blend.Blender`).
    image, known : (M, N) ndarray
        The frame and its measured pixels, which every composite keeps.
    scale : float
    predict : callable, optional
        ``predict() -> (M, N) tensor``, the clean output in normalised units (for :meth:`__call__`).
    ema : EMA, optional
        Its average replaces the output once there is one.
    """

    def __init__(self, score: Callable[[Any], tuple], image: np.ndarray, known: np.ndarray, scale: float,
                 predict: Callable[[], "torch.Tensor"] | None = None, ema: Any = None) -> None:
        self.score, self.predict, self.ema = score, predict, ema
        self.image, self.known, self.scale = image, known, scale

    def make(self, iteration: int, out: "torch.Tensor", loss: float, seconds: float) -> Snapshot:
        """The snapshot of one output (normalised units, the frame's shape)."""
        y, val, weights = self.score(out)
        comp = denormalise(y, self.scale)
        comp[self.known] = self.image[self.known]
        return Snapshot(iteration=iteration, healed=comp, val_l1=val, loss=loss, seconds=seconds, weights=weights)

    def __call__(self, state: FitState, loss: float) -> Snapshot:
        assert self.predict is not None
        out = self.predict()
        if self.ema is not None:
            out = self.ema.current(out)
        return self.make(state.iteration, out, loss, state.elapsed())


def _snapshot(state: FitState, snapshotter: Snapshotter, loss: float, callbacks: Sequence[Callback],
              keep: list[Snapshot] | None) -> None:
    snap = snapshotter(state, loss)
    state.record["val_l1"] = snap.val_l1 if snap.val_l1 is not None else float("nan")
    state.snapshot = snap
    if keep is not None:
        keep.append(snap)
    for cb in callbacks:
        cb.on_snapshot(state)


def run(state: FitState, step: Callable[[], tuple["torch.Tensor", "torch.Tensor"]], snapshotter: Snapshotter,
        callbacks: Sequence[Callback], *, snapshot_every: int, start_at_zero: bool = False,
        keep: list[Snapshot] | None = None) -> int:
    """Run the loop until ``state.num_iter`` or a callback stops it; the iteration it stopped at.

    ``start_at_zero`` takes a snapshot before the first step (iteration 0: the azimuthal model or
    the blend of the fills alone, a candidate like any other). The loop starts after
    ``state.iteration`` (0, or the iterations a coarse stage ran: :mod:`dip_heal.dip.coarse`). Snapshots are taken every
    ``snapshot_every`` iterations and at the last; kept in ``keep`` when given.
    """
    n = state.num_iter
    start = state.iteration  # > 0 after a coarse stage (its iterations count)
    stopped_at = n
    for cb in callbacks:
        cb.on_fit_start(state)
    try:
        if start_at_zero:
            state.record = {"iteration": start, "loss": float("nan"), "seconds": state.elapsed()}
            state.metrics.append(state.record)
            _snapshot(state, snapshotter, float("nan"), callbacks, keep)
            if state.stop:
                return start
        for it in range(start + 1, n + 1):
            state.iteration = it
            loss, state.output = step()
            loss_v = float(loss.detach())
            state.record = {"iteration": it, "loss": loss_v, "seconds": state.elapsed()}
            state.metrics.append(state.record)
            for cb in callbacks:  # they see this iteration's record (its loss)
                cb.on_step_end(state)
            if it % snapshot_every == 0 or it == n:
                _snapshot(state, snapshotter, loss_v, callbacks, keep)
                if state.stop:
                    stopped_at = it
                    break
    finally:
        for cb in callbacks:
            cb.on_fit_end(state)
    return stopped_at

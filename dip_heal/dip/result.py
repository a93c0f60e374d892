"""What a fit returns: the snapshots it kept and the :class:`FitResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import FitConfig

__all__ = ["Snapshot", "FitResult"]


@dataclass
class Snapshot:
    """A composite kept during the fit (measured pixels from the input, network output in holes)."""

    iteration: int
    healed: np.ndarray
    val_l1: float | None = None
    loss: float | None = None
    seconds: float = 0.0
    weights: dict[str, float] | None = None


@dataclass
class FitResult:
    """What :func:`dip_heal.fit` returns.

    Attributes
    ----------
    healed : (M, N) ndarray of float32
        The composite in the input's units: input values where known, the fit in ``heal``.
    output : (M, N) ndarray of float32
        The network's full output in the input's units (also over the known pixels).
    iteration : int
        Iteration of the returned composite.
    snapshots : list of Snapshot
        Composites every ``config.snapshot_every`` iterations (when kept).
    metrics : list of dict
        ``iteration``, ``loss``, ``seconds`` of every iteration, plus ``val_l1`` at snapshots.
    config : FitConfig
    seed : int
    seconds : float
        Wall time of the fit.
    holdout : (M, N) ndarray of bool or None
        Known pixels withheld from the loss.
    scale : float
        The normalisation ``scale`` (:func:`dip_heal._intensity.normalise`).
    extra : dict
        What else the fit recorded (where it stopped, the beam centre, blend weights, ...).
    net_state : dict or None
        The network's final weights and Adam's state (``{"net": ..., "adam": ...}``, CPU tensors),
        for a warm start of the next frame of a series.
    """

    healed: np.ndarray
    output: np.ndarray
    iteration: int
    snapshots: list[Snapshot]
    metrics: list[dict[str, float]]
    config: FitConfig
    seed: int
    seconds: float
    holdout: np.ndarray | None = None
    scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)
    net_state: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def best(self) -> Snapshot | None:
        """The snapshot with the lowest held-out L1 (None without held-out pixels)."""
        scored = [s for s in self.snapshots if s.val_l1 is not None]
        return min(scored, key=lambda s: s.val_l1) if scored else None

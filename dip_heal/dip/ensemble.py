"""Ensembles: ``config.ensemble`` networks with consecutive seeds, healed by their log-median."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .._intensity import log_median
from ..config import FitConfig
from .single import fit_one
from .problem import make_holdout, validate
from .result import FitResult, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["fit_ensemble"]

logger = logging.getLogger(__name__)


def fit_ensemble(
    image: np.ndarray,
    heal: np.ndarray,
    config: FitConfig,
    *,
    device: "str | torch.device | None",
    progress: bool,
    callback: Callable[[Snapshot, dict[str, Any]], bool | None] | None,
    holdout: np.ndarray | None,
    keep_snapshots: bool,
    center: tuple[float, float] | None,
    geometry: Any = None,
) -> FitResult:
    """``config.ensemble`` fits with consecutive seeds, healed by their median (see FitConfig)."""
    from ..polar import check_center

    image, heal = validate(image, heal)
    heal_all = heal | ~np.isfinite(image)
    if holdout is None and config.holdout_fraction > 0 and (~heal_all).any() and heal_all.any():
        holdout = make_holdout(~heal_all, heal_all, config.holdout_fraction, config.seed)
    n = config.ensemble
    members: list[FitResult] = []
    t0 = time.perf_counter()
    for k in range(n):
        member_cfg = config.replace(
            ensemble=1, seed=config.seed + k, time_limit=config.time_limit / n if config.time_limit else 0.0
        )

        def member_callback(snap: Snapshot, state: dict[str, Any], k: int = k) -> bool | None:
            state["member"] = k
            return callback(snap, state) if callback is not None else None

        if center is not None:
            check_center(center, np.shape(image), what="--center")
        res = fit_one(image, heal, member_cfg, device=device, progress=progress,
                  callback=member_callback if callback is not None else None, holdout=holdout,
                      keep_snapshots=keep_snapshots, center=center, geometry=geometry)
        center = res.extra.get("center") or center
        members.append(res)
        logger.info("ensemble member %d/%d (seed %d): iteration %d, %.1f s", k + 1, n, member_cfg.seed,
                    res.iteration, res.seconds)
    healed = log_median([m.healed for m in members], heal_all)
    output = log_median([m.output for m in members], np.ones(heal_all.shape, bool))
    first = members[0]
    metrics = [dict(rec, member=k) for k, m in enumerate(members) for rec in m.metrics]
    return FitResult(
        healed=healed,
        output=output,
        iteration=first.iteration,
        snapshots=[s for m in members for s in m.snapshots],
        metrics=metrics,
        config=config,
        seed=config.seed,
        seconds=time.perf_counter() - t0,
        holdout=first.holdout,
        scale=first.scale,
        extra=dict(first.extra, members=[
            {"seed": m.seed, "iteration": m.iteration, "stopped_at": m.extra.get("stopped_at"),
             "seconds": m.seconds, "blend": m.extra.get("blend")} for m in members
        ]),
    )

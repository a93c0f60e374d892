"""One sweep trial: its parameters suggested, the fit run, every snapshot stored and reported to Optuna.

Every snapshot's held-out L1 (``val_l1``: of the healed composite, the blend when the config
blends) is stored; the pruner ranks trials by the one reported with ``trial.report``: the
network's own held-out L1 (``net_l1``) when the fit blends (a blend never scores worse than its
fills, so while the networks are still worse than the fills every trial would tie), else
``val_l1``. A pruned trial (its reported value at a rung not among the best
``1/reduction_factor`` of the trials that reached it) stops there and keeps its snapshots; its user attributes say where
(``stopped_at``) and why (``stop_reason``), and its ``best_iteration`` and ``best_val_l1`` are
those of the snapshots it made. A trial run to the end has ``stopped_at`` None.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import FitConfig
from ..runs import layout
from .spec import SweepSpec, format_value
from .._runtime import torch_threads

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["TrialContext", "TrialReporter", "run_trial", "stop_reason"]

logger = logging.getLogger(__name__)


@dataclass
class TrialContext:
    """Everything a trial needs, loaded once per worker."""

    image: np.ndarray
    heal: np.ndarray
    holdout: np.ndarray
    limits: tuple[float, float]
    config: FitConfig
    spec: SweepSpec
    points: list[dict[str, Any]]
    store: Any
    device: str | None
    progress: bool
    grace_period: int
    tmp_root: Path | None = None
    setup: Any = None
    geometry: Any = None


def _suggest(trial: "optuna.Trial", name: str, p: dict[str, Any]) -> Any:
    if "choices" in p:
        return trial.suggest_categorical(name, p["choices"])
    if p.get("int"):
        return trial.suggest_int(name, p["low"], p["high"], log=p.get("log", False))
    return trial.suggest_float(name, p["low"], p["high"], log=p.get("log", False))


class TrialReporter:
    """A fit callback for one sweep trial: every snapshot stored as Optuna artifacts and reported.

    The snapshot's ``.npy`` and ``.png`` (:func:`dip_heal.runs.write_snapshot`) are uploaded to
    ``store``, listed in the trial's ``snapshots`` user attribute, and its held-out L1 reported
    with ``trial.report``; a pruner's verdict raises ``optuna.TrialPruned``.
    """

    def __init__(self, trial: "optuna.Trial", store: Any, limits: Any, tmp: Path, *, num_iter: int | None = None,
                 prune: dict[str, Any] | None = None, blender: Any = None) -> None:
        self.trial, self.store, self.limits, self.tmp = trial, store, limits, Path(tmp)
        self.snapshots: list[dict[str, Any]] = []
        self.num_iter, self.prune = num_iter, prune or {}
        # the shared blend (dip.frame_setup.SharedBlender) keeps the network's own L1 of each snapshot
        self.blender = blender
        self._scored = getattr(blender, "scored", 0)

    def __call__(self, snap: Any, state: dict[str, Any]) -> None:
        import optuna
        from optuna.artifacts import upload_artifact

        from ..runs.snapshots import write_snapshot

        trial = self.trial
        stem = self.tmp / layout.trial_snapshot_stem(trial.number, snap.iteration)
        write_snapshot(stem, snap.healed, self.limits)
        ids = {}
        for ext, mime in (("npy", "application/octet-stream"), ("png", "image/png")):
            ids[ext] = upload_artifact(artifact_store=self.store, file_path=str(stem.with_suffix("." + ext)),
                                       study_or_trial=trial, mimetype=mime)
            stem.with_suffix("." + ext).unlink()
        val = float(snap.val_l1)
        net = None
        if self.blender is not None and getattr(self.blender, "scored", 0) > self._scored:
            self._scored = self.blender.scored
            net = self.blender.net_l1
        self.snapshots.append({"iteration": int(snap.iteration), "val_l1": val, "net_l1": net, "npy": ids["npy"],
                               "png": ids["png"], "seconds": round(float(snap.seconds), 3)})
        trial.set_user_attr("snapshots", self.snapshots)
        signal = val if net is None else net
        trial.report(signal, int(snap.iteration))
        last = self.num_iter is not None and snap.iteration >= self.num_iter  # its whole budget: complete
        if not last and trial.should_prune():
            reason = stop_reason(trial, int(snap.iteration), signal, self.prune,
                                 "held-out L1" if net is None else "network's held-out L1")
            best = min(self.snapshots, key=lambda s: s["val_l1"])
            trial.set_user_attr("best_iteration", best["iteration"])
            trial.set_user_attr("best_val_l1", best["val_l1"])
            trial.set_user_attr("stopped_at", int(snap.iteration))
            trial.set_user_attr("stop_reason", reason)
            raise optuna.TrialPruned(reason)


def stop_reason(trial: "optuna.Trial", iteration: int, value: float, prune: dict[str, Any],
                what: str = "held-out L1") -> str:
    """Why the pruner stopped ``trial`` at ``iteration``: its rung, its rank there, the share kept.

    Optuna's successive halving records, per trial, the held-out L1 at every rung it reached
    (system attribute ``completed_rung_K``); the rank is among the trials that reached the same
    rung (for Hyperband, of any bracket).
    """
    factor = int(prune.get("reduction_factor", 3))
    head = f"pruned at iteration {iteration}: {what} {value:.4g} not in the best 1/{factor}"
    try:
        trials = trial.study.get_trials(deepcopy=False)
        me = next(t for t in trials if t.number == trial.number)
        keys = sorted((k for k in me.system_attrs if k.startswith("completed_rung_")),
                      key=lambda k: int(k.rsplit("_", 1)[1]))
    except Exception:  # pragma: no cover - a storage that went away; the reason stays short
        keys, trials = [], []
    if not keys:
        return head
    key = keys[-1]
    rung = int(key.rsplit("_", 1)[1])
    values = sorted(float(t.system_attrs[key]) for t in trials if key in t.system_attrs)
    rank = 1 + sum(v < value for v in values)
    if prune.get("pruner") == "halving" and prune.get("min_resource"):
        where = f"rung {int(prune['min_resource']) * factor ** rung}"
    else:
        where = f"rung {rung} of its bracket"
    return f"{head} of {where} (rank {rank} of {len(values)})"


def run_trial(trial: "optuna.Trial", ctx: TrialContext) -> float:
    import optuna

    from ..dip import fit

    spec = ctx.spec
    if spec.sampler != "tpe" and "point" not in trial.user_attrs:
        # the queue ran dry between our look and Optuna's ask: this trial is surplus
        trial.set_user_attr("duplicate_of", -1)
        raise optuna.TrialPruned("surplus trial (every point is taken)")
    params = {name: _suggest(trial, name, p) for name, p in spec.params.items()}
    point = trial.user_attrs.get("point")
    if point is not None:
        for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                                optuna.trial.TrialState.RUNNING)):
            if t.number != trial.number and t.user_attrs.get("point") == point \
                    and t.user_attrs.get("duplicate_of") is None:
                trial.set_user_attr("duplicate_of", t.number)
                raise optuna.TrialPruned(f"point {point} is already {t.state.name.lower()} in trial {t.number}")
    cfg = ctx.config.replace(**params)
    label = ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
    trial.set_user_attr("config", cfg.to_dict())
    trial.set_user_attr("seed", cfg.seed)
    trial.set_user_attr("torch_threads", torch_threads())
    trial.set_user_attr("settings", label)  # one line for optuna-dashboard's trial table
    trial.set_user_attr("snapshots", [])
    if ctx.tmp_root is not None:
        ctx.tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=layout.trial_tmp_prefix(trial.number), dir=ctx.tmp_root))
    logger.info("trial %d: %s", trial.number, label)

    reporter = TrialReporter(trial, ctx.store, ctx.limits, tmp, num_iter=cfg.num_iter, prune=spec.prune,
                             blender=None if ctx.setup is None else ctx.setup.blender)
    try:
        result = fit(ctx.image, ctx.heal, cfg, device=ctx.device, progress=ctx.progress, callback=reporter,
                     holdout=ctx.holdout, keep_snapshots=False, setup=ctx.setup, geometry=ctx.geometry)
    except optuna.TrialPruned as exc:
        logger.info("trial %d %s", trial.number, exc)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    snapshots = reporter.snapshots
    best = min(snapshots, key=lambda s: s["val_l1"])
    trial.set_user_attr("best_iteration", best["iteration"])
    trial.set_user_attr("best_val_l1", best["val_l1"])
    trial.set_user_attr("seconds", round(result.seconds, 3))
    trial.set_user_attr("device", result.extra.get("device"))
    stopped = result.extra.get("stopped_at")
    early = stopped is not None and int(stopped) < cfg.num_iter
    trial.set_user_attr("stopped_at", int(stopped) if early else None)
    trial.set_user_attr("stop_reason", (
        f"stopped early by the fit at iteration {int(stopped)}: {cfg.patience} snapshots in a row not within "
        f"{cfg.val_tol:.0%} of its lowest held-out L1" if early else None))
    logger.info("trial %d done in %.1f s: best held-out L1 %.4g at iteration %d", trial.number, result.seconds,
                best["val_l1"], best["iteration"])
    return best["val_l1"]

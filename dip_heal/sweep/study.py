"""The sweep's Optuna study: created or joined, its points queued, dead trials failed and retried."""

from __future__ import annotations

import json
import logging
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DipHealError
from .spec import SweepSpec

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["create_or_join", "make_pruner", "queue_missing", "fail_stale", "requeue_interrupted", "METRIC_NAME"]

logger = logging.getLogger(__name__)

_ATTR = "dip_heal"  # study user attr holding the sweep's fingerprint
_ATTR_QUEUED = "dip_heal_queued"  # study user attr set once every point is queued
#: The objective's name (optuna-dashboard shows it instead of "Objective 0").
METRIC_NAME = "held-out L1"


def make_pruner(spec: SweepSpec, num_iter: int) -> "optuna.pruners.BasePruner":
    """The sweep's pruner: Optuna's asynchronous successive halving (ASHA), Hyperband, or none.

    Both decide at a trial's reported held-out L1 (one report per snapshot, the step being the
    iteration) against the values the other trials reported at the same rung, so they need no
    trial to wait for another: queued grid points, several workers and resumed sweeps keep
    working. ``min_resource`` is the first rung in iterations; ``reduction_factor`` the share
    (1/factor) kept at every rung; Hyperband's largest budget is ``num_iter``.
    """
    import optuna

    p = spec.prune
    if p.get("pruner", "none") == "none":
        return optuna.pruners.NopPruner()
    if p["pruner"] == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=int(p["min_resource"]), max_resource=int(num_iter),
                                              reduction_factor=int(p["reduction_factor"]))
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=int(p["min_resource"]),
                                                  reduction_factor=int(p["reduction_factor"]))


def _queued_grid_sampler(search_space: dict[str, list[Any]], seed: int) -> "optuna.samplers.GridSampler":
    import optuna

    class QueuedGridSampler(optuna.samplers.GridSampler):
        """Optuna's grid sampler for a grid whose every point the driver queues itself.

        Queued trials carry fixed parameters and no ``grid_id``, so GridSampler's own stopping
        rule (``after_trial``) cannot count them: on a one-point grid it looked up the missing
        ``grid_id`` and failed. The driver decides when the grid is done, so the rule is off.
        """

        def after_trial(self, study, trial, state, values) -> None:  # noqa: D102
            return None

    return QueuedGridSampler(search_space, seed=seed)


def _make_sampler(spec: SweepSpec, n_existing: int) -> "optuna.samplers.BaseSampler":
    import optuna

    if spec.sampler == "grid":
        return _queued_grid_sampler(spec.search_space(), seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a different seed per (re)start, so a resumed TPE sweep does not replay its first proposals
        return optuna.samplers.TPESampler(seed=spec.seed + n_existing, constant_liar=True,
                                          n_startup_trials=min(10, max(2, (spec.trials or 10) // 3)))


def create_or_join(storage: Any, name: str, spec: SweepSpec, fingerprint: dict[str, Any],
                   num_iter: int | None = None) -> "optuna.Study":
    """Create the sweep's study and queue its points, or join it (checking it holds the same sweep).

    With pruning, a grid's points are queued in an order shuffled from the sweep's seed (each
    keeps its index, ``point``): the pruner compares a trial with the ones before it, and file
    order would run all the points of the first learning rate first.
    """
    import optuna

    pruner = make_pruner(spec, num_iter or 1)
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                    sampler=_make_sampler(spec, 0), pruner=pruner)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        n = len(optuna.load_study(study_name=name, storage=storage).trials)
        study = optuna.load_study(study_name=name, storage=storage, sampler=_make_sampler(spec, n), pruner=pruner)
        created = False
    if created:
        study.set_user_attr(_ATTR, fingerprint)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental since Optuna 3.2
            study.set_metric_names([METRIC_NAME])
        order = list(range(spec.n_points())) if spec.sampler != "tpe" else []
        if spec.pruned and spec.sampler == "grid":
            order = [int(i) for i in np.random.default_rng(spec.seed).permutation(len(order))]
        _queue(study, spec, order)
        study.set_user_attr(_ATTR_QUEUED, True)
        logger.info("created study %r (%d points queued)", name, spec.n_points() if spec.sampler != "tpe" else 0)
        return study
    # another worker (or an earlier run) created it: wait for its fingerprint and queue
    deadline = time.monotonic() + 30
    while _ATTR not in study.user_attrs or _ATTR_QUEUED not in study.user_attrs:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    theirs = study.user_attrs.get(_ATTR)
    if theirs is None:
        raise DipHealError(f"study {name!r} exists but was not made by a dip-heal sweep; expected a dip-heal "
                           "study; choose another --study")
    if theirs != json.loads(json.dumps(fingerprint)):
        ours = json.loads(json.dumps(fingerprint))
        diff = sorted(k for k in ("sweep", "config", "digest") if theirs.get(k) != ours[k])
        what = {"sweep": "sweep file", "config": "fit options", "digest": "frame, mask or held-out pixels"}
        raise DipHealError(
            f"study {name!r} holds another sweep (its {', '.join(what[d] for d in diff)} differ); expected the "
            "same image, mask, sweep and options to resume or join it; choose another --study (or --out)"
        )
    if _ATTR_QUEUED not in study.user_attrs and spec.sampler != "tpe":
        logger.warning("study %r was never fully queued (its creator stopped early); queueing the missing points", name)
        queue_missing(study, spec)
        study.set_user_attr(_ATTR_QUEUED, True)
    logger.info("joined study %r (%d trials so far)", name, len(study.trials))
    return study


def _queue(study: "optuna.Study", spec: SweepSpec, indices: Any, retry_of: dict[int, int] | None = None) -> None:
    points = spec.points()
    for i in indices:
        attrs: dict[str, Any] = {"point": int(i)}
        if retry_of and i in retry_of:
            attrs["retry_of"] = retry_of[i]
        study.enqueue_trial(points[i], user_attrs=attrs)


def queue_missing(study: "optuna.Study", spec: SweepSpec) -> int:
    """Queue again the points that have no complete, running or waiting trial; returns how many."""
    trials = study.get_trials(deepcopy=False)
    covered: set[int] = set()
    last_fail: dict[int, int] = {}
    for t in trials:
        p = t.user_attrs.get("point")
        if p is None or t.user_attrs.get("duplicate_of") is not None:
            continue
        if t.state.name in ("COMPLETE", "PRUNED", "RUNNING", "WAITING"):
            covered.add(int(p))
        elif t.state.name == "FAIL":
            last_fail[int(p)] = t.number
    missing = [i for i in range(spec.n_points()) if i not in covered]
    if missing:
        logger.info("retrying %d point(s) whose trial failed or was interrupted: %s", len(missing),
                    ", ".join(f"point {i} (trial {last_fail[i]})" if i in last_fail else f"point {i}" for i in missing))
        _queue(study, spec, missing, retry_of=last_fail)
    return len(missing)


def fail_stale(study: "optuna.Study", rdb: Any = None, no_beat_after: float | None = None) -> None:
    """Mark dead trials FAIL: heartbeat older than the grace period (Optuna's check), or, for a
    worker killed before its first heartbeat, no heartbeat at all ``no_beat_after`` seconds
    after the trial started."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if rdb is None or no_beat_after is None:
        return
    import datetime as _dt

    import sqlalchemy

    try:
        with rdb.engine.connect() as con:
            rows = con.execute(sqlalchemy.text(
                "SELECT t.trial_id, t.number, t.datetime_start FROM trials t LEFT JOIN trial_heartbeats h "
                "ON h.trial_id = t.trial_id WHERE t.study_id = :sid AND t.state = 'RUNNING' AND h.trial_id IS NULL"
            ), {"sid": rdb.get_study_id_from_name(study.study_name)}).fetchall()
    except Exception as exc:  # pragma: no cover - a schema Optuna may change; the heartbeat check still runs
        logger.debug("no-heartbeat check skipped: %s", exc)
        return
    now = _dt.datetime.now()
    for trial_id, number, start in rows:
        if start is None or (now - start.replace(tzinfo=None)).total_seconds() < no_beat_after:
            continue
        try:
            if rdb.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL):
                logger.info("trial %d started %s and never sent a heartbeat: marked failed", number, start)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


def requeue_interrupted(study: "optuna.Study", trial: Any, spec: SweepSpec) -> None:
    """After Ctrl-C: queue the interrupted trial again (same parameters and seed)."""
    if trial is None:
        return
    try:
        frozen = study._storage.get_trial(trial._trial_id)
    except Exception:  # pragma: no cover - the storage went away with the interrupt
        return
    if frozen.state.name != "FAIL" or frozen.user_attrs.get("duplicate_of") is not None:
        return
    attrs = {"retry_of": frozen.number}
    if "point" in frozen.user_attrs:
        attrs["point"] = frozen.user_attrs["point"]
    study.enqueue_trial(dict(frozen.params), user_attrs=attrs)
    logger.info("trial %d was interrupted; it will be retried when the sweep is run again", frozen.number)

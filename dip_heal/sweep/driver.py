"""Running a sweep: the run folder prepared, the study created or joined, trials run until every point is done.

Held-out pixels
---------------
``holdout_fraction`` (default 3 %) of the known pixels, drawn once per sweep from ``seed`` as
short segments shaped like the frame's gaps (:func:`dip_heal.dip.make_holdout`), are withheld
from the loss of every trial. Their L1 (normalised log intensity) at every snapshot is the
trial's ``trial.report`` value; the trial's objective is its lowest one, and that snapshot is
the trial's recommended snapshot. The held-out pixels are measured pixels: every snapshot and
every picked output keeps their measured values, so ``dip-heal pick`` refits nothing.

Pruning
-------
By default a sweep prunes (``[prune]`` in the sweep file, :func:`~dip_heal.sweep.study.make_pruner`):
at every rung (``min_resource`` iterations, then ``reduction_factor`` times more, ...) a trial
whose held-out L1 is not among the best ``1/reduction_factor`` of the trials that reached the
rung stops there. It keeps its snapshots and records where and why it stopped (user attributes
``stopped_at``, ``stop_reason``). The recommended snapshot is that of the best complete trial.
``--no-prune`` (``prune=False``) runs every point to the end. The rung values of a trial that
was killed or interrupted stay in the study (Optuna keeps them with the trial), so its retry
competes with them too; every point is still decided exactly once.

Budgets
-------
Trials are budgeted in iterations (``num_iter``; no per-trial ``time_limit``), so their held-out
scores compare equal budgets whatever the machine's load. A sweep-wide ``time_budget`` (seconds;
``--time-budget`` or the sweep file) stops the sweep between trials: no trial starts once it is
spent, a started one runs to its end (or its pruning). The same command continues.

Shared set-up
-------------
The frame-dependent set-up (held-out pixels, beam centre, the azimuthal model's settings, the
blend's azimuthal and Telea fills; :func:`dip_heal.dip.frame_setup.frame_setup`) is computed once
per sweep and worker, recorded in ``RUN/setup.json``, and reused by every trial.

Resume
------
Running the same command again continues the study: complete trials are kept, a trial that
was interrupted (Ctrl-C) or whose worker died (no heartbeat for ``grace_period`` seconds) is
retried with the same parameters and seed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, fields
from dataclasses import replace as dataclasses_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import FitConfig
from ..errors import DipHealError
from ..outputs import check_not_input, mark_dir
from ..runs import layout
from ..runs.inputs import check_heal, load_frame_and_mask
from ..runs.record import input_record, write_json
from .objective import TrialContext, run_trial
from .spec import SweepSpec, default_sweep_path, load_sweep, resolve_config, resolve_prune, with_overrides
from .storage import artifact_store, open_storage, redact
from .study import create_or_join, fail_stale, queue_missing, requeue_interrupted
from .summary import SweepSummary, summarize

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["SweepOptions", "run_sweep", "remove_orphans"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepOptions:
    """How a sweep runs, beyond the frame and the fit's config.

    Attributes
    ----------
    sweep_file : path-like, optional
        The sweep TOML; default the shipped file for ``sampler`` (``sweeps/mve385-grid.toml``).
    sampler : {'grid', 'random', 'tpe'}, optional
        Overrides the file's sampler (a grid file's lists become categorical choices).
    trials : int, optional
        Overrides the file's number of trials (random and TPE); with a grid, run at most this
        many of its points now (the same command runs the rest).
    storage : str, optional
        Optuna storage URL; default ``sqlite:///RUN/study.db``. With a PostgreSQL URL, workers
        on several machines running the same command share the sweep.
    study_name : str, optional
        Default: ``<sweep name>-<image stem>``.
    heartbeat_interval, grace_period : int
        Seconds between a running trial's heartbeats, and without one before the trial counts as
        dead (its worker was killed) and is retried.
    max_trials : int, optional
        Stop this worker after running this many trials (the sweep can be resumed).
    prune : bool
        Prune trials as the sweep file's ``[prune]`` says (default: successive halving); False
        (``--no-prune``) runs every point to the end.
    time_budget : float, optional
        Seconds of wall time for this run of the sweep (default: the sweep file's
        ``time_budget``, else none): no trial starts once they are spent.
    poni : path-like, optional
        A pyFAI calibration (``--poni``; wins over the sweep file's ``poni``): every trial's beam
        centre, polar inputs and azimuthal model follow it; recorded in ``sweep.json``.
    """

    sweep_file: str | os.PathLike | None = None
    sampler: str | None = None
    trials: int | None = None
    storage: str | None = None
    study_name: str | None = None
    heartbeat_interval: int = 5
    grace_period: int = 20
    max_trials: int | None = None
    prune: bool = True
    time_budget: float | None = None
    poni: str | os.PathLike | None = None

    @classmethod
    def from_cli(cls, *, center: Any = None, **options: Any) -> "SweepOptions":
        """The options of ``dip-heal fit --grid``, with the checks of the flags a sweep does not take.

        Raises
        ------
        DipHealError
            ``--center`` given (a sweep estimates the beam centre itself).
        """
        if center is not None:
            raise DipHealError("--center applies to one fit; a sweep estimates the beam centre itself "
                               "(run the sweep without --center)")
        return cls(**options)


def _frame_digest(image: np.ndarray, heal: np.ndarray, holdout: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.nan_to_num(image, nan=-1.0)).tobytes())
    h.update(np.packbits(heal).tobytes())
    h.update(np.packbits(holdout).tobytes())
    return h.hexdigest()[:16]


def run_sweep(
    image: str | os.PathLike,
    out: str | os.PathLike,
    *,
    base_config: FitConfig | None = None,
    mask_path: str | os.PathLike | None = None,
    mask_convention: str | None = None,
    device: str | None = None,
    progress: bool = False,
    overrides: dict[str, Any] | None = None,
    options: SweepOptions | None = None,
    **option_kwargs: Any,
) -> SweepSummary:
    """Run (or resume, or join) a hyperparameter sweep of one frame.

    Parameters
    ----------
    image : path-like
        The frame (any format :func:`dip_heal.io.read_image` reads).
    out : path-like
        The run folder (created; reused when it holds the same sweep).
    base_config : FitConfig, optional
        The command line's config; its fields that differ from its preset win over the sweep
        file's ``[config]`` (see :func:`~dip_heal.sweep.resolve_config`).
    mask_path : path-like, optional
        Pixels to heal; default: the frame's invalid pixels.
    mask_convention : str, optional
        How to read the mask file.
    device : str, optional
    progress : bool
        A progress bar per trial.
    overrides : dict, optional
        The FitConfig fields the command line set explicitly; they win over the sweep file's
        ``[config]`` even where they equal the preset's value.
    options : SweepOptions, optional
        The sweep file, sampler, trials, storage, study and worker settings.
    **option_kwargs
        The fields of :class:`SweepOptions` given one by one (``sweep_file=``, ``sampler=``,
        ``trials=``, ``storage=``, ``study_name=``, ``heartbeat_interval=``, ``grace_period=``,
        ``max_trials=``, ``prune=``, ``time_budget=``); they replace those of ``options``.

    Returns
    -------
    SweepSummary

    Raises
    ------
    DipHealError
        Bad sweep file or options, an unreachable storage, a study or run folder that holds
        another sweep, a frame without pixels to heal.
    """
    import optuna

    t0 = time.perf_counter()
    opts = _options(options, option_kwargs)
    run = Path(out)
    spec, config, max_trials = _plan(base_config, opts, overrides)
    if run.exists() and not run.is_dir():
        raise DipHealError(f"--out {run} is a file; expected a run folder path; choose another --out")
    frame, heal, data, holdout = _prepare(image, mask_path, mask_convention, config, spec)
    poni = opts.poni if opts.poni is not None else spec.poni
    geometry = None
    if poni is not None:
        from ..geometry import load_geometry

        geometry = load_geometry(poni, frame.shape)
    from ..dip.frame_setup import frame_setup

    setup = frame_setup(data, heal, config, holdout)
    study_name = opts.study_name or f"{spec.name}-{Path(str(image)).name.split('.')[0]}"
    url = opts.storage or f"sqlite:///{(run / layout.STUDY_DB).resolve()}"
    record = {
        **input_record(image, mask_path, mask_convention, frame, geometry),
        "sweep": spec.to_dict(),
        "sweep_file": str(Path(opts.sweep_file).resolve()) if opts.sweep_file is not None else None,
        "config": config.to_dict(),
        "storage": redact(url),
        "study": study_name,
        "artifacts": layout.ARTIFACTS,
        "digest": _frame_digest(data, heal, holdout),
        "time_budget": spec.time_budget,
    }
    record = json.loads(json.dumps(record))  # tuples -> lists, as read back from sweep.json
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rdb = _open_run_dir(run, url, record, opts, [image, mask_path, opts.sweep_file], heal, holdout)
    if not (run / layout.SETUP_JSON).exists():
        write_json(run / layout.SETUP_JSON, setup.record())
    fingerprint = {"sweep": {k: v for k, v in spec.to_dict().items() if k != "description"},
                   "config": config.to_dict(), "digest": record["digest"]}
    if geometry is not None:  # another calibration is another sweep
        fingerprint["poni_sha256"] = geometry.sha256
    study = create_or_join(rdb, study_name, spec, fingerprint, num_iter=_max_iterations(config, spec))
    from ..report import log_limits

    ctx = TrialContext(
        image=data, heal=heal, holdout=holdout,
        limits=log_limits(np.where(heal, np.nan, frame.data)),
        config=config, spec=spec, points=spec.points(), store=artifact_store(run / layout.ARTIFACTS),
        device=device, progress=progress, grace_period=opts.grace_period, tmp_root=run / layout.SWEEP_TMP,
        setup=setup, geometry=geometry,
    )
    logger.info("sweep %s: %s sampler, %d %s, study %r in %s", run, spec.sampler, spec.n_points(),
                "points" if spec.sampler == "grid" else "trials", study_name, redact(url))
    if spec.pruned:
        logger.info("pruning: %s from iteration %d, keeping the best 1/%d at every rung", spec.prune["pruner"],
                    spec.prune["min_resource"], spec.prune["reduction_factor"])
    budget = _drive(study, ctx, opts.heartbeat_interval, max_trials, rdb, t0=t0)
    return summarize(study, run, study_name, redact(url), spec, time.perf_counter() - t0, budget_spent=budget)


def _options(options: SweepOptions | None, kwargs: dict[str, Any]) -> SweepOptions:
    """``options`` with the keyword arguments given one by one applied."""
    known = {f.name for f in fields(SweepOptions)}
    bad = sorted(set(kwargs) - known)
    if bad:
        raise TypeError(f"run_sweep() got unexpected keyword argument(s) {', '.join(bad)}; "
                        f"expected some of {', '.join(sorted(known))}")
    opts = options if options is not None else SweepOptions()
    return dataclasses_replace(opts, **kwargs) if kwargs else opts


def _plan(base_config: FitConfig | None, opts: SweepOptions,
          overrides: dict[str, Any] | None) -> tuple[SweepSpec, FitConfig, int | None]:
    """The sweep with its overrides, the config its trials start from, and this worker's trial cap."""
    base_config = base_config if base_config is not None else FitConfig.preset("default")
    sampler, trials, max_trials = opts.sampler, opts.trials, opts.max_trials
    spec = load_sweep(opts.sweep_file if opts.sweep_file is not None else default_sweep_path(sampler))
    if trials is not None and (sampler or spec.sampler) == "grid":
        # a grid's points are fixed: --trials N runs N of them now, the same command runs the rest
        max_trials = trials if max_trials is None else min(max_trials, trials)
        logger.info("grid sweep: running at most %d of its %d points now; run the same command again to "
                    "continue", trials, spec.n_points())
        trials = None
    spec = with_overrides(spec, sampler, trials)
    config = resolve_config(base_config, spec, overrides)
    spec = resolve_prune(spec, config, opts.prune, opts.time_budget)
    if config.ensemble > 1:
        raise DipHealError(f"the sweep's configuration has ensemble = {config.ensemble}; a sweep fits one network "
                           "per trial (expected ensemble = 1); set ensemble to 1 and average trials afterwards "
                           "with `dip-heal pick RUN --average K`")
    return spec, config, max_trials


def _max_iterations(config: FitConfig, spec: SweepSpec) -> int:
    """The largest trial budget in iterations (``num_iter`` may be swept)."""
    p = spec.params.get("num_iter")
    if p is None:
        return int(config.num_iter)
    return int(max(p["choices"]) if "choices" in p else p["high"])


def _prepare(image: Any, mask_path: Any, mask_convention: str | None, config: FitConfig,
             spec: SweepSpec) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The frame, the pixels to heal, the data to fit (NaN there) and the sweep's held-out pixels."""
    from ..dip import make_holdout

    frame, heal = load_frame_and_mask(image, mask_path, mask_convention=mask_convention)
    check_heal(heal, image, mask_path)
    data = np.where(heal, np.nan, frame.data).astype(np.float32)
    holdout = make_holdout(~heal, heal, config.holdout_fraction, spec.seed)
    if not holdout.any():
        raise DipHealError(f"{image}: no pixel was held out (holdout_fraction {config.holdout_fraction}); "
                           "expected a frame with enough measured pixels; raise holdout_fraction")
    return frame, heal, data, holdout


def _open_run_dir(run: Path, url: str, record: dict[str, Any], opts: SweepOptions, inputs: list[Any],
                  heal: np.ndarray, holdout: np.ndarray) -> Any:
    """Check the run folder and storage, mark the folder, write its record once; the opened storage."""
    storage_kw = {"heartbeat_interval": opts.heartbeat_interval, "grace_period": opts.grace_period}
    if opts.storage is not None:  # a server: check it answers before writing anything
        rdb = open_storage(url, **storage_kw)
    _check_run_dir(run, record)
    check_not_input(run, inputs)
    run.mkdir(parents=True, exist_ok=True)
    mark_dir(run, command="fit --grid", entries=[layout.SWEEP_JSON, layout.HEAL_MASK, layout.HOLDOUT,
                                                  layout.ARTIFACTS, layout.STUDY_DB, layout.SWEEP_TMP,
                                                  layout.SETUP_JSON])
    if opts.storage is None:
        rdb = open_storage(url, **storage_kw)
    (run / layout.ARTIFACTS).mkdir(exist_ok=True)
    if not (run / layout.SWEEP_JSON).exists():
        np.save(run / layout.HEAL_MASK, heal)
        np.save(run / layout.HOLDOUT, holdout)
        write_json(run / layout.SWEEP_JSON, record)
    return rdb


def _check_run_dir(run: Path, record: dict[str, Any]) -> None:
    rec = run / layout.SWEEP_JSON
    if run.is_dir() and any(run.iterdir()) and not rec.exists():
        raise DipHealError(f"--out {run} exists and holds no sweep (no sweep.json); expected a new or a sweep run "
                           "folder; choose another --out")
    if rec.exists():
        old = json.loads(rec.read_text())
        for key in ("digest", "sweep", "config", "study", "storage"):
            if old.get(key) != record[key]:
                raise DipHealError(
                    f"run folder {run} holds another sweep (its {key} differs); expected the same image, mask, "
                    "sweep and options to resume it; choose another --out"
                )


def remove_orphans(study: "optuna.Study", ctx: TrialContext) -> None:
    """Delete the snapshots and temporary files of failed (killed, interrupted) trials.

    Their points are queued again and run from scratch, so what they left is never read: their
    artifacts would only be orphans in ``artifacts/`` and their temporary folders leftovers.
    """
    for t in study.get_trials(deepcopy=False, states=None):
        if t.state.name != "FAIL":
            continue
        n_removed = 0
        for snap in t.user_attrs.get("snapshots", []):
            for key in ("npy", "png"):
                if snap.get(key) is None:
                    continue
                try:
                    ctx.store.remove(snap[key])
                    n_removed += 1
                except Exception:  # already removed (by us or another worker): ArtifactNotFound
                    pass
        if ctx.tmp_root is not None and ctx.tmp_root.is_dir():
            for left in ctx.tmp_root.glob(layout.trial_tmp_prefix(t.number) + "*"):
                shutil.rmtree(left, ignore_errors=True)
        if n_removed:
            logger.info("removed %d snapshot file(s) of failed trial %d (its point is run again)", n_removed, t.number)


def _decided(trials: list[Any]) -> tuple[set[int], set[int]]:
    """The points (grid, random) or trial numbers (TPE) decided: complete, and pruned by the pruner."""
    complete, pruned = set(), set()
    for t in trials:
        if t.user_attrs.get("duplicate_of") is not None:
            continue
        key = int(t.user_attrs["point"]) if "point" in t.user_attrs else -1 - t.number
        if t.state.name == "COMPLETE":
            complete.add(key)
        elif t.state.name == "PRUNED":
            pruned.add(key)
    return complete, pruned - complete


class _SweepBar:
    """The sweep-wide progress bar: points decided of all, with done / pruned / left and tqdm's ETA."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="sweep", unit="trial", position=0, dynamic_ncols=True)

    def update(self, n_complete: int, n_pruned: int, total: int) -> None:
        if self.bar is None:
            return
        n = min(total, n_complete + n_pruned)
        self.bar.set_postfix_str(f"done {n_complete}, pruned {n_pruned}, left {max(0, total - n)}", refresh=False)
        self.bar.update(n - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _drive(study: "optuna.Study", ctx: TrialContext, heartbeat_interval: int, max_trials: int | None,
           rdb: Any = None, t0: float | None = None) -> bool:
    """Run trials until every point (grid, random) or ``trials`` trials (TPE) are decided.

    Returns True when the sweep stopped because its time budget was spent.
    """
    spec = ctx.spec
    ran = 0
    waited_for: set[int] = set()
    current: dict[str, Any] = {}
    t0 = time.perf_counter() if t0 is None else t0
    bar = _SweepBar(spec.n_points(), ctx.progress)

    def objective(trial: "optuna.Trial") -> float:
        current["trial"] = trial
        return run_trial(trial, ctx)

    try:
        while True:
            fail_stale(study, rdb, 2 * ctx.grace_period + heartbeat_interval)
            remove_orphans(study, ctx)
            trials = study.get_trials(deepcopy=False)
            complete, pruned = _decided(trials)
            bar.update(len(complete), len(pruned), spec.n_points())
            running = [t for t in trials if t.state.name == "RUNNING"]
            waiting = [t for t in trials if t.state.name == "WAITING"]
            n_done = len(complete) + len(pruned)
            if spec.sampler == "tpe":
                if n_done >= spec.n_points():
                    break
                if not waiting and n_done + len(running) >= spec.n_points():
                    _wait(running, waited_for, heartbeat_interval)
                    continue
            else:
                if n_done >= spec.n_points():
                    break
                if not waiting:
                    if queue_missing(study, spec):
                        continue
                    _wait(running, waited_for, heartbeat_interval)
                    continue
            if max_trials is not None and ran >= max_trials:
                logger.info("stopping after %d trials (max_trials); run the same command again to continue", ran)
                break
            spent = time.perf_counter() - t0
            if spec.time_budget is not None and spent >= spec.time_budget:
                logger.info("time budget spent (%.0f s of %.0f s) with %d of %d trials decided (%d pruned): no trial "
                            "is started; run the same command again to continue", spent, spec.time_budget, n_done,
                            spec.n_points(), len(pruned))
                return True
            try:
                study.optimize(objective, n_trials=1, catch=(), gc_after_trial=False)
            except KeyboardInterrupt:
                requeue_interrupted(study, current.get("trial"), spec)
                raise
            ran += 1
    finally:
        bar.close()
    return False


def _wait(running: list[Any], waited_for: set[int], heartbeat_interval: int) -> None:
    new = [t.number for t in running if t.number not in waited_for]
    if new:
        logger.info("waiting for trial(s) %s running elsewhere (or dead: retried once their heartbeat is older "
                    "than the grace period)", ", ".join(map(str, new)))
        waited_for.update(new)
    time.sleep(max(0.5, heartbeat_interval / 2))


"""A sweep's run folder, read: its record, study, trials and stored snapshots.

See :mod:`dip_heal.runs.layout` for the folder's files and :mod:`dip_heal.sweep` for how a sweep
writes them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from . import layout

__all__ = ["SweepRun", "TrialInfo", "open_run", "rerun_trial"]

logger = logging.getLogger(__name__)

_LABELS = {"lr": "lr", "param_noise": "pn", "reg_noise_std": "rn", "seed": "seed"}


@dataclass
class TrialInfo:
    """One trial of a sweep, as stored in the study.

    Attributes
    ----------
    number : int
    state : str
        ``COMPLETE``, ``RUNNING``, ``FAIL``, ``PRUNED`` or ``WAITING``.
    params : dict
        The swept FitConfig fields.
    config : dict
        The full FitConfig of the trial.
    seed : int or None
    snapshots : list of dict
        ``iteration``, ``val_l1``, ``npy`` and ``png`` artifact ids, in iteration order.
    best_iteration : int or None
        The recommended snapshot (lowest held-out L1).
    value : float or None
        The trial's objective (its lowest held-out L1; for a pruned trial, the lowest of the
        snapshots it made).
    stopped_at : int or None
        The iteration a pruned (or wall-budget-stopped) trial stopped at; None for a trial run
        to the end.
    stop_reason : str or None
        Why it stopped there, e.g. ``"pruned at iteration 100: held-out L1 0.031 not in the best
        1/3 of rung 100"``; None for a trial run to the end.
    """

    number: int
    state: str
    params: dict[str, Any]
    config: dict[str, Any]
    seed: int | None
    snapshots: list[dict[str, Any]]
    best_iteration: int | None
    value: float | None
    stopped_at: int | None = None
    stop_reason: str | None = None

    def snapshot(self, iteration: int) -> dict[str, Any]:
        """The stored snapshot at ``iteration``; the error lists the ones that exist."""
        for s in self.snapshots:
            if s["iteration"] == iteration:
                return s
        have = ", ".join(str(s["iteration"]) for s in self.snapshots) or "none"
        raise DipHealError(
            f"trial {self.number} has no snapshot at iteration {iteration}; expected one of: {have}"
        )

    def label(self) -> str:
        """Row label: trial number, parameters, seed and best held-out L1."""
        parts = [f"#{self.number}"]
        p = dict(self.params)
        for key in ("lr", "param_noise", "reg_noise_std"):
            v = p.pop(key, self.config.get(key))
            if isinstance(v, bool):
                v = "on" if v else "off"
            elif isinstance(v, float):
                v = f"{v:g}"
            parts.append(f"{_LABELS[key]}={v}")
        p.pop("seed", None)
        line1 = " ".join(parts[:2])
        line2 = " ".join(parts[2:]) + f" seed={self.seed}"
        extra = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())
        line3 = f"val L1 {self.value:.4g}" if self.value is not None else self.state.lower()
        return "\n".join([line1, line2] + ([extra] if extra else []) + [line3])


@dataclass
class SweepRun:
    """A sweep's run folder, opened.

    Attributes
    ----------
    run_dir : Path
    record : dict
        The content of ``sweep.json``.
    study : optuna.Study
    store : optuna.artifacts.FileSystemArtifactStore
    heal : (M, N) ndarray of bool
        Pixels that were healed.
    holdout : (M, N) ndarray of bool
        Known pixels withheld from the loss (they keep their measured values).
    """

    run_dir: Path
    record: dict[str, Any]
    study: Any
    store: Any
    heal: np.ndarray
    holdout: np.ndarray
    _trials: list[TrialInfo] | None = field(default=None, repr=False)

    def trials(self, states: tuple[str, ...] = ("COMPLETE",)) -> list[TrialInfo]:
        """Trials in the given states, by number."""
        if self._trials is None:
            out = []
            for t in self.study.get_trials(deepcopy=False):
                if t.user_attrs.get("duplicate_of") is not None:
                    continue
                out.append(TrialInfo(
                    number=t.number, state=t.state.name, params=dict(t.params),
                    config=dict(t.user_attrs.get("config", {})), seed=t.user_attrs.get("seed"),
                    snapshots=sorted(t.user_attrs.get("snapshots", []), key=lambda s: s["iteration"]),
                    best_iteration=t.user_attrs.get("best_iteration"),
                    # Optuna gives a pruned trial its last reported value (the pruner's signal)
                    value=t.value if t.state.name != "PRUNED" else t.user_attrs.get("best_val_l1"),
                    stopped_at=t.user_attrs.get("stopped_at"), stop_reason=t.user_attrs.get("stop_reason"),
                ))
            self._trials = out
        return [t for t in self._trials if t.state in states]

    def trial(self, number: int) -> TrialInfo:
        """A complete trial by number; the error lists the complete ones."""
        for t in self.trials():
            if t.number == number:
                return t
        have = _ranges([t.number for t in self.trials()]) or "none"
        raise DipHealError(f"{self.run_dir}: no complete trial {number}; expected one of the complete trials: {have}")

    def best(self) -> TrialInfo:
        """The complete trial with the lowest held-out L1."""
        done = [t for t in self.trials() if t.value is not None]
        if not done:
            raise DipHealError(f"{self.run_dir}: no trial is complete yet; expected a sweep with results; "
                               "run or resume the sweep first (dip-heal fit ... --grid)")
        return min(done, key=lambda t: t.value)

    def load(self, trial: TrialInfo, iteration: int) -> np.ndarray:
        """The snapshot composite (float32, input units) of ``trial`` at ``iteration``."""
        from optuna.artifacts.exceptions import ArtifactNotFound

        snap = trial.snapshot(iteration)
        try:
            with self.store.open_reader(snap["npy"]) as fh:
                arr = np.load(fh, allow_pickle=False)
        except (FileNotFoundError, ArtifactNotFound):
            raise DipHealError(
                f"{self.run_dir}: the snapshot of trial {trial.number} at iteration {iteration} is not in "
                f"{self.run_dir / layout.ARTIFACTS}; expected the artifacts of the worker that ran it; copy that "
                "worker's artifacts/ folder here (or share it between machines)"
            ) from None
        return np.asarray(arr, dtype=np.float32)


def _ranges(nums: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``'0-2, 5'``."""
    nums = sorted(set(nums))
    out: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(f"{nums[i]}-{nums[j]}" if j > i else str(nums[i]))
        i = j + 1
    return ", ".join(out)


def open_run(run_dir: str | os.PathLike, *, storage: str | None = None) -> SweepRun:
    """Open a sweep's run folder (``sweep.json``, the study, the artifacts).

    Parameters
    ----------
    run_dir : path-like
    storage : str, optional
        The study's storage URL when it is not the one recorded (e.g. with a password).

    Raises
    ------
    DipHealError
        Not a sweep run folder, an unreachable storage, a missing study.
    """
    import optuna

    from ..sweep.storage import artifact_store, open_storage

    run = Path(run_dir)
    rec_path = run / layout.SWEEP_JSON
    if not rec_path.is_file():
        raise DipHealError(f"{run} is not a sweep run folder (no sweep.json); expected the --out folder of "
                           "'dip-heal fit ... --grid'; check the path")
    record = json.loads(rec_path.read_text())
    url = storage or record["storage"]
    if "***" in url:
        raise DipHealError(f"the recorded storage {url} hides its password; expected the full URL; pass --storage URL")
    rdb = open_storage(url)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=record["study"], storage=rdb)
    except KeyError:
        raise DipHealError(f"study {record['study']!r} is not in {url}; expected the sweep's study; "
                           "pass --storage with the URL the sweep used") from None
    heal = np.load(run / layout.HEAL_MASK)
    holdout = np.load(run / layout.HOLDOUT)
    return SweepRun(run_dir=run, record=record, study=study, store=artifact_store(run / layout.ARTIFACTS),
                    heal=heal, holdout=holdout)


def rerun_trial(run_dir: str | os.PathLike, number: int, *, device: str | None = None,
                storage: str | None = None) -> Any:
    """Fit a trial again from its recorded config and seed (same held-out pixels).

    On the CPU, with the trial's number of torch threads (set here for the fit), this
    reproduces the trial's snapshots bit for bit; use it to check a result or to get the
    snapshots of a trial whose artifacts are on another machine.

    Returns
    -------
    FitResult
        With every snapshot kept.
    """
    from ..config import FitConfig
    from ..dip import fit
    from ..io import read_image

    run = open_run(run_dir, storage=storage)
    info = run.trial(number)
    frame = read_image(run.record["input"])
    image = np.where(run.heal, np.nan, frame.data).astype(np.float32)
    import torch

    threads = torch.get_num_threads()
    want = run.study.trials[info.number].user_attrs.get("torch_threads")
    try:
        if want:
            torch.set_num_threads(int(want))
        return fit(image, run.heal, FitConfig.from_dict(info.config), device=device, holdout=run.holdout)
    finally:
        torch.set_num_threads(threads)

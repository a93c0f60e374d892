"""Hyperparameter sweeps: TOML sweep files, Optuna studies, snapshots as artifacts, resume.

A sweep fits one frame many times with different :class:`~dip_heal.config.FitConfig` settings
and scores every snapshot on a held-out set of known pixels, so the snapshot to keep can be
recommended instead of chosen by eye alone.

- :mod:`~dip_heal.sweep.spec`: the sweep file (TOML), checked; the config trials start from
- :mod:`~dip_heal.sweep.storage`: Optuna storages and the artifact store
- :mod:`~dip_heal.sweep.study`: the study created or joined, its points queued, dead trials retried
- :mod:`~dip_heal.sweep.objective`: one trial, and :class:`TrialReporter`, the fit callback
  storing and reporting every snapshot
- :mod:`~dip_heal.sweep.driver`: :func:`run_sweep` and :class:`SweepOptions`
- :mod:`~dip_heal.sweep.summary`: :class:`SweepSummary`

A grid runs every combination of its lists exactly once (its points numbered in file order, the
last key varying fastest; run in that order, or, when pruned, in an order shuffled from ``seed``).
Trials are pruned by successive halving on their snapshots' held-out L1 unless the sweep file's
``[prune]`` says ``pruner = "none"`` or ``prune=False`` (``--no-prune``) is given: see
:mod:`~dip_heal.sweep.driver`. A random sweep draws its ``trials`` points up front from ``seed``. Both are queued in
the study as waiting trials, which a worker claims atomically, so several workers (processes or
machines sharing one PostgreSQL study) run each point exactly once. A TPE sweep asks Optuna's
``TPESampler`` for one point at a time until ``trials`` trials are complete.

The run folder's files are listed in :mod:`dip_heal.runs.layout`. Every trial's user attributes
hold ``config`` (the full FitConfig), ``seed``, ``point`` (grid or random index), ``settings``
(the swept values, one line), ``snapshots`` (``iteration``, ``val_l1``, ``npy`` and ``png``
artifact ids), ``best_iteration``, ``best_val_l1``, and ``stopped_at`` and ``stop_reason`` (None
for a trial run to its end; where and why a pruned or early-stopped one stopped). The objective
is named ``held-out L1``. Browse them with::

    optuna-dashboard sqlite:///RUN/study.db --artifact-dir RUN/artifacts
"""

from __future__ import annotations

from .driver import SweepOptions, remove_orphans, run_sweep
from .objective import TrialContext, TrialReporter
from .spec import (
    PRUNERS,
    SAMPLERS,
    SWEEPS_DIR,
    SweepSpec,
    default_sweep_path,
    load_sweep,
    parse_sweep,
    resolve_config,
    resolve_prune,
    with_overrides,
)
from .storage import artifact_store, open_storage
from .summary import SweepSummary

__all__ = [
    "SweepSpec", "SweepOptions", "SweepSummary", "load_sweep", "parse_sweep", "default_sweep_path",
    "with_overrides", "resolve_config", "run_sweep", "open_storage", "artifact_store", "SAMPLERS", "SWEEPS_DIR",
    "TrialReporter", "TrialContext", "remove_orphans", "resolve_prune", "PRUNERS",
]

"""Hyperparameter sweeps: :mod:`dip_heal.sweep`.

This module keeps the names importable from their old place.
"""

from __future__ import annotations

from .sweep import (
    SAMPLERS,
    SWEEPS_DIR,
    SweepOptions,
    SweepSpec,
    SweepSummary,
    TrialContext,
    TrialReporter,
    artifact_store,
    default_sweep_path,
    load_sweep,
    open_storage,
    parse_sweep,
    remove_orphans,
    resolve_config,
    run_sweep,
    with_overrides,
)

__all__ = [
    "SweepSpec",
    "SweepSummary",
    "SweepOptions",
    "load_sweep",
    "parse_sweep",
    "default_sweep_path",
    "resolve_config",
    "run_sweep",
    "open_storage",
    "artifact_store",
    "with_overrides",
    "TrialReporter",
    "TrialContext",
    "remove_orphans",
    "SAMPLERS",
    "SWEEPS_DIR",
]

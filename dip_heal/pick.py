"""Read a sweep's run folder, pick a snapshot, draw the contact sheet: :mod:`dip_heal.runs`.

This module keeps the names importable from their old place; the code lives in
:mod:`dip_heal.runs.sweep_run`, :mod:`dip_heal.runs.picks` and :mod:`dip_heal.runs.sheets`.
"""

from __future__ import annotations

from .runs import PickResult, SweepRun, TrialInfo, open_run, pick, rerun_trial, write_sheet

__all__ = ["SweepRun", "TrialInfo", "PickResult", "open_run", "pick", "rerun_trial", "write_sheet"]

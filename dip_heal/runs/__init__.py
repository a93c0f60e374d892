"""Run folders: writing a single fit's, reading a sweep's, picking and the contact sheet.

- :mod:`~dip_heal.runs.layout`: every file name of a single fit's and a sweep's run folder
- :mod:`~dip_heal.runs.record`: what both record (input, versions), JSON written atomically
- :mod:`~dip_heal.runs.inputs`: the frame and the pixels to heal, checked
- :mod:`~dip_heal.runs.snapshots`: snapshot files and the fit callback writing them
- :mod:`~dip_heal.runs.single`: :func:`fit_to_run`, one fit as a run folder
- :mod:`~dip_heal.runs.sweep_run`: a sweep's run folder opened (:func:`open_run`)
- :mod:`~dip_heal.runs.picks`: :func:`pick`, a chosen snapshot written as the healed frame
- :mod:`~dip_heal.runs.sheets`: :func:`write_sheet`, the sweep's contact sheet
- :mod:`~dip_heal.runs.page`: :func:`~dip_heal.runs.page.write_page`, the sweep's picking page (HTML)
- :mod:`~dip_heal.runs.server`: :func:`~dip_heal.runs.server.make_server`, the page served with a Pick button
"""

from __future__ import annotations

from .inputs import check_heal, load_frame_and_mask
from .layout import default_run_dir
from .picks import PickResult, pick
from .record import input_record, versions, write_json
from .sheets import write_sheet
from .single import RunSummary, fit_to_run, write_metrics
from .snapshots import SnapshotWriter, write_snapshot
from .sweep_run import SweepRun, TrialInfo, open_run, rerun_trial

__all__ = [
    "load_frame_and_mask", "check_heal", "fit_to_run", "RunSummary", "write_metrics", "write_json", "versions",
    "input_record", "write_snapshot", "SnapshotWriter", "SweepRun", "TrialInfo", "open_run", "rerun_trial",
    "PickResult", "pick", "write_sheet", "default_run_dir",
]

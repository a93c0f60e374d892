"""Every file name of a run folder, single fit or sweep, in one place.

A single fit (:func:`dip_heal.runs.fit_to_run`) writes, into ``RUN/``:

- ``config.json``: the :class:`~dip_heal.config.FitConfig` (with its seed), the input and mask
  paths, the device, the dip-heal and torch versions;
- ``metrics.csv``: ``iteration, loss, seconds, val_l1`` (``val_l1`` at snapshots only; a
  ``member`` column for an ``ensemble`` fit);
- ``snapshots/iter_NNNNNN.npy`` (float32 composite in the input's units) and ``.png`` (log scale;
  ``memberK_iter_NNNNNN`` for each network of an ``ensemble`` fit);
- ``healed.<ext>``: the healed frame in the input's format, with the input's extension, dtype and
  header (measured pixels bit-exact; :func:`dip_heal.io.output_path_like`): ``healed.cbf``,
  ``healed.edf``, ``healed.tif`` (every tag kept), ``healed.h5``/``.nxs`` (the input's whole HDF5
  tree, the frame healed in place, an ``NXprocess`` group ``/ENTRY/dip_heal``), ``healed.sfrm``;
  MarCCD and mar345 inputs give ``healed.edf`` with their header; each says what healed it
  (:mod:`dip_heal.io.provenance`); ``healed.png``: its preview with the healed pixels outlined;
- ``report.png``: the frame, the mask, the heal, the largest hole close up, the difference to a
  Telea fill and the loss and held-out curves (:func:`dip_heal.plot.fit_report`);
- ``heal_mask.npy``: the pixels that were healed (True = healed).
- for a colour-map render (:mod:`dip_heal.renders`): ``healed_render.png`` (the healed frame: the
  same picture, measured pixels, frame and axes in their original colours) and
  ``healed_scalar.tif`` (float32 map position ``t`` of the image area).

A series (:func:`dip_heal.runs.series.fit_series`, ``dip-heal fit FRAMES --series``) writes, into
``RUN/``: ``series.json`` (the frames, mask, configuration and warm-start policy a rerun must
match), ``series.csv`` (a line per frame) and ``frames/NNNN_STEM/``, a single fit's folder per
frame plus ``net.pt``, the network's and Adam's final state the next frame starts from.

A sweep (:func:`dip_heal.sweep.run_sweep`) writes, into ``RUN/``:

- ``sweep.json``: input and mask paths, the sweep, the resolved base config, storage URL
  (without password), study name, versions;
- ``study.db``: the Optuna study (SQLite, the default storage);
- ``artifacts/``: a ``FileSystemArtifactStore`` with, per snapshot, ``.npy`` and ``.png``
  (uploaded from ``.tmp/trialNNNNN-*/trialNNNNN_iterNNNNNN.*``);
- ``heal_mask.npy`` (True = healed) and ``holdout.npy`` (True = held out);
- ``setup.json``: the frame-dependent set-up every trial shares (beam centre, azimuthal model,
  the blend's fills), computed once per sweep (and per worker);
- ``picks.json`` and ``picked/`` after ``dip-heal pick``; ``sheet*.png`` after ``dip-heal sheet``;
  ``sheet.html`` (and, for a large sweep, ``sheet_files/``) after ``dip-heal sheet --html``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CONFIG_JSON", "METRICS_CSV", "SNAPSHOTS", "HEAL_MASK", "HEALED_STEM", "HEALED_PREVIEW", "HEALED_SCALAR", "REPORT",
    "SWEEP_JSON", "STUDY_DB", "ARTIFACTS", "HOLDOUT", "SWEEP_TMP", "PICKS_JSON", "PICKED", "SHEET", "SHEET_HTML",
    "SETUP_JSON", "SERIES_JSON", "SERIES_CSV", "SERIES_FRAMES", "NET_WEIGHTS",
    "snapshot_stem", "trial_tmp_prefix", "trial_snapshot_stem", "pick_stem", "default_run_dir",
]

# ------------------------------------------------------------------------------- a single fit
CONFIG_JSON = "config.json"
METRICS_CSV = "metrics.csv"
SNAPSHOTS = "snapshots"
HEAL_MASK = "heal_mask.npy"
HEALED_STEM = "healed"
HEALED_PREVIEW = "healed.png"
HEALED_SCALAR = "healed_scalar.tif"
REPORT = "report.png"

# ------------------------------------------------------------------------------------- a sweep
SWEEP_JSON = "sweep.json"
STUDY_DB = "study.db"
ARTIFACTS = "artifacts"
HOLDOUT = "holdout.npy"
SETUP_JSON = "setup.json"
SWEEP_TMP = ".tmp"
PICKS_JSON = "picks.json"
PICKED = "picked"
SHEET = "sheet.png"
SHEET_HTML = "sheet.html"

# ------------------------------------------------------------------------------------ a series
# (dip_heal.runs.series: frames/NNNN_STEM/ are single-fit folders, plus the weights the next starts from)
SERIES_JSON = "series.json"
SERIES_CSV = "series.csv"
SERIES_FRAMES = "frames"
NET_WEIGHTS = "net.pt"


def snapshot_stem(iteration: int, member: int | None = None) -> str:
    """``iter_NNNNNN`` (``memberK_iter_NNNNNN`` for an ensemble's member ``K``) in ``snapshots/``."""
    prefix = f"member{member}_" if member is not None else ""
    return f"{prefix}iter_{iteration:06d}"


def trial_tmp_prefix(number: int) -> str:
    """Prefix of a sweep trial's temporary folder under ``.tmp/``."""
    return f"trial{number:05d}-"


def trial_snapshot_stem(number: int, iteration: int) -> str:
    """A trial's snapshot files before their upload to ``artifacts/``."""
    return f"trial{number:05d}_iter{iteration:06d}"


def pick_stem(trial: int, iteration: int, averaged: int = 0) -> str:
    """The picked files' stem in ``picked/``: ``trialN_iterK``, or ``averageK`` for a median of K trials."""
    return f"average{averaged}" if averaged else f"trial{trial}_iter{iteration}"


def default_run_dir(image: Path) -> Path:
    """The run folder of ``dip-heal fit IMAGE`` without ``--out``: IMAGE's name up to its first dot
    plus ``.dipheal``, beside it.

    Examples
    --------
    >>> default_run_dir(Path("data/frame.cbf.gz")).as_posix()
    'data/frame.dipheal'
    """
    return image.with_name(image.name.split(".")[0] + ".dipheal")

"""Read a sweep's run folder: its trials and snapshots, the contact sheet, and the pick.

``pick`` refits nothing: the chosen snapshot (stored during the sweep as a float32 composite)
is written as the healed frame. Its measured pixels, the held-out ones included, are the
input's own values bit for bit; only the healed pixels come from the network. See
:mod:`dip_heal.sweeps` for the run folder's layout.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DipHealError

__all__ = ["SweepRun", "TrialInfo", "PickResult", "open_run", "pick", "rerun_trial", "write_sheet"]

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
        The trial's objective (its lowest held-out L1).
    """

    number: int
    state: str
    params: dict[str, Any]
    config: dict[str, Any]
    seed: int | None
    snapshots: list[dict[str, Any]]
    best_iteration: int | None
    value: float | None

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
                    best_iteration=t.user_attrs.get("best_iteration"), value=t.value,
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
                f"{self.run_dir / 'artifacts'}; expected the artifacts of the worker that ran it; copy that "
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

    from .sweeps import artifact_store, open_storage

    run = Path(run_dir)
    rec_path = run / "sweep.json"
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
    heal = np.load(run / "heal_mask.npy")
    holdout = np.load(run / "holdout.npy")
    return SweepRun(run_dir=run, record=record, study=study, store=artifact_store(run / "artifacts"),
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
    from .config import FitConfig
    from .dip import fit
    from .io import read_image

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


# ------------------------------------------------------------------------------------- pick
@dataclass
class PickResult:
    """What :func:`pick` wrote."""

    trial: int
    iteration: int
    val_l1: float
    healed_path: Path
    float32_path: Path
    preview_path: Path
    #: with ``average``: the (trial, iteration) snapshots whose median was written
    averaged: tuple[tuple[int, int], ...] = ()

    def __str__(self) -> str:
        if self.averaged:
            what = ", ".join(f"{t}@{i}" for t, i in self.averaged)
            return (f"averaged {len(self.averaged)} trials (trial@iteration: {what}; mean held-out L1 "
                    f"{self.val_l1:.4g}): {self.healed_path}, {self.float32_path}, preview {self.preview_path}")
        return (f"picked trial {self.trial} at iteration {self.iteration} (held-out L1 {self.val_l1:.4g}): "
                f"{self.healed_path}, {self.float32_path}, preview {self.preview_path}")


def pick(
    run_dir: str | os.PathLike,
    *,
    trial: int | None = None,
    iteration: int | None = None,
    best: bool = False,
    average: int | None = None,
    out_dir: str | os.PathLike | None = None,
    storage: str | None = None,
) -> PickResult:
    """Write the healed frame of one snapshot of a sweep (or the median of several), and record the choice.

    Writes ``<out_dir>/trialN_iterK.<ext>`` in the input's format and dtype (measured pixels bit
    for bit, :func:`dip_heal.frame.composite_native`), ``trialN_iterK.float32.tif`` (the float32
    composite) and ``trialN_iterK.png`` (log-scale preview, healed pixels outlined), and appends
    the choice to ``RUN/picks.json``.

    Parameters
    ----------
    run_dir : path-like
        The sweep's run folder.
    trial : int, optional
        Trial number (with ``iteration``).
    iteration : int, optional
        Snapshot iteration; default the trial's recommended snapshot.
    best : bool
        Pick the recommended snapshot of the trial with the lowest held-out L1.
    average : int, optional
        Instead of one snapshot, the per-pixel median (in ``log1p`` intensity) of the recommended
        snapshots of the ``average`` trials with the lowest held-out L1, written as
        ``averageK.<ext>``. The trials share their held-out pixels, which keep their measured
        values, so the average has no held-out score of its own; the mean of the members' is
        recorded.
    out_dir : path-like, optional
        Default ``RUN/picked``.
    storage : str, optional
        Storage URL when not the recorded one.

    Returns
    -------
    PickResult

    Raises
    ------
    DipHealError
        Neither ``trial`` nor ``best`` (or both), a trial or iteration that does not exist (the
        message lists those that do), an input frame that moved or changed.
    """
    from .frame import composite_native
    from .io import output_path_like, read_image, write_image
    from .outputs import check_not_input
    from .report import log_limits, save_preview
    from .runs import write_json

    if (best, trial is not None, average is not None).count(True) != 1:
        raise DipHealError("pick needs one of --trial N (with --iter K), --best or --average K")
    if iteration is not None and trial is None:
        raise DipHealError("--iter goes with --trial N; --best and --average use the recommended snapshots")
    run = open_run(run_dir, storage=storage)
    averaged: tuple[tuple[int, int], ...] = ()
    if average is not None:
        done = sorted((t for t in run.trials() if t.value is not None and t.best_iteration is not None),
                      key=lambda t: t.value)
        if average < 2 or average > len(done):
            raise DipHealError(f"--average {average}: the sweep has {len(done)} complete trials; expected 2 to "
                               f"{len(done)}" if len(done) >= 2 else
                               f"--average {average}: the sweep has {len(done)} complete trial(s); expected 2 or "
                               "more; run more trials first")
        members = done[:average]
        frames = [run.load(t, int(t.best_iteration)) for t in members]  # type: ignore[arg-type]
        averaged = tuple((t.number, int(t.best_iteration)) for t in members)  # type: ignore[arg-type]
        from ._intensity import log_median

        healed = log_median(frames, run.heal)
        info = members[0]
        it = int(info.best_iteration)  # type: ignore[arg-type]
        snap = {"val_l1": float(np.mean([t.snapshot(i)["val_l1"] for t, (_, i) in zip(members, averaged)]))}
    else:
        info = run.best() if best else run.trial(int(trial))  # type: ignore[arg-type]
        it = int(iteration) if iteration is not None else info.best_iteration
        if it is None:
            raise DipHealError(f"trial {info.number} has no recommended snapshot; expected --iter K")
        snap = info.snapshot(it)
        healed = run.load(info, it)

    input_path = run.record["input"]
    if not Path(input_path.split("::")[0]).exists():
        raise DipHealError(f"the sweep's input {input_path} is gone; expected the frame the sweep fitted; "
                           "put it back at that path")
    frame = read_image(input_path)
    if tuple(frame.shape) != tuple(healed.shape) or tuple(run.heal.shape) != tuple(healed.shape):
        raise DipHealError(f"{input_path} now has shape {frame.shape}, the sweep fitted {healed.shape}; expected the "
                           "same frame; put the original frame back")
    heal = run.heal
    if not np.array_equal(frame.data[~heal], healed[~heal]):
        raise DipHealError(f"{input_path} changed since the sweep (its measured pixels differ from the snapshot's); "
                           "expected the frame the sweep fitted; put the original back")
    out = Path(out_dir) if out_dir is not None else run.run_dir / "picked"
    stem = f"average{len(averaged)}" if averaged else f"trial{info.number}_iter{it}"
    inputs = [input_path, run.record.get("mask"), run.record.get("sweep_file")]
    for target in (output_path_like(frame, out, stem), out / f"{stem}.float32.tif", out / f"{stem}.png"):
        check_not_input(target, inputs)
    native = composite_native(frame.raw, healed, heal)
    healed_path = write_image(output_path_like(frame, out, stem), native, like=frame)
    f32 = np.where(heal, healed, frame.data).astype(np.float32)
    float32_path = write_image(out / f"{stem}.float32.tif", f32, like=frame, dtype=np.float32)
    limits = log_limits(np.where(heal, np.nan, frame.data))
    preview = save_preview(out / f"{stem}.png", f32, heal=heal, limits=limits)

    picks_path = run.run_dir / "picks.json"
    picks = json.loads(picks_path.read_text()) if picks_path.exists() else []
    picks.append({
        "trial": info.number, "iteration": it, "val_l1": snap["val_l1"],
        "how": "median of trials" if averaged else "best" if best else "chosen",
        "params": info.params, "seed": info.seed, "config": info.config,
        **({"averaged": [{"trial": t, "iteration": i} for t, i in averaged]} if averaged else {}),
        "healed": str(healed_path), "float32": str(float32_path), "preview": str(preview),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "held_out_pixels": "kept at their measured values (they are measured pixels)",
    })
    write_json(picks_path, picks)
    logger.info("picked %s -> %s", f"the median of {len(averaged)} trials" if averaged
                else f"trial {info.number} iteration {it}", healed_path)
    return PickResult(trial=info.number, iteration=it, val_l1=float(snap["val_l1"]), healed_path=healed_path,
                      float32_path=float32_path, preview_path=preview, averaged=averaged)


# ------------------------------------------------------------------------------------- sheet
def write_sheet(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    zoom: str | tuple[int, int, int, int] | None = None,
    rows_per_page: int = 10,
    max_cols: int = 8,
    panel_px: int = 160,
    storage: str | None = None,
) -> list[Path]:
    """Write the contact sheet of a sweep: one row per complete trial, one column per snapshot.

    Parameters
    ----------
    run_dir : path-like
    out : path-like, optional
        The PNG; default ``RUN/sheet.png``. Longer sweeps are split into pages
        ``sheet-1.png``, ``sheet-2.png``, ... (``rows_per_page`` rows each).
    zoom : str or tuple of int, optional
        ``"y0,x0,y1,x1"``: crop every panel to this region (e.g. around a gap).
    rows_per_page : int
    max_cols : int
        At most this many snapshot columns (evenly spaced, the last one included); when some
        are left out, a last column shows each row's recommended snapshot.
    panel_px : int
        Panel size in pixels at 100 % zoom.
    storage : str, optional

    Returns
    -------
    list of Path
        The pages written.
    """
    from .frame import atomic_path
    from .outputs import check_not_input
    from .report import log_limits
    from .sheet import contact_sheet, crop, pages, parse_zoom, reduce_for_display

    run = open_run(run_dir, storage=storage)
    trials = [t for t in run.trials() if t.snapshots]
    if not trials:
        raise DipHealError(f"{run.run_dir}: no complete trial yet; expected a sweep with results; run the sweep first")
    shape = tuple(run.heal.shape)
    box = parse_zoom(zoom, shape) if zoom is not None else None
    iters = sorted({s["iteration"] for t in trials for s in t.snapshots})
    if len(iters) > max_cols:
        idx = np.unique(np.round(np.linspace(0, len(iters) - 1, max_cols)).astype(int))
        cols = [iters[i] for i in idx]
    else:
        cols = iters
    best_col = any(t.best_iteration not in cols for t in trials)
    col_labels = [f"iter {i}" for i in cols] + (["recommended"] if best_col else [])

    def load(t: TrialInfo, it: int) -> np.ndarray | None:
        try:
            return reduce_for_display(crop(run.load(t, it), box), max_px=2 * panel_px)
        except DipHealError as exc:  # a snapshot stored by a worker on another machine
            logger.warning("%s", exc)
            return None

    limits = None
    for t in trials:  # shared limits from the measured pixels (the same in every snapshot)
        for s in t.snapshots:
            try:
                first = run.load(t, s["iteration"])
            except DipHealError:
                continue
            limits = log_limits(crop(np.where(~run.heal, first, np.nan), box))
            break
        if limits is not None:
            break
    if limits is None:
        raise DipHealError(f"{run.run_dir}: none of the snapshots is in {run.run_dir / 'artifacts'}; expected the "
                           "artifacts of the workers that ran the trials; copy their artifacts/ folders here")

    out_path = Path(out) if out is not None else run.run_dir / "sheet.png"
    if out_path.suffix.lower() != ".png":
        raise DipHealError(f"--out {out_path}: the contact sheet is a PNG; expected a path ending in .png; "
                           "choose another --out")
    check_not_input(out_path, [run.record.get("input"), run.record.get("mask"), run.record.get("sweep_file")])
    groups = pages(len(trials), rows_per_page)
    written = []
    n_pages = len(groups)
    name = run.record.get("sweep", {}).get("name", "sweep")
    for k, rows in enumerate(groups, start=1):
        panels, titles, stars, labels = [], [], [], []
        for r in rows:
            t = trials[r]
            have = {s["iteration"]: s for s in t.snapshots}
            row, trow = [], []
            for it in cols:
                if it in have:
                    row.append(load(t, it))
                    trow.append(f"{have[it]['val_l1']:.4g}")
                else:
                    row.append(None)
                    trow.append("")
            star = cols.index(t.best_iteration) if t.best_iteration in cols else None
            if best_col:
                if star is None and t.best_iteration in have:
                    row.append(load(t, t.best_iteration))
                    trow.append(f"it {t.best_iteration}: {have[t.best_iteration]['val_l1']:.4g}")
                    star = len(cols)
                else:
                    row.append(None)
                    trow.append("")
            panels.append(row)
            titles.append(trow)
            stars.append(star)
            labels.append(t.label())
        where = f", zoom y{box[0]}:{box[2]} x{box[1]}:{box[3]}" if box else ""
        title = (f"{name}: {len(trials)} trials, held-out L1 per snapshot (\u2605 = lowest, recommended){where}"
                 + (f"  page {k}/{n_pages}" if n_pages > 1 else ""))
        fig = contact_sheet(panels, row_labels=labels, col_labels=col_labels, panel_titles=titles, starred=stars,
                            limits=limits, title=title, panel_inches=panel_px / 100)
        path = out_path if n_pages == 1 else out_path.with_name(f"{out_path.stem}-{k}{out_path.suffix or '.png'}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        written.append(path)
    logger.info("wrote %d sheet page(s): %s", len(written), ", ".join(map(str, written)))
    return written

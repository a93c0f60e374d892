"""``dip-heal pick``: a sweep's chosen snapshot (or the median of several) written as the healed frame.

``pick`` refits nothing: the chosen snapshot (stored during the sweep as a float32 composite)
is written as the healed frame. Its measured pixels, the held-out ones included, are the
input's own values bit for bit; only the healed pixels come from the network.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from ..outputs import mark_written
from . import layout
from .record import write_json
from .sweep_run import SweepRun, TrialInfo, open_run

__all__ = ["PickResult", "pick"]

logger = logging.getLogger(__name__)


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
    if (best, trial is not None, average is not None).count(True) != 1:
        raise DipHealError("pick needs one of --trial N (with --iter K), --best or --average K")
    if iteration is not None and trial is None:
        raise DipHealError("--iter goes with --trial N; --best and --average use the recommended snapshots")
    run = open_run(run_dir, storage=storage)
    if average is not None:
        info, it, snap, healed, averaged = _average(run, average)
    else:
        info = run.best() if best else run.trial(int(trial))  # type: ignore[arg-type]
        it = int(iteration) if iteration is not None else info.best_iteration
        if it is None:
            raise DipHealError(f"trial {info.number} has no recommended snapshot; expected --iter K")
        snap, healed, averaged = info.snapshot(it), run.load(info, it), ()
    frame = _unchanged_input(run, healed)
    out = Path(out_dir) if out_dir is not None else run.run_dir / layout.PICKED
    paths = _write_pick(run, frame, healed, out, layout.pick_stem(info.number, it, len(averaged)))
    how = "median of trials" if averaged else "best" if best else "chosen"
    _record_pick(run, info, it, snap["val_l1"], how, averaged, paths)
    mark_written(run.run_dir, [run.run_dir / layout.PICKS_JSON, out])
    logger.info("picked %s -> %s", f"the median of {len(averaged)} trials" if averaged
                else f"trial {info.number} iteration {it}", paths[0])
    return PickResult(trial=info.number, iteration=it, val_l1=float(snap["val_l1"]), healed_path=paths[0],
                      float32_path=paths[1], preview_path=paths[2], averaged=averaged)


def _average(run: SweepRun, average: int) -> tuple[TrialInfo, int, dict[str, Any], np.ndarray,
                                                   tuple[tuple[int, int], ...]]:
    """The per-pixel median of the ``average`` best trials' recommended snapshots."""
    from .._intensity import log_median

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
    healed = log_median(frames, run.heal)
    info = members[0]
    it = int(info.best_iteration)  # type: ignore[arg-type]
    snap = {"val_l1": float(np.mean([t.snapshot(i)["val_l1"] for t, (_, i) in zip(members, averaged)]))}
    return info, it, snap, healed, averaged


def _unchanged_input(run: SweepRun, healed: np.ndarray) -> Frame:
    """The sweep's input frame, refused when it moved or changed since the sweep."""
    from ..io import read_image

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
    return frame


def _write_pick(run: SweepRun, frame: Frame, healed: np.ndarray, out: Path, stem: str) -> tuple[Path, Path, Path]:
    """``STEM.<ext>`` (input's format), ``STEM.float32.tif`` and ``STEM.png`` in ``out``."""
    from ..frame import composite_native
    from ..io import output_path_like, write_image
    from ..outputs import check_not_input
    from ..report import log_limits, save_preview

    heal = run.heal
    inputs = [run.record["input"], run.record.get("mask"), run.record.get("sweep_file")]
    for target in (output_path_like(frame, out, stem), out / f"{stem}.float32.tif", out / f"{stem}.png"):
        check_not_input(target, inputs)
    native = composite_native(frame.raw, healed, heal)
    # issue 20: the pick's provenance (the sweep's heal mask is RUN/heal_mask.npy)
    from ..io.provenance import provenance

    prov = provenance(f"sweep pick {stem}", int(heal.sum()), run.run_dir / layout.HEAL_MASK)
    healed_path = write_image(output_path_like(frame, out, stem), native, like=frame, provenance=prov, heal=heal)
    f32 = np.where(heal, healed, frame.data).astype(np.float32)
    float32_path = write_image(out / f"{stem}.float32.tif", f32, like=frame, dtype=np.float32, provenance=prov)
    limits = log_limits(np.where(heal, np.nan, frame.data))
    preview = save_preview(out / f"{stem}.png", f32, heal=heal, limits=limits)
    return healed_path, float32_path, preview


def _record_pick(run: SweepRun, info: TrialInfo, it: int, val_l1: Any, how: str,
                 averaged: tuple[tuple[int, int], ...], paths: tuple[Path, Path, Path]) -> None:
    """Append the choice to ``RUN/picks.json``."""
    picks_path = run.run_dir / layout.PICKS_JSON
    picks = json.loads(picks_path.read_text()) if picks_path.exists() else []
    picks.append({
        "trial": info.number, "iteration": it, "val_l1": val_l1, "how": how,
        "params": info.params, "seed": info.seed, "config": info.config,
        **({"averaged": [{"trial": t, "iteration": i} for t, i in averaged]} if averaged else {}),
        "healed": str(paths[0]), "float32": str(paths[1]), "preview": str(paths[2]),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "held_out_pixels": "kept at their measured values (they are measured pixels)",
    })
    write_json(picks_path, picks)

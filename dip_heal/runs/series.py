"""A series of frames healed in order, each fit starting from the previous frame's network.

``dip-heal fit FRAMES... --series --mask M --out RUN`` writes, into ``RUN/``:

- ``series.json``: the frames in order, the mask, the configuration, the warm-start policy and
  the versions (what a rerun must match to continue);
- ``frames/NNNN_STEM/``: one single-fit run folder per frame (:mod:`dip_heal.runs.single`: its
  healed frame in the input's format, ``config.json`` with its seed, config and where its start
  came from, ``metrics.csv``, snapshots, previews), plus ``net.pt``, the network's final weights
  (read back with ``torch.load(weights_only=True)``) that the next frame starts from;
- ``series.csv``: a line per frame (start, iterations, seconds, held-out L1, what happened).

The first frame is fitted with the configuration as given. Every next frame starts from the
previous frame's weights with a short budget: ``warm_fraction`` of the iterations, stopping when
the held-out L1 has not improved (within the tolerance) for ``warm_patience`` snapshots. When its
held-out L1 at a snapshot is more than ``fallback_ratio`` times the previous frame's (the pattern
changed too much for a warm start), it falls back to a full fit from the configuration's own start
and says so in its record.

Each frame's folder is built under a temporary name and renamed into place when complete, so an
interrupted series loses at most the frame in progress; the same command continues after the last
complete frame.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..config import FitConfig
from ..errors import DipHealError
from ..frame import atomic_path
from ..outputs import MARKER, begin_dir, check_not_input, commit_dir, mark_dir
from . import layout
from .record import versions, write_json
from .single import RunSummary, fit_to_run

__all__ = ["SeriesPolicy", "SeriesSummary", "expand_frames", "fit_series"]

logger = logging.getLogger(__name__)

SERIES_JSON, SERIES_CSV, FRAMES, NET_WEIGHTS = (layout.SERIES_JSON, layout.SERIES_CSV, layout.SERIES_FRAMES,
                                                 layout.NET_WEIGHTS)


@dataclass(frozen=True)
class SeriesPolicy:
    """How the frames after the first start and stop.

    Attributes
    ----------
    warm_fraction : float
        A warm frame's iteration budget, as a fraction of ``num_iter``.
    warm_patience : int
        A warm frame stops after this many snapshots without a better held-out L1 (within
        ``val_tol``).
    fallback_ratio : float
        A warm frame whose held-out L1 at a snapshot exceeds this times the previous frame's is
        refitted in full from the configuration's own start.
    warm_tol : float
        A warm frame also stops when its lowest held-out L1 has improved by less than this
        fraction over its last ``warm_patience`` snapshots (a plateau: the fit's own patience
        counts snapshots within its tolerance as good ones and would run the whole budget);
        0 turns the rule off. The default, 1 %, is the one ``benchmarks/bench_series.py``
        measured (benchmarks/README.md, "Series").
    warm_shrink : float
        A warm frame starts at ``warm_shrink`` x the previous weights + (1 - ``warm_shrink``) x
        its own random start (shrink and perturb); 1 starts from the previous weights as they are.
    """

    warm_fraction: float = 0.25
    warm_patience: int = 3
    fallback_ratio: float = 1.5
    warm_tol: float = 0.01
    warm_shrink: float = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.warm_fraction <= 1):
            raise DipHealError(f"warm_fraction = {self.warm_fraction!r}; expected a fraction in (0, 1]")
        if not (isinstance(self.warm_patience, int) and self.warm_patience >= 1):
            raise DipHealError(f"warm_patience = {self.warm_patience!r}; expected an integer >= 1")
        if not self.fallback_ratio > 1:
            raise DipHealError(f"fallback_ratio = {self.fallback_ratio!r}; expected a number > 1")
        if not (0 <= self.warm_tol < 1):
            raise DipHealError(f"warm_tol = {self.warm_tol!r}; expected a fraction in [0, 1)")
        if not (0 < self.warm_shrink <= 1):
            raise DipHealError(f"warm_shrink = {self.warm_shrink!r}; expected a fraction in (0, 1]")

    def plateaued(self, vals: Sequence[float]) -> bool:
        """True when the lowest of ``vals`` (held-out L1 per snapshot) fell by less than ``warm_tol``
        over the last ``warm_patience`` snapshots."""
        p = self.warm_patience
        if not self.warm_tol or len(vals) <= p:
            return False
        return min(vals[-p:]) > (1.0 - self.warm_tol) * min(vals[:-p])

    def warm_config(self, config: FitConfig) -> FitConfig:
        """The configuration of a warm frame: the short budget, the shorter patience, no coarse stage."""
        n = max(config.snapshot_every, int(round(self.warm_fraction * config.num_iter)))
        return config.replace(num_iter=min(n, config.num_iter), patience=self.warm_patience, coarse_fraction=0.0)


@dataclass
class SeriesSummary:
    """What :func:`fit_series` did: frames fitted now, skipped (done before), fell back, and the time."""

    run_dir: Path
    fitted: int
    skipped: int
    fallbacks: int
    seconds: float
    rows: list[dict[str, Any]]

    def line(self) -> str:
        """One line for the terminal."""
        return (f"series of {len(self.rows)} frames: {self.fitted} fitted now ({self.fallbacks} refitted in full), "
                f"{self.skipped} done before, {self.seconds:.1f} s: {self.run_dir}")


def expand_frames(items: Iterable[str | os.PathLike]) -> list[Path]:
    """The frames of a series in order: files as given, glob patterns expanded and sorted.

    Raises
    ------
    DipHealError
        A pattern matching nothing, a missing file, or the same file twice.
    """
    frames: list[Path] = []
    for item in items:
        text = str(item)
        if not Path(text.split("::")[0]).exists() and glob.has_magic(text):
            matched = sorted(glob.glob(text))
            if not matched:
                raise DipHealError(f"the pattern {text!r} matches no file; expected detector frames; check it")
            frames += [Path(m) for m in matched]
        else:
            if not Path(text.split("::")[0]).exists():
                raise DipHealError(f"no such file: {text}; expected a detector frame; check the path")
            frames.append(Path(text))
    seen: set[str] = set()
    for f in frames:
        key = str(Path(str(f)).resolve()) if "::" not in str(f) else str(f)
        if key in seen:
            raise DipHealError(f"{f} is twice in the series; expected each frame once")
        seen.add(key)
    if not frames:
        raise DipHealError("no frames given; expected at least one detector frame for a series")
    return frames


def _frame_dir(index: int, frame: Path) -> str:
    stem = Path(str(frame).split("::")[0]).name.split(".")[0] or "frame"
    return f"{index:04d}_{stem}"


def _record(frames: Sequence[Path], mask_path: Any, config: FitConfig, policy: SeriesPolicy,
            center: Any) -> dict[str, Any]:
    return {"frames": [str(f) for f in frames], "mask": None if mask_path is None else str(mask_path),
            "config": config.to_dict(), "seed": config.seed, "policy": asdict(policy),
            "center": None if center is None else list(center), "versions": versions()}


def _check_resumable(run: Path, record: dict[str, Any]) -> None:
    """A rerun continues only the same series (frames, mask, configuration, policy)."""
    old = json.loads((run / SERIES_JSON).read_text())
    for key in ("frames", "mask", "config", "policy", "center"):
        if old.get(key) != record[key]:
            raise DipHealError(f"{run} holds another series (its {key} differs); expected the same frames, mask and "
                               "settings to continue it; choose another --out, or --force to start again")


def _open_run(out: Path, record: dict[str, Any], force: bool, inputs: list[Any]) -> Path:
    """The series folder: new, continued, or (``force``) replaced by an empty one."""
    if out.exists() and (out / SERIES_JSON).is_file() and not force:
        _check_resumable(out, record)
        for partial in (out / FRAMES).glob(".*.partial"):  # a frame interrupted by a kill
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
        return out
    tmp = begin_dir(out, force=force, inputs=inputs)
    (tmp / FRAMES).mkdir()
    write_json(tmp / SERIES_JSON, record)
    commit_dir(tmp, out, command="fit --series")
    return out


def _load_state(path: Path) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


class _Diverged(Exception):
    """A warm frame's held-out L1 left the previous frame's far behind: refit it in full."""


def _write_table(run: Path, rows: list[dict[str, Any]]) -> None:
    keys = ["index", "frame", "start", "iterations", "returned", "seconds", "val_l1", "note"]
    with atomic_path(run / SERIES_CSV) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)


def _row_of(folder: Path, index: int, frame: Path) -> dict[str, Any]:
    rec = json.loads((folder / "config.json").read_text())
    s = rec.get("series", {})
    return {"index": index, "frame": str(frame), "start": s.get("start"), "iterations": rec.get("stopped_at"),
            "returned": rec.get("iteration"), "seconds": round(float(rec.get("seconds") or 0.0), 2),
            "val_l1": rec.get("val_l1"), "note": s.get("note", "")}


def fit_series(
    frames: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    config: FitConfig | None = None,
    *,
    mask_path: str | os.PathLike | None = None,
    mask_convention: str | None = None,
    policy: SeriesPolicy | None = None,
    device: str | None = None,
    progress: bool = False,
    force: bool = False,
    center: tuple[float, float] | None = None,
) -> SeriesSummary:
    """Heal ``frames`` in order, each fit starting from the previous frame's network (module docstring).

    Parameters
    ----------
    frames : sequence of path-like
        The frames, in order (glob patterns are expanded, sorted).
    out : path-like
        The series folder (created, or continued when it holds this series).
    config : FitConfig, optional
        The first frame's configuration (default ``FitConfig.preset("default")``); warm frames
        use :meth:`SeriesPolicy.warm_config` of it.
    mask_path, mask_convention, device, progress, center
        As for :func:`~dip_heal.runs.fit_to_run` (one mask for every frame).
    policy : SeriesPolicy, optional
    force : bool
        Start again in a folder that holds a series (only one dip-heal made).

    Returns
    -------
    SeriesSummary
    """
    config = config if config is not None else FitConfig.preset("default")
    if config.ensemble > 1:
        raise DipHealError(f"--series with ensemble = {config.ensemble}; expected one network per frame; "
                           "drop --ensemble")
    policy = policy or SeriesPolicy()
    frames = expand_frames(frames)
    out = Path(out)
    inputs = [*frames, mask_path]
    for f in frames:
        check_not_input(out, [f, mask_path])
    run = _open_run(out, _record(frames, mask_path, config, policy, center), force, inputs)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    fitted = skipped = fallbacks = 0
    prev_val: float | None = None
    prev_weights: Path | None = None
    prev_state: dict[str, Any] | None = None  # the previous frame's state, when fitted in this run
    for index, frame in enumerate(_progress(frames, progress)):
        folder = run / FRAMES / _frame_dir(index, frame)
        if (folder / MARKER).is_file() and (folder / NET_WEIGHTS).is_file():
            row = _row_of(folder, index, frame)
            rows.append(row)
            skipped += 1
            prev_val, prev_weights, prev_state = row["val_l1"], folder / NET_WEIGHTS, None
            logger.info("frame %d (%s) was healed before: skipped", index, frame)
            continue
        summary, start, note = _fit_frame(frame, folder, config, policy, prev_weights, prev_state, prev_val, mask_path,
                                          mask_convention, device, center)
        fallbacks += start == "random (fallback)"
        fitted += 1
        rows.append(_row_of(folder, index, frame))
        prev_val, prev_weights, prev_state = summary.val_l1, folder / NET_WEIGHTS, summary.net_state
        _write_table(run, rows)
        logger.info("frame %d (%s): %s start, %s iterations, %.1f s%s", index, frame, start, summary.iterations_run,
                    summary.seconds, f" ({note})" if note else "")
    _write_table(run, rows)
    mark_dir(run, command="fit --series", entries=[FRAMES, SERIES_JSON, SERIES_CSV])
    return SeriesSummary(run, fitted, skipped, fallbacks, time.perf_counter() - t0, rows)


def _progress(frames: Sequence[Path], progress: bool) -> Iterable[Path]:
    if not progress:
        return frames
    from tqdm.auto import tqdm

    return tqdm(frames, desc="series", unit="frame")


def _fit_frame(frame: Path, folder: Path, config: FitConfig, policy: SeriesPolicy, prev_weights: Path | None,
               prev_state: dict[str, Any] | None,
               prev_val: float | None, mask_path: Any, mask_convention: str | None, device: str | None,
               center: Any) -> tuple[RunSummary, str, str]:
    """One frame: warm from the previous weights (falling back to a full fit), or a full fit.

    The frame's folder, its weights included, is renamed into place in one step when complete; a
    folder left by an interrupted earlier run (no weights) is replaced.
    """
    common = dict(mask_path=mask_path, mask_convention=mask_convention, device=device, center=center,
                  save_state=NET_WEIGHTS, force=folder.exists())
    note = ""
    if prev_weights is not None:
        limit = None if prev_val is None else policy.fallback_ratio * prev_val
        vals: list[float] = []

        def diverged(snap: Any, state: dict[str, Any]) -> bool:
            if snap.val_l1 is None:
                return False
            if limit is not None and state.get("iteration", 0) > 0 and snap.val_l1 > limit:
                raise _Diverged(f"held-out L1 {snap.val_l1:.4g} at iteration {state['iteration']} > "
                                f"{policy.fallback_ratio:g} x the previous frame's {prev_val:.4g}")
            vals.append(float(snap.val_l1))
            return policy.plateaued(vals)

        warm = policy.warm_config(config)
        series = {"start": "warm", "from": prev_weights.parent.name, "prev_val_l1": prev_val}
        try:
            init = prev_state if prev_state is not None else _load_state(prev_weights)  # a rerun reads the file
            if policy.warm_shrink != 1.0:
                init = {**init, "shrink": policy.warm_shrink}
            summary = fit_to_run(frame, folder, warm, init_state=init,
                                 record={"series": series}, stop_if=diverged, **common)
            return summary, "warm", note
        except _Diverged as exc:
            note = f"refitted in full: {exc}"
            logger.warning("%s: %s", frame, note)
    series = {"start": "random (fallback)" if note else config.init, "note": note}
    summary = fit_to_run(frame, folder, config, record={"series": series}, **common)
    return summary, series["start"], note

"""``dip-heal sheet``: a sweep's contact sheet, one row per trial (complete, or pruned and dimmed),
one column per snapshot; each row's lowest held-out L1 starred, the sweep's recommended snapshot
marked apart, the healed pixels outlined.

``dip-heal sheet --html`` writes the picking page instead (:mod:`dip_heal.runs.page`).

The figure itself is drawn by :func:`dip_heal.sheet.contact_sheet` (arrays in, Figure out);
this module reads the run folder and writes the pages.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import DipHealError
from . import layout
from .sweep_run import SweepRun, TrialInfo, open_run

__all__ = ["write_sheet"]

logger = logging.getLogger(__name__)


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
    """Write the contact sheet of a sweep: one row per trial with snapshots, one column per snapshot.

    Complete and pruned trials are shown (pruned ones dimmed, labelled where they stopped). Each
    row's lowest held-out L1 is starred; the sweep's recommended snapshot (the lowest of the
    complete trials, what ``dip-heal pick --best`` writes) has a thicker orange frame; the healed
    pixels are outlined in cyan.

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
    from ..frame import atomic_path
    from ..sheet import contact_sheet, crop, pages, parse_zoom, reduce_for_display, reduce_mask
    from ..outputs import mark_written

    run = open_run(run_dir, storage=storage)
    trials = [t for t in run.trials(("COMPLETE", "PRUNED")) if t.snapshots]
    if not trials:
        raise DipHealError(f"{run.run_dir}: no complete trial yet; expected a sweep with results; run the sweep first")
    shape = tuple(run.heal.shape)
    box = parse_zoom(zoom, shape) if zoom is not None else None
    cols, best_col = _columns(trials, max_cols)
    col_labels = [f"iter {i}" for i in cols] + (["recommended"] if best_col else [])

    def load(t: TrialInfo, it: int) -> np.ndarray | None:
        try:
            return reduce_for_display(crop(run.load(t, it), box), max_px=2 * panel_px)
        except DipHealError as exc:  # a snapshot stored by a worker on another machine
            logger.warning("%s", exc)
            return None

    limits = _shared_limits(run, trials, box)
    outline = reduce_mask(crop(run.heal, box), max_px=2 * panel_px)
    rec = _recommended(run, trials)
    out_path = _sheet_path(run, out)
    groups = pages(len(trials), rows_per_page)
    written = []
    n_pages = len(groups)
    name = run.record.get("sweep", {}).get("name", "sweep")
    for k, rows in enumerate(groups, start=1):
        shown = [trials[r] for r in rows]
        panels, titles, stars, labels = _page(shown, cols, best_col, load)
        here = next(((i, stars[i]) for i, t in enumerate(shown) if t.number == rec and stars[i] is not None), None)
        where = f", zoom y{box[0]}:{box[2]} x{box[1]}:{box[3]}" if box else ""
        title = (f"{name}: {len(trials)} trials, held-out L1 per snapshot{where}"
                 + (f"  page {k}/{n_pages}" if n_pages > 1 else "")
                 + "\n\u25c6 = the sweep's recommended, \u2605 = each trial's lowest, cyan = healed pixels")
        fig = contact_sheet(panels, row_labels=labels, col_labels=col_labels, panel_titles=titles, starred=stars,
                            recommended=here, outline=outline, dimmed=[t.state == "PRUNED" for t in shown],
                            limits=limits, title=title, panel_inches=panel_px / 100)
        path = out_path if n_pages == 1 else out_path.with_name(f"{out_path.stem}-{k}{out_path.suffix or '.png'}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        written.append(path)
    mark_written(run.run_dir, written)
    logger.info("wrote %d sheet page(s): %s", len(written), ", ".join(map(str, written)))
    return written


def _recommended(run: SweepRun, trials: list[TrialInfo]) -> int | None:
    """The number of the trial holding the sweep's recommended snapshot (None before any completes)."""
    if not any(t.state == "COMPLETE" and t.value is not None for t in trials):
        return None
    return run.best().number


def _columns(trials: list[TrialInfo], max_cols: int) -> tuple[list[int], bool]:
    """The snapshot iterations shown (at most ``max_cols``, evenly spaced), and whether a
    "recommended" column is needed for the trials whose best snapshot is not among them."""
    iters = sorted({s["iteration"] for t in trials for s in t.snapshots})
    if len(iters) > max_cols:
        idx = np.unique(np.round(np.linspace(0, len(iters) - 1, max_cols)).astype(int))
        cols = [iters[i] for i in idx]
    else:
        cols = iters
    return cols, any(t.best_iteration not in cols for t in trials)


def _shared_limits(run: SweepRun, trials: list[TrialInfo], box: Any) -> tuple[float, float]:
    """Shared limits from the measured pixels (the same in every snapshot) of the first stored one."""
    from ..report import log_limits
    from ..sheet import crop

    for t in trials:
        for s in t.snapshots:
            try:
                first = run.load(t, s["iteration"])
            except DipHealError:
                continue
            return log_limits(crop(np.where(~run.heal, first, np.nan), box))
    raise DipHealError(f"{run.run_dir}: none of the snapshots is in {run.run_dir / layout.ARTIFACTS}; expected the "
                       "artifacts of the workers that ran the trials; copy their artifacts/ folders here")


def _sheet_path(run: SweepRun, out: str | os.PathLike | None) -> Path:
    """The first page's path, checked: a PNG that is none of the sweep's inputs."""
    from ..outputs import check_not_input

    out_path = Path(out) if out is not None else run.run_dir / layout.SHEET
    if out_path.suffix.lower() != ".png":
        raise DipHealError(f"--out {out_path}: the contact sheet is a PNG; expected a path ending in .png; "
                           "choose another --out")
    check_not_input(out_path, [run.record.get("input"), run.record.get("mask"), run.record.get("sweep_file")])
    return out_path


def _page(trials: list[TrialInfo], cols: list[int], best_col: bool,
          load: Callable[[TrialInfo, int], np.ndarray | None]) -> tuple[list, list, list, list]:
    """One page's panels, panel titles, starred columns and row labels."""
    panels, titles, stars, labels = [], [], [], []
    for t in trials:
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
        labels.append(_label(t))
    return panels, titles, stars, labels


def _label(t: TrialInfo) -> str:
    """The row label; a pruned trial's last line says where (and why) it stopped."""
    if t.state != "PRUNED":
        return t.label()
    at = getattr(t, "stopped_at", None)
    if at is None and t.snapshots:
        at = t.snapshots[-1]["iteration"]
    lines = t.label().splitlines()[:-1]
    return "\n".join(lines + [f"pruned at it {at}"])  # why: on the page (--html) and in the study

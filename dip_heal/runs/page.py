"""``dip-heal sheet RUN --html``: the picking page of a sweep, one HTML file that opens from disk.

The page (plain HTML, CSS and JavaScript from ``dip_heal/data/page/picking.html``; no CDN, no
download, works offline) shows one row per trial (complete and pruned) and one thumbnail per
snapshot, with the trial's settings and each snapshot's held-out L1. Each trial's lowest L1 is
starred; the sweep's recommended snapshot (the lowest over the sweep) has its own mark; pruned
trials are dimmed and say where and why they stopped. Clicking a thumbnail opens the snapshot at
full resolution beside a second candidate (A/B, zoom and pan shared), drawn in the browser from
the snapshot's own float32 values: log or linear scale, contrast limits, the healed pixels'
outline.

What the page holds:

- thumbnails: 8-bit palette PNGs (log scale, the sweep's shared limits) as ``data:`` URIs;
- full resolution: the measured pixels once (float32, ``frame``) and, per snapshot, the float32
  values of its healed pixels only (the measured ones are the same in every snapshot), as
  base64 in small JavaScript files (``dipHealData(key, {...})``), read on demand.

A sweep whose full-resolution data stays under ``inline_limit`` bytes (default 32 MB) gets
everything inside the one HTML file. A larger one gets the data files in a folder beside the
page, ``NAME_files/`` (with the thumbnails as files too, ``loading="lazy"``), loaded only when a
snapshot is opened; ``<script>`` files, unlike ``fetch``, load from ``file://``. The folder and
the page are written atomically, never over an input.

:mod:`dip_heal.runs.server` serves the same page (``dip-heal serve``) with a Pick button that
writes the healed frame through :func:`dip_heal.runs.picks.pick`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from . import layout
from .sweep_run import SweepRun, TrialInfo, open_run

__all__ = ["PageData", "page_data", "render_page", "write_page", "frame_script", "snapshot_script",
           "thumbnail_png", "data_key", "files_dir", "INLINE_LIMIT"]

logger = logging.getLogger(__name__)

INLINE_LIMIT = 32 * 2**20
"""Bytes of full-resolution data above which it goes into ``NAME_files/`` instead of the page."""

_STATES = ("COMPLETE", "PRUNED")
_KEY = re.compile(r"^t(\d+)_i(\d+)$")


def data_key(trial: int, iteration: int) -> str:
    """The key (and file stem) of a snapshot's data: ``tT_iK``."""
    return f"t{trial}_i{iteration}"


def files_dir(page: str | os.PathLike) -> Path:
    """The folder beside ``page`` holding its lazily loaded files: ``NAME_files``."""
    p = Path(page)
    return p.with_name(f"{p.stem}_files")


@dataclass
class PageData:
    """A sweep prepared for its page: the run, the trials shown, the display limits."""

    run: SweepRun
    trials: list[TrialInfo]
    recommended: tuple[int, int] | None
    log_limits: tuple[float, float]
    linear_limits: tuple[float, float]
    measured: np.ndarray  # (M, N) float32, the measured pixels (0 where healed)

    def key_info(self, key: str) -> tuple[TrialInfo, int]:
        """The trial and iteration named by a data key, or a one-line error."""
        m = _KEY.match(key)
        if m:
            t, k = int(m.group(1)), int(m.group(2))
            for info in self.trials:
                if info.number == t and any(s["iteration"] == k for s in info.snapshots):
                    return info, k
        raise DipHealError(f"{key!r} is no snapshot of {self.run.run_dir}; expected tT_iK of a stored snapshot")


def page_data(run_dir: str | os.PathLike | SweepRun, *, storage: str | None = None) -> PageData:
    """Open a sweep for its page: complete and pruned trials with snapshots, shared limits.

    Raises
    ------
    DipHealError
        Not a sweep, no trial with snapshots yet, none of the snapshots stored here.
    """
    from ..report import log_limits

    run = run_dir if isinstance(run_dir, SweepRun) else open_run(run_dir, storage=storage)
    trials = [t for t in run.trials(_STATES) if t.snapshots]
    if not trials:
        raise DipHealError(f"{run.run_dir}: no trial with snapshots yet; expected a sweep with results; "
                           "run the sweep first")
    first = None
    for t in trials:
        for s in t.snapshots:
            try:
                first = run.load(t, s["iteration"])
                break
            except DipHealError:
                continue
        if first is not None:
            break
    if first is None:
        raise DipHealError(f"{run.run_dir}: none of the snapshots is in {run.run_dir / layout.ARTIFACTS}; expected "
                           "the artifacts of the workers that ran the trials; copy their artifacts/ folders here")
    heal = run.heal
    measured = np.where(heal, 0.0, first).astype(np.float32)
    known = first[~heal]
    known = known[np.isfinite(known)]
    lin = (tuple(float(v) for v in np.percentile(known, (0.5, 99.8))) if known.size else (0.0, 1.0))
    if lin[1] <= lin[0]:
        lin = (lin[0], lin[0] + 1.0)
    recommended = None
    if any(t.state == "COMPLETE" and t.value is not None for t in trials):
        best = run.best()
        if best.best_iteration is not None:
            recommended = (best.number, int(best.best_iteration))
    return PageData(run=run, trials=trials, recommended=recommended,
                    log_limits=log_limits(np.where(heal, np.nan, first)), linear_limits=lin, measured=measured)


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")


def _script(key: str, obj: dict[str, Any]) -> str:
    return f"dipHealData({json.dumps(key)}, {json.dumps(obj, separators=(',', ':'))});\n"


def frame_script(data: PageData) -> str:
    """The ``frame`` data: the shape, the measured pixels (float32, little-endian) and the heal mask (packed bits)."""
    heal = data.run.heal
    return _script("frame", {"shape": list(heal.shape), "measured": _b64(data.measured.astype("<f4")),
                             "heal": _b64(np.packbits(heal.ravel())), "n_heal": int(heal.sum())})


def snapshot_script(data: PageData, key: str, image: np.ndarray | None = None) -> str:
    """A snapshot's data: the float32 values of its healed pixels, in row-major order.

    ``image``: the snapshot, when already loaded.
    """
    info, it = data.key_info(key)
    snap = image if image is not None else data.run.load(info, it)
    return _script(key, {"trial": info.number, "iteration": it,
                         "healed": _b64(snap[data.run.heal].astype("<f4"))})


def _lut(cmap: str = "magma") -> np.ndarray:
    """(256, 3) uint8 colour table of a matplotlib map."""
    from matplotlib import colormaps

    return (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(np.uint8)


def thumbnail_png(data: PageData, info: TrialInfo, iteration: int, px: int,
                  image: np.ndarray | None = None) -> bytes | None:
    """A snapshot's thumbnail: a palette PNG, log scale with the sweep's limits, longer side about ``px``.

    None when the snapshot is not stored here (a worker on another machine). ``image``: the
    snapshot, when already loaded.
    """
    import io

    from PIL import Image

    from ..report import log_scale
    from ..sheet import reduce_for_display

    img = image if image is not None else _load(data, info, iteration)
    if img is None:
        return None
    idx = np.rint(log_scale(reduce_for_display(img, max_px=px), data.log_limits) * 255).astype(np.uint8)
    im = Image.fromarray(idx, mode="L")
    im.putpalette(_lut().ravel().tobytes())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _load(data: PageData, info: TrialInfo, iteration: int) -> np.ndarray | None:
    """A snapshot, or None (logged) when it is not stored here."""
    try:
        return data.run.load(info, iteration)
    except DipHealError as exc:
        logger.warning("%s", exc)
        return None


def _params_text(info: TrialInfo) -> list[str]:
    lines = info.label().splitlines()[:-1]  # the last line (L1 or state) is shown by the page itself
    if lines:
        lines[0] = re.sub(r"^#\d+\s*", "", lines[0])  # the page names the trial itself
    return [line for line in lines if line]


def _stop(info: TrialInfo) -> dict[str, Any] | None:
    """Where and why a trial stopped before its budget: pruned, or stopped early by the fit (None: ran it all)."""
    at = getattr(info, "stopped_at", None)
    reason = getattr(info, "stop_reason", None)
    if info.state != "PRUNED":
        return {"at": int(at), "reason": reason, "pruned": False} if at is not None and reason else None
    if at is None:
        at = info.snapshots[-1]["iteration"] if info.snapshots else None
    return {"at": at, "reason": reason or "pruned by the sweep", "pruned": True}


def _model(data: PageData, *, mode: str, external: bool, thumbs: dict[str, str]) -> dict[str, Any]:
    run = data.run
    rec = run.record
    trials = []
    for t in data.trials:
        trials.append({
            "number": t.number, "state": t.state, "settings": _params_text(t), "params": t.params,
            "seed": t.seed, "value": t.value, "best": t.best_iteration, "stop": _stop(t),
            "snaps": [{"it": int(s["iteration"]), "l1": s.get("val_l1"),
                       "thumb": thumbs.get(data_key(t.number, int(s["iteration"])))} for s in t.snapshots],
        })
    return {
        "name": rec.get("sweep", {}).get("name", "sweep"), "run": str(run.run_dir), "input": rec.get("input"),
        "shape": list(run.heal.shape), "n_heal": int(run.heal.sum()), "mode": mode, "external": external,
        "files": "", "lut": _b64(_lut()),
        "limits": {"log": list(data.log_limits), "linear": list(data.linear_limits)},
        "recommended": ({"trial": data.recommended[0], "iteration": data.recommended[1]}
                        if data.recommended else None),
        "trials": trials,
    }


def _template() -> str:
    return resources.files("dip_heal").joinpath("data/page/picking.html").read_text(encoding="utf-8")


def render_page(data: PageData, *, mode: str = "file", files: str = "", thumbs: dict[str, str] | None = None,
                inline: list[str] | None = None) -> str:
    """The page's HTML.

    Parameters
    ----------
    data : PageData
    mode : {"file", "serve"}
        ``"serve"`` adds the Pick button (it POSTs to ``/pick``).
    files : str
        The relative URL prefix of the lazily loaded data (``NAME_files/``); ``""`` with ``inline``.
    thumbs : dict, optional
        Thumbnail ``src`` (a ``data:`` URI or a relative URL) by data key.
    inline : list of str, optional
        Data scripts (:func:`frame_script`, :func:`snapshot_script`) embedded in the page.
    """
    model = _model(data, mode=mode, external=inline is None, thumbs=thumbs or {})
    model["files"] = files
    text = json.dumps(model, separators=(",", ":")).replace("</", "<\\/")
    body = "".join(inline or []).replace("</", "<\\/")
    html = _template()
    return html.replace("/*@PAGE@*/", f"const PAGE = {text};").replace("/*@DATA@*/", body)


def _estimate(data: PageData) -> int:
    n_snap = sum(len(t.snapshots) for t in data.trials)
    return int((data.measured.size + n_snap * int(data.run.heal.sum())) * 4 * 4 / 3)


def write_page(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    thumb_px: int = 96,
    inline_limit: int = INLINE_LIMIT,
    storage: str | None = None,
) -> Path:
    """Write the picking page of a sweep (``RUN/sheet.html`` by default).

    Parameters
    ----------
    run_dir : path-like
        The sweep's run folder.
    out : path-like, optional
        The HTML file; its data folder (large sweeps) is ``NAME_files/`` beside it.
    thumb_px : int
        Thumbnails' longer side, in pixels.
    inline_limit : int
        Full-resolution data up to this many bytes goes inside the page; above, into ``NAME_files/``.
    storage : str, optional
        The study's storage URL when not the recorded one.

    Returns
    -------
    Path
        The page.

    Raises
    ------
    DipHealError
        ``out`` not an ``.html`` path, or one of the sweep's inputs; not a sweep; no snapshots.
    """
    from ..frame import atomic_path
    from ..outputs import begin_dir, check_not_input, commit_dir, discard_dir, mark_written

    data = page_data(run_dir, storage=storage)
    run = data.run
    out_path = Path(out) if out is not None else run.run_dir / layout.SHEET_HTML
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise DipHealError(f"--out {out_path}: the picking page is an HTML file; expected a path ending in .html; "
                           "choose another --out")
    inputs = [run.record.get("input"), run.record.get("mask"), run.record.get("sweep_file")]
    check_not_input(out_path, inputs)
    keys = [(t, int(s["iteration"])) for t in data.trials for s in t.snapshots]
    external = _estimate(data) > inline_limit
    folder = files_dir(out_path)
    thumbs: dict[str, str] = {}
    if external:
        tmp = begin_dir(folder, force=True, inputs=inputs)
        try:
            (tmp / "thumbs").mkdir()
            (tmp / "frame.js").write_text(frame_script(data))
            for t, it in _progress(keys, "page data"):
                key = data_key(t.number, it)
                img = _load(data, t, it)
                if img is None:
                    continue
                (tmp / "thumbs" / f"{key}.png").write_bytes(thumbnail_png(data, t, it, thumb_px, img) or b"")
                (tmp / f"{key}.js").write_text(snapshot_script(data, key, img))
                thumbs[key] = f"{folder.name}/thumbs/{key}.png"
            commit_dir(tmp, folder, command="dip-heal sheet --html")
        except BaseException:
            discard_dir(tmp)
            raise
        html = render_page(data, mode="file", files=f"{folder.name}/", thumbs=thumbs)
    else:
        scripts = [frame_script(data)]
        for t, it in _progress(keys, "page data"):
            key = data_key(t.number, it)
            img = _load(data, t, it)
            if img is None:
                continue
            png = thumbnail_png(data, t, it, thumb_px, img) or b""
            thumbs[key] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            scripts.append(snapshot_script(data, key, img))
        html = render_page(data, mode="file", thumbs=thumbs, inline=scripts)
    with atomic_path(out_path) as tmp_html:
        tmp_html.write_text(html, encoding="utf-8")
    mark_written(run.run_dir, [out_path] + ([folder] if external else []))
    logger.info("wrote the picking page %s (%d trials, %d snapshots%s)", out_path, len(data.trials), len(keys),
                f"; data in {folder}" if external else "; self-contained")
    return out_path


def _progress(items: list, what: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=what, unit="snapshot", leave=False, disable=len(items) < 50)

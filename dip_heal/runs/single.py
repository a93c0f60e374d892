"""A single fit written as a run folder (its layout: :mod:`dip_heal.runs.layout`).

The folder is built under a temporary name beside ``RUN`` and renamed at the end, so an
interrupted or failed fit leaves no partial ``RUN``; it carries dip-heal's marker file
``.dip-heal``, and ``--force`` replaces only such a folder (:mod:`dip_heal.outputs`).
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from typing import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import FitConfig
from ..frame import Frame, atomic_path, composite_native
from ..outputs import begin_dir, check_not_input, commit_dir, discard_dir, shown
from . import layout
from .inputs import check_heal, load_frame_and_mask
from .record import input_record, write_json
from .report import write_report
from .snapshots import SnapshotWriter
from .._runtime import torch_threads

__all__ = ["fit_to_run", "RunSummary", "write_metrics"]

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What :func:`fit_to_run` wrote."""

    run_dir: Path
    healed_path: Path
    preview_path: Path
    n_healed: int
    iteration: int
    seconds: float
    iterations_run: int | None = None
    blend: dict[str, float] | None = None
    val_l1: float | None = None
    net_state: dict[str, Any] | None = field(default=None, repr=False)

    def line(self) -> str:
        """One line for the terminal: what was healed, how far the fit ran, what healed it."""
        ran = f"{self.iterations_run} iterations run, " if self.iterations_run is not None else ""
        if self.blend:
            how = "healed by " + " + ".join(f"{k} {v:.2f}" for k, v in self.blend.items() if v > 0)
            if not self.blend.get("dip"):
                how += " (the network's weight is 0: the classical fills predicted the held-out pixels better)"
        else:
            how = "healed by the network"
        return (f"healed {self.n_healed} pixels in {self.seconds:.1f} s ({ran}returned snapshot iteration "
                f"{self.iteration}; {how}): {self.healed_path}  preview: {self.preview_path}")


def write_metrics(path: Path, metrics: list[dict[str, Any]]) -> None:
    """``metrics.csv``: ``iteration, loss, seconds, val_l1`` (and ``member`` for an ensemble)."""
    with atomic_path(path) as mtmp:
        with open(mtmp, "w", newline="") as fh:
            w = csv.writer(fh)
            members = any("member" in m for m in metrics)
            w.writerow(["iteration", "loss", "seconds", "val_l1"] + (["member"] if members else []))
            for m in metrics:
                w.writerow([m["iteration"], f"{m['loss']:.8g}", f"{m['seconds']:.4f}",
                            f"{m['val_l1']:.8g}" if "val_l1" in m else ""]
                           + ([m.get("member", 0)] if members else []))


def _result_record(result: Any, healed_name: str) -> dict[str, Any]:
    """The keys ``config.json`` gains once the fit is done."""
    return {
        "iteration": result.iteration,
        "seconds": result.seconds,
        "stopped_at": result.extra.get("stopped_at"),
        "center": result.extra.get("center"),
        "blend": result.extra.get("blend"),
        "members": result.extra.get("members"),
        "device": result.extra.get("device"),
        "healed": healed_name,
        "scale": result.scale,
    }


def _write_healed(tmp: Path, name: str, frame: Frame, result: Any, heal: np.ndarray, limits: Any,
                  provenance: dict[str, Any] | None = None, final: Path | None = None) -> None:
    """The healed frame (input's format, with its ``provenance``), the render's float map, the preview."""
    from ..io import write_image
    from ..report import save_preview

    native = composite_native(frame.raw, result.healed, heal)
    final = final if final is not None else tmp  # issue 20: logs show the run folder's final names
    write_image(tmp / name, native, like=frame, provenance=provenance, heal=heal,  # issue 20: provenance
                log_as=shown(tmp / name, tmp, final))
    if frame.meta.get("render") is not None:  # issue 22: the healed map position t, as float32
        from ..renders import write_scalar_tiff

        write_scalar_tiff(tmp / layout.HEALED_SCALAR, native, frame,
                          log_as=shown(tmp / layout.HEALED_SCALAR, tmp, final))
    save_preview(tmp / layout.HEALED_PREVIEW, result.healed, heal=heal, limits=limits)


def fit_to_run(
    image_path: str | os.PathLike,
    out: str | os.PathLike,
    config: FitConfig | None = None,
    *,
    mask_path: str | os.PathLike | None = None,
    mask_convention: str | None = None,
    device: str | None = None,
    progress: bool = False,
    force: bool = False,
    center: tuple[float, float] | None = None,
    init_state: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
    poni: "str | os.PathLike | Any | None" = None,
    stop_if: Callable[[Any, dict[str, Any]], bool | None] | None = None,
    save_state: str | None = None,
) -> RunSummary:
    """Fit one frame and write a run folder (see :mod:`dip_heal.runs.layout` for its layout).

    Parameters
    ----------
    image_path : path-like
        The frame (any format :func:`dip_heal.io.read_image` reads).
    out : path-like
        The run folder to create.
    config : FitConfig, optional
        Default: ``FitConfig.preset("default")``.
    mask_path : path-like, optional
        Pixels to heal (see :func:`dip_heal.masks.read_mask`); default: the frame's invalid pixels.
    mask_convention : str, optional
        How to read the mask file (e.g. ``pyfai`` for 1 = masked EDF/TIFF).
    device : str, optional
    progress : bool
    force : bool
        Replace an existing, non-empty run folder, if dip-heal made it and it holds only what
        dip-heal wrote (see :mod:`dip_heal.outputs`).
    center : (x, y), optional
        Beam centre in pixels (default: estimated from the frame when the configuration needs one).
    init_state : dict, optional
        Starting weights (a warm start; :func:`dip_heal.fit`'s ``init_state``).
    poni : path-like or Geometry, optional
        A pyFAI calibration of the detector (``--poni``): its beam centre and per-pixel 2theta and
        chi for the polar inputs and the azimuthal model; recorded in ``config.json`` and the
        healed output's provenance. Not with ``center``.
    record : dict, optional
        More keys for ``config.json`` (a series records where the frame's start came from).
    stop_if : callable, optional
        ``stop_if(snapshot, state)`` at every snapshot, after the snapshot is written; True stops
        the fit there (an exception it raises ends the fit and leaves no folder).
    save_state : str, optional
        Also write the network's final weights under this name in the folder (``torch.save``;
        read back with ``torch.load(weights_only=True)``), before the folder is renamed into place.

    Returns
    -------
    RunSummary
        With the fit's final weights in ``net_state`` (for the next frame of a series).
    """
    from ..dip import fit
    from ..io import output_path_like
    from ..report import log_limits

    config = config if config is not None else FitConfig.preset("default")
    out = Path(out)
    frame, heal = load_frame_and_mask(image_path, mask_path, mask_convention=mask_convention)
    check_heal(heal, image_path, mask_path)
    from ..geometry import load_geometry

    geometry = load_geometry(poni, frame.shape, center=center)
    # refuse to write over or delete an input before any work is done
    healed_final = output_path_like(frame, out, layout.HEALED_STEM)
    check_not_input(healed_final, [image_path, mask_path])
    healed_name = Path(healed_final).name
    tmp = begin_dir(out, force=force, inputs=[image_path, mask_path])
    try:
        (tmp / layout.SNAPSHOTS).mkdir()
        limits = log_limits(np.where(frame.valid & ~heal, frame.data, np.nan))
        record = {"config": config.to_dict(), "seed": config.seed, "detector": frame.meta.get("detector"),
                  "n_heal": int(heal.sum()), "device": device, "torch_threads": torch_threads(),
                  **input_record(image_path, mask_path, mask_convention, frame, geometry), **(record or {})}
        write_json(tmp / layout.CONFIG_JSON, record)
        np.save(tmp / layout.HEAL_MASK, heal)

        image = np.where(heal, np.nan, frame.data).astype(np.float32)
        from ..renders import fit_in_window  # issue 22: a figure render is fitted on its image area only

        writer = SnapshotWriter(tmp / layout.SNAPSHOTS, limits)

        def on_snapshot(snap: Any, state: dict[str, Any]) -> bool:
            stop = writer(snap, state)
            return bool(stop) or bool(stop_if is not None and stop_if(snap, state))

        result = fit_in_window(frame, fit, image, heal, config, device=device, progress=progress,
                               callback=on_snapshot, keep_snapshots=False, center=center, init_state=init_state,
                               geometry=geometry)
        write_metrics(tmp / layout.METRICS_CSV, result.metrics)
        # issue 20: every healed output says what healed it
        from ..io.provenance import provenance

        prov = provenance(f"DIP fit, preset {config.preset_name}", int(heal.sum()), layout.HEAL_MASK,
                          config=config.to_dict(), geometry=None if geometry is None else geometry.record())
        _write_healed(tmp, healed_name, frame, result, heal, limits, prov, final=out)
        write_report(tmp / layout.REPORT, frame, heal, result, limits, title=Path(str(image_path)).name)  # issue 20
        record.update(_result_record(result, healed_name))
        record["val_l1"] = _chosen_val(result)
        write_json(tmp / layout.CONFIG_JSON, record)
        if save_state is not None and result.net_state is not None:
            import torch

            torch.save(result.net_state, tmp / save_state)
        commit_dir(tmp, out, command="fit")
    except BaseException:
        discard_dir(tmp)
        raise
    logger.info("wrote %s (%d pixels healed, %.1f s)", out, int(heal.sum()), result.seconds)
    return RunSummary(
        run_dir=out, healed_path=out / healed_name, preview_path=out / layout.HEALED_PREVIEW,
        n_healed=int(heal.sum()), iteration=result.iteration, seconds=result.seconds,
        iterations_run=result.extra.get("stopped_at"), blend=result.extra.get("blend"),
        val_l1=_chosen_val(result), net_state=result.net_state,
    )


def _chosen_val(result: Any) -> float | None:
    """The held-out L1 of the returned snapshot (from the metrics), or None without held-out pixels."""
    vals = [m["val_l1"] for m in result.metrics if m.get("iteration") == result.iteration and "val_l1" in m]
    vals = [v for v in vals if v == v]
    return float(vals[-1]) if vals else None

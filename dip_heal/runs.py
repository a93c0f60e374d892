"""Run folders: the only code that knows their layout.

A single fit writes, into ``RUN/``:

- ``config.json``: the :class:`~dip_heal.config.FitConfig` (with its seed), the input and mask
  paths, the device, the dip-heal and torch versions;
- ``metrics.csv``: ``iteration, loss, seconds, val_l1`` (``val_l1`` at snapshots only; a
  ``member`` column for an ``ensemble`` fit);
- ``snapshots/iter_NNNNNN.npy`` (float32 composite in the input's units) and ``.png`` (log scale;
  ``memberK_iter_NNNNNN`` for each network of an ``ensemble`` fit);
- ``healed.<ext>``: the healed frame in the input's format and dtype (measured pixels bit-exact),
  ``healed.png``: its preview with the healed pixels outlined;
- ``heal_mask.npy``: the pixels that were healed (True = healed).
- for a colour-map render (:mod:`dip_heal.renders`): ``healed_render.png`` (the healed frame: the
  same picture, measured pixels, frame and axes in their original colours) and
  ``healed_scalar.tif`` (float32 map position ``t`` of the image area).

The folder is built under a temporary name beside ``RUN`` and renamed at the end, so an
interrupted or failed fit leaves no partial ``RUN``; it carries dip-heal's marker file
``.dip-heal``, and ``--force`` replaces only such a folder (:mod:`dip_heal.outputs`).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import FitConfig
from .errors import DipHealError, NothingToHeal
from .frame import Frame, atomic_path, composite_native
from .outputs import begin_dir, check_not_input, commit_dir, discard_dir

__all__ = ["load_frame_and_mask", "fit_to_run", "RunSummary", "write_json", "versions"]

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


def versions() -> dict[str, str]:
    """Versions of dip-heal and the packages that change a result."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("dip-heal", "torch", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def load_frame_and_mask(
    image_path: str | os.PathLike,
    mask_path: str | os.PathLike | None = None,
    *,
    mask_convention: str | None = None,
) -> tuple[Frame, np.ndarray]:
    """Read a frame and the pixels to heal.

    The heal mask is the mask file's pixels (True = heal) plus every pixel the frame itself marks
    invalid (sentinels, NaN): those are never fitted as if they were measurements. Without a mask
    file, the frame's invalid pixels are healed.

    Raises
    ------
    DipHealError
        Unreadable frame or mask, mask of another shape, a frame without valid pixels.
    """
    from .io import read_image

    frame = read_image(image_path)
    if not frame.valid.any():
        raise DipHealError(
            f"{image_path}: the frame holds no valid pixel (all sentinels or NaN); expected measured pixels; "
            "check that this is the right frame"
        )
    if mask_path is not None:
        from .masks import read_mask

        heal = read_mask(mask_path, frame.shape, convention=mask_convention)
        extra = ~frame.valid & ~heal
        if extra.any():
            logger.info("%d invalid pixels outside the mask are healed too", int(extra.sum()))
        heal = heal | ~frame.valid
    else:
        heal = ~frame.valid
        logger.info("no --mask: healing the frame's %d invalid pixels", int(heal.sum()))
    return frame, heal


def write_snapshot(stem: Path, healed: np.ndarray, limits: Any) -> None:
    """A snapshot composite as ``STEM.npy`` (float32) and ``STEM.png`` (log-scale preview)."""
    from .report import save_preview

    np.save(stem.with_suffix(".npy"), healed.astype(np.float32), allow_pickle=False)
    save_preview(stem.with_suffix(".png"), healed, limits=limits, outline=False)


class SnapshotWriter:
    """A fit callback streaming every snapshot into a run's ``snapshots/`` folder.

    ``iter_NNNNNN.npy`` and ``.png`` (``memberK_iter_NNNNNN`` for an ensemble's members).
    """

    def __init__(self, folder: Path, limits: Any) -> None:
        self.folder = Path(folder)
        self.limits = limits

    def __call__(self, snap: Any, state: dict[str, Any]) -> None:
        member = f"member{state['member']}_" if "member" in state else ""
        write_snapshot(self.folder / f"{member}iter_{snap.iteration:06d}", snap.healed, self.limits)


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
) -> RunSummary:
    """Fit one frame and write a run folder (see the module docstring for its layout).

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

    Returns
    -------
    RunSummary
    """
    from .dip import fit
    from .io import output_path_like, write_image
    from .report import log_limits, save_preview

    config = config if config is not None else FitConfig.preset("default")
    out = Path(out)
    frame, heal = load_frame_and_mask(image_path, mask_path, mask_convention=mask_convention)
    if not heal.any():
        raise NothingToHeal(f"{image_path}: the mask selects no pixel to heal and the frame has no invalid pixel")
    if heal.all():
        raise DipHealError(
            f"{mask_path or image_path}: the mask heals every pixel; expected some measured pixels to fit; "
            "check the mask polarity (--mask-convention)"
        )
    # refuse to write over or delete an input before any work is done
    healed_path_final = output_path_like(frame, out, "healed")
    check_not_input(healed_path_final, [image_path, mask_path])
    tmp = begin_dir(out, force=force, inputs=[image_path, mask_path])
    try:
        (tmp / "snapshots").mkdir()
        limits = log_limits(np.where(frame.valid & ~heal, frame.data, np.nan))
        record = {
            "config": config.to_dict(),
            "seed": config.seed,
            "input": str(Path(image_path).resolve()),
            "mask": str(Path(mask_path).resolve()) if mask_path is not None else None,
            "mask_convention": mask_convention,
            "shape": list(frame.shape),
            "detector": frame.meta.get("detector"),
            "n_heal": int(heal.sum()),
            "device": device,
            "versions": versions(),
        }
        write_json(tmp / "config.json", record)
        np.save(tmp / "heal_mask.npy", heal)

        image = np.where(heal, np.nan, frame.data).astype(np.float32)
        from .renders import fit_in_window  # issue 22: a figure render is fitted on its image area only

        result = fit_in_window(frame, fit, image, heal, config, device=device, progress=progress, callback=SnapshotWriter(tmp / "snapshots", limits),
                               keep_snapshots=False, center=center)

        with atomic_path(tmp / "metrics.csv") as mtmp:
            with open(mtmp, "w", newline="") as fh:
                w = csv.writer(fh)
                members = any("member" in m for m in result.metrics)
                w.writerow(["iteration", "loss", "seconds", "val_l1"] + (["member"] if members else []))
                for m in result.metrics:
                    w.writerow([m["iteration"], f"{m['loss']:.8g}", f"{m['seconds']:.4f}",
                                f"{m['val_l1']:.8g}" if "val_l1" in m else ""]
                               + ([m.get("member", 0)] if members else []))
        native = composite_native(frame.raw, result.healed, heal)
        healed_tmp = tmp / Path(healed_path_final).name
        write_image(healed_tmp, native, like=frame)
        if frame.meta.get("render") is not None:  # issue 22: the healed map position t, as float32
            from .renders import write_scalar_tiff

            write_scalar_tiff(tmp / "healed_scalar.tif", native, frame)
        save_preview(tmp / "healed.png", result.healed, heal=heal, limits=limits)
        record.update({
            "iteration": result.iteration,
            "seconds": result.seconds,
            "stopped_at": result.extra.get("stopped_at"),
            "center": result.extra.get("center"),
            "blend": result.extra.get("blend"),
            "members": result.extra.get("members"),
            "device": result.extra.get("device"),
            "healed": healed_tmp.name,
            "scale": result.scale,
        })
        write_json(tmp / "config.json", record)
        commit_dir(tmp, out, command="fit")
    except BaseException:
        discard_dir(tmp)
        raise
    logger.info("wrote %s (%d pixels healed, %.1f s)", out, int(heal.sum()), result.seconds)
    return RunSummary(
        run_dir=out,
        healed_path=out / healed_tmp.name,
        preview_path=out / "healed.png",
        n_healed=int(heal.sum()),
        iteration=result.iteration,
        seconds=result.seconds,
        iterations_run=result.extra.get("stopped_at"),
        blend=result.extra.get("blend"),
    )

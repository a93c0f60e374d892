"""Heal frames with a trained blind model: one frame (:func:`heal_with_model`) or whole folders (:func:`bulk`).

A frame is log-normalised like the training crops, every pixel to heal (and every pixel that is
not a measurement) is set to 0, the network runs over overlapping tiles in batches, and only the
healed pixels take its output: measured pixels are written back bit for bit in the input's dtype.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .._runtime import pick_device
from ..errors import DipHealError, NothingToHeal
from ..frame import atomic_path, check_mask_shape, composite_native
from .model_dir import BlindModel, default_model_dir, load_model
from .prefill import model_inputs
from .previews import Previews
from .tiling import predict_tiled
from .crops import log_denormalise, log_normalise

__all__ = ["predict", "heal_with_model", "bulk", "BulkSummary", "check_frame_shape", "frame_heal_mask"]

logger = logging.getLogger(__name__)


def check_frame_shape(model: BlindModel, shape: tuple[int, int]) -> None:
    """Refuse a frame whose shape does not fit the model's detector layout.

    Raises
    ------
    DipHealError
        When the card fixes a frame shape (a model trained for one detector) and ``shape``
        differs.
    """
    want = model.frame_shape
    if want is not None and tuple(shape) != tuple(want):
        det = model.card.get("layout", {}).get("detector") or "its detector"
        raise DipHealError(
            f"frame shape {tuple(shape)} does not fit the model's detector layout ({det}, {tuple(want)}); "
            f"expected {tuple(want)} frames; use a model trained for this detector"
        )


def predict(
    model: BlindModel,
    image: np.ndarray,
    heal: np.ndarray,
    *,
    known: np.ndarray | None = None,
    device: str | torch.device | None = None,
    batch: int = 8,
) -> np.ndarray:
    """The network's healed frame, in the image's units, with measured pixels unchanged.

    Parameters
    ----------
    model : BlindModel
    image : (M, N) ndarray
        Intensities; non-finite pixels are treated as holes.
    heal : (M, N) ndarray of bool
        True = pixel to heal.
    known : (M, N) ndarray of bool, optional
        Measured pixels the net may use (default: not ``heal`` and finite). Pixels neither known
        nor healed (e.g. outside the sensor) are inputs of 0 and keep their values.
    device : str or torch.device, optional
        Default CPU (``auto`` picks CUDA when available).
    batch : int
        Tiles per network call.

    Returns
    -------
    healed : (M, N) ndarray of float32
        ``image`` where not ``heal``, the model's values where ``heal``.

    Raises
    ------
    DipHealError
        Mask shape mismatch, a frame that does not fit the model's detector layout, or no
        measured pixel to start from.
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise DipHealError(f"got an image of shape {img.shape}; expected a 2-D frame (M, N)")
    heal = np.asarray(heal, dtype=bool)
    check_mask_shape(heal, img.shape, "heal mask")
    check_frame_shape(model, img.shape)
    data = img.astype(np.float32)
    finite = np.isfinite(data)
    known = ~heal & finite if known is None else np.asarray(known, bool) & ~heal & finite
    check_mask_shape(known, img.shape, "known mask")
    if not known.any():
        raise DipHealError("the frame has no measured pixel outside the heal mask; expected some data to heal from")
    y, scale = log_normalise(data, known)
    x_np = model_inputs(y, ~known, model.inputs)
    dev = torch.device("cpu") if device is None else pick_device(device, mps=False)
    net = model.net.to(dev).eval()
    size, overlap = model.tile
    x = torch.from_numpy(x_np).to(dev)

    def run(t: torch.Tensor) -> torch.Tensor:
        return net(t) + t[:, :1] if model.residual else net(t)

    with torch.inference_mode():
        out = predict_tiled(run, x, tile=size, overlap=overlap, batch=batch, out_channels=1)
    pred = log_denormalise(out[0].float().cpu().numpy(), scale)
    healed = np.where(heal, pred, data).astype(np.float32)
    return healed


@lru_cache(maxsize=4)
def _cached_model(path: str) -> BlindModel:
    return load_model(path)


def heal_with_model(
    image: np.ndarray,
    heal_mask: np.ndarray,
    *,
    model_dir: str | os.PathLike | None = None,
    device: str | None = None,
    batch: int = 8,
) -> np.ndarray:
    """Heal one frame with a trained model: the ``blind`` method of the healing registry.

    ``heal(image, heal_mask, model_dir=...) -> (M, N) float32`` like every method in
    :mod:`dip_heal.methods`; ``model_dir`` defaults to the shipped model.

    Examples
    --------
    >>> img = np.full((40, 40), 50.0, np.float32); hole = np.zeros((40, 40), bool); hole[18:22] = True
    >>> out = heal_with_model(img, hole)
    >>> out.shape, bool(np.all(out[~hole] == 50.0))
    ((40, 40), True)
    """
    path = Path(model_dir) if model_dir is not None else default_model_dir()
    model = _cached_model(str(path.resolve()))
    return predict(model, image, heal_mask, device=device, batch=batch)


def frame_heal_mask(frame: Any, spec: Any = None) -> np.ndarray:
    """Pixels to heal in a frame: :func:`dip_heal.masks.build_mask` with ``spec`` (default automatic).

    Parameters
    ----------
    frame : Frame
    spec : MaskSpec or path-like, optional
        A mask spec or its JSON file; default ``MaskSpec()`` (gaps, sentinels, file masks, empty
        stripes, automatic beamstop).

    Returns
    -------
    heal : (M, N) ndarray of bool
    """
    try:
        from ..masks import MaskSpec, build_mask
    except ImportError:  # pragma: no cover - masks is part of the core
        if spec is not None:
            raise DipHealError("a mask spec needs dip_heal.masks, which this installation lacks; omit --mask-spec") from None
        return ~np.asarray(frame.valid, bool)
    if isinstance(spec, (str, os.PathLike)):
        spec = MaskSpec.from_json(spec)
    heal = np.asarray(build_mask(frame, spec), bool)
    check_mask_shape(heal, frame.shape, "mask")
    return heal


@dataclass
class BulkSummary:
    """Outcome of :func:`bulk`.

    Attributes
    ----------
    written : list of Path
        Healed frames written in this run.
    skipped : list of Path
        Inputs whose output already existed (resume).
    failed : list of (str, str)
        ``(input, one-line reason)`` for frames that could not be healed.
    nothing : list of str
        Inputs with no pixel to heal (copied through unchanged).
    seconds : float
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    nothing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        n = len(self.written) + len(self.nothing)
        rate = n / self.seconds if self.seconds > 0 else 0.0
        return (
            f"healed {len(self.written)}, nothing to heal {len(self.nothing)}, already done {len(self.skipped)}, "
            f"failed {len(self.failed)} in {self.seconds:.1f} s ({rate:.2f} frames/s)"
        )


def heal_mask_path(output: Path) -> Path:
    """Where bulk writes an output's heal mask: ``<output stem>.heal_mask.npy`` beside it (True = healed)."""
    return output.with_name(output.name.split(".")[0] + ".heal_mask.npy")


def _stem(path: Path) -> str:
    """Output stem of an input: the file's name before its first dot, plus ``_K`` for an HDF5 selector's frame."""
    from ..io import split_selector

    file, _dataset, index = split_selector(path)
    return file.name.split(".")[0] + (f"_{index}" if index is not None else "")


def _output_for(path: Path, frame: Any, out_dir: Path, suffix: str) -> Path:
    from ..io import output_path_like

    return output_path_like(frame, out_dir, _stem(path) + suffix)


def _guess_output(path: Path, out_dir: Path, suffix: str) -> list[Path]:
    stem = _stem(path) + suffix
    from ..io.formats import base_suffix, split_selector  # issue 20: outputs keep the input's own extension

    own = base_suffix(split_selector(path)[0])
    exts = dict.fromkeys((".cbf", ".edf", ".tif", ".npy", ".h5", ".nxs", ".hdf5", ".sfrm") + ((own,) if own else ()))
    return [out_dir / f"{stem}{ext}" for ext in exts]


def bulk(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    model_dir: str | os.PathLike | None = None,
    mask_spec: Any = None,
    batch: int = 8,
    device: str | None = None,
    progress: bool = False,
    suffix: str = "_healed",
    overwrite: bool = False,
    previews: bool = False,
) -> BulkSummary:
    """Heal many frames with a blind model and write each in its input's format.

    Each frame gets its heal mask (:func:`frame_heal_mask`), is healed tiled and batched
    (:func:`predict`), and is written with measured pixels bit-exact
    (:func:`dip_heal.frame.composite_native`) as ``OUT/<stem><suffix>.<ext>``. Outputs that
    already exist are skipped (resume); a frame that fails is logged and skipped.

    Parameters
    ----------
    inputs : sequence of path-like
        Frame files (anything :func:`dip_heal.io.read_image` reads).
    out_dir : path-like
        Output folder (created).
    model_dir : path-like, optional
        Trained model directory (default: the shipped model).
    mask_spec : MaskSpec or path-like, optional
        Mask spec applied to every frame; default automatic.
    batch : int
        Tiles per network call.
    device : str, optional
    progress : bool
        tqdm progress bar over frames.
    suffix : str
        Appended to each input's stem.
    overwrite : bool
        Heal again even when the output exists.
    previews : bool
        Also write ``OUT/previews/<stem>.png`` (before/after, healed pixels outlined) per healed
        frame and ``OUT/previews/summary.png`` (thumbnails) (:mod:`dip_heal.blind.previews`).

    Returns
    -------
    BulkSummary

    Raises
    ------
    DipHealError
        A bad model directory or mask spec (before any frame is touched), or an output folder
        that is a file.
    """
    t0 = time.perf_counter()
    model = load_model(model_dir)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DipHealError(f"output {out} is a file; expected a folder for the healed frames; choose another --out")
    spec_path = mask_spec if isinstance(mask_spec, (str, os.PathLike)) else None
    if spec_path is not None:
        from ..masks import MaskSpec

        mask_spec = MaskSpec.from_json(spec_path)
    from ..outputs import check_not_input

    paths = [Path(p) for p in inputs]
    for path in paths:  # before anything is written: no output may be an input
        for guess in _guess_output(path, out, suffix):
            check_not_input(guess, [*paths, spec_path, model_dir], option="--out/--suffix")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    pictures = Previews(out) if previews else None  # issue 20
    try:
        summary = _heal_all(paths, out, model, mask_spec, batch=batch, device=device, progress=progress,
                            suffix=suffix, overwrite=overwrite, previews=pictures)
        if pictures is not None:
            pictures.finish()
    finally:
        if created and not any(out.iterdir()):  # nothing written: leave no empty folder behind
            out.rmdir()
    summary.seconds = time.perf_counter() - t0
    logger.debug("%s", summary.line())
    return summary


def _heal_all(paths: list[Path], out: Path, model: BlindModel, mask_spec: Any, *, batch: int,
              device: str | None, progress: bool, suffix: str, overwrite: bool,
              previews: Previews | None = None) -> BulkSummary:
    from ..io import read_image, write_image

    summary = BulkSummary()
    it: Any = paths
    if progress:
        from tqdm import tqdm

        it = tqdm(paths, desc="bulk", unit="frame")
    for path in it:
        if not overwrite and any(p.exists() for p in _guess_output(path, out, suffix)):
            summary.skipped.append(path)
            continue
        try:
            frame = read_image(path)
            target = _output_for(path, frame, out, suffix)
            heal = frame_heal_mask(frame, mask_spec)
            if not heal.any():
                summary.nothing.append(str(path))
                write_image(target, frame.raw, like=frame)
                continue
            healed = predict(model, frame.data, heal, known=frame.valid & ~heal, device=device, batch=batch)
            native = composite_native(frame.raw, healed, heal)
            # issue 20: provenance, and the heal mask beside the output (True = healed)
            from ..io.provenance import provenance

            mask_target = heal_mask_path(target)
            with atomic_path(mask_target) as tmp:
                np.save(tmp, heal, allow_pickle=False)
            prov = provenance(f"blind model {model.card.get('name') or (model.path.name if model.path else 'shipped')}",
                              int(heal.sum()), mask_target)
            write_image(target, native, like=frame, provenance=prov, heal=heal)
            summary.written.append(target)
            if previews is not None:
                previews.add(_stem(path), frame, healed, heal)
        except (DipHealError, NothingToHeal, ValueError, OSError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            logger.warning("%s skipped: %s", path, msg)
            summary.failed.append((str(path), msg))
    return summary

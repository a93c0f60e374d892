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
from .prefill import frame_inputs
from .infer import inference_fn
from .previews import Previews
from .tiling import predict_holes, predict_tiled
from .crops import log_denormalise, log_normalise

__all__ = ["predict", "heal_with_model", "bulk", "heal_one", "BulkSummary", "FrameResult", "check_frame_shape",
           "frame_heal_mask", "mask_center", "heal_mask_path", "CONTEXT", "DTYPES"]

logger = logging.getLogger(__name__)

#: Default context (pixels) kept around each hole when the network runs on the holes only.
CONTEXT = 32

#: Network precisions :func:`predict` accepts.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


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
    context: int | None = CONTEXT,
    dtype: str = "float32",
    center: tuple[float, float] | None = None,
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
    context : int or None
        Run the network only on rectangles around the holes with this many pixels of context
        (:func:`dip_heal.blind.tiling.predict_holes`); None: over the whole frame
        (:func:`dip_heal.blind.tiling.predict_tiled`). Frames that fit in one tile are always run
        whole.
    dtype : {'float32', 'bfloat16'}
        Precision of the network (float32 is bit-identical to the plain forward pass).
    center : (x, y), optional
        Beam centre in the image's pixels, for models whose inputs hold the azimuthal model
        (default: estimated from the measured pixels); other models ignore it.

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
    x_np = frame_inputs(y, known, data, model.inputs, center=center)
    dev = torch.device("cpu") if device is None else pick_device(device, mps=False)
    if dtype not in DTYPES:
        raise DipHealError(f"dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    net = model.net.to(dev).eval()
    size, overlap = model.tile
    x = torch.from_numpy(x_np).to(dev)
    run = inference_fn(net, residual=model.residual, dtype=DTYPES[dtype])
    with torch.inference_mode():
        if context is None:
            out = predict_tiled(run, x, tile=size, overlap=overlap, batch=batch, out_channels=1)
        else:
            out = predict_holes(run, x, heal, context=context, tile=size, overlap=overlap, batch=batch,
                                out_channels=1)
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
    known: np.ndarray | None = None,
    context: int | None = CONTEXT,
    dtype: str = "float32",
    center: tuple[float, float] | None = None,
    offset: tuple[int, int] = (0, 0),
    poni: Any = None,
) -> np.ndarray:
    """Heal one frame with a trained model: the ``blind`` method of the healing registry.

    ``heal(image, heal_mask, model_dir=...) -> (M, N) float32`` like every method in
    :mod:`dip_heal.methods`; ``model_dir`` defaults to the shipped model; ``known``, ``context``
    and ``dtype`` are passed to :func:`predict`; ``center`` is the beam centre in pixels of the
    full frame that ``image`` was cut from at ``offset`` (row, col), as for the other fills;
    ``poni`` (a PONI file or :class:`~dip_heal.geometry.Geometry`, ``bulk --poni``) gives that
    centre instead, so a model with the azimuthal input skips the estimate.

    Examples
    --------
    >>> img = np.full((40, 40), 50.0, np.float32); hole = np.zeros((40, 40), bool); hole[18:22] = True
    >>> out = heal_with_model(img, hole)
    >>> out.shape, bool(np.all(out[~hole] == 50.0))
    ((40, 40), True)
    """
    path = Path(model_dir) if model_dir is not None else default_model_dir()
    model = _cached_model(str(path.resolve()))
    if poni is not None:  # (a PONI and a centre both given: the one-line error of every fill)
        from ..geometry import load_geometry

        center = load_geometry(poni, center=center).center
    if center is not None:
        from ..polar import crop_center

        center = crop_center(center, offset)
    return predict(model, image, heal_mask, known=known, device=device, batch=batch, context=context, dtype=dtype,
                   center=center)


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


def mask_center(frame: Any, geometry: Any = None) -> tuple[float, float] | None:
    """The geometry's beam centre, else the one :func:`frame_heal_mask` recorded in
    ``frame.meta["mask_info"]`` (the PONI's, the spec's, or the estimate it found the beamstop
    about), else None.

    A model with the azimuthal input takes its ring model about this centre, so the frame's centre
    is estimated once, not again by :func:`predict`.

    Parameters
    ----------
    frame : Frame
        A frame :func:`frame_heal_mask` has seen.
    geometry : Geometry, optional
        The beamline's geometry (``bulk --poni``).

    Returns
    -------
    (x, y) or None
    """
    # (a mask spec read from a file does not take bulk's PONI: its estimate must not win over it)
    center = geometry.center if geometry is not None else (frame.meta.get("mask_info") or {}).get("center")
    return None if center is None else (float(center[0]), float(center[1]))


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


@dataclass
class FrameResult:
    """Outcome of healing one frame (:func:`heal_one`), the result of one bulk task.

    Attributes
    ----------
    input : str
        The input as given.
    status : {'written', 'nothing', 'skipped', 'failed'}
        Healed and written; nothing to heal (copied through); already done; failed.
    output : str or None
        The output file (when written or done).
    reason : str
        One line saying why it failed (empty otherwise).
    """

    input: str
    status: str
    output: str | None = None
    reason: str = ""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_done(path: Path, out: Path, suffix: str) -> Path | None:
    """The output of ``path`` when it is complete: the frame, its heal mask and (NPY) its provenance file."""
    for guess in _guess_output(path, out, suffix):
        if guess.exists() and heal_mask_path(guess).exists():
            if guess.suffix == ".npy" and not guess.with_name(guess.name + ".provenance.json").exists():
                continue
            return guess
    return None


def _finals(path: Path, out: Path, suffix: str) -> list[Path]:
    """Every file a bulk task of ``path`` may write in ``out``: the frame, its heal mask, an NPY's provenance."""
    found = []
    for guess in _guess_output(path, out, suffix):
        found += [guess, heal_mask_path(guess), guess.with_name(guess.name + ".provenance.json")]
    return found


def _leftovers(paths: list[Path], out: Path, suffix: str) -> list[Path]:
    """Temporary files interrupted writes of these inputs' outputs left in ``out``.

    :func:`dip_heal.frame.atomic_path` names them ``.<final name>.<random><ext>``; the folder is
    listed once, whatever the number of inputs.
    """
    finals = {f.name for p in paths for f in _finals(p, out, suffix)}
    found = []
    for entry in os.scandir(out):
        name = entry.name
        if not name.startswith(".") or not entry.is_file():
            continue
        rest = name[1:]
        dots = [i for i, ch in enumerate(rest) if ch == "."]
        if any(rest[:i] in finals for i in dots):
            found.append(Path(entry.path))
    return found


def _method_label(method: Any, model: BlindModel | None) -> str:
    if model is not None:  # the label bulk has always written for the blind model
        return f"blind model {model.card.get('name') or (model.path.name if model.path else 'shipped')}"
    if callable(method):
        return str(getattr(method, "__name__", "custom method"))
    return str(method)


def _blind_model_dir(method: Any, model_dir: str | os.PathLike | None) -> Path | None:
    """The model folder of a blind method (``blind`` with ``model_dir``, or ``blind:DIR``); None for others."""
    if callable(method):
        return None
    base, sep, arg = str(method).strip().partition(":")
    if base != "blind":
        return None
    path = Path(arg) if sep and arg else (Path(model_dir) if model_dir is not None else default_model_dir())
    return path.resolve()


def heal_one(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    method: Any = "blind",
    model_dir: str | os.PathLike | None = None,
    mask_spec: Any = None,
    batch: int = 8,
    device: str | None = None,
    suffix: str = "_healed",
    overwrite: bool = False,
    context: int | None = CONTEXT,
    dtype: str = "float32",
    threads: int | None = None,
    poni: str | None = None,
) -> FrameResult:
    """Heal one frame into ``out_dir``: one task of :func:`bulk`, on this process or a Dask worker.

    The heal mask is written first (``NAME_healed.heal_mask.npy``), then the healed frame, each
    under a temporary name renamed into place; the frame is done when both are there (and, for
    NPY outputs, the provenance file written after the frame). Running it again on a done
    frame changes nothing; running it again on a frame whose earlier run was killed writes the
    same pixels again. Errors about the frame come back as a one-line reason, not an exception.

    Parameters
    ----------
    path : path-like
        The input frame.
    out_dir : path-like
        Output folder (exists).
    method : str or callable
        ``blind`` (``model_dir``, or ``blind:DIR``), another name of :mod:`dip_heal.methods`
        (``telea``, ``pyfai``, ``dip``, ``dip:light``, ...), or a function ``heal(image,
        heal_mask) -> (M, N) float32``.
    model_dir, mask_spec, batch, device, suffix, overwrite
        As :func:`bulk`.
    context, dtype
        The blind model's :func:`predict` options.
    threads : int, optional
        Set torch's thread count first (Dask workers); default: leave it.
    poni : str, optional
        As :func:`bulk`.

    Returns
    -------
    FrameResult
    """
    return _heal_one(path, out_dir, method=method, model_dir=model_dir, mask_spec=mask_spec, batch=batch,
                     device=device, suffix=suffix, overwrite=overwrite, context=context, dtype=dtype,
                     threads=threads, poni=poni)[0]


def _heal_one(path: str | os.PathLike, out_dir: str | os.PathLike, *, method: Any, model_dir: Any, mask_spec: Any,
              batch: int, device: str | None, suffix: str, overwrite: bool, context: int | None, dtype: str,
              threads: int | None = None, keep: bool = False,
              poni: str | None = None) -> tuple[FrameResult, tuple[Any, ...] | None]:
    """:func:`heal_one`, and with ``keep`` the frame, healed image and heal mask of a written frame (previews)."""
    from ..io import read_image, write_image
    from ..io.provenance import provenance

    src, out = Path(path), Path(out_dir)
    if threads is not None:  # a Dask task: this worker's threads and allocator, once
        _worker_setup(int(threads))
    if not overwrite:
        done = _is_done(src, out, suffix)
        if done is not None:
            return FrameResult(str(path), "skipped", str(done)), None
    try:
        blind_dir = _blind_model_dir(method, model_dir)
        model = _cached_model(str(blind_dir)) if blind_dir is not None else None
        frame = read_image(src)
        target = _output_for(src, frame, out, suffix)
        geometry = None
        if poni is not None:  # issue 18: the beamline's geometry for the mask's beamstop and the ring fills
            from ..geometry import load_geometry
            from ..masks import MaskSpec

            geometry = load_geometry(poni, frame.shape)
            if mask_spec is None:
                mask_spec = MaskSpec(poni=str(poni))
            elif isinstance(mask_spec, MaskSpec) and mask_spec.poni is None:
                mask_spec = mask_spec.replace(poni=str(poni), beam_center=None)
        geo_record = None if geometry is None else geometry.record()
        heal = frame_heal_mask(frame, mask_spec)
        mask_target = heal_mask_path(target)
        if not heal.any():
            with atomic_path(mask_target) as tmp:  # the record: nothing healed
                np.save(tmp, heal, allow_pickle=False)
            write_image(target, frame.raw, like=frame, provenance=provenance(_method_label(method, model), 0, mask_target,
                                                                             geometry=geo_record))
            return FrameResult(str(path), "nothing", str(target)), None
        if model is not None:
            healed = predict(model, frame.data, heal, known=frame.valid & ~heal, device=device, batch=batch,
                             context=context, dtype=dtype, center=mask_center(frame, geometry))
        else:
            fill = method if callable(method) else _named_method(str(method), device, geometry)
            healed = np.asarray(fill(frame.data, heal), dtype=np.float32)
        native = composite_native(frame.raw, healed, heal)
        # issue 20: provenance, and the heal mask beside the output (True = healed), written first
        with atomic_path(mask_target) as tmp:
            np.save(tmp, heal, allow_pickle=False)
        prov = provenance(_method_label(method, model), int(heal.sum()), mask_target, geometry=geo_record)
        write_image(target, native, like=frame, provenance=prov, heal=heal)
        return FrameResult(str(path), "written", str(target)), ((frame, healed, heal) if keep else None)
    except (DipHealError, NothingToHeal, ValueError, OSError) as exc:
        return FrameResult(str(path), "failed", None, _one_line(exc)), None


_WORKER_TUNED: list[bool] = []


def _worker_setup(threads: int) -> None:
    """Torch's thread count, and (once per process) glibc's allocator as the CLI sets it.

    A Dask nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which hands every
    freed frame-sized buffer back to the kernel: a blind heal of a PILATUS 1M frame then took
    about 1.7x the CPU time it takes in one process. :func:`dip_heal._runtime.tune_cpu_allocator`
    keeps freed memory in the process, as ``dip-heal`` does for itself.
    """
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if not _WORKER_TUNED:
        from .._runtime import tune_cpu_allocator

        tune_cpu_allocator()
        _WORKER_TUNED.append(True)


def _named_method(name: str, device: str | None, geometry: Any = None) -> Any:
    """A registry method (:func:`dip_heal.methods.heal_method`), given ``device`` and the PONI's
    ``geometry`` when it takes them (``pyfai``, ``azimuthal``, ``dip``)."""
    import functools
    import inspect

    from ..methods import heal_method

    fn = heal_method(name)
    params = inspect.signature(fn).parameters
    if device is not None and "device" in params:
        fn = functools.partial(fn, device=device)
    if geometry is not None and "poni" in params:
        fn = functools.partial(fn, poni=geometry)
    return fn


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
    method: Any = "blind",
    workers: int | None = None,
    scheduler: str | None = None,
    threads_per_worker: int = 1,
    context: int | None = CONTEXT,
    dtype: str = "float32",
    timeout: float | None = None,
    poni: str | os.PathLike | None = None,
) -> BulkSummary:
    """Heal many frames with one method and write each in its input's format.

    Each frame gets its heal mask (:func:`frame_heal_mask`), is healed (the blind model tiled
    over its holes and batched, :func:`predict`, or another method of :mod:`dip_heal.methods`),
    and is written with measured pixels bit-exact (:func:`dip_heal.frame.composite_native`) as
    ``OUT/<stem><suffix>.<ext>``, its heal mask beside it as ``OUT/<stem><suffix>.heal_mask.npy``
    (True = healed) and named in its provenance. Frames already done are skipped (resume); a
    frame that fails is reported with a one-line reason and skipped.

    Frames are healed in this process, or, with ``workers`` or ``scheduler``, as one Dask task
    each on a local cluster of ``workers`` processes or on an existing cluster: a frame is done
    when its output is renamed into place, so a worker (or the whole run) killed midway loses
    no finished frame, a task Dask runs again writes the same pixels, and a rerun skips what is
    done. The results are the same as in one process.

    Parameters
    ----------
    inputs : sequence of path-like
        Frame files (anything :func:`dip_heal.io.read_image` reads).
    out_dir : path-like
        Output folder (created).
    model_dir : path-like, optional
        Trained model directory for ``method='blind'`` (default: the shipped model).
    mask_spec : MaskSpec or path-like, optional
        Mask spec applied to every frame; default automatic.
    batch : int
        Tiles per network call.
    device : str, optional
    progress : bool
        tqdm progress bar over frames, advancing as frames complete.
    suffix : str
        Appended to each input's stem.
    overwrite : bool
        Heal again even when the output exists.
    previews : bool
        Also write ``OUT/previews/<stem>.png`` (before/after, healed pixels outlined) per healed
        frame and ``OUT/previews/summary.png`` (thumbnails) (:mod:`dip_heal.blind.previews`).
    method : str or callable
        ``blind`` (default), ``pyfai``, ``telea``, ``dip`` (slow) or any name of
        :func:`dip_heal.methods.method_names` (with ``:ARG``), or a function ``heal(image,
        heal_mask) -> (M, N) float32`` (picklable by cloudpickle for Dask).
    workers : int, optional
        Heal on a local Dask cluster (``LocalCluster`` on 127.0.0.1) of this many worker processes.
    scheduler : str, optional
        Heal on an existing Dask cluster, ``tcp://HOST:PORT``; its workers must see the same
        input and output paths (and the model folder) and have dip-heal installed.
    threads_per_worker : int
        Threads (and torch threads) of each local worker; tasks on any cluster set torch's
        thread count to it.
    context : int or None
        Blind model: pixels of context around each hole (None: tile the whole frame).
    dtype : {'float32', 'bfloat16'}
        Blind model: precision of the network.
    timeout : float, optional
        Dask: give up on the frames not done after this many seconds (reported as failed); also
        the wait for the scheduler (at most 20 s).
    poni : path-like, optional
        A pyFAI calibration of the detector every frame comes from (``--poni``): the mask's beam
        centre, and the rings of ``pyfai``, ``azimuthal`` and ``dip`` (the blind model does not use
        it); recorded in every output's provenance. A frame of another shape fails (one line).

    Returns
    -------
    BulkSummary

    Raises
    ------
    DipHealError
        A bad method, model directory or mask spec (before any frame is touched), an output
        folder that is a file, both ``workers`` and ``scheduler``, or a scheduler that cannot be
        reached.
    """
    t0 = time.perf_counter()
    if workers is not None and scheduler is not None:
        raise DipHealError(f"got --workers {workers} and --scheduler {scheduler}; expected one of them; "
                           "use --workers N for a local cluster or --scheduler for an existing one")
    if workers is not None and int(workers) < 1:
        raise DipHealError(f"--workers {workers}; expected at least 1 worker process")
    if dtype not in DTYPES:
        raise DipHealError(f"dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    blind_dir = _blind_model_dir(method, model_dir)
    model = load_model(blind_dir) if blind_dir is not None else None  # a bad model fails here, once
    if model is None and not callable(method):
        _named_method(str(method), None)  # an unknown method fails here, once
        base, _, arg = str(method).strip().partition(":")
        if base == "dip" and arg and not Path(arg).exists() and not arg.lower().endswith(".json"):
            from ..config import FitConfig

            FitConfig.preset(arg)  # and an unknown preset
    if poni is not None:
        from ..geometry import load_geometry

        load_geometry(poni)  # a missing or garbled PONI fails here, once
        poni = str(Path(poni).resolve())
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
    options = dict(method=method, model_dir=blind_dir, mask_spec=mask_spec, batch=batch, device=device,
                   suffix=suffix, overwrite=overwrite, context=context, dtype=dtype, poni=poni)
    try:
        _clean_leftovers(paths, out, suffix)  # of a run killed before
        if workers is None and scheduler is None:
            summary = _heal_here(paths, out, options, progress=progress, previews=pictures)
        else:
            summary = _heal_dask(paths, out, options, workers=workers, scheduler=scheduler,
                                 threads=int(threads_per_worker), progress=progress, previews=pictures,
                                 timeout=timeout)
            _clean_leftovers(paths, out, suffix)  # of workers killed during this run
        if pictures is not None:
            pictures.finish()
    finally:
        if created and out.exists() and not any(out.iterdir()):  # nothing written: leave no empty folder
            out.rmdir()
    summary.seconds = time.perf_counter() - t0
    logger.debug("%s", summary.line())
    return summary


def _clean_leftovers(paths: list[Path], out: Path, suffix: str) -> None:
    for p in _leftovers(paths, out, suffix):
        logger.info("removing %s, left by an interrupted write", p)
        p.unlink(missing_ok=True)


def _record(summary: BulkSummary, res: FrameResult, *, fresh: bool = False) -> None:
    """Add one frame's outcome to ``summary`` (``fresh``: a frame not done when the run began)."""
    if res.status == "written" or (res.status == "skipped" and fresh):
        summary.written.append(Path(res.output or ""))  # done by an earlier try of this run's task
    elif res.status == "skipped":
        summary.skipped.append(Path(res.input))
    elif res.status == "nothing":
        summary.nothing.append(res.input)
    else:
        logger.warning("%s skipped: %s", res.input, res.reason)
        summary.failed.append((res.input, res.reason))


def _add_preview(previews: Previews | None, res: FrameResult) -> None:
    """A preview of a frame written by a worker, read back from the files it wrote."""
    if previews is None or res.status != "written" or res.output is None:
        return
    from ..io import read_image

    try:
        frame = read_image(res.input)
        healed = read_image(res.output).data
        heal = np.load(heal_mask_path(Path(res.output)))
        previews.add(_stem(Path(res.input)), frame, healed, heal)
    except (DipHealError, ValueError, OSError) as exc:
        logger.warning("%s: no preview (%s)", res.input, _one_line(exc))


def _heal_here(paths: list[Path], out: Path, options: dict[str, Any], *, progress: bool,
               previews: Previews | None) -> BulkSummary:
    """Every frame in this process, in order."""
    summary = BulkSummary()
    it: Any = paths
    if progress:
        from tqdm import tqdm

        it = tqdm(paths, desc="bulk", unit="frame")
    for path in it:
        res, arrays = _heal_one(path, out, keep=previews is not None, **options)
        _record(summary, res)
        if previews is not None and arrays is not None:
            previews.add(_stem(path), *arrays)
    return summary


def _heal_dask(paths: list[Path], out: Path, options: dict[str, Any], *, workers: int | None,
               scheduler: str | None, threads: int, progress: bool, previews: Previews | None,
               timeout: float | None) -> BulkSummary:
    """Every frame not done yet as one Dask task, collected as they complete."""
    summary = BulkSummary()
    todo = []
    for path in paths:  # what is done before the run is skipped here, without a task
        done = None if options["overwrite"] else _is_done(path, out, options["suffix"])
        if done is not None:
            summary.skipped.append(path)
        else:
            todo.append(path)
    if not todo:
        return summary
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), initial=len(summary.skipped), desc="bulk", unit="frame")
    order = {str(p.resolve()): i for i, p in enumerate(todo)}
    given = {str(p.resolve()): str(p) for p in todo}  # results name the inputs as given
    results: dict[str, FrameResult] = {}
    try:
        with _dask_client(workers, scheduler, threads, connect=20.0 if timeout is None else min(20.0, timeout)) as client:
            from distributed import as_completed

            futures = client.map(heal_one, [str(p.resolve()) for p in todo], out_dir=str(out.resolve()),
                                 threads=threads, pure=False, **options)
            by_key = {f.key: str(p.resolve()) for f, p in zip(futures, todo)}
            try:
                for fut in as_completed(futures, timeout=timeout):
                    src = by_key[fut.key]
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a worker's failure is one frame's failure
                        res = FrameResult(src, "failed", None, f"{type(exc).__name__}: {_one_line(exc)}")
                    results[src] = res
                    _add_preview(previews, res)
                    if bar is not None:
                        bar.update(1)
            except TimeoutError:
                for src in order:
                    results.setdefault(src, FrameResult(src, "failed", None, f"not done after {timeout} s"))
                client.cancel(futures)
    finally:
        if bar is not None:
            bar.close()
    for src in sorted(results, key=order.__getitem__):  # in input order, whatever order they finished in
        res = results[src]
        res.input = given[src]
        _record(summary, res, fresh=True)
    return summary


class _dask_client:
    """A ``distributed.Client`` on a new ``LocalCluster`` (``workers``) or an existing scheduler; closes what it made."""

    def __init__(self, workers: int | None, scheduler: str | None, threads: int, connect: float = 20.0) -> None:
        self.workers, self.scheduler, self.threads, self.connect = workers, scheduler, threads, connect
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> Any:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise DipHealError("--workers/--scheduler need dask distributed, which is not installed; "
                               "pip install 'dask[distributed]' or drop the option") from None
        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout=f"{self.connect}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise DipHealError(f"cannot reach the Dask scheduler at {self.scheduler} ({_one_line(exc)}); "
                                   "expected a running scheduler (dask scheduler) with workers; check the "
                                   "address or use --workers N for a local cluster") from None
            return self.client
        self.cluster = LocalCluster(n_workers=int(self.workers or 1), threads_per_worker=self.threads,
                                    processes=True, host="127.0.0.1", dashboard_address=None)
        self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

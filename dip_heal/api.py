"""``dip_heal.heal``: one call from a frame (or its file) to the healed frame, for notebooks.

It does what ``dip-heal mask IMAGE`` then ``dip-heal fit IMAGE --mask IMAGE_mask.npy`` do, in
memory: read, build the automatic mask, fit, and put the measured pixels back bit for bit in the
input's dtype, so ``write_image(path, healed.raw, like=healed)`` writes the input's format.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import FitConfig
from .errors import DipHealError, NothingToHeal
from .frame import Frame, check_mask_shape, composite_native

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .masks import MaskSpec

__all__ = ["heal"]

logger = logging.getLogger(__name__)


def _as_frame(path_or_frame: Any) -> Frame:
    """A Frame from a Frame, a file path (HDF5 selectors too) or a 2-D array."""
    if isinstance(path_or_frame, Frame):
        return path_or_frame
    if isinstance(path_or_frame, (str, os.PathLike)):
        from .io import read_image

        return read_image(path_or_frame)
    if isinstance(path_or_frame, np.ndarray):
        return Frame.from_array(path_or_frame)
    raise DipHealError(
        f"got a {type(path_or_frame).__name__} to heal; expected a file path, a Frame (dip_heal.read_image) "
        "or a 2-D array; read the frame first"
    )


def _heal_mask(frame: Frame, mask: Any, spec: "MaskSpec | str | os.PathLike | None") -> tuple[np.ndarray, str]:
    """The pixels to heal (always with the frame's invalid pixels) and where they came from."""
    from .dip.api import frame_heal_mask

    if mask is not None and spec is not None:
        raise DipHealError("got both mask and spec; expected one: a mask, or a spec to build it from; "
                           "drop one of them")
    if mask is None:
        from .masks import MaskSpec, build_mask

        if isinstance(spec, (str, os.PathLike)):
            spec = MaskSpec.from_json(spec)
        heal = build_mask(frame, spec if spec is not None else MaskSpec())
        source = "automatic (dip_heal.build_mask)"
    elif isinstance(mask, (str, os.PathLike)):
        from .masks import read_mask

        heal = read_mask(mask, frame.shape)
        source = os.fspath(mask)
    else:
        heal = np.asarray(mask)
        check_mask_shape(heal, frame.shape)
        if heal.dtype != bool:
            raise DipHealError(f"got a mask of dtype {heal.dtype}; expected bool (True = pixel to heal); "
                               "pass mask.astype(bool) if nonzero means heal")
        source = "array"
    return frame_heal_mask(frame, heal), source


def _config(preset: str, config: FitConfig | None, seed: int | None, iters: int | None) -> FitConfig:
    """``config`` or the preset, with ``seed`` and ``iters`` when given."""
    if config is not None and preset != "default":
        raise DipHealError(f"got both preset={preset!r} and config; expected one; drop the preset or the config")
    base = config if config is not None else FitConfig.preset(preset)
    changes = FitConfig.cli_changes(iters=iters, seed=seed)
    return base.replace(**changes) if changes else base


def heal(
    path_or_frame: "str | os.PathLike | Frame | np.ndarray",
    mask: "np.ndarray | str | os.PathLike | None" = None,
    preset: str = "default",
    *,
    config: FitConfig | None = None,
    spec: "MaskSpec | str | os.PathLike | None" = None,
    device: "str | torch.device | None" = None,
    progress: bool = False,
    seed: int | None = None,
    iters: int | None = None,
    center: tuple[float, float] | None = None,
    poni: "str | os.PathLike | None" = None,
) -> Frame:
    """Heal a detector frame with the Deep Image Prior and return the healed frame.

    Without ``mask``, the pixels healed are those of the automatic mask, as ``dip-heal mask``
    builds it by default (:func:`dip_heal.build_mask` with ``spec`` or ``MaskSpec()``): module
    gaps from the detector's geometry, sentinel pixels (PILATUS -1/-2, EIGER ``2**bits - 1``,
    NaN), masks stored in the file (NeXus ``pixel_mask``, NXcanSAS ``Imask``), empty stripes, and
    the beamstop found on the frame. With a ``mask``, exactly its pixels are healed. Either way
    the frame's invalid pixels are healed too: they are never fitted as measurements.

    Parameters
    ----------
    path_or_frame : path-like, Frame or (M, N) ndarray
        A frame file (any format :func:`dip_heal.read_image` reads; ``file.h5::/entry/data/data[3]``
        selects an HDF5 dataset and frame), a Frame, or an array (:meth:`Frame.from_array`).
    mask : (M, N) ndarray of bool or path-like, optional
        True = pixel to heal, or a mask file (:func:`dip_heal.masks.read_mask`: NPY, PNG, EDF,
        TIFF, ... with its polarity). Default: the automatic mask.
    preset : str
        The :class:`FitConfig` preset (``default``, ``faithful``, ``light``); not with ``config``.
    config : FitConfig, optional
        The full configuration instead of a preset.
    spec : MaskSpec, str or path-like, optional
        The recipe of the automatic mask (default ``MaskSpec()``), or its JSON file, or a shipped
        spec's name (``pilatus-saxs``, as ``dip-heal mask --spec``); not with ``mask``.
    device : str or torch.device, optional
        ``cpu``, ``cuda``, ...; default CUDA when present, else the CPU.
    progress : bool
        Show a progress bar.
    seed : int, optional
        Overrides the configuration's seed.
    iters : int, optional
        Overrides the configuration's number of iterations (``num_iter``).
    center : (x, y), optional
        Beam centre in pixels; default estimated from the frame where the fit needs one.
    poni : path-like, optional
        A pyFAI calibration of the detector (:mod:`dip_heal.geometry`): the automatic mask's
        beam centre and gaps, and the fit's polar inputs and azimuthal model; recorded in the
        provenance as ``geometry``. Not with ``center``.

    Returns
    -------
    healed : Frame
        A new frame. ``raw``: the input's dtype, every measured pixel bit for bit as in the
        input, healed pixels filled (rounded and clipped for integers, see
        :func:`dip_heal.composite_native`); ``data``: ``raw`` as float32; ``valid``: the input's
        valid pixels and the healed ones (a colour-map render's: its data pixels, as in the
        input; ``write_image("x.png", healed.raw, like=healed)`` re-draws the healed ones);
        ``masks``: the input's masks plus ``"healed"``, the
        pixels healed (True = healed); ``meta``: the input's (its ``path`` too, so
        :func:`dip_heal.write_image` refuses to overwrite the input) plus ``"dip_heal"``, the
        fit's record: ``version``, ``seed``, ``config``, ``iteration`` (of the returned
        snapshot), ``iterations_run``, ``blend`` (the weights of network and fills), ``center``,
        ``seconds``, ``device``, ``torch_threads``, ``n_healed`` and ``mask`` (where the mask
        came from).

    Raises
    ------
    DipHealError
        An unreadable frame or mask, a mask of another shape or dtype, a frame without measured
        pixels, a mask that heals every pixel, both ``mask`` and ``spec`` or both ``preset`` and
        ``config``.
    NothingToHeal
        No pixel to heal.

    See Also
    --------
    dip_heal.fit : the fit itself, returning the :class:`FitResult` (snapshots, metrics).

    Examples
    --------
    >>> healed = dip_heal.heal("frame.cbf")  # doctest: +SKIP
    >>> dip_heal.write_image("healed.cbf", healed.raw, like=healed)  # doctest: +SKIP
    """
    from . import __version__
    from ._runtime import torch_threads
    from .dip import fit

    frame = _as_frame(path_or_frame)
    what = frame.meta.get("path") or "the frame"
    if not frame.valid.any():
        raise DipHealError(f"{what}: the frame holds no valid pixel (all sentinels or NaN); expected measured "
                           "pixels; check that this is the right frame")
    cfg = _config(preset, config, seed, iters)
    geometry = None
    if poni is not None:
        from .geometry import load_geometry

        geometry = load_geometry(poni, frame.shape, center=center)
        if mask is None:
            from .masks import MaskSpec

            if isinstance(spec, (str, os.PathLike)):
                spec = MaskSpec.from_json(spec)
            spec = (spec if spec is not None else MaskSpec()).replace(poni=os.fspath(poni))
    heal_px, source = _heal_mask(frame, mask, spec)
    if not heal_px.any():
        raise NothingToHeal(f"{what}: the mask selects no pixel to heal and the frame has no invalid pixel; "
                            "nothing to do (pass a mask to heal chosen pixels)")
    if heal_px.all():
        raise DipHealError(f"{what}: the mask heals every pixel; expected some measured pixels to fit; "
                           "check the mask polarity (True = heal)")
    logger.info("healing %d pixels (mask: %s)", int(heal_px.sum()), source)
    result = fit(frame, heal_px, cfg, device=device, progress=progress, keep_snapshots=False, center=center,
                 geometry=geometry)
    raw = composite_native(frame.raw, result.healed, heal_px)
    center_used = result.extra.get("center")
    record = {
        "version": __version__,
        "seed": result.seed,
        "config": result.config.to_dict(),
        "iteration": result.iteration,
        "iterations_run": result.extra.get("stopped_at"),
        "blend": result.extra.get("blend"),
        "center": None if center_used is None else [float(c) for c in center_used],
        "seconds": result.seconds,
        "device": result.extra.get("device"),
        "torch_threads": torch_threads(),
        "n_healed": int(heal_px.sum()),
        "mask": source,
    }
    if geometry is not None:
        record["geometry"] = geometry.record()
    meta = {**frame.meta, "dip_heal": record}
    masks = {**frame.masks, "healed": heal_px}
    # a colour-map render's figure pixels (frame, axes, labels) are not data, healed or not
    valid = frame.valid.copy() if frame.meta.get("render") is not None else frame.valid | heal_px
    return Frame(data=raw.astype(np.float32), valid=valid, raw=raw, meta=meta, masks=masks)

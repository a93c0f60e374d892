"""``dip_heal.fit``: one network (:mod:`~dip_heal.dip.single`) or an ensemble (:mod:`~dip_heal.dip.ensemble`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..config import FitConfig
from ..errors import DipHealError
from ..frame import Frame, check_image_and_mask
from .ensemble import fit_ensemble
from .result import FitResult, Snapshot
from .single import fit_one

if TYPE_CHECKING:  # pragma: no cover
    import os

    import torch

    from ..geometry import Geometry

__all__ = ["fit", "frame_heal_mask"]


def fit(
    image: np.ndarray | Frame,
    heal: np.ndarray | None = None,
    config: FitConfig | None = None,
    *,
    device: "str | torch.device | None" = None,
    progress: bool = False,
    callback: Callable[[Snapshot, dict[str, Any]], bool | None] | None = None,
    holdout: np.ndarray | None = None,
    keep_snapshots: bool = True,
    center: tuple[float, float] | None = None,
    init_state: dict[str, Any] | None = None,
    geometry: "Geometry | str | os.PathLike | None" = None,
    setup: Any = None,
) -> FitResult:
    """Fit the Deep Image Prior to the known pixels and return the healed frame.

    Parameters
    ----------
    image : (M, N) ndarray or Frame
        Intensities (counts). Values at ``heal`` pixels are ignored; non-finite pixels outside
        ``heal`` are not fitted and are healed too (a warning is logged). A :class:`~dip_heal.Frame`
        (e.g. from :func:`dip_heal.read_image`) is fitted as ``dip-heal fit`` fits it: its ``data``,
        with its invalid pixels (sentinels, NaN) healed too, and a colour-map render on its image
        area only.
    heal : (M, N) ndarray of bool
        True = pixel to heal. Required with an array; with a Frame, default: its invalid pixels.
    config : FitConfig, optional
        Defaults to ``FitConfig.preset("default")``.
    device : str or torch.device, optional
        ``cpu``, ``cuda``, ...; default CUDA when present, else the CPU.
    progress : bool
        Show a progress bar.
    callback : callable, optional
        ``callback(snapshot, state)`` at every snapshot; ``state`` holds ``iteration``,
        ``loss``, ``val_l1``, ``seconds``. Returning True stops the fit.
    holdout : (M, N) ndarray of bool, optional
        Known pixels to withhold from the loss and score at snapshots. Default: drawn with
        :func:`dip_heal.dip.make_holdout` when ``config.holdout_fraction > 0``. Held-out pixels keep their
        measured values in every composite.
    keep_snapshots : bool
        Keep the snapshot composites in the result (set False for big frames and long runs
        that write snapshots through ``callback``).
    center : (x, y), optional
        Direct-beam position in pixels, for ``polar_input``/``mirror_input``; estimated from the
        frame when omitted.
    init_state : dict, optional
        Starting weights of the network (another fit's ``FitResult.net_state``, of the same
        configuration's network): a warm start, as ``dip-heal fit --series`` does from frame to
        frame. Default: ``config.init``.
    geometry : Geometry or path-like, optional
        A pyFAI calibration (a ``.poni`` path or a :class:`dip_heal.geometry.Geometry`): its beam
        centre wins over ``center``, and the polar channels and the azimuthal model use pyFAI's
        per-pixel 2theta and chi. A PONI for a detector of another shape is refused. The coarse
        stage and the priors use its beam centre in pixel space.
    setup : FrameSetup, optional
        The frame-dependent set-up shared by many fits of one frame
        (:func:`dip_heal.dip.frame_setup.frame_setup`: beam centre, azimuthal model, the blend's
        fills), for a single network's fit of the same healed and held-out pixels; the result is
        the same as without it.

    Returns
    -------
    FitResult

    Raises
    ------
    DipHealError
        Bad shapes or dtypes, a frame without known pixels, or a mask that heals everything.
    NothingToHeal
        The mask selects no pixel.

    Examples
    --------
    >>> frame = dip_heal.read_image("frame.cbf")  # doctest: +SKIP
    >>> heal = dip_heal.build_mask(frame) | ~frame.valid  # doctest: +SKIP
    >>> result = dip_heal.fit(frame, heal)  # doctest: +SKIP
    >>> native = dip_heal.composite_native(frame.raw, result.healed, heal)  # doctest: +SKIP

    :func:`dip_heal.heal` does all of this in one call and returns the healed frame.
    """
    if isinstance(image, Frame):
        return _fit_frame(image, heal, config, device=device, progress=progress, callback=callback,
                          holdout=holdout, keep_snapshots=keep_snapshots, center=center, init_state=init_state,
                          geometry=geometry)
    if heal is None:
        raise DipHealError("fit(image, heal=None) with an array; expected the bool heal mask (True = pixel to "
                           "heal); pass heal, or a Frame whose invalid pixels are to be healed")
    config = config if config is not None else FitConfig.preset("default")
    if center is not None:
        from ..polar import check_center

        check_center(center, np.shape(image), what="--center")
    if geometry is not None:
        from ..geometry import load_geometry

        geometry = load_geometry(geometry, np.shape(image))
    if config.ensemble > 1:
        if init_state is not None:
            raise DipHealError(f"a warm start (init_state) with ensemble = {config.ensemble}; expected one network; "
                               "set ensemble = 1 for a series")
        return fit_ensemble(image, heal, config, device=device, progress=progress, callback=callback,
                            holdout=holdout, keep_snapshots=keep_snapshots, center=center, geometry=geometry)
    return fit_one(image, heal, config, device=device, progress=progress, callback=callback, holdout=holdout,
                   keep_snapshots=keep_snapshots, center=center, init_state=init_state, geometry=geometry,
                   setup=setup)


def frame_heal_mask(frame: Frame, heal: np.ndarray | None = None) -> np.ndarray:
    """The pixels a fit of ``frame`` heals: ``heal`` plus every pixel the frame marks invalid.

    Parameters
    ----------
    frame : Frame
    heal : (M, N) ndarray of bool, optional
        True = pixel to heal; default none besides the invalid ones.

    Returns
    -------
    heal : (M, N) ndarray of bool
        A new array.

    Raises
    ------
    DipHealError
        A mask of another shape or not bool.

    Examples
    --------
    >>> frame = Frame.from_array(np.array([[1, -1], [3, 4]], dtype=np.int32))
    >>> frame_heal_mask(frame, np.array([[False, False], [True, False]])).astype(int)
    array([[0, 1],
           [1, 0]])
    """
    if heal is None:
        return ~np.asarray(frame.valid, bool)
    _, heal = check_image_and_mask(frame.data, heal)
    return heal | ~frame.valid


def _fit_frame(frame: Frame, heal: np.ndarray | None, config: FitConfig | None, **kwargs: Any) -> FitResult:
    """:func:`fit` of a Frame: its data with the invalid pixels healed too, a render on its image area."""
    from ..renders import fit_in_window

    heal = frame_heal_mask(frame, heal)
    image = np.where(heal, np.nan, frame.data).astype(np.float32)
    return fit_in_window(frame, fit, image, heal, config, **kwargs)

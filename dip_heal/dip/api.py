"""``dip_heal.fit``: one network (:mod:`~dip_heal.dip.single`) or an ensemble (:mod:`~dip_heal.dip.ensemble`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..config import FitConfig
from .ensemble import fit_ensemble
from .result import FitResult, Snapshot
from .single import fit_one

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["fit"]


def fit(
    image: np.ndarray,
    heal: np.ndarray,
    config: FitConfig | None = None,
    *,
    device: "str | torch.device | None" = None,
    progress: bool = False,
    callback: Callable[[Snapshot, dict[str, Any]], bool | None] | None = None,
    holdout: np.ndarray | None = None,
    keep_snapshots: bool = True,
    center: tuple[float, float] | None = None,
) -> FitResult:
    """Fit the Deep Image Prior to the known pixels and return the healed frame.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts). Values at ``heal`` pixels are ignored; non-finite pixels outside
        ``heal`` are not fitted and are healed too (a warning is logged).
    heal : (M, N) ndarray of bool
        True = pixel to heal.
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

    Returns
    -------
    FitResult

    Raises
    ------
    DipHealError
        Bad shapes or dtypes, a frame without known pixels, or a mask that heals everything.
    NothingToHeal
        The mask selects no pixel.
    """
    config = config if config is not None else FitConfig.preset("default")
    if center is not None:
        from ..polar import check_center

        check_center(center, np.shape(image), what="--center")
    if config.ensemble > 1:
        return fit_ensemble(image, heal, config, device=device, progress=progress, callback=callback,
                            holdout=holdout, keep_snapshots=keep_snapshots, center=center)
    return fit_one(image, heal, config, device=device, progress=progress, callback=callback, holdout=holdout,
                   keep_snapshots=keep_snapshots, center=center)

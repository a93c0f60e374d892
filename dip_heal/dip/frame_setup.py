"""The frame-dependent set-up of a fit, computed once and shared by many fits of the same frame.

A sweep fits one frame, with one set of held-out pixels, many times. Every fit of
:func:`dip_heal.fit` would otherwise redo, before its first iteration, what depends on the frame
only: the beam centre (:func:`dip_heal.beam.estimate_center` on the fitted pixels), the azimuthal
model's settings (:func:`~dip_heal.dip.inputs.select_model`, 16 models scored on the held-out
pixels) and the blend's fixed fills (two azimuthal models and two Telea fills,
:class:`~dip_heal.dip.blend.Blender`). :func:`frame_setup` computes them once;
``fit(..., setup=FrameSetup)`` reuses them. The values are those a fit computes itself, so a fit
with the shared set-up gives bit for bit the fit without it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import FitConfig
from .blend import Blender

__all__ = ["FrameSetup", "frame_setup", "SharedBlender"]

logger = logging.getLogger(__name__)


class SharedBlender(Blender):
    """The blend's fills, also keeping the network's own held-out L1 of the latest output it scored.

    A blend's held-out L1 cannot be worse than its fills': while every trial's network is still
    worse than the fills, their blends all score the fills' L1 and a pruner cannot tell them
    apart. The network's own L1 (``net_l1``, of the output the latest snapshot blended;
    ``scored`` counts the snapshots) still can.
    """

    net_l1: float | None = None
    scored: int = 0

    def __call__(self, out: np.ndarray) -> tuple[np.ndarray, float, dict[str, float]]:
        result = super().__call__(out)
        self.net_l1 = float(np.abs(out[self.holdout].astype(np.float64) - self.y_ho).mean())
        self.scored += 1
        return result


@dataclass
class FrameSetup:
    """What every fit of one frame (with the same heal mask and held-out pixels) shares.

    Attributes
    ----------
    heal, holdout : (M, N) ndarray of bool
        The pixels healed and held out, as the fit's problem has them (a fit with others does
        not use this set-up).
    scale : float
        The normalisation of the frame (:func:`dip_heal._intensity.normalise`).
    center : (x, y) or None
        The beam centre (None when the config needs none).
    model_settings : (int, float) or None
        The azimuthal model's bins and smoothing chosen on the held-out pixels (for the blend).
    blender : SharedBlender or None
        The blend's fills (None without ``blend``); it keeps the network's own held-out L1 of
        the latest snapshot it blended (``net_l1``).
    seconds : float
        Time spent computing it.
    """

    heal: np.ndarray
    holdout: np.ndarray
    scale: float
    center: tuple[float, float] | None
    model_settings: tuple[int, float] | None
    blender: Any
    seconds: float

    def matches(self, problem: Any) -> bool:
        """Whether this set-up was computed for ``problem`` (same healed and held-out pixels, same scale)."""
        return (problem.scale == self.scale and np.array_equal(problem.heal, self.heal)
                and np.array_equal(problem.holdout, self.holdout))

    def record(self) -> dict[str, Any]:
        """The set-up as JSON-ready values (for a run folder)."""
        return {
            "center": None if self.center is None else [float(self.center[0]), float(self.center[1])],
            "azimuthal_model": None if self.model_settings is None else
            {"n_azim": int(self.model_settings[0]), "smooth": float(self.model_settings[1])},
            "blend_fills": None if self.blender is None else list(self.blender.names[1:]),
            "healed_pixels": int(self.heal.sum()), "held_out_pixels": int(self.holdout.sum()),
            "scale": float(self.scale), "seconds": round(self.seconds, 3),
        }


def frame_setup(image: np.ndarray, heal: np.ndarray, config: FitConfig, holdout: np.ndarray) -> FrameSetup:
    """The frame-dependent set-up that fits of ``image`` with ``config``'s frame options share.

    Parameters
    ----------
    image : (M, N) ndarray
        As for :func:`dip_heal.fit` (NaN or any value at ``heal`` pixels).
    heal : (M, N) ndarray of bool
    config : FitConfig
        Decides what is needed: a beam centre (polar or mirror input, guides, the blend, priors),
        the blend's fills (``blend``).
    holdout : (M, N) ndarray of bool
        The held-out pixels every fit uses.

    Returns
    -------
    FrameSetup

    Raises
    ------
    DipHealError
        What :func:`dip_heal.fit` raises for a bad frame or mask.
    """
    from .inputs import select_model
    from .problem import prepare

    t0 = time.perf_counter()
    problem = prepare(image, heal, config.holdout_fraction, config.seed, holdout)
    needs_center = (config.polar_input or config.mirror_input or config.guide != "none" or config.blend
                    or config.uses_priors)
    center = None
    if needs_center:
        from ..beam import estimate_center

        # as dip.inputs.guide_channels estimates it
        cx, cy = estimate_center(np.where(problem.fit_px, np.expm1(problem.y), 0.0), problem.fit_px)
        center = (float(cx), float(cy))
        logger.info("shared set-up: beam centre x=%.1f, y=%.1f", *center)
    settings, blender = None, None
    if config.blend and problem.holdout.any():
        assert center is not None
        settings = select_model(problem.y, problem.fit_px, problem.holdout, center)
        blender = SharedBlender(problem.image, problem.y, problem.known, problem.heal, problem.holdout, center, settings,
                          problem.scale)
    setup = FrameSetup(heal=problem.heal, holdout=problem.holdout, scale=problem.scale, center=center,
                       model_settings=settings, blender=blender, seconds=time.perf_counter() - t0)
    logger.info("shared set-up computed in %.2f s", setup.seconds)
    return setup

"""Coarse-to-fine: the first iterations of a fit on the frame downsampled, then full resolution.

The encoder-decoder is fully convolutional, so the weights a coarse stage learns (and Adam's
moments) are a starting point for the same network at full resolution. Its input channels are
built for the coarse grid the same way as for the full one: the meshgrid spans [0, 1] on both,
the radius channel is scaled to its maximum on both, and the azimuth and the Friedel mirror are
taken about the beam centre divided by the factor. So a coarse pixel sees what the full-resolution
pixels under it see.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..config import FitConfig
from .problem import Grid, Problem

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .model import DipModel

__all__ = ["downsample_problem", "coarse_iterations", "run_coarse_stage"]

logger = logging.getLogger(__name__)

#: a coarse pixel is fitted when at least this fraction of the fitted pixels under it are
MIN_FITTED_FRACTION = 0.5


def coarse_iterations(config: FitConfig) -> int:
    """How many of ``config.num_iter`` run at coarse resolution (0 without a coarse stage)."""
    if config.coarse_fraction <= 0 or config.coarse_factor <= 1:
        return 0
    return min(int(round(config.coarse_fraction * config.num_iter)), config.num_iter - 1)


def _block_sum(a: np.ndarray, f: int) -> np.ndarray:
    m, n = a.shape
    return a[: m // f * f, : n // f * f].reshape(m // f, f, n // f, f).sum(axis=(1, 3))


def downsample_problem(problem: Problem, factor: int) -> Problem:
    """The problem on a grid ``factor`` times coarser: block means of the fitted pixels.

    A coarse pixel is fitted where at least half the fitted pixels under it are (so a coarse
    pixel never averages across a gap's edge into mostly unknown pixels); its value is the mean of
    the normalised log intensity of those fitted pixels. Held-out pixels stay out of the coarse
    loss (they score the full-resolution snapshots). Frames smaller than ``2 * factor`` are
    refused by the caller (:func:`run_coarse_stage` skips the stage).
    """
    f = int(factor)
    w = problem.fit_px.astype(np.float64)
    count = _block_sum(w, f)
    total = _block_sum(np.where(problem.fit_px, problem.y, 0.0).astype(np.float64), f)
    fit_px = count >= MIN_FITTED_FRACTION * f * f
    y = np.where(fit_px, total / np.maximum(count, 1.0), 0.0).astype(np.float32)
    known = count > 0
    image = np.where(known, np.expm1(y * problem.scale), np.nan).astype(np.float32)
    return Problem(image=image, heal=~fit_px, known=fit_px, holdout=np.zeros_like(fit_px), fit_px=fit_px, y=y,
                   scale=problem.scale)


def run_coarse_stage(config: FitConfig, problem: Problem, center: tuple[float, float] | None, model: "DipModel",
                     device: "torch.device", n_iter: int, on_step: Callable[[int, float], None] | None = None,
                     ) -> int:
    """Train ``model``'s network for ``n_iter`` iterations on the coarse problem, in place.

    A second :class:`~dip_heal.dip.model.DipModel` on the coarse inputs shares the network and
    the optimiser of ``model`` (same parameters, same Adam state), so what it learns is what
    ``model`` continues from. ``on_step(iteration, loss)`` is called after every coarse step.
    Returns the iterations run (0 when the frame is too small for the factor).
    """
    from .inputs import build_inputs
    from .losses import DataLoss
    from .model import DipModel

    f = config.coarse_factor
    if n_iter <= 0 or min(problem.image.shape) < 2 * f * 2:
        return 0
    coarse = downsample_problem(problem, f)
    if not coarse.fit_px.any():
        logger.info("coarse stage skipped: no coarse pixel is mostly measured")
        return 0
    grid = Grid.for_frame(coarse.image.shape, config.depth)
    c_center = None if center is None else (center[0] / f - 0.5 + 0.5 / f, center[1] / f - 0.5 + 0.5 / f)
    inputs = build_inputs(config, coarse, grid, c_center, device)
    if inputs.tensor.shape[1] != model.input.shape[1]:
        # the full input has an azimuthal-model channel (guide); keep the layout with a zero channel
        import torch

        pad = model.input.shape[1] - inputs.tensor.shape[1]
        inputs.tensor = torch.cat([inputs.tensor, inputs.tensor.new_zeros(1, pad, *inputs.tensor.shape[2:])], dim=1)
    stage = DipModel.sharing(model, inputs)
    loss = DataLoss(config.loss, grid.pad_image(coarse.y), grid.pad_weights(coarse.fit_px), coarse.scale, device)
    logger.info("coarse stage: %d iterations at 1/%d resolution (%dx%d)", n_iter, f, *coarse.image.shape)
    for it in range(1, n_iter + 1):
        value, _ = stage.step(loss)
        if on_step is not None:
            on_step(it, float(value.detach()))
    return n_iter

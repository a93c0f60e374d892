"""One network's fit: prepare the problem, build the model, run the engine with its callbacks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .._intensity import denormalise
from .._runtime import pick_device, seed_all
from ..config import FitConfig
from .callbacks import FitState, HeldOutScore, fit_callbacks
from .result import FitResult, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["fit_one"]

logger = logging.getLogger(__name__)


def _priors(config: FitConfig, problem: Any, grid: Any, center: tuple[float, float] | None,
            dev: "torch.device") -> tuple[Any, dict[str, float] | None]:
    """The azimuthal and Friedel penalties (or None), with the measured symmetry that scaled them."""
    from ..priors import PriorTerms, prior_factor, symmetry_scores

    if not config.uses_priors:
        return None, None
    assert center is not None
    symmetry = None
    w_az, w_fr = config.azim_weight, config.friedel_weight
    if config.prior_scaling == "measured":
        symmetry = symmetry_scores(problem.y, problem.fit_px, center, seed=config.seed)
        w_az *= prior_factor(symmetry["azimuthal"])
        w_fr *= prior_factor(symmetry["friedel"])
        logger.info(
            "symmetry of the measured pixels: azimuthal %.2f, Friedel %.2f; prior weights %.3g, %.3g",
            symmetry["azimuthal"], symmetry["friedel"], w_az, w_fr,
        )
    terms = PriorTerms.build(problem.heal, center, grid.pads, grid.shape, w_az, w_fr, dev)
    return (terms if terms.active else None), symmetry


def _scorer(problem: Any, inputs: Any, blended: bool, setup: Any = None) -> Callable[[Any], tuple]:
    """How snapshots are healed and scored: the blend of the network with the fills, or the network alone
    (the blend's fills from a shared :class:`~dip_heal.dip.frame_setup.FrameSetup` when it has them)."""
    from .blend import Blender
    from .inputs import select_model

    if not blended:
        return HeldOutScore(problem.y, problem.heal, problem.holdout).score
    if (setup is not None and setup.blender is not None and getattr(inputs, "geometry", None) is None
            and inputs.model_settings in (None, setup.model_settings)):
        return setup.blender.score
    center = inputs.center
    assert center is not None
    settings = inputs.model_settings or select_model(problem.y, problem.fit_px, problem.holdout, center,
                                                     geometry=inputs.geometry)
    return Blender(problem.image, problem.y, problem.known, problem.heal, problem.holdout, center, settings,
                   problem.scale, geometry=inputs.geometry).score


def fit_one(
    image: np.ndarray,
    heal: np.ndarray,
    config: FitConfig,
    *,
    device: "str | torch.device | None" = None,
    progress: bool = False,
    callback: Callable[[Snapshot, dict[str, Any]], bool | None] | None = None,
    holdout: np.ndarray | None = None,
    keep_snapshots: bool = True,
    center: tuple[float, float] | None = None,
    init_state: dict[str, Any] | None = None,
    geometry: Any = None,
    setup: Any = None,
) -> FitResult:
    """One network (``config.ensemble`` is not looked at): the body of :func:`dip_heal.fit`.

    Prepare the problem (:func:`~dip_heal.dip.problem.prepare`), build the input, the model
    (its starting weights: ``init_state``, else ``config.init``), the snapshot scorer and the
    loss, run a coarse stage when configured (:mod:`~dip_heal.dip.coarse`), and run the engine
    (:func:`~dip_heal.dip.engine.run`) with the fit's callbacks
    (:func:`~dip_heal.dip.callbacks.fit_callbacks`). The parameters are those of
    :func:`dip_heal.fit`; the result's ``net_state`` holds the final weights.
    """
    from .coarse import coarse_iterations, run_coarse_stage
    from .frame_setup import FrameSetup
    from .engine import Snapshotter, run
    from .inputs import build_inputs
    from .losses import DataLoss
    from .model import DipModel
    from .problem import Grid, prepare

    problem = prepare(image, heal, config.holdout_fraction, config.seed, holdout)
    if setup is not None and not (isinstance(setup, FrameSetup) and setup.matches(problem)):
        logger.warning("the shared set-up was computed for other healed or held-out pixels; computing this fit's own")
        setup = None
    if setup is not None and center is None and geometry is None:
        center = setup.center  # the shared set-up's beam centre (a fit estimates the same one)
    dev = pick_device(device)
    state = FitState(num_iter=config.num_iter)  # the clock of every snapshot: includes the set-up
    seed_all(config.seed)
    grid = Grid.for_frame(problem.image.shape, config.depth)
    inputs = build_inputs(config, problem, grid, center, dev, geometry=geometry)
    center = inputs.center
    model = DipModel(config, inputs, dev)
    init = _start_weights(config, model, init_state)
    blended = bool(config.blend and problem.holdout.any())
    score = _scorer(problem, inputs, blended, setup)
    prior_terms, symmetry = _priors(config, problem, grid, center, dev)
    data_loss = DataLoss(config.loss, grid.pad_image(problem.y), grid.pad_weights(problem.fit_px), problem.scale,
                         dev)

    def loss_fn(out: "torch.Tensor") -> "torch.Tensor":
        loss = data_loss(out)
        return loss if prior_terms is None else loss + prior_terms(out)

    callbacks, selector, ema = fit_callbacks(config, grid.crop, progress=progress, callback=callback)
    logger.debug("fit %s on %s: padded %s, %d known pixels (%d held out), scale %.4g", problem.image.shape, dev,
                 grid.shape, int(problem.known.sum()), int(problem.holdout.sum()), problem.scale)
    n_coarse = coarse_iterations(config)
    if n_coarse:
        def coarse_step(it: int, loss: float) -> None:
            state.metrics.append({"iteration": it, "loss": loss, "seconds": state.elapsed()})

        state.iteration = run_coarse_stage(config, problem, center, model, dev, n_coarse, on_step=coarse_step)
    snapshots: list[Snapshot] = []
    snapshotter = Snapshotter(score, problem.image, problem.known, problem.scale,
                              predict=lambda: model.predict(grid.crop), ema=ema)
    stopped_at = run(state, lambda: model.step(loss_fn), snapshotter, callbacks, snapshot_every=config.snapshot_every,
                     start_at_zero=inputs.base is not None or blended,
                     keep=snapshots if keep_snapshots else None)
    seconds = state.elapsed()
    chosen = selector.chosen if selector.chosen is not None else state.snapshot
    assert chosen is not None  # num_iter >= 1 always yields a snapshot at the last iteration or a stop
    full = model.predict(grid.crop).numpy()
    logger.info("fit done: %d iterations in %.1f s, returned iteration %d%s", stopped_at, seconds, chosen.iteration,
                f" (held-out L1 {chosen.val_l1:.4g})" if chosen.val_l1 is not None else "")
    if chosen.weights is not None:
        logger.info("blend weights: %s", ", ".join(f"{k} {v:.1f}" for k, v in chosen.weights.items()))
    return FitResult(
        healed=chosen.healed, output=denormalise(full, problem.scale), iteration=chosen.iteration,
        snapshots=snapshots, metrics=state.metrics, config=config, seed=config.seed, seconds=seconds,
        holdout=problem.holdout if problem.holdout.any() else None, scale=problem.scale,
        extra={"stopped_at": stopped_at, "device": str(dev), "padded_shape": grid.shape, "center": center,
               "guide": inputs.guide_used, "blend": chosen.weights, "symmetry": symmetry, "init": init,
               "coarse_iterations": n_coarse,
               **({} if geometry is None else {"geometry": geometry.record()})},
        net_state=model.state(),
    )


def _start_weights(config: FitConfig, model: Any, init_state: dict[str, Any] | None) -> str:
    """Load the starting weights into ``model``; what they were (``random``, ``pretrained``, ``warm``)."""
    if init_state is not None:
        model.load_state(init_state)
        return "warm"
    if config.init == "pretrained":
        from .pretrained import pretrained_state

        model.load_state(pretrained_state(config, model.input.shape[1]))
        return "pretrained"
    return "random"

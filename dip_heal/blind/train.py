"""Train a blind inpainting network with the protocol of Chavez et al. (2022).

Frames are log-normalised (``y = log1p(max(I, 0)) / max(log1p(I))`` over measured pixels), cut
into random crops, and module gaps of the chosen detector are pasted over measured pixels at the
detector's real module positions (a random window of its gap layout). The network sees the crop
with every hole (pasted gaps and the frame's own invalid pixels) set to 0, plus, by default, the
hole mask as a second channel; the loss is the L1 error on pasted-gap pixels that were measured
(real gaps and invalid pixels never enter the loss). Adam at 1e-3 with step decay; a held-out
validation split of frames scores L1 and Pearson r on fixed crops; checkpoints allow resuming.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .._runtime import pick_device
from ..errors import DipHealError
from ..frame import atomic_path
from .model_dir import BlindModel, read_card, save_model
from .nets import MSDNet, build_net, count_parameters
from .crops import (TrainFrame, evaluate, forward, gap_layout, load_training_frames, log_denormalise, log_normalise,
                    paste_window, prepare_frames, sample_crops, synthetic_training_frames)
from .prefill import AZIMUTHAL, IN_CHANNELS, INPUTS, RESIDUAL

__all__ = [
    "TrainFrame",
    "TrainConfig",
    "TrainResult",
    "log_normalise",
    "log_denormalise",
    "gap_layout",
    "paste_window",
    "synthetic_training_frames",
    "load_training_frames",
    "train",
]

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
CURVES_NAME = "curves.png"  # issue 20: the training and validation curves, beside card.json


@dataclass
class TrainConfig:
    """Hyperparameters of a training run (all JSON-able; stored in the model card).

    Attributes
    ----------
    arch : {'msdnet', 'tunet'}
    net : dict
        Keyword arguments of the network (``in_channels`` is set from ``inputs``).
    detector : str
        pyFAI detector whose module-gap layout is pasted (e.g. ``Pilatus1M``).
    crop : int
        Side of the square training crops.
    batch : int
        Crops per step.
    steps : int
        Optimiser steps.
    lr : float
        Adam learning rate.
    lr_step, lr_gamma : int, float
        Multiply the learning rate by ``lr_gamma`` every ``lr_step`` steps (0: ``steps // 3``).
    val_fraction : float
        Fraction of the frames held out for validation (at least one frame).
    val_crops : int
        Fixed validation crops.
    val_every : int
        Validate (and checkpoint) every so many steps.
    inputs : {'prefill+mask', 'fills+mask', 'prefill+azimuthal+mask', 'image+mask', 'image'}
        What the net sees (see :data:`dip_heal.blind.prefill.INPUTS`); with ``prefill+mask`` (and
        ``fills+mask``) it learns a correction to :func:`~dip_heal.blind.prefill.directional_fill` (its last layer
        starts at zero, so training starts from the fill; with ``prefill+azimuthal+mask`` an MSDNet
        starts from the mean of that fill and the ring model); ``image`` is the paper's input.
    gain : float
        Random gain ``U(1-gain, 1+gain)`` on the normalised crops (augmentation).
    tile, overlap : int
        Tile size and overlap recorded for inference.
    seed : int
    frame_shape : list of int or None
        Frames the model accepts (None: any shape).
    residual_init : float
        With ``prefill+mask``, the last layer's initial weights are scaled by this.
    truth_targets : bool
        Train towards a frame's noise-free ``truth`` where it has one (synthetic frames); off:
        always the measured values (the paper's protocol).
    """

    arch: str = "msdnet"
    net: dict[str, Any] = field(default_factory=lambda: {"num_layers": 40, "max_dilation": 10})
    detector: str = "Pilatus1M"
    crop: int = 96
    batch: int = 8
    steps: int = 500
    lr: float = 1e-3
    lr_step: int = 0
    lr_gamma: float = 0.5
    val_fraction: float = 0.2
    val_crops: int = 16
    val_every: int = 100
    inputs: str = "prefill+mask"
    gain: float = 0.2
    tile: int = 256
    overlap: int = 32
    seed: int = 0
    frame_shape: list[int] | None = None
    residual_init: float = 0.1
    truth_targets: bool = True

    def __post_init__(self) -> None:
        if self.arch not in ("msdnet", "tunet"):
            raise DipHealError(f"unknown architecture {self.arch!r}; expected tunet or msdnet")
        for name in ("crop", "batch", "steps", "val_crops", "val_every", "tile"):
            if int(getattr(self, name)) < 1:
                raise DipHealError(f"{name}={getattr(self, name)}; expected a positive integer")
        if not 0.0 < self.val_fraction < 1.0:
            raise DipHealError(f"val_fraction={self.val_fraction}; expected a number between 0 and 1")
        if self.lr <= 0 or not 0 < self.lr_gamma <= 1:
            raise DipHealError(f"lr={self.lr}, lr_gamma={self.lr_gamma}; expected lr > 0 and 0 < lr_gamma <= 1")
        if self.inputs not in INPUTS:
            raise DipHealError(f"inputs={self.inputs!r}; expected one of {', '.join(INPUTS)}")
        if self.crop < 16:
            raise DipHealError(f"crop={self.crop}; expected at least 16 pixels")

    def net_kwargs(self) -> dict[str, Any]:
        kw = dict(self.net)
        kw["in_channels"] = IN_CHANNELS[self.inputs]
        kw.setdefault("out_channels", 1)
        return kw


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : BlindModel
        The network with the best validation L1 and its card.
    history : list of dict
        ``step``, ``train_l1``, ``val_l1``, ``val_r``, ``lr`` at every validation.
    model_dir : Path
    """

    model: BlindModel
    history: list[dict[str, float]]
    model_dir: Path


# --------------------------------------------------------------------------------------------
# checkpoints (safetensors + JSON, never pickle)


def _save_checkpoint(out: Path, net, opt, sched, step: int, history: list, best: dict) -> None:
    from safetensors.torch import save_file

    ck = out / CHECKPOINT_DIR
    ck.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if best.get("state") is not None:
        tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in best["state"].items()})
    osd = opt.state_dict()
    for idx, st in osd["state"].items():
        for name, val in st.items():
            tensors[f"opt.{idx}.{name}"] = torch.as_tensor(val).detach().cpu().contiguous()
    with atomic_path(ck / "state.safetensors") as tmp:
        save_file(tensors, str(tmp))
    meta = {
        "step": step,
        "history": history,
        "best_l1": best.get("l1"),
        "best_r": best.get("r"),
        "best_step": best.get("step"),
        "param_groups": osd["param_groups"],
        "scheduler": sched.state_dict(),
    }
    with atomic_path(ck / "state.json") as tmp:
        tmp.write_text(json.dumps(meta, default=float))


def _load_checkpoint(out: Path, net, opt, sched) -> tuple[int, list, dict]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    ck = out / CHECKPOINT_DIR
    fix = f"expected the checkpoint dip-heal train wrote (state.json + state.safetensors); pass --no-resume " \
          f"or remove {ck}"
    try:
        meta = json.loads((ck / "state.json").read_text())
        tensors = load_file(str(ck / "state.safetensors"))
    except (OSError, ValueError, SafetensorError) as exc:
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DipHealError(f"cannot resume from {ck} ({what}); {fix}") from None
    try:
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    except RuntimeError:
        raise DipHealError(f"the checkpoint in {ck} does not fit this network; {fix}") from None
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    sched.load_state_dict(meta["scheduler"])
    best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
    best = {"l1": meta.get("best_l1"), "r": meta.get("best_r"), "step": meta.get("best_step"), "state": best_state}
    return int(meta["step"]), list(meta["history"]), best


# --------------------------------------------------------------------------------------------


def train(
    frames: Sequence[TrainFrame],
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    val_frames: Sequence[TrainFrame] | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    resume: bool = True,
    card_extra: dict[str, Any] | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a TUNet or MSDNet on frames with pasted module gaps and write a model directory.

    Parameters
    ----------
    frames : sequence of TrainFrame
        Training frames (2-D, at least ``crop`` pixels a side). Unless ``val_frames`` is given,
        ``val_fraction`` of them (at least one) are held out for validation.
    out_dir : path-like
        The model directory: ``model.safetensors``, ``card.json``, ``curves.png`` (training and
        validation curves), ``checkpoint/``.
    config : TrainConfig, optional
    val_frames : sequence of TrainFrame, optional
        Explicit validation frames.
    device : str or torch.device, optional
        ``cpu``, ``cuda``, ``auto`` (default: CUDA when available).
    progress : bool
        Show a tqdm progress bar.
    resume : bool
        Continue from ``out_dir/checkpoint`` when it exists (same config).
    card_extra : dict, optional
        Extra model-card entries (e.g. ``training_sources`` with licences).
    callback : callable, optional
        Called with each validation record.

    Returns
    -------
    TrainResult

    Raises
    ------
    DipHealError
        Too few frames, frames smaller than the crop, a bad config or device.
    """
    cfg = config or TrainConfig()
    dev = pick_device(device, mps=False)
    out = Path(out_dir)
    frames, val_frames = _split_frames(list(frames), val_frames, cfg)
    layout = gap_layout(cfg.detector)
    tr = prepare_frames(frames, cfg.crop, cfg.truth_targets, inputs=cfg.inputs, layout=layout, seed=cfg.seed)
    va = prepare_frames(val_frames, cfg.crop, cfg.truth_targets, inputs=cfg.inputs, layout=layout, seed=cfg.seed + 1)
    val = sample_crops(va, layout, cfg, np.random.default_rng(cfg.seed + 999_983), cfg.val_crops, augment=False)
    run = _start(cfg, dev, out, resume)
    t0 = time.perf_counter()
    _train_steps(run, cfg, tr, val, layout, dev, out, progress, callback)
    seconds = time.perf_counter() - t0

    net = run.net
    if run.best["state"] is not None:
        net.load_state_dict(run.best["state"])
    net = net.cpu().eval()
    card = _model_card(cfg, run, frames, val_frames, seconds, dev)
    if card_extra:
        card.update(card_extra)
    save_model(out, net, card)
    _write_curves(out / CURVES_NAME, run.history, run.best["step"], f"{cfg.arch} ({cfg.detector}), {out.name}")
    logger.info("wrote %s (%d parameters, validation L1 %.4f)", out, count_parameters(net),
                run.best["l1"] or float("nan"))
    history = run.history
    return TrainResult(model=BlindModel(net=net, card=read_card(out), path=out), history=history, model_dir=out)


def _write_curves(path: Path, history: list[dict[str, float]], best_step: int | None, title: str) -> None:
    """``curves.png``: training and validation L1 and validation r (:func:`dip_heal.plot.training_curves`).

    A failure to draw is logged, never raised: the model is written.
    """
    from ..plot import save_figure, training_curves

    try:
        save_figure(training_curves(history, best_step=best_step, title=title), path)
    except Exception as exc:  # a picture must never cost the model
        logger.warning("could not draw %s (%s: %s)", path.name, type(exc).__name__, exc)


def _split_frames(frames: list[TrainFrame], val_frames: Sequence[TrainFrame] | None,
                  cfg: TrainConfig) -> tuple[list[TrainFrame], list[TrainFrame]]:
    """Training and validation frames: ``val_fraction`` of ``frames`` held out unless given."""
    if val_frames is None:
        if len(frames) < 2:
            raise DipHealError(
                f"got {len(frames)} training frame(s); expected at least 2 (one is held out for validation); "
                "add frames or --synthetic N"
            )
        order = np.random.default_rng(cfg.seed).permutation(len(frames))
        n_val = max(1, int(round(cfg.val_fraction * len(frames))))
        val_frames = [frames[i] for i in order[:n_val]]
        frames = [frames[i] for i in order[n_val:]]
    val_frames = list(val_frames)
    if not frames or not val_frames:
        raise DipHealError("no training or no validation frames; expected at least one of each")
    return frames, val_frames


@dataclass
class _Run:
    """The state of one training run: network, optimiser, schedule, progress and the best so far."""

    net: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    residual: bool
    step: int = 0
    history: list = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"l1": None, "r": None, "step": None, "state": None})


def _start(cfg: TrainConfig, dev: torch.device, out: Path, resume: bool) -> _Run:
    """Build the network and optimiser (seeded), and resume from ``out``'s checkpoint when asked."""
    torch.manual_seed(cfg.seed)
    net = build_net(cfg.arch, cfg.net_kwargs()).to(dev)
    residual = cfg.inputs in RESIDUAL
    if residual:  # start near the fill itself: a small last layer (zero would block all gradients)
        last = net.output_layer()
        with torch.no_grad():
            last.weight.mul_(cfg.residual_init)
            last.bias.zero_()
            if cfg.inputs in AZIMUTHAL and isinstance(net, MSDNet):
                # an MSDNet's last layer sees its inputs: start from the mean of the directional fill
                # and the ring model (half of one minus half of the other added to the fill), so that
                # picking either is a short walk for Adam, not a weight of 1 grown from 0.1
                last.weight[:, 0] = -0.5
                last.weight[:, 1] = 0.5
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    lr_step = cfg.lr_step or max(1, cfg.steps // 3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step, gamma=cfg.lr_gamma)
    run = _Run(net=net, opt=opt, sched=sched, residual=residual)
    config_json = json.dumps(asdict(cfg), sort_keys=True)
    ck = out / CHECKPOINT_DIR
    if resume and (ck / "state.json").is_file():
        saved_cfg = (ck / "config.json").read_text() if (ck / "config.json").is_file() else None
        if saved_cfg is not None and json.loads(saved_cfg) != {**json.loads(config_json), "steps": json.loads(saved_cfg)["steps"]}:
            raise DipHealError(
                f"{ck} holds a run with other settings; expected the same hyperparameters to resume; "
                "use another --out or --no-resume"
            )
        run.step, run.history, run.best = _load_checkpoint(out, net, opt, sched)
        logger.info("resuming from step %d (%s)", run.step, ck)
    ck.mkdir(parents=True, exist_ok=True)
    with atomic_path(ck / "config.json") as tmp:
        tmp.write_text(config_json)
    return run


def _train_steps(run: _Run, cfg: TrainConfig, tr: Any, val: Any, layout: Any, dev: torch.device, out: Path,
                 progress: bool, callback: Callable[[dict[str, float]], None] | None) -> None:
    """Optimiser steps up to ``cfg.steps``, validating and checkpointing every ``val_every``."""
    net, opt, sched = run.net, run.opt, run.sched
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=run.step, desc=f"train {cfg.arch}", unit="step")
    net.train()
    run_l1: list[float] = []
    if run.step == 0 and run.best["l1"] is None:
        l1, r = evaluate(net, val, dev, run.residual)
        run.history.append({"step": 0, "train_l1": float("nan"), "val_l1": l1, "val_r": r, "lr": cfg.lr})
    while run.step < cfg.steps:
        rng = np.random.default_rng([cfg.seed, run.step])
        x, t, m = sample_crops(tr, layout, cfg, rng, cfg.batch, augment=True)
        xt, tt, mt = (torch.from_numpy(a).to(dev) for a in (x, t, m.astype(np.float32)))
        pred = forward(net, xt, run.residual)
        loss = ((pred - tt).abs() * mt).sum() / mt.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run.step += 1
        run_l1.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(l1=f"{np.mean(run_l1[-20:]):.4f}")
        if run.step % cfg.val_every == 0 or run.step == cfg.steps:
            _validate(run, cfg, val, dev, out, run_l1, callback)
            run_l1 = []
    if bar is not None:
        bar.close()


def _validate(run: _Run, cfg: TrainConfig, val: Any, dev: torch.device, out: Path, run_l1: list[float],
              callback: Callable[[dict[str, float]], None] | None) -> None:
    """Score the validation crops, keep the best weights, call back and checkpoint."""
    l1, r = evaluate(run.net, val, dev, run.residual)
    rec = {"step": run.step, "train_l1": float(np.mean(run_l1)) if run_l1 else float("nan"),
           "val_l1": l1, "val_r": r, "lr": float(run.opt.param_groups[0]["lr"])}
    run.history.append(rec)
    logger.info("step %d: train L1 %.4f, validation L1 %.4f, r %.4f", run.step, rec["train_l1"], l1, r)
    if run.best["l1"] is None or l1 < run.best["l1"]:
        run.best = {"l1": l1, "r": r, "step": run.step,
                    "state": {k: v.detach().cpu().clone() for k, v in run.net.state_dict().items()}}
    if callback is not None:
        callback(rec)
    _save_checkpoint(out, run.net, run.opt, run.sched, run.step, run.history, run.best)


def _model_card(cfg: TrainConfig, run: _Run, frames: list[TrainFrame], val_frames: list[TrainFrame],
                seconds: float, dev: torch.device) -> dict[str, Any]:
    """The model card: architecture, inputs, normalisation, tiling, training record and validation."""
    history, best = run.history, run.best
    return {
        "architecture": cfg.arch,
        "hyperparameters": cfg.net_kwargs(),
        "inputs": cfg.inputs,
        "residual": run.residual,
        "normalisation": {
            "kind": "log1p-max",
            "formula": "y = log1p(max(I, 0)) / max(log1p(I) over measured, not-healed pixels); holes = 0",
        },
        "tile": {"size": cfg.tile, "overlap": cfg.overlap},
        "layout": {"detector": cfg.detector, "frame_shape": cfg.frame_shape,
                   "pasted_gaps": f"windows of the {cfg.detector} module-gap mask (pyFAI)"},
        "training": {
            "protocol": "Chavez et al. 2022: log-normalised crops, detector gaps pasted over measured pixels, "
                        "L1 on pasted measured pixels, Adam with step decay",
            "targets": ("measured values; noise-free truth where a frame has one (synthetic frames)"
                        if cfg.truth_targets else "measured values (noisy counts), as in the paper"),
            "frames": [f.name for f in frames],
            "validation_frames": [f.name for f in val_frames],
            "config": asdict(cfg),
            "steps_done": run.step,
            "best_step": best["step"],
            "seconds": round(seconds, 1),
            "device": str(dev),
        },
        "validation": {
            "l1": best["l1"],
            "pearson_r": best["r"],
            "crops": cfg.val_crops,
            "l1_at_start": history[0]["val_l1"] if history else None,
        },
        "history": history,
    }

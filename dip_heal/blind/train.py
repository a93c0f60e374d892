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
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .._intensity import denormalise, normalise
from .._runtime import pick_device
from ..errors import DipHealError
from ..frame import atomic_path
from .model_dir import BlindModel, read_card, save_model
from .nets import build_net, count_parameters
from .prefill import IN_CHANNELS, INPUTS, RESIDUAL, model_inputs

__all__ = [
    "TrainFrame",
    "TrainConfig",
    "TrainResult",
    "log_normalise",
    "gap_layout",
    "paste_window",
    "synthetic_training_frames",
    "load_training_frames",
    "train",
]

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"


@dataclass
class TrainFrame:
    """One training frame.

    Attributes
    ----------
    data : (M, N) ndarray of float32
        Intensities (counts).
    valid : (M, N) ndarray of bool
        True where ``data`` is a measurement (module gaps, bad pixels, beamstop: False).
    name : str
        Where it came from (file name or ``synthetic:<kind>:<seed>``), for the model card.
    truth : (M, N) ndarray of float32, optional
        Noise-free expected counts (synthetic frames): the training target instead of ``data``
        (the L1-best guess of a Poisson count is close to its expectation, and the target is then
        free of counting noise).
    """

    data: np.ndarray
    valid: np.ndarray
    name: str = ""
    truth: np.ndarray | None = None


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
    inputs : {'prefill+mask', 'fills+mask', 'image+mask', 'image'}
        What the net sees (see :data:`dip_heal.blind.prefill.INPUTS`); with ``prefill+mask`` (and
        ``fills+mask``) it learns a correction to :func:`~dip_heal.blind.prefill.directional_fill` (its last layer
        starts at zero, so training starts from the fill); ``image`` is the paper's input.
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
# data


def log_normalise(data: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, float]:
    """Log-normalised intensities in [0, 1] and the scale that undoes it.

    ``y = log1p(max(I, 0)) / s`` with ``s = max(log1p(I))`` over ``known`` pixels; unknown
    pixels are 0. :func:`log_denormalise` inverts it.

    Parameters
    ----------
    data : (M, N) ndarray
    known : (M, N) ndarray of bool

    Returns
    -------
    y : (M, N) ndarray of float32
    scale : float

    Examples
    --------
    >>> y, s = log_normalise(np.array([[0.0, np.e - 1], [-1.0, 3.0]]), np.array([[1, 1], [0, 1]], bool))
    >>> np.round(y.astype(float), 3).tolist(), round(s, 3)
    ([[0.0, 0.721], [0.0, 1.0]], 1.386)
    """
    return normalise(data, known, zero_unknown=True)


def log_denormalise(y: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`log_normalise`: ``expm1(y * scale)`` (negative ``y`` clipped to 0)."""
    return denormalise(y, scale, clip=True)


def gap_layout(detector: str) -> np.ndarray:
    """The full-detector module-gap mask whose windows are pasted as artificial gaps.

    Raises
    ------
    DipHealError
        Unknown detector, or a detector without module gaps.
    """
    from .. import detectors

    name = detectors.canonical_name(detector)
    mask = np.asarray(detectors.gap_mask_cached(name), dtype=bool)
    if not mask.any():
        raise DipHealError(
            f"detector {name} has no module gaps to paste; expected a modular detector "
            "(Pilatus*, Eiger*, Jungfrau*); name one with --detector"
        )
    return mask


def paste_window(layout: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, *, tries: int = 20) -> np.ndarray:
    """A random ``shape`` window of the detector gap ``layout`` (periodically extended) with gaps in it.

    The extension wraps around the detector's edge without adding a gap band there, so a window
    that crosses the wrap sees two modules joined; for crops much smaller than the detector this
    is rare.

    Parameters
    ----------
    layout : (P, Q) ndarray of bool
        Module gaps of the whole detector.
    shape : (int, int)
        Window (crop) shape.
    rng : numpy Generator

    Returns
    -------
    (shape) ndarray of bool
        True = pasted gap pixel; at least one gap pixel when the layout allows it.
    """
    h, w = int(shape[0]), int(shape[1])
    ly, lx = layout.shape
    win = np.zeros((h, w), bool)
    for _ in range(tries):
        rows = (int(rng.integers(0, ly)) + np.arange(h)) % ly
        cols = (int(rng.integers(0, lx)) + np.arange(w)) % lx
        win = layout[np.ix_(rows, cols)]
        if 0.02 <= win.mean() <= 0.6:
            break
    return np.ascontiguousarray(win)


def synthetic_training_frames(
    n: int,
    *,
    shape: tuple[int, int] = (256, 256),
    seed: int = 0,
    kinds: Sequence[str] = ("saxs", "waxs", "fibre", "gisaxs"),
    counts: tuple[float, float] = (3e2, 3e5),
) -> list[TrainFrame]:
    """Synthetic frames (no gaps; beamstop shadow marked invalid) from :mod:`dip_heal.synthetic`.

    Peak counts are drawn log-uniformly from ``counts`` so the net sees weak and strong frames.
    """
    from ..synthetic import synthetic_frame

    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(n)):
        kind = kinds[i % len(kinds)]
        c = float(np.exp(rng.uniform(np.log(counts[0]), np.log(counts[1]))))
        s = int(rng.integers(0, 2**31 - 1))
        f = synthetic_frame(shape, detector=None, kind=kind, seed=s, counts=c, holder=bool(rng.integers(0, 2)))
        out.append(TrainFrame(f.counts.astype(np.float32), ~f.beamstop, f"synthetic:{kind}:{s}", truth=f.truth))
    return out


def load_training_frames(paths: Sequence[str | os.PathLike]) -> list[TrainFrame]:
    """Read frames with :func:`dip_heal.io.read_image`; invalid pixels are those ``read_image`` flags."""
    from ..io import read_image

    out = []
    for p in paths:
        fr = read_image(p)
        valid = fr.valid & np.isfinite(fr.data)
        for m in fr.masks.values():
            if m.shape == valid.shape:
                valid &= ~(m.astype(bool))
        out.append(TrainFrame(fr.data.astype(np.float32), valid, Path(str(p)).name))
    return out


@dataclass
class _Prepared:
    y: np.ndarray
    valid: np.ndarray
    name: str
    target: np.ndarray


def _prepare(frames: Sequence[TrainFrame], crop: int, truth_targets: bool = True) -> list[_Prepared]:
    out = []
    for f in frames:
        data = np.asarray(f.data, np.float32)
        valid = np.asarray(f.valid, bool) & np.isfinite(data)
        if data.ndim != 2 or data.shape != valid.shape:
            raise DipHealError(f"training frame {f.name!r} has shape {data.shape}; expected a 2-D frame with a matching valid mask")
        if min(data.shape) < crop:
            raise DipHealError(
                f"training frame {f.name!r} is {data.shape}, smaller than the crop {crop}; "
                "expected frames at least crop x crop; lower --crop"
            )
        if valid.mean() < 0.2:
            raise DipHealError(f"training frame {f.name!r} has only {valid.mean():.0%} measured pixels; expected a real frame")
        y, scale = log_normalise(data, valid)
        target = y
        if f.truth is not None and truth_targets:
            truth = np.asarray(f.truth, np.float64)
            if truth.shape != data.shape:
                raise DipHealError(f"training frame {f.name!r}: truth {truth.shape} and data {data.shape} differ; "
                                   "expected the same shape")
            target = (np.log1p(np.maximum(truth, 0.0)) / scale).astype(np.float32)
        out.append(_Prepared(y, valid, f.name, target))
    return out


def _sample(
    frames: list[_Prepared], layout: np.ndarray, cfg: TrainConfig, rng: np.random.Generator, n: int, *, augment: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (n, C, c, c), targets (n, 1, c, c) and loss masks (n, 1, c, c)."""
    c = cfg.crop
    xs, ts, ms = [], [], []
    for _ in range(n):
        for _attempt in range(10):
            f = frames[int(rng.integers(0, len(frames)))]
            y0 = int(rng.integers(0, f.y.shape[0] - c + 1))
            x0 = int(rng.integers(0, f.y.shape[1] - c + 1))
            y = f.y[y0 : y0 + c, x0 : x0 + c]
            v = f.valid[y0 : y0 + c, x0 : x0 + c]
            t = f.target[y0 : y0 + c, x0 : x0 + c]
            pasted = paste_window(layout, (c, c), rng)
            if augment:
                if rng.integers(0, 2):
                    y, v, t = y[:, ::-1], v[:, ::-1], t[:, ::-1]
                if rng.integers(0, 2):
                    y, v, t = y[::-1], v[::-1], t[::-1]
                if rng.integers(0, 2):
                    y, v, t = y.T, v.T, t.T
            loss = pasted & v
            if loss.sum() >= 10:
                break
        y = np.array(y, np.float32)
        t = np.array(t, np.float32)
        if augment and cfg.gain > 0:
            g = np.float32(rng.uniform(1 - cfg.gain, 1 + cfg.gain))
            y, t = y * g, t * g
        xs.append(model_inputs(y, pasted | ~v, cfg.inputs))
        ts.append(t[None])
        ms.append(loss[None])
    return np.stack(xs), np.stack(ts), np.stack(ms)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    d = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 0 else float("nan")


def _forward(net: torch.nn.Module, x: torch.Tensor, residual: bool) -> torch.Tensor:
    return net(x) + x[:, :1] if residual else net(x)


def _evaluate(net: torch.nn.Module, val: tuple[np.ndarray, np.ndarray, np.ndarray], device: torch.device,
              residual: bool) -> tuple[float, float]:
    x, t, m = val
    net.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), 8):
            preds.append(_forward(net, torch.from_numpy(x[i : i + 8]).to(device), residual).cpu().numpy())
    net.train()
    p = np.concatenate(preds)
    sel = m.astype(bool)
    return float(np.abs(p[sel] - t[sel]).mean()), _pearson(p[sel], t[sel])


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
        The model directory: ``model.safetensors``, ``card.json``, ``checkpoint/``.
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
    frames = list(frames)
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
    if not frames or not val_frames:
        raise DipHealError("no training or no validation frames; expected at least one of each")
    layout = gap_layout(cfg.detector)
    tr = _prepare(frames, cfg.crop, cfg.truth_targets)
    va = _prepare(val_frames, cfg.crop, cfg.truth_targets)
    val = _sample(va, layout, cfg, np.random.default_rng(cfg.seed + 999_983), cfg.val_crops, augment=False)

    torch.manual_seed(cfg.seed)
    net = build_net(cfg.arch, cfg.net_kwargs()).to(dev)
    residual = cfg.inputs in RESIDUAL
    if residual:  # start near the fill itself: a small last layer (zero would block all gradients)
        last = net.output_layer()
        with torch.no_grad():
            last.weight.mul_(cfg.residual_init)
            last.bias.zero_()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    lr_step = cfg.lr_step or max(1, cfg.steps // 3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step, gamma=cfg.lr_gamma)
    config_json = json.dumps(asdict(cfg), sort_keys=True)
    step, history = 0, []
    best: dict[str, Any] = {"l1": None, "r": None, "step": None, "state": None}
    ck = out / CHECKPOINT_DIR
    if resume and (ck / "state.json").is_file():
        saved_cfg = (ck / "config.json").read_text() if (ck / "config.json").is_file() else None
        if saved_cfg is not None and json.loads(saved_cfg) != {**json.loads(config_json), "steps": json.loads(saved_cfg)["steps"]}:
            raise DipHealError(
                f"{ck} holds a run with other settings; expected the same hyperparameters to resume; "
                "use another --out or --no-resume"
            )
        step, history, best = _load_checkpoint(out, net, opt, sched)
        logger.info("resuming from step %d (%s)", step, ck)
    ck.mkdir(parents=True, exist_ok=True)
    with atomic_path(ck / "config.json") as tmp:
        tmp.write_text(config_json)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.arch}", unit="step")
    t0 = time.perf_counter()
    net.train()
    run_l1 = []
    if step == 0 and best["l1"] is None:
        l1, r = _evaluate(net, val, dev, residual)
        history.append({"step": 0, "train_l1": float("nan"), "val_l1": l1, "val_r": r, "lr": cfg.lr})
    while step < cfg.steps:
        rng = np.random.default_rng([cfg.seed, step])
        x, t, m = _sample(tr, layout, cfg, rng, cfg.batch, augment=True)
        xt, tt, mt = (torch.from_numpy(a).to(dev) for a in (x, t, m.astype(np.float32)))
        pred = _forward(net, xt, residual)
        loss = ((pred - tt).abs() * mt).sum() / mt.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        run_l1.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(l1=f"{np.mean(run_l1[-20:]):.4f}")
        if step % cfg.val_every == 0 or step == cfg.steps:
            l1, r = _evaluate(net, val, dev, residual)
            rec = {"step": step, "train_l1": float(np.mean(run_l1)) if run_l1 else float("nan"),
                   "val_l1": l1, "val_r": r, "lr": float(opt.param_groups[0]["lr"])}
            run_l1 = []
            history.append(rec)
            logger.info("step %d: train L1 %.4f, validation L1 %.4f, r %.4f", step, rec["train_l1"], l1, r)
            if best["l1"] is None or l1 < best["l1"]:
                best = {"l1": l1, "r": r, "step": step,
                        "state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
            if callback is not None:
                callback(rec)
            _save_checkpoint(out, net, opt, sched, step, history, best)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0

    if best["state"] is not None:
        net.load_state_dict(best["state"])
    net = net.cpu().eval()
    card: dict[str, Any] = {
        "architecture": cfg.arch,
        "hyperparameters": cfg.net_kwargs(),
        "inputs": cfg.inputs,
        "residual": residual,
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
            "steps_done": step,
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
    if card_extra:
        card.update(card_extra)
    save_model(out, net, card)
    logger.info("wrote %s (%d parameters, validation L1 %.4f)", out, count_parameters(net), best["l1"] or float("nan"))
    return TrainResult(model=BlindModel(net=net, card=read_card(out), path=out), history=history, model_dir=out)

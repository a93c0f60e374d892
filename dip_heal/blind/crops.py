"""Training data of the blind models: frames, log normalisation, pasted-gap crops, and scoring.

Frames are log-normalised (``y = log1p(max(I, 0)) / max(log1p(I))`` over measured pixels) and cut
into random crops; a random window of the detector's module-gap layout is pasted over measured
pixels, and the loss mask is the pasted pixels that were measured (:func:`sample_crops`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .._intensity import denormalise, normalise
from ..errors import DipHealError
from .prefill import AZIMUTHAL, azimuthal_channel, model_inputs

__all__ = ["TrainFrame", "Prepared", "log_normalise", "log_denormalise", "gap_layout", "paste_window",
           "synthetic_training_frames", "load_training_frames", "prepare_frames", "sample_crops", "pearson",
           "forward", "evaluate"]


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
class Prepared:
    """A training frame ready for cropping.

    Attributes
    ----------
    y, valid, target : (M, N) ndarray
        Normalised log intensity, measured pixels, and the training target.
    name : str
    variants : list of (pasted, azimuthal)
        For the inputs that need the azimuthal model of the whole frame: gap layouts pasted
        over the whole frame (bool, True = pasted) and the azimuthal model of the pixels still
        measured under each, so a crop's azimuthal input never saw its own pasted pixels.
    """

    y: np.ndarray
    valid: np.ndarray
    name: str
    target: np.ndarray
    variants: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


#: Pasted whole-frame gap layouts per frame for the azimuthal inputs.
N_VARIANTS = 4


def _variants(data: np.ndarray, y: np.ndarray, valid: np.ndarray, layout: np.ndarray,
              rng: np.random.Generator, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` whole-frame pasted layouts and the azimuthal model of what each leaves measured."""
    out = []
    for _ in range(n):
        pasted = paste_window(layout, y.shape, rng)
        known = valid & ~pasted
        az, _ = azimuthal_channel(y, known, data)
        out.append((pasted, az))
    return out


def prepare_frames(frames: Sequence[TrainFrame], crop: int, truth_targets: bool = True, *,
                   inputs: str = "prefill+mask", layout: np.ndarray | None = None, seed: int = 0,
                   n_variants: int = N_VARIANTS) -> list[Prepared]:
    """Normalise training frames and, for the azimuthal inputs, paste whole-frame gap layouts.

    Parameters
    ----------
    frames : sequence of TrainFrame
    crop : int
    truth_targets : bool
        Use a frame's noise-free truth as its target where it has one.
    inputs : str
        The network's inputs; those in :data:`~dip_heal.blind.prefill.AZIMUTHAL` need ``layout``.
    layout : (P, Q) ndarray of bool, optional
        The detector gap layout pasted over whole frames.
    seed : int
        Seeds the pasted layouts.
    n_variants : int
        Pasted layouts per frame.

    Returns
    -------
    list of Prepared
    """
    rng = np.random.default_rng([seed, 7])
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
        prep = Prepared(y, valid, f.name, target)
        if inputs in AZIMUTHAL:
            if layout is None:
                raise DipHealError(f"inputs={inputs!r} needs the detector's gap layout; expected a modular detector")
            prep.variants = _variants(data, y, valid, layout, rng, int(n_variants))
        out.append(prep)
    return out


def sample_crops(
    frames: list[Prepared], layout: np.ndarray, cfg: Any, rng: np.random.Generator, n: int, *, augment: bool
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
            az = None
            if f.variants:  # the whole frame's pasted layout and its azimuthal model
                pasted, az_full = f.variants[int(rng.integers(0, len(f.variants)))]
                pasted = pasted[y0 : y0 + c, x0 : x0 + c]
                az = az_full[y0 : y0 + c, x0 : x0 + c]
            else:
                pasted = paste_window(layout, (c, c), rng)
            if augment:
                flips = [bool(rng.integers(0, 2)) for _ in range(3)]
                for flip, op in zip(flips, (lambda a: a[:, ::-1], lambda a: a[::-1], lambda a: a.T)):
                    if flip:
                        y, v, t = op(y), op(v), op(t)
                        if az is not None:
                            az, pasted = op(az), op(pasted)
            loss = pasted & v
            if loss.sum() >= 10:
                break
        y = np.array(y, np.float32)
        t = np.array(t, np.float32)
        if augment and cfg.gain > 0:
            g = np.float32(rng.uniform(1 - cfg.gain, 1 + cfg.gain))
            y, t = y * g, t * g
            if az is not None:
                az = az * g
        xs.append(model_inputs(y, pasted | ~v, cfg.inputs, azimuthal=az))
        ts.append(t[None])
        ms.append(loss[None])
    return np.stack(xs), np.stack(ts), np.stack(ms)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    d = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 0 else float("nan")


def forward(net: torch.nn.Module, x: torch.Tensor, residual: bool) -> torch.Tensor:
    return net(x) + x[:, :1] if residual else net(x)


def evaluate(net: torch.nn.Module, val: tuple[np.ndarray, np.ndarray, np.ndarray], device: torch.device,
              residual: bool) -> tuple[float, float]:
    x, t, m = val
    net.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), 8):
            preds.append(forward(net, torch.from_numpy(x[i : i + 8]).to(device), residual).cpu().numpy())
    net.train()
    p = np.concatenate(preds)
    sel = m.astype(bool)
    return float(np.abs(p[sel] - t[sel]).mean()), pearson(p[sel], t[sel])



"""Fit a Deep Image Prior to the known pixels of one frame and fill its holes.

Intensity model
---------------
Counts are fitted in normalised log intensity, ``y = log1p(max(I, 0)) / scale`` with
``scale = max(log1p(I))`` over the known, valid pixels, so ``y`` lies in [0, 1], the range of
the network's sigmoid. The output is mapped back with ``I = expm1(y * scale)``. Negative
intensities (reduced data) are fitted as 0; measured pixels always keep their own value.

Shapes
------
Any ``H x W`` is padded by reflection to a multiple of ``2**depth`` (at least two cells of the
deepest scale); the padding counts as unknown. The output has the input's shape; nothing is
cropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .config import FitConfig
from .errors import DipHealError, NothingToHeal
from .priors import PriorTerms, prior_factor, symmetry_scores

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["fit", "FitResult", "Snapshot", "pick_device", "normalise", "denormalise", "make_holdout", "log_median"]

logger = logging.getLogger(__name__)


@dataclass
class Snapshot:
    """A composite kept during the fit (measured pixels from the input, network output in holes)."""

    iteration: int
    healed: np.ndarray
    val_l1: float | None = None
    loss: float | None = None
    seconds: float = 0.0
    weights: dict[str, float] | None = None


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    healed : (M, N) ndarray of float32
        The composite in the input's units: input values where known, the fit in ``heal``.
    output : (M, N) ndarray of float32
        The network's full output in the input's units (also over the known pixels).
    iteration : int
        Iteration of the returned composite.
    snapshots : list of Snapshot
        Composites every ``config.snapshot_every`` iterations (when kept).
    metrics : list of dict
        ``iteration``, ``loss``, ``seconds`` of every iteration, plus ``val_l1`` at snapshots.
    config : FitConfig
    seed : int
    seconds : float
        Wall time of the fit.
    holdout : (M, N) ndarray of bool or None
        Known pixels withheld from the loss.
    scale : float
        The normalisation ``scale`` (see the module docstring).
    """

    healed: np.ndarray
    output: np.ndarray
    iteration: int
    snapshots: list[Snapshot]
    metrics: list[dict[str, float]]
    config: FitConfig
    seed: int
    seconds: float
    holdout: np.ndarray | None = None
    scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Snapshot | None:
        """The snapshot with the lowest held-out L1 (None without held-out pixels)."""
        scored = [s for s in self.snapshots if s.val_l1 is not None]
        return min(scored, key=lambda s: s.val_l1) if scored else None


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process (glibc): about 1.9x faster fits of big frames on a CPU.

    glibc's ``malloc`` serves every block over 32 MB with ``mmap`` and unmaps it on ``free``, so
    the activation buffers of a big frame are faulted in again at every iteration (on a PILATUS
    1M frame 40 % of the fit's CPU time was system time). This turns ``mmap`` off and the heap
    trimming threshold up, for the whole process: the default preset then takes 2.61 instead of
    4.93 s per iteration on a 1043x981 frame, for 25 % more peak memory (3.77 against 3.01 GB).
    The command-line interface calls it; library users may. Set the environment variable
    ``DIP_HEAL_NO_MALLOC_TUNING=1`` to leave the allocator alone.

    Returns
    -------
    bool
        Whether the settings were applied (False off Linux/glibc or when opted out).
    """
    import ctypes
    import os
    import sys

    if os.environ.get("DIP_HEAL_NO_MALLOC_TUNING") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        ok = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):  # not glibc
        return False
    if ok:
        logger.debug("glibc malloc: mmap off, trim threshold 2 GiB (DIP_HEAL_NO_MALLOC_TUNING=1 to disable)")
    return ok


def pick_device(device: "str | torch.device | None" = None) -> "torch.device":
    """Resolve a device: the one given, else CUDA when present, else MPS, else the CPU."""
    import torch

    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise DipHealError(f"unknown device {device!r}; expected cpu, cuda, cuda:N or mps") from exc
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DipHealError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def normalise(image: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, float]:
    """``y = log1p(max(I, 0)) / scale``, ``scale`` = max of ``log1p`` over the known pixels.

    Examples
    --------
    >>> y, s = normalise(np.array([[0.0, np.e - 1]]), np.array([[True, True]]))
    >>> y.tolist(), round(s, 6)
    ([[0.0, 1.0]], 1.0)
    """
    img = np.where(np.isfinite(image), image, 0.0).astype(np.float64)
    logi = np.log1p(np.clip(img, 0.0, None))
    scale = float(logi[known].max()) if known.any() else 0.0
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    return (logi / scale).astype(np.float32), scale


def denormalise(y: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`normalise` (float32 intensities)."""
    return np.expm1(np.asarray(y, dtype=np.float64) * scale).astype(np.float32)


def _pixel_runs(mask: np.ndarray, axis: int) -> np.ndarray:
    """At every True pixel of ``mask``, the length of the run of True pixels along ``axis`` it lies in."""
    m = np.moveaxis(mask, axis, -1)
    flat = m.reshape(-1, m.shape[-1])
    padded = np.pad(flat, ((0, 0), (1, 0)))
    starts = flat & ~padded[:, :-1]
    ids = np.cumsum(starts.ravel()).reshape(flat.shape)
    ids = np.where(flat, ids, 0)
    lengths = np.bincount(ids.ravel())
    lengths[0] = 0
    out = lengths[ids].reshape(m.shape)
    return np.moveaxis(out, -1, axis)


#: Held-out segments: thickness cap (px) and length range (times the thickness, end excluded).
#: As thick as the holes (a PILATUS frame's 17 px module gaps give 17 px segments): thinner
#: segments favour local fills (Telea) over the network, whose lead grows with the hole's width.
HOLDOUT_MAX_THICKNESS = 24
HOLDOUT_LENGTHS = (2, 7)


class SnapshotSelector:
    """Which snapshot a fit returns, and when it stops early.

    With ``select='final'`` the latest snapshot; with ``select='best_val'`` the one with the
    lowest held-out L1, or, with ``val_tol > 0``, the latest whose held-out L1 is within
    ``(1 + val_tol)`` of the lowest so far. ``patience`` snapshots in a row that are neither a
    new lowest nor within the tolerance stop the fit.

    Parameters
    ----------
    config : FitConfig
        Reads ``select``, ``patience`` and ``val_tol``.
    """

    def __init__(self, config: FitConfig) -> None:
        self.config = config
        self.best_val: float | None = None
        self.chosen: "Snapshot | None" = None
        self.since = 0

    def update(self, snap: "Snapshot") -> bool:
        """Take one snapshot in; True when the fit should stop."""
        cfg = self.config
        if cfg.select != "best_val":
            self.chosen = snap
            return False
        if snap.val_l1 is None:
            self.chosen = self.chosen or snap
            return False
        v = snap.val_l1
        if self.best_val is None or v < self.best_val:
            self.best_val, self.chosen, self.since = v, snap, 0
        elif cfg.val_tol > 0 and v <= self.best_val * (1.0 + cfg.val_tol):
            self.chosen, self.since = snap, 0
        else:
            self.since += 1
        return bool(cfg.patience) and self.since >= cfg.patience


def make_holdout(known: np.ndarray, heal: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Withhold a seeded subset of known pixels, drawn as segments shaped like the holes.

    Each segment's thickness is drawn from the thickness of the holes, weighted by pixels (the
    shorter of the vertical and horizontal runs through a hole pixel, capped at
    :data:`HOLDOUT_MAX_THICKNESS` = 24 px): a PILATUS frame whose holes are mostly module gaps
    gets mostly 17 and 7 px thick segments, so the held-out error measures what healing those
    gaps needs, not single dead pixels. Each segment runs parallel to the hole it was drawn from,
    beside it (one to four thicknesses away across it, or anywhere when there is no measured
    pixel there), and is 2 to 6 times as long as thick, until ``fraction`` of the known pixels
    are covered: held-out pixels then sit at the holes' distances from the beam centre and cross
    the pattern the way the holes do.

    Thinner segments (capped at 8 px, as before 2026-11-22) ranked Telea's fill above the
    network on frames whose 17 px gaps the network heals better (benchmarks/README.md).

    Parameters
    ----------
    known : (M, N) ndarray of bool
        Pixels the fit may use.
    heal : (M, N) ndarray of bool
        Pixels to heal (their shape sets the segments' thickness).
    fraction : float
        Target fraction of ``known`` to withhold.
    seed : int

    Returns
    -------
    holdout : (M, N) ndarray of bool
        A subset of ``known``.
    """
    holdout = np.zeros(known.shape, dtype=bool)
    n_known = int(known.sum())
    if fraction <= 0 or n_known == 0:
        return holdout
    target = int(round(fraction * n_known))
    rng = np.random.default_rng(seed)
    ny, nx = known.shape
    kn = np.argwhere(known)
    hole_px = np.argwhere(heal)
    if len(hole_px):
        run_v, run_h = _pixel_runs(heal, 0), _pixel_runs(heal, 1)
    count = 0
    for _ in range(100000):
        if count >= target:
            break
        if len(hole_px):
            # a hole pixel (so thickness is pixel-weighted), the hole's thickness and direction
            # there, and a segment parallel to it, beside it across its thin direction
            hy, hx = hole_px[rng.integers(len(hole_px))]
            tv, th = int(run_v[hy, hx]), int(run_h[hy, hx])
            thick = max(1, min(tv, th, HOLDOUT_MAX_THICKNESS))
            horizontal = tv < th or (tv == th and rng.random() < 0.5)
            across = (tv if horizontal else th) + int(rng.integers(thick, 4 * thick + 1))
            across *= 1 if rng.random() < 0.5 else -1
            y, x = (hy + across, hx) if horizontal else (hy, hx + across)
            if not (0 <= y < ny and 0 <= x < nx) or not known[y, x]:
                y, x = kn[rng.integers(len(kn))]  # no room beside this hole: anywhere, same shape
        else:  # nothing to heal (a sweep's validation only): short segments anywhere
            y, x = kn[rng.integers(len(kn))]
            thick = 2
            horizontal = rng.random() < 0.5
        length = int(thick * rng.integers(*HOLDOUT_LENGTHS))
        if horizontal:
            y0, x0 = max(0, y - thick // 2), max(0, x - length // 2)
            sl = (slice(y0, min(ny, y0 + thick)), slice(x0, min(nx, x0 + length)))
        else:
            y0, x0 = max(0, y - length // 2), max(0, x - thick // 2)
            sl = (slice(y0, min(ny, y0 + length)), slice(x0, min(nx, x0 + thick)))
        before = int(holdout[sl].sum())
        holdout[sl] |= known[sl]
        count += int(holdout[sl].sum()) - before
    return holdout


def _pad_amounts(n: int, mult: int) -> tuple[int, int]:
    total = max(-(-n // mult) * mult, 2 * mult)
    extra = total - n
    return extra // 2, extra - extra // 2


def _seed_all(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _net_input(config: FitConfig, shape: tuple[int, int], device: "torch.device") -> "torch.Tensor":
    import torch

    h, w = shape
    if config.net_input == "meshgrid":
        xs = torch.arange(w, dtype=torch.float32) / max(w - 1, 1)
        ys = torch.arange(h, dtype=torch.float32) / max(h - 1, 1)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([xx, yy])[None].to(device)
    gen = torch.Generator().manual_seed(0)
    return (torch.rand((1, config.input_depth, h, w), generator=gen) * 0.1).to(device)


def guide_channels(
    config: FitConfig,
    y: np.ndarray,
    fit_px: np.ndarray,
    center: tuple[float, float] | None,
    pads: tuple[int, int, int, int],
) -> tuple[np.ndarray | None, tuple[float, float] | None]:
    """Physics-aware input channels on the padded grid, and the beam centre used.

    Parameters
    ----------
    config : FitConfig
        ``polar_input`` adds radius, cos and sin of the azimuth; ``mirror_input`` adds the
        centrosymmetric mirror of ``y`` where the mirror pixel is fitted, and a flag channel.
    y : (M, N) ndarray of float32
        The normalised image.
    fit_px : (M, N) ndarray of bool
        Pixels in the loss (the mirror is taken from these only).
    center : (x, y) or None
        Beam centre in pixels; estimated from the frame when None.
    pads : (top, bottom, left, right)
        Padding of the network grid.

    Returns
    -------
    channels : (C, Hp, Wp) ndarray of float32 or None
    center : (x, y) or None
    """
    if not (config.polar_input or config.mirror_input or config.guide != "none" or config.blend
            or config.uses_priors):
        return None, center
    if center is None:
        from .beam import estimate_center

        center = estimate_center(np.where(fit_px, np.expm1(y), 0.0), fit_px)
        logger.info("beam centre estimated at x=%.1f, y=%.1f", *center)
    cx, cy = float(center[0]), float(center[1])
    pt, pb, pl, pr = pads
    m, n = y.shape
    yy, xx = np.mgrid[-pt : m + pb, -pl : n + pr].astype(np.float32)
    chans = []
    if config.polar_input:
        dx, dy = xx - cx, yy - cy
        r = np.hypot(dx, dy)
        phi = np.arctan2(dy, dx)
        chans += [r / max(float(r.max()), 1.0), np.cos(phi), np.sin(phi)]
    if config.mirror_input:
        my = np.rint(2 * cy - yy).astype(np.int64)
        mx = np.rint(2 * cx - xx).astype(np.int64)
        inside = (my >= 0) & (my < m) & (mx >= 0) & (mx < n)
        ok = np.zeros(inside.shape, dtype=bool)
        ok[inside] = fit_px[my[inside], mx[inside]]
        mirror = np.zeros(inside.shape, dtype=np.float32)
        mirror[ok] = y[my[ok], mx[ok]]
        chans += [mirror, ok.astype(np.float32)]
    if not chans:
        return None, (cx, cy)
    return np.stack(chans).astype(np.float32), (cx, cy)


#: azimuthal bins and smoothing tried by ``guide='auto'`` (chosen by held-out L1)
AUTO_MODEL_GRID: tuple[tuple[int, float], ...] = tuple(
    (a, sm) for a in (45, 90, 180, 360) for sm in (0.0, 1.0, 2.0, 4.0)
)


def _select_model(
    y: np.ndarray, fit_px: np.ndarray, holdout: np.ndarray, center: tuple[float, float]
) -> tuple[int, float]:
    """The azimuthal model settings of :data:`AUTO_MODEL_GRID` that best predict the held-out pixels."""
    from .polar import azimuthal_model

    scores = []
    for n_azim, smooth in AUTO_MODEL_GRID:
        m = azimuthal_model(y, fit_px, center, n_azim=n_azim, smooth=smooth)
        scores.append((float(np.abs(m[holdout] - y[holdout]).mean()), n_azim, smooth))
    l1, n_azim, smooth = min(scores)
    logger.info("azimuthal model: %d bins, smoothing %.3g bins (held-out L1 %.4g)", n_azim, smooth, l1)
    return n_azim, smooth


def _simplex(k: int, steps: int = 10) -> np.ndarray:
    """All weight vectors of ``k`` non-negative entries in multiples of 1/steps summing to 1."""
    import itertools

    rows = [c + (steps - sum(c),) for c in itertools.product(range(steps + 1), repeat=k - 1) if sum(c) <= steps]
    return np.array(rows, dtype=np.float64) / steps


def _telea_normalised(image: np.ndarray, hide: np.ndarray, scale: float) -> np.ndarray:
    """OpenCV's Telea fill of the ``hide`` pixels, in the fit's normalised log intensity."""
    from .classical import heal_telea

    counts = np.where(hide | ~np.isfinite(image), 0.0, image)
    return np.log1p(np.clip(heal_telea(counts, hide), 0, None)) / scale


class _Blender:
    """Blend of the network output with fixed classical fills, weighted by held-out L1.

    The fills are computed twice: with the held-out pixels hidden (to weigh them honestly
    against the network, which never sees those pixels) and with only the holes hidden (what
    goes into the healed frame).
    """

    names = ("dip", "azimuthal", "telea")

    def __init__(self, image: np.ndarray, y: np.ndarray, known: np.ndarray, heal: np.ndarray,
                 holdout: np.ndarray, center: tuple[float, float], model_settings: tuple[int, float],
                 scale: float) -> None:
        from .polar import azimuthal_model

        n_azim, smooth = model_settings
        hide = heal | holdout

        def telea(mask: np.ndarray) -> np.ndarray:
            return _telea_normalised(image, mask, scale)

        a_ho = azimuthal_model(y, known & ~holdout, center, n_azim=n_azim, smooth=smooth)
        a_fin = azimuthal_model(y, known, center, n_azim=n_azim, smooth=smooth)
        self.y = y
        self.heal = heal
        self.holdout = holdout
        self.y_ho = y[holdout].astype(np.float64)
        self.fills_ho = np.stack([a_ho[holdout], telea(hide)[holdout]]).astype(np.float64)
        self.fills_heal = np.stack([a_fin[heal], telea(heal)[heal]]).astype(np.float64)
        self.combos = _simplex(1 + len(self.fills_ho))

    def __call__(self, out: np.ndarray) -> tuple[np.ndarray, float, dict[str, float]]:
        """Blended normalised image, its held-out L1 and the weights, for one network output."""
        f_ho = np.vstack([out[self.holdout][None].astype(np.float64), self.fills_ho])
        errs = np.abs(self.combos @ f_ho - self.y_ho).mean(axis=1)
        k = int(np.argmin(errs))
        w = self.combos[k]
        y_comp = self.y.copy()
        y_comp[self.heal] = (w[0] * out[self.heal] + w[1:] @ self.fills_heal).astype(y_comp.dtype)
        return y_comp, float(errs[k]), {n: float(v) for n, v in zip(self.names, w)}


def _model_beats_local_fill(
    image: np.ndarray, y: np.ndarray, model: np.ndarray, holdout: np.ndarray, hide: np.ndarray, scale: float
) -> bool:
    """Whether the azimuthal model predicts the held-out pixels at least as well as Telea's fill."""
    if not holdout.any():
        logger.info("guide 'auto' without held-out pixels: the azimuthal model is used")
        return True
    telea = _telea_normalised(image, hide, scale)
    l1_model = float(np.abs(model[holdout] - y[holdout]).mean())
    l1_telea = float(np.abs(telea[holdout] - y[holdout]).mean())
    use = l1_model <= l1_telea
    logger.info(
        "held-out L1: azimuthal model %.4g, Telea %.4g: %s", l1_model, l1_telea,
        "fitting the residual from the azimuthal model" if use else "plain DIP (the model does not fit this frame)",
    )
    return use


def _validate(image: np.ndarray, heal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image)
    heal = np.asarray(heal)
    if image.ndim != 2:
        raise DipHealError(f"got an image of shape {image.shape}; expected a 2-D frame (M, N)")
    if heal.shape != image.shape:
        raise DipHealError(
            f"mask shape {heal.shape} does not match the frame {image.shape}; "
            "build the mask from this frame (dip-heal mask IMAGE)"
        )
    if heal.dtype != bool:
        raise DipHealError(f"got a mask of dtype {heal.dtype}; expected bool (True = pixel to heal)")
    if min(image.shape) < 2:
        raise DipHealError(f"got a frame of shape {image.shape}; expected at least 2 x 2 pixels")
    return image.astype(np.float32, copy=False), heal


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
        :func:`make_holdout` when ``config.holdout_fraction > 0``. Held-out pixels keep their
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
    import torch

    config = config if config is not None else FitConfig.preset("default")
    if center is not None:
        from .polar import check_center

        check_center(center, np.shape(image), what="--center")
    if config.ensemble > 1:
        return _fit_ensemble(image, heal, config, device=device, progress=progress, callback=callback,
                             holdout=holdout, keep_snapshots=keep_snapshots, center=center)
    image, heal = _validate(image, heal)
    finite = np.isfinite(image)
    heal_all = heal | ~finite
    if (~finite & ~heal).any():
        logger.warning("%d non-finite pixels outside the mask are healed too", int((~finite & ~heal).sum()))
    if not heal_all.any():
        raise NothingToHeal("the mask selects no pixel to heal; nothing to do")
    known = ~heal_all
    if not known.any():
        raise DipHealError(
            "the mask heals every pixel (or the frame has no finite value); expected some measured pixels "
            "to fit; check the mask polarity (True/non-zero = heal)"
        )
    if holdout is None:
        holdout = make_holdout(known, heal_all, config.holdout_fraction, config.seed)
    else:
        holdout = np.asarray(holdout, dtype=bool) & known
    fit_px = known & ~holdout
    if not fit_px.any():
        raise DipHealError("no known pixel is left for the loss after the held-out set; lower holdout_fraction")

    dev = pick_device(device)
    t0 = time.perf_counter()  # the clock of every snapshot: includes the set-up (centre, model)
    _seed_all(config.seed)
    y, scale = normalise(image, known)

    mult = 2**config.depth
    (pt, pb), (pl, pr) = _pad_amounts(image.shape[0], mult), _pad_amounts(image.shape[1], mult)
    ypad = np.pad(y, ((pt, pb), (pl, pr)), mode="reflect") if (pt or pb or pl or pr) else y
    wpad = np.pad(fit_px, ((pt, pb), (pl, pr)), constant_values=False)
    hp, wp = ypad.shape
    crop = (slice(pt, pt + image.shape[0]), slice(pl, pl + image.shape[1]))

    from .nets import build_net

    guides, center = guide_channels(config, y, fit_px, center, (pt, pb, pl, pr))
    net_input = _net_input(config, (hp, wp), dev)
    if guides is not None:
        net_input = torch.cat([net_input, torch.from_numpy(guides)[None].to(dev)], dim=1)
    base: torch.Tensor | None = None
    guide_used = "none"
    model_settings: tuple[int, float] | None = None
    if config.guide != "none":
        from .polar import azimuthal_model

        assert center is not None
        n_azim, smooth = config.guide_azim, config.guide_smooth
        if config.guide == "auto" and holdout.any():
            n_azim, smooth = model_settings = _select_model(y, fit_px, holdout, center)
        model = azimuthal_model(y, fit_px, center, n_azim=n_azim, smooth=smooth, pads=(pt, pb, pl, pr))
        use = True
        if config.guide == "auto":
            use = _model_beats_local_fill(image, y, model[crop], holdout, heal_all | holdout, scale)
        if use:
            guide_used = "azimuthal"
            base = torch.from_numpy(model)[None, None].to(dev)
            net_input = torch.cat([net_input, base], dim=1)
        else:
            # keep the input layout of the configuration: a zero channel instead of the model
            net_input = torch.cat([net_input, torch.zeros_like(net_input[:, :1])], dim=1)
    net = build_net(config, in_channels=net_input.shape[1]).to(dev)
    if base is not None:
        # residual from the model, starting at exactly zero: iteration 0 is the azimuthal fill
        last = net.out if hasattr(net, "out") else None
        if last is not None:
            with torch.no_grad():
                for p_ in last.parameters():
                    p_.zero_()

    blender: _Blender | None = None
    if config.blend and holdout.any():
        assert center is not None
        if model_settings is None:
            model_settings = _select_model(y, fit_px, holdout, center)
        blender = _Blender(image, y, known, heal_all, holdout, center, model_settings, scale)

    prior_terms: PriorTerms | None = None
    symmetry: dict[str, float] | None = None
    if config.uses_priors:
        assert center is not None
        w_az, w_fr = config.azim_weight, config.friedel_weight
        if config.prior_scaling == "measured":
            symmetry = symmetry_scores(y, fit_px, center, seed=config.seed)
            w_az *= prior_factor(symmetry["azimuthal"])
            w_fr *= prior_factor(symmetry["friedel"])
            logger.info(
                "symmetry of the measured pixels: azimuthal %.2f, Friedel %.2f; prior weights %.3g, %.3g",
                symmetry["azimuthal"], symmetry["friedel"], w_az, w_fr,
            )
        prior_terms = PriorTerms.build(heal_all, center, (pt, pb, pl, pr), (hp, wp), w_az, w_fr, dev)
        if not prior_terms.active:
            prior_terms = None

    # the output layer (1x1 conv + sigmoid) runs in fp32 even under bf16 autocast: bf16 would
    # quantise the output to steps of ~0.004 in normalised log intensity, as large as the errors
    body, head = net[:-2], net[-2:]

    def forward(x: torch.Tensor) -> torch.Tensor:
        h = body(x)
        with torch.autocast(device_type=dev.type, enabled=False):
            o = head(h.float())
        return o if base is None else base + (o - 0.5) * 2.0

    mem = torch.channels_last if config.channels_last else torch.contiguous_format
    net = net.to(memory_format=mem)
    net_input = net_input.contiguous(memory_format=mem)
    target = torch.from_numpy(ypad)[None, None].to(dev)
    weight = torch.from_numpy(wpad.astype(np.float32))[None, None].to(dev)
    n_fit = float(wpad.sum())
    counts: torch.Tensor | None = None
    if config.loss == "poisson":
        # the measured values as counts (the padding has weight 0); the NLL is divided by the mean
        # measured intensity plus one so its size does not depend on the exposure
        counts = torch.expm1(target.double() * scale).clamp_min(0.0).float()
        count_norm = float(counts[weight > 0].mean()) + 1.0
        log_cap = float(np.log1p(counts.max().item()) * 1.5 / scale) if scale > 0 else 1.0
    conv_weights = [p for p in net.parameters() if p.dim() == 4]
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    noise = torch.empty_like(net_input)
    autocast = (
        torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
        if config.precision == "bf16"
        else _NullContext()
    )
    hold_t = torch.from_numpy(holdout)
    y_t = torch.from_numpy(y)
    heal_t = torch.from_numpy(heal_all)
    ema_out: torch.Tensor | None = None

    snapshots: list[Snapshot] = []
    metrics: list[dict[str, float]] = []
    last_snapshot: Snapshot | None = None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.num_iter, desc="fit", unit="it", leave=False)
    logger.debug(
        "fit %s on %s: padded %s, %d known pixels (%d held out), scale %.4g",
        image.shape, dev, (hp, wp), int(known.sum()), int(holdout.sum()), scale,
    )

    def snapshot_at(it: int, loss_v: float) -> Snapshot:
        nonlocal ema_out
        with torch.no_grad(), autocast:
            out = forward(net_input).float()
        out_c = out[0, 0, crop[0], crop[1]].detach().cpu()
        if config.ema > 0 and ema_out is not None:
            out_c = ema_out.cpu().clone()
        weights = None
        if blender is not None:
            y_np, val, weights = blender(out_c.numpy())
        else:
            y_np = torch.where(heal_t, out_c, y_t).numpy()
            val = float((out_c[hold_t] - y_t[hold_t]).abs().mean()) if holdout.any() else None
        comp = denormalise(y_np, scale)
        comp[known] = image[known]
        return Snapshot(iteration=it, healed=comp, val_l1=val, loss=loss_v, seconds=time.perf_counter() - t0,
                        weights=weights)

    selector = SnapshotSelector(config)

    def take_snapshot(it: int, loss_v: float, rec: dict[str, float]) -> bool:
        """Record a snapshot; True when the fit should stop."""
        nonlocal last_snapshot
        snap = snapshot_at(it, loss_v)
        rec["val_l1"] = snap.val_l1 if snap.val_l1 is not None else float("nan")
        last_snapshot = snap
        if keep_snapshots:
            snapshots.append(snap)
        if bar is not None:
            bar.set_postfix(loss=f"{loss_v:.3g}", val=f"{snap.val_l1:.4g}" if snap.val_l1 is not None else "-")
        stop = selector.update(snap)
        rec["returned"] = selector.chosen.iteration if selector.chosen is not None else it
        if stop:
            logger.info("early stop at iteration %d (returning iteration %d)", it, rec["returned"])
        if callback is not None:
            stop = bool(callback(snap, dict(rec))) or stop
        return stop

    stopped_at = config.num_iter
    last_snap_t = time.perf_counter() - t0
    if base is not None or blender is not None:
        # iteration 0 is the azimuthal fill (guide) or the classical blend: a candidate like any snapshot
        rec0 = {"iteration": 0, "loss": float("nan"), "seconds": time.perf_counter() - t0}
        metrics.append(rec0)
        if take_snapshot(0, float("nan"), rec0):
            stopped_at = 0
    try:
        for it in range(1, config.num_iter + 1 if stopped_at else 1):
            opt.zero_grad(set_to_none=True)
            if config.param_noise and config.param_noise_scale > 0:
                with torch.no_grad():
                    for w in conv_weights:
                        w.add_(torch.randn_like(w) * (w.std() * config.param_noise_scale))
            if config.reg_noise_std > 0:
                inp = net_input + noise.normal_() * config.reg_noise_std
            else:
                inp = net_input
            with autocast:
                out = forward(inp)
            out = out.float()
            if counts is not None:
                lam = torch.expm1(out.clamp(0.0, log_cap) * scale)
                err = (lam - counts * torch.log(lam + 1e-6)) / count_norm
            else:
                diff = out - target
                err = diff.square() if config.loss == "mse" else diff.abs()
            loss = (err * weight).sum() / n_fit
            if prior_terms is not None:
                loss = loss + prior_terms(out)
            loss.backward()
            opt.step()
            if config.ema > 0:
                # warm-up as TensorFlow's ExponentialMovingAverage: early outputs are soon forgotten
                decay = min(config.ema, (1.0 + it) / (10.0 + it))
                o = out.detach()[0, 0, crop[0], crop[1]]  # stays on the device; copied at snapshots only
                ema_out = o.clone() if ema_out is None else ema_out.mul_(decay).add_(o, alpha=1 - decay)
            loss_v = float(loss.detach())
            rec = {"iteration": it, "loss": loss_v, "seconds": time.perf_counter() - t0}
            metrics.append(rec)
            if bar is not None:
                bar.update(1)
            if it % config.snapshot_every == 0 or it == config.num_iter:
                if take_snapshot(it, loss_v, rec):
                    stopped_at = it
                    break
                now = time.perf_counter() - t0
                if config.time_limit and it < config.num_iter and now + (now - last_snap_t) > config.time_limit:
                    logger.info("time limit: stopping at iteration %d after %.0f s (limit %.0f s)",
                                it, now, config.time_limit)
                    stopped_at = it
                    break
                last_snap_t = now
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    chosen = selector.chosen if selector.chosen is not None else last_snapshot
    assert chosen is not None  # num_iter >= 1 always yields a snapshot at the last iteration or a stop
    with torch.no_grad(), autocast:
        full = forward(net_input).float()[0, 0, crop[0], crop[1]].cpu().numpy()
    logger.info(
        "fit done: %d iterations in %.1f s, returned iteration %d%s",
        stopped_at, seconds, chosen.iteration,
        f" (held-out L1 {chosen.val_l1:.4g})" if chosen.val_l1 is not None else "",
    )
    if chosen.weights is not None:
        logger.info("blend weights: %s", ", ".join(f"{k} {v:.1f}" for k, v in chosen.weights.items()))
    return FitResult(
        healed=chosen.healed,
        output=denormalise(full, scale),
        iteration=chosen.iteration,
        snapshots=snapshots,
        metrics=metrics,
        config=config,
        seed=config.seed,
        seconds=seconds,
        holdout=holdout if holdout.any() else None,
        scale=scale,
        extra={"stopped_at": stopped_at, "device": str(dev), "padded_shape": (hp, wp), "center": center,
               "guide": guide_used, "blend": chosen.weights, "symmetry": symmetry},
    )


def log_median(frames: list[np.ndarray], where: np.ndarray) -> np.ndarray:
    """Per-pixel median of ``frames`` in ``log1p`` intensity at ``where`` (the first frame elsewhere).

    How ensembles and averaged sweep picks combine heals: the median suits the L1 score and is
    robust to one member that went astray.

    Examples
    --------
    >>> a, b, c = (np.full((1, 2), v, np.float32) for v in (1.0, 3.0, 100.0))
    >>> log_median([a, b, c], np.array([[True, False]])).tolist()
    [[3.0, 1.0]]
    """
    out = frames[0].copy()
    stack = np.log1p(np.clip(np.stack([f[where] for f in frames]).astype(np.float64), 0.0, None))
    out[where] = np.expm1(np.median(stack, axis=0)).astype(out.dtype)
    return out


def _fit_ensemble(
    image: np.ndarray,
    heal: np.ndarray,
    config: FitConfig,
    *,
    device: "str | torch.device | None",
    progress: bool,
    callback: Callable[[Snapshot, dict[str, Any]], bool | None] | None,
    holdout: np.ndarray | None,
    keep_snapshots: bool,
    center: tuple[float, float] | None,
) -> FitResult:
    """``config.ensemble`` fits with consecutive seeds, healed by their median (see FitConfig)."""
    image, heal = _validate(image, heal)
    heal_all = heal | ~np.isfinite(image)
    if holdout is None and config.holdout_fraction > 0 and (~heal_all).any() and heal_all.any():
        holdout = make_holdout(~heal_all, heal_all, config.holdout_fraction, config.seed)
    n = config.ensemble
    members: list[FitResult] = []
    t0 = time.perf_counter()
    for k in range(n):
        member_cfg = config.replace(
            ensemble=1, seed=config.seed + k, time_limit=config.time_limit / n if config.time_limit else 0.0
        )

        def member_callback(snap: Snapshot, state: dict[str, Any], k: int = k) -> bool | None:
            state["member"] = k
            return callback(snap, state) if callback is not None else None

        res = fit(image, heal, member_cfg, device=device, progress=progress,
                  callback=member_callback if callback is not None else None, holdout=holdout,
                  keep_snapshots=keep_snapshots, center=center)
        center = res.extra.get("center") or center
        members.append(res)
        logger.info("ensemble member %d/%d (seed %d): iteration %d, %.1f s", k + 1, n, member_cfg.seed,
                    res.iteration, res.seconds)
    healed = log_median([m.healed for m in members], heal_all)
    output = log_median([m.output for m in members], np.ones(heal_all.shape, bool))
    first = members[0]
    metrics = [dict(rec, member=k) for k, m in enumerate(members) for rec in m.metrics]
    return FitResult(
        healed=healed,
        output=output,
        iteration=first.iteration,
        snapshots=[s for m in members for s in m.snapshots],
        metrics=metrics,
        config=config,
        seed=config.seed,
        seconds=time.perf_counter() - t0,
        holdout=first.holdout,
        scale=first.scale,
        extra=dict(first.extra, members=[
            {"seed": m.seed, "iteration": m.iteration, "stopped_at": m.extra.get("stopped_at"),
             "seconds": m.seconds, "blend": m.extra.get("blend")} for m in members
        ]),
    )


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

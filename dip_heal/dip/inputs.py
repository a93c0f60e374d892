"""The network's input: coordinates or noise, physics-aware guide channels, the azimuthal model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import FitConfig
from .problem import Grid, Problem

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..geometry import Geometry

__all__ = ["NetInputs", "build_inputs", "coordinate_input", "guide_channels", "select_model",
           "telea_normalised", "model_beats_local_fill", "AUTO_MODEL_GRID"]

logger = logging.getLogger(__name__)


@dataclass
class NetInputs:
    """The input tensor, the azimuthal model the network fits the residual from (or None), and what was chosen
    (``geometry``: the PONI calibration the polar channels and the model used, or None)."""

    tensor: Any
    base: Any
    guide_used: str
    model_settings: tuple[int, float] | None
    center: tuple[float, float] | None
    geometry: Any = None


def build_inputs(config: FitConfig, problem: Problem, grid: Grid, center: tuple[float, float] | None,
                 dev: "torch.device", geometry: "Geometry | None" = None) -> NetInputs:
    """The input channels of ``config`` on ``grid`` (and the beam centre, estimated when needed).

    With ``geometry`` (a PONI checked against the frame) the beam centre is the geometry's and the
    polar channels and the azimuthal model follow pyFAI's 2theta and chi.
    """
    import torch

    from ..polar import azimuthal_model

    y, fit_px, holdout = problem.y, problem.fit_px, problem.holdout
    guides, center = guide_channels(config, y, fit_px, center, grid.pads, geometry=geometry)
    net_input = coordinate_input(config, grid.shape, dev)
    if guides is not None:
        net_input = torch.cat([net_input, torch.from_numpy(guides)[None].to(dev)], dim=1)
    base, guide_used, model_settings = None, "none", None
    if config.guide != "none":
        assert center is not None
        n_azim, smooth = config.guide_azim, config.guide_smooth
        if config.guide == "auto" and holdout.any():
            n_azim, smooth = model_settings = select_model(y, fit_px, holdout, center, geometry=geometry)
        model = azimuthal_model(y, fit_px, center, n_azim=n_azim, smooth=smooth, pads=grid.pads, geometry=geometry)
        use = True
        if config.guide == "auto":
            use = model_beats_local_fill(problem.image, y, model[grid.crop], holdout, problem.heal | holdout,
                                         problem.scale)
        if use:
            guide_used = "azimuthal"
            base = torch.from_numpy(model)[None, None].to(dev)
            net_input = torch.cat([net_input, base], dim=1)
        else:
            # keep the input layout of the configuration: a zero channel instead of the model
            net_input = torch.cat([net_input, torch.zeros_like(net_input[:, :1])], dim=1)
    return NetInputs(net_input, base, guide_used, model_settings, center, geometry)


def coordinate_input(config: FitConfig, shape: tuple[int, int], device: "torch.device") -> "torch.Tensor":
    """The network's own input: a 2-channel meshgrid in [0, 1], or uniform noise times 0.1 (seeded 0)."""
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
    *,
    geometry: "Geometry | None" = None,
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
    geometry : Geometry, optional
        A PONI calibration checked against the frame: its beam centre replaces ``center`` and
        the polar channels are pyFAI's (radius from 2theta in pixel equivalents, cos and sin of
        chi).

    Returns
    -------
    channels : (C, Hp, Wp) ndarray of float32 or None
    center : (x, y) or None
    """
    if not (config.polar_input or config.mirror_input or config.guide != "none" or config.blend
            or config.uses_priors):
        return None, center
    if geometry is not None:
        center = geometry.center
    elif center is None:
        from ..beam import estimate_center

        center = estimate_center(np.where(fit_px, np.expm1(y), 0.0), fit_px)
        logger.info("beam centre estimated at x=%.1f, y=%.1f", *center)
    cx, cy = float(center[0]), float(center[1])
    pt, pb, pl, pr = pads
    m, n = y.shape
    yy, xx = np.mgrid[-pt : m + pb, -pl : n + pr].astype(np.float32)
    chans = []
    if config.polar_input and geometry is not None:
        g_r, g_chi = geometry.polar((m, n), pads)
        chans += [g_r / max(float(g_r.max()), 1.0), np.cos(g_chi), np.sin(g_chi)]
    elif config.polar_input:
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


def select_model(
    y: np.ndarray, fit_px: np.ndarray, holdout: np.ndarray, center: tuple[float, float] | None,
    geometry: "Geometry | None" = None,
) -> tuple[int, float]:
    """The azimuthal model settings of :data:`AUTO_MODEL_GRID` that best predict the held-out pixels
    (the model about ``center``, or along the rings of ``geometry`` when given)."""
    from ..polar import azimuthal_model

    scores = []
    for n_azim, smooth in AUTO_MODEL_GRID:
        m = azimuthal_model(y, fit_px, center, n_azim=n_azim, smooth=smooth, geometry=geometry)
        scores.append((float(np.abs(m[holdout] - y[holdout]).mean()), n_azim, smooth))
    l1, n_azim, smooth = min(scores)
    logger.info("azimuthal model: %d bins, smoothing %.3g bins (held-out L1 %.4g)", n_azim, smooth, l1)
    return n_azim, smooth


def telea_normalised(image: np.ndarray, hide: np.ndarray, scale: float) -> np.ndarray:
    """OpenCV's Telea fill of the ``hide`` pixels, in the fit's normalised log intensity."""
    from ..fills import heal_telea

    counts = np.where(hide | ~np.isfinite(image), 0.0, image)
    return np.log1p(np.clip(heal_telea(counts, hide), 0, None)) / scale


def model_beats_local_fill(
    image: np.ndarray, y: np.ndarray, model: np.ndarray, holdout: np.ndarray, hide: np.ndarray, scale: float
) -> bool:
    """Whether the azimuthal model predicts the held-out pixels at least as well as Telea's fill."""
    if not holdout.any():
        logger.info("guide 'auto' without held-out pixels: the azimuthal model is used")
        return True
    telea = telea_normalised(image, hide, scale)
    l1_model = float(np.abs(model[holdout] - y[holdout]).mean())
    l1_telea = float(np.abs(telea[holdout] - y[holdout]).mean())
    use = l1_model <= l1_telea
    logger.info(
        "held-out L1: azimuthal model %.4g, Telea %.4g: %s", l1_model, l1_telea,
        "fitting the residual from the azimuthal model" if use else "plain DIP (the model does not fit this frame)",
    )
    return use

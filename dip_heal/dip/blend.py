"""The blend of the network's output with the azimuthal and Telea fills, weighted on held-out pixels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .inputs import telea_normalised

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Blender", "simplex"]


def simplex(k: int, steps: int = 10) -> np.ndarray:
    """All weight vectors of ``k`` non-negative entries in multiples of 1/steps summing to 1."""
    import itertools

    rows = [c + (steps - sum(c),) for c in itertools.product(range(steps + 1), repeat=k - 1) if sum(c) <= steps]
    return np.array(rows, dtype=np.float64) / steps


class Blender:
    """Blend of the network output with fixed classical fills, weighted by held-out L1.

    The fills are computed twice: with the held-out pixels hidden (to weigh them honestly
    against the network, which never sees those pixels) and with only the holes hidden (what
    goes into the healed frame).
    """

    names = ("dip", "azimuthal", "telea")

    def __init__(self, image: np.ndarray, y: np.ndarray, known: np.ndarray, heal: np.ndarray,
                 holdout: np.ndarray, center: tuple[float, float], model_settings: tuple[int, float],
                 scale: float, geometry: Any = None) -> None:
        from ..polar import azimuthal_model

        n_azim, smooth = model_settings
        hide = heal | holdout

        def telea(mask: np.ndarray) -> np.ndarray:
            return telea_normalised(image, mask, scale)

        a_ho = azimuthal_model(y, known & ~holdout, center, n_azim=n_azim, smooth=smooth, geometry=geometry)
        a_fin = azimuthal_model(y, known, center, n_azim=n_azim, smooth=smooth, geometry=geometry)
        self.y = y
        self.heal = heal
        self.holdout = holdout
        self.y_ho = y[holdout].astype(np.float64)
        self.fills_ho = np.stack([a_ho[holdout], telea(hide)[holdout]]).astype(np.float64)
        self.fills_heal = np.stack([a_fin[heal], telea(heal)[heal]]).astype(np.float64)
        self.combos = simplex(1 + len(self.fills_ho))

    def __call__(self, out: np.ndarray) -> tuple[np.ndarray, float, dict[str, float]]:
        """Blended normalised image, its held-out L1 and the weights, for one network output."""
        f_ho = np.vstack([out[self.holdout][None].astype(np.float64), self.fills_ho])
        errs = np.abs(self.combos @ f_ho - self.y_ho).mean(axis=1)
        k = int(np.argmin(errs))
        w = self.combos[k]
        y_comp = self.y.copy()
        y_comp[self.heal] = (w[0] * out[self.heal] + w[1:] @ self.fills_heal).astype(y_comp.dtype)
        return y_comp, float(errs[k]), {n: float(v) for n, v in zip(self.names, w)}

    def score(self, out: "torch.Tensor") -> tuple[np.ndarray, float, dict[str, float]]:
        """:meth:`__call__` on a network output tensor (the snapshot scorer's interface)."""
        return self(out.numpy())

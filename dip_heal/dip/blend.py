"""The blend of the network's output with the azimuthal and Telea fills, weighted on held-out pixels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

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

    ``symmetry`` adds mirror fills (issue 19, :func:`dip_heal.priors.symmetry_fill`): ``fold``
    (a fibre's quadrant fold) and ``mirror`` (GISAXS's specular plane). Each is measured on the
    pixels the fit sees (not the held-out ones) and offered as a candidate only when its score
    reaches ``SYMMETRY_THRESHOLD`` (where a pixel has no measured image, the candidate holds
    Telea's value); :attr:`symmetry` records every score, offered or not. Without it (the
    default) the blend is the one of the network, the azimuthal fill and Telea.
    """

    names: tuple[str, ...] = ("dip", "azimuthal", "telea")

    def __init__(self, image: np.ndarray, y: np.ndarray, known: np.ndarray, heal: np.ndarray,
                 holdout: np.ndarray, center: tuple[float, float], model_settings: tuple[int, float],
                 scale: float, geometry: Any = None, symmetry: Sequence[str] = (), seed: int = 0) -> None:
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
        t_ho, t_fin = telea(hide), telea(heal)
        fills_ho, fills_heal = [a_ho[holdout], t_ho[holdout]], [a_fin[heal], t_fin[heal]]
        names = list(type(self).names)
        #: the measured symmetry of every symmetry candidate asked for: score, axis, ``offered``
        self.symmetry: dict[str, dict[str, Any]] = {}
        if symmetry:
            from ..priors import SYMMETRY_THRESHOLD, symmetry_fill

            for kind in symmetry:
                v_ho, ok_ho, info = symmetry_fill(y, known & ~holdout, hide, kind, center=center, seed=seed)
                offered = bool(info["score"] >= SYMMETRY_THRESHOLD)
                self.symmetry[kind] = {**info, "offered": offered}
                if not offered:
                    continue
                v_fin, ok_fin, _ = symmetry_fill(y, known, heal, kind, center=center, seed=seed)
                fills_ho.append(np.where(ok_ho, v_ho, t_ho)[holdout])
                fills_heal.append(np.where(ok_fin, v_fin, t_fin)[heal])
                names.append(kind)
        self.names = tuple(names)
        self.fills_ho = np.stack(fills_ho).astype(np.float64)
        self.fills_heal = np.stack(fills_heal).astype(np.float64)
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

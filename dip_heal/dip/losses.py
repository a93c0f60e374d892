"""The data term of the fit: squared, absolute or Poisson error on the known pixels of the grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DataLoss"]


class DataLoss:
    """``loss(out)``: the mean error over the pixels of ``weights`` (the padding has weight 0).

    Parameters
    ----------
    kind : {'mse', 'l1', 'poisson'}
        Squared or absolute error in normalised log intensity, or the Poisson negative
        log-likelihood of the measured values as counts given the output's intensity, divided
        by the mean measured intensity plus one so its size does not depend on the exposure.
    target : (Hp, Wp) ndarray of float32
        The padded normalised image.
    weights : (Hp, Wp) ndarray of bool
        Pixels in the loss.
    scale : float
        The normalisation scale (for the Poisson term).
    device : torch.device
    """

    def __init__(self, kind: str, target: np.ndarray, weights: np.ndarray, scale: float,
                 device: "torch.device") -> None:
        import torch

        self.kind = kind
        self.scale = scale
        self.target = torch.from_numpy(target)[None, None].to(device)
        self.weight = torch.from_numpy(weights.astype(np.float32))[None, None].to(device)
        self.n_fit = float(weights.sum())
        self.counts: "torch.Tensor | None" = None
        if kind == "poisson":
            self.counts = torch.expm1(self.target.double() * scale).clamp_min(0.0).float()
            self.count_norm = float(self.counts[self.weight > 0].mean()) + 1.0
            self.log_cap = float(np.log1p(self.counts.max().item()) * 1.5 / scale) if scale > 0 else 1.0

    def __call__(self, out: "torch.Tensor") -> "torch.Tensor":
        import torch

        if self.counts is not None:
            lam = torch.expm1(out.clamp(0.0, self.log_cap) * self.scale)
            err = (lam - self.counts * torch.log(lam + 1e-6)) / self.count_norm
        else:
            err = self._error(out)
        return (err * self.weight).sum() / self.n_fit

    def _error(self, out: "torch.Tensor") -> "torch.Tensor":
        diff = out - self.target
        return diff.square() if self.kind == "mse" else diff.abs()

    def per_channel(self, out: "torch.Tensor") -> "torch.Tensor":
        """The squared (``mse``) or absolute error of every output channel: K trials fitted together."""
        return (self._error(out) * self.weight).sum(dim=(0, 2, 3)) / self.n_fit

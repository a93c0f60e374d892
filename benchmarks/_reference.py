"""A loop written to mirror the original DIP inpainting notebook, for speed references.

Same network (``dip_heal.nets.skip_net`` with the seed configuration, which matches the
original ``models/skip.py`` layer for layer), eager fp32, a fresh input-noise draw every
iteration, MSE on ``out * mask`` against ``img * mask`` and ``loss.item()`` every iteration,
as in the notebook's closure.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from dip_heal.nets import skip_net


def reference_seconds_per_iter(shape: tuple[int, int], n_iter: int = 8, warmup: int = 2, seed: int = 0) -> float:
    """Seconds per iteration of the notebook-style loop at ``shape`` (a multiple of 32)."""
    torch.manual_seed(seed)
    h, w = shape
    net = skip_net()
    xs = torch.arange(w, dtype=torch.float32) / (w - 1)
    ys = torch.arange(h, dtype=torch.float32) / (h - 1)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    net_input_saved = torch.stack([xx, yy])[None]
    noise = net_input_saved.clone()
    rng = np.random.default_rng(seed)
    img = torch.from_numpy(rng.random((1, 1, h, w), dtype=np.float32))
    mask = torch.from_numpy((rng.random((1, 1, h, w)) > 0.2).astype(np.float32))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    mse = torch.nn.MSELoss()
    times = []
    for i in range(warmup + n_iter):
        t = time.perf_counter()
        opt.zero_grad()
        net_input = net_input_saved + noise.normal_() * 0.03
        out = net(net_input)
        loss = mse(out * mask, img * mask)
        loss.backward()
        loss.item()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return float(np.median(times))

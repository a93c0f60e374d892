import numpy as np
import pytest
import torch

from dip_heal.dip.batched import fit_batched, grouped_net
from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.dip import fit
from dip_heal.nets import build_net

BASE = FitConfig(depth=2, channels=8, num_iter=6, snapshot_every=3, reg_noise_std=0.0)


def test_grouped_network_equals_the_separate_networks():
    cfgs = [BASE.replace(seed=s) for s in (0, 1, 2)]
    nets = []
    for c in cfgs:
        torch.manual_seed(c.seed)
        nets.append(build_net(c))
    merged = grouped_net(nets)
    x = torch.rand(1, 2, 16, 16)
    with torch.no_grad():
        separate = torch.cat([n(x) for n in nets], dim=1)
        together = merged(x.repeat(1, 3, 1, 1))
    assert torch.allclose(separate, together, atol=1e-5)


def test_batched_trials_track_their_sequential_fits(detector_image):
    img, heal = detector_image
    cfgs = [BASE.replace(seed=0, lr=1e-3), BASE.replace(seed=1, lr=1e-3, param_noise=False)]
    batched = fit_batched(img, heal, cfgs)
    for c, b in zip(cfgs, batched):
        s = fit(img, heal, c)
        assert b.seed == c.seed and [x.iteration for x in b.snapshots] == [3, 6]
        np.testing.assert_allclose([m["loss"] for m in b.metrics], [m["loss"] for m in s.metrics], rtol=1e-3)
        assert np.array_equal(b.healed[~heal], img[~heal])


def test_each_trial_keeps_its_own_learning_rate(detector_image):
    img, heal = detector_image
    slow, fast = fit_batched(img, heal, [BASE.replace(lr=1e-6), BASE.replace(lr=0.05)])
    drop_slow = slow.metrics[0]["loss"] - slow.metrics[-1]["loss"]
    drop_fast = fast.metrics[0]["loss"] - fast.metrics[-1]["loss"]
    assert drop_fast > 10 * abs(drop_slow)


def test_batched_is_reproducible_and_refuses_mixed_architectures(detector_image):
    img, heal = detector_image
    cfgs = [BASE.replace(seed=3, reg_noise_std=0.03, param_noise=True), BASE.replace(seed=4)]
    a = fit_batched(img, heal, cfgs)
    b = fit_batched(img, heal, cfgs)
    assert all(np.array_equal(x.healed, y.healed) for x, y in zip(a, b))
    with pytest.raises(DipHealError, match="may differ only"):
        fit_batched(img, heal, [BASE, BASE.replace(channels=16)])

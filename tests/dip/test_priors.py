import numpy as np
import pytest
import torch

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal._intensity import normalise
from dip_heal.dip import fit
from dip_heal.priors import PriorTerms, symmetry_scores

CX, CY = 31.4, 28.6


def _grid(shape=(64, 64)):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    return xx - CX, yy - CY


def _noisy(lam, seed=0):
    return np.random.default_rng(seed).poisson(lam).astype(float)


def test_rings_score_azimuthal_not_friedel_specific():
    dx, dy = _grid()
    r = np.hypot(dx, dy)
    img = _noisy(500 * (1 + np.cos(r / 1.5)) + 20)
    y, _ = normalise(img, np.ones(img.shape, bool))
    s = symmetry_scores(y, np.ones(img.shape, bool), (CX, CY))
    assert s["azimuthal"] > 0.5
    # isotropic: the mirror is no closer than a random pixel of the same ring
    assert s["friedel"] < 0.2


def test_centrosymmetric_streaks_score_friedel_not_azimuthal():
    dx, dy = _grid()
    phi = np.arctan2(dy, dx)
    r = np.hypot(dx, dy)
    img = _noisy(20 + 2000 * np.exp(-((np.sin(phi - 0.4)) ** 2) / 0.01) / (1 + r / 10))
    y, _ = normalise(img, np.ones(img.shape, bool))
    s = symmetry_scores(y, np.ones(img.shape, bool), (CX, CY))
    assert s["friedel"] > 0.5
    assert s["azimuthal"] < s["friedel"]


def test_a_horizon_scores_no_friedel_symmetry():
    dx, dy = _grid()
    r = np.hypot(dx, dy)
    lam = 2000 / (1 + r / 5) ** 2 * (1 + 30 * np.exp(-((dx / 6) ** 2)))  # a rod along the vertical
    lam[dy > 4] = 2.0  # below the horizon: the substrate's shadow
    img = _noisy(lam)
    y, _ = normalise(img, np.ones(img.shape, bool))
    s = symmetry_scores(y, np.ones(img.shape, bool), (CX, CY))
    assert s["friedel"] < 0.1


def test_too_few_pairs_score_zero():
    known = np.zeros((64, 64), bool)
    known[:3, :3] = True
    s = symmetry_scores(np.random.default_rng(0).random((64, 64)), known, (CX, CY))
    assert s == {"azimuthal": 0.0, "friedel": 0.0}


def _terms(heal, w_az=0.0, w_fr=0.0, pads=(0, 0, 0, 0)):
    shape = (heal.shape[0] + pads[0] + pads[1], heal.shape[1] + pads[2] + pads[3])
    return PriorTerms.build(heal, (CX, CY), pads, shape, w_az, w_fr, torch.device("cpu")), shape


def test_azimuthal_penalty_zero_on_rings_positive_on_spokes():
    heal = np.zeros((64, 64), bool)
    heal[20:27, :] = True
    heal[:, 40:44] = True
    pads = (2, 2, 3, 1)
    terms, shape = _terms(heal, w_az=1.0, pads=pads)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    dx, dy = xx - pads[2] - CX, yy - pads[0] - CY
    r = np.hypot(dx, dy)
    rings = torch.from_numpy(np.cos(r / 4.0).astype(np.float32))[None, None]
    spokes = torch.from_numpy(np.cos(6 * np.arctan2(dy, dx)).astype(np.float32))[None, None]
    assert float(terms(rings)) < 0.02  # bilinear interpolation error only
    assert float(terms(spokes)) > 5 * float(terms(rings))


def test_friedel_penalty_pairs_healed_pixels_only_and_pulls_them_together():
    heal = np.zeros((64, 64), bool)
    heal[26:32, :] = True  # a gap through the centre: its mirror is in the gap too
    heal[5:8, 5:20] = True  # mirrored onto measured pixels: no pair
    terms, shape = _terms(heal, w_fr=2.0)
    assert terms.fr_a is not None and terms.azim_grid is None
    a = terms.fr_a.numpy()
    b = terms.fr_b.numpy()
    ay, ax = np.divmod(a, shape[1])
    by, bx = np.divmod(b, shape[1])
    assert heal[ay, ax].all() and heal[by, bx].all()
    assert np.allclose(ay + by, round(2 * CY), atol=0) and np.allclose(ax + bx, round(2 * CX))
    out = torch.rand((1, 1) + shape, generator=torch.Generator().manual_seed(0), requires_grad=True)
    loss = terms(out)
    assert float(loss.detach()) > 0
    loss.backward()
    g = out.grad[0, 0].numpy()
    assert np.all(g[~heal] == 0) and np.abs(g[heal]).sum() > 0
    sym = torch.from_numpy(np.ones(shape, np.float32))[None, None]
    assert float(terms(sym)) == 0.0


def test_no_weight_no_terms():
    heal = np.zeros((64, 64), bool)
    heal[26:32, :] = True
    terms, _ = _terms(heal)
    assert not terms.active


def test_config_validates_prior_fields():
    with pytest.raises(DipHealError, match="azim_weight"):
        FitConfig(azim_weight=-1.0)
    with pytest.raises(DipHealError, match="prior_scaling"):
        FitConfig(prior_scaling="always")
    with pytest.raises(DipHealError, match="loss"):
        FitConfig(loss="gaussian")
    cfg = FitConfig.preset("default", azim_weight=0.5, friedel_weight=0.2, loss="poisson")
    assert FitConfig.from_json(cfg.to_json()) == cfg


TINY = dict(depth=2, channels=8, num_iter=40, snapshot_every=10, seed=3)


def _pair_frame():
    dx, dy = _grid()
    phi = np.arctan2(dy, dx)
    lam = 50 + 1500 * np.exp(-((np.sin(phi - 0.4)) ** 2) / 0.05)
    heal = np.zeros((64, 64), bool)
    heal[25:33, :] = True
    return _noisy(lam, seed=1), heal


def test_friedel_term_makes_healed_pairs_more_symmetric():
    img, heal = _pair_frame()
    base = FitConfig(**TINY, loss="l1")
    terms, shape = _terms(heal, w_fr=1.0)
    a, b = terms.fr_a.numpy(), terms.fr_b.numpy()

    def asym(cfg):
        out = np.log1p(fit(img, heal, cfg, center=(CX, CY)).healed).ravel()
        return np.abs(out[a] - out[b]).mean()

    off = asym(base)
    on = asym(base.replace(friedel_weight=5.0, prior_scaling="fixed"))
    assert on < 0.7 * off, (on, off)


def test_measured_scaling_switches_priors_off_on_gisaxs():
    """Where the measured pixels have neither symmetry the priors get weight 0: the fit is the
    one without them, bit for bit."""
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame((96, 96), detector=None, kind="gisaxs", seed=0)
    heal = np.zeros((96, 96), bool)
    heal[40:47, :] = True
    mask = heal | f.beamstop
    img = f.counts.astype(np.float32)
    cfg = FitConfig.preset("default", depth=3, channels=8, num_iter=20, snapshot_every=10, seed=0)
    on = fit(img, mask, cfg.replace(azim_weight=1.0, friedel_weight=1.0))
    off = fit(img, mask, cfg)
    assert max(on.extra["symmetry"].values()) <= 0.2  # below the floor: factor 0
    assert np.array_equal(on.healed, off.healed)


def test_poisson_loss_fits_the_counts():
    rng = np.random.default_rng(0)
    dx, dy = _grid()
    lam = 200 / (1 + np.hypot(dx, dy) / 8) ** 2 + 5
    img = rng.poisson(lam).astype(float)
    heal = np.zeros((64, 64), bool)
    heal[30:34, :] = True
    cfg = FitConfig(depth=3, channels=16, num_iter=150, snapshot_every=50, loss="poisson", lr=0.02)
    res = fit(img, heal, cfg)
    losses = [m["loss"] for m in res.metrics]
    assert losses[-1] < losses[0]
    out = res.output[~heal]
    # the fitted intensity follows the measured level (a log-space fit would sit below the mean)
    assert abs(out.mean() / img[~heal].mean() - 1) < 0.25
    assert np.corrcoef(np.log1p(out), np.log1p(lam[~heal]))[0, 1] > 0.8

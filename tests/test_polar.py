import numpy as np
import pytest

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal._intensity import normalise
from dip_heal.dip import fit
from dip_heal.polar import azimuthal_model

TINY = dict(depth=2, channels=8, num_iter=8, snapshot_every=4)


def _rings(shape=(64, 72), cx=30.3, cy=35.7, aniso=0.0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    r = np.hypot(xx - cx, yy - cy)
    phi = np.arctan2(yy - cy, xx - cx)
    return 2000.0 / (1 + r) ** 1.5 * (1 + 0.8 * np.exp(-((r - 20) ** 2) / 8)) * (1 + aniso * np.cos(2 * phi))


def test_model_reproduces_an_isotropic_pattern_in_its_holes():
    img = np.log1p(_rings())
    known = np.ones(img.shape, bool)
    known[30:40, :] = False  # a gap across the centre
    known[:, 50:54] = False
    m = azimuthal_model(img, known, (30.3, 35.7), n_azim=36, smooth=0)
    hole = ~known
    err = np.abs(m[hole] - img[hole])
    # the hole is filled from the same rings elsewhere: far better than a constant (the
    # steep centre, which lies in the gap, has no ring measured at its radius)
    assert err.mean() < 0.1 * np.abs(img[hole] - img[known].mean()).mean()
    assert np.median(err) < 0.01  # of a log-intensity range of about 2
    assert np.abs(m[known] - img[known]).mean() < 0.03


def test_model_on_a_padded_grid_and_follows_anisotropy():
    img = np.log1p(_rings(aniso=0.6))
    known = np.ones(img.shape, bool)
    known[:, 10:14] = False
    m = azimuthal_model(img, known, (30.3, 35.7), n_azim=90, smooth=1, pads=(1, 2, 3, 4))
    assert m.shape == (64 + 3, 72 + 7) and m.dtype == np.float32 and np.isfinite(m).all()
    inner = m[1:-2, 3:-4]
    iso = azimuthal_model(img, known, (30.3, 35.7), n_azim=4, smooth=0)
    hole = ~known
    # 90 azimuthal bins follow the cos(2 phi) modulation that 4 bins average away
    assert np.abs(inner[hole] - img[hole]).mean() < 0.5 * np.abs(iso[hole] - img[hole]).mean()


def test_model_bad_input():
    with pytest.raises(ValueError, match="expected two 2-D arrays"):
        azimuthal_model(np.zeros((4, 4)), np.ones((4, 5), bool), (2, 2))
    with pytest.raises(ValueError, match="n_azim"):
        azimuthal_model(np.zeros((4, 4)), np.ones((4, 4), bool), (2, 2), n_azim=2)
    with pytest.raises(ValueError, match="no known pixel"):
        azimuthal_model(np.zeros((4, 4)), np.zeros((4, 4), bool), (2, 2))


def test_guide_config_is_validated():
    with pytest.raises(DipHealError, match="guide"):
        FitConfig(guide="rings")
    with pytest.raises(DipHealError, match="guide_azim"):
        FitConfig(guide_azim=2)
    assert FitConfig.preset("default").blend and FitConfig.preset("default").guide == "none"
    assert FitConfig.preset("faithful").guide == "none"


def _ring_frame(seed=0, aniso=0.0):
    rng = np.random.default_rng(seed)
    img = rng.poisson(_rings(aniso=aniso)).astype(np.float32)
    heal = np.zeros(img.shape, bool)
    heal[40:45, :] = True
    heal[:, 12:15] = True
    return img, heal


def test_iteration_zero_is_the_azimuthal_fill():
    img, heal = _ring_frame()
    cfg = FitConfig(**TINY, guide="azimuthal", guide_azim=36, guide_smooth=0, holdout_fraction=0.03)
    res = fit(img, heal, cfg, center=(30.3, 35.7))
    first = res.snapshots[0]
    assert first.iteration == 0 and first.val_l1 is not None
    known = ~heal
    y, scale = normalise(img, known)
    fit_px = known & ~res.holdout
    m = azimuthal_model(y, fit_px, (30.3, 35.7), n_azim=36, smooth=0)
    expect = np.expm1(m * scale)
    np.testing.assert_allclose(first.healed[heal], expect[heal], rtol=2e-5, atol=1e-3)
    assert np.array_equal(first.healed[known], img[known])
    assert res.extra["guide"] == "azimuthal"
    assert [s.iteration for s in res.snapshots] == [0, 4, 8]


def test_auto_guide_uses_the_model_on_rings_and_not_on_a_non_radial_pattern():
    img, heal = _ring_frame()
    cfg = FitConfig(**TINY, guide="auto", holdout_fraction=0.05)
    assert fit(img, heal, cfg, center=(30.3, 35.7)).extra["guide"] == "azimuthal"
    # stripes along x, a beam centre far from where the pattern is symmetric
    yy, xx = np.mgrid[0:64, 0:72]
    stripes = np.random.default_rng(1).poisson(200 + 150 * np.sin(xx / 3.0) + yy).astype(np.float32)
    res = fit(stripes, heal, cfg, center=(-40.0, 90.0))
    assert res.extra["guide"] == "none"
    assert all(s.iteration > 0 for s in res.snapshots)


def test_guided_fit_is_seeded():
    img, heal = _ring_frame()
    cfg = FitConfig(**TINY, guide="auto", holdout_fraction=0.05, seed=3)
    a = fit(img, heal, cfg, center=(30.3, 35.7))
    b = fit(img, heal, cfg, center=(30.3, 35.7))
    assert np.array_equal(a.healed, b.healed) and a.iteration == b.iteration


def test_blend_weights_are_chosen_on_held_out_pixels():
    from dip_heal.dip.blend import simplex

    w = simplex(3)
    assert w.shape == (66, 3) and np.allclose(w.sum(axis=1), 1) and (w >= 0).all()
    img, heal = _ring_frame()
    cfg = FitConfig(**TINY, blend=True, holdout_fraction=0.05)
    res = fit(img, heal, cfg, center=(30.3, 35.7))
    assert res.snapshots[0].iteration == 0
    for snap in res.snapshots:
        assert set(snap.weights) == {"dip", "azimuthal", "telea"}
        assert sum(snap.weights.values()) == pytest.approx(1.0)
    # on clean rings about a known centre the azimuthal fill carries the blend
    assert res.extra["blend"]["azimuthal"] >= 0.5
    assert np.array_equal(res.healed[~heal], img[~heal])
    with pytest.raises(DipHealError, match="blend needs held-out"):
        FitConfig(blend=True)


@pytest.mark.slow
def test_gisaxs_default_no_worse_than_without_symmetry_terms():
    """A GISAXS frame (horizon, no centrosymmetry): the default's polar/mirror inputs and its
    azimuthal fill must not make the heal worse than the DIP without them (mean of 3 frames)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the figures below were checked with one thread
    errs: dict[str, list[float]] = {"default": [], "off": []}
    try:
        _gisaxs_errors(errs)
    finally:
        torch.set_num_threads(threads)
    assert np.mean(errs["default"]) <= np.mean(errs["off"]), errs


def _gisaxs_errors(errs: dict[str, list[float]]) -> None:
    from dip_heal.synthetic import synthetic_frame

    for seed in (0, 1, 2):
        f = synthetic_frame((96, 96), detector=None, kind="gisaxs", seed=seed)
        heal = np.zeros((96, 96), bool)
        heal[40:47, :] = True
        heal[:, 60:64] = True
        img = f.counts.astype(np.float32)
        mask = heal | f.beamstop
        scored = heal & ~f.beamstop
        scale = np.log1p(img[~mask].max())
        on = FitConfig.preset("default", depth=3, channels=8, num_iter=60, snapshot_every=10, seed=0)
        off = on.replace(blend=False, polar_input=False, mirror_input=False)
        for name, cfg in (("default", on), ("off", off)):
            h = fit(img, mask, cfg).healed
            errs[name].append(np.abs(np.log1p(h[scored]) - np.log1p(f.truth[scored])).mean() / scale)

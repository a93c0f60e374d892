"""Coarse-to-fine stages and warm starts of the fit engine (issue 16)."""

import numpy as np
import pytest
import torch

from dip_heal.config import FitConfig
from dip_heal.dip import fit
from dip_heal.dip.coarse import coarse_iterations, downsample_problem
from dip_heal.dip.problem import prepare
from dip_heal.errors import DipHealError

TINY = dict(depth=2, channels=8, num_iter=12, snapshot_every=4, holdout_fraction=0.05, select="best_val")


def test_downsample_averages_fitted_pixels_and_drops_mostly_unknown_blocks():
    img = np.arange(64, dtype=np.float32).reshape(8, 8) + 1
    heal = np.zeros((8, 8), bool)
    heal[0, 0:2] = True  # half of block (0, 0)
    heal[2:4, 2:4] = True  # block (1, 1) entirely unknown
    heal[4, 4] = True
    p = prepare(img, heal, 0.0, 0)
    c = downsample_problem(p, 2)
    assert c.y.shape == (4, 4)
    assert not c.fit_px[1, 1]  # no fitted pixel under it
    assert c.fit_px[0, 0]  # two of four fitted: half counts
    assert c.fit_px[2, 2]  # three of four fitted
    assert c.y[2, 2] == pytest.approx(np.mean([p.y[4, 5], p.y[5, 4], p.y[5, 5]]), rel=1e-6)
    assert c.y[3, 3] == pytest.approx(p.y[6:8, 6:8].mean(), rel=1e-6)
    assert not c.holdout.any() and c.scale == p.scale


def test_coarse_iterations_count_and_are_recorded(detector_image):
    img, heal = detector_image
    cfg = FitConfig(**TINY, coarse_fraction=0.5, coarse_factor=2)
    assert coarse_iterations(cfg) == 6
    res = fit(img, heal, cfg)
    its = [m["iteration"] for m in res.metrics if not np.isnan(m["loss"])]
    assert its == list(range(1, 13))  # 6 coarse + 6 full, numbered on
    snaps = [m["iteration"] for m in res.metrics if "val_l1" in m]
    assert snaps == [8, 12]  # snapshots at full resolution only
    assert res.extra["coarse_iterations"] == 6
    assert np.array_equal(res.healed[~heal], img[~heal])


def test_no_coarse_stage_is_the_plain_fit(detector_image):
    img, heal = detector_image
    a = fit(img, heal, FitConfig(**TINY))
    b = fit(img, heal, FitConfig(**TINY, coarse_fraction=0.0, coarse_factor=4))
    assert np.array_equal(a.healed, b.healed)


def test_coarse_stage_changes_the_start_and_is_seeded(detector_image):
    img, heal = detector_image
    cfg = FitConfig(**TINY, coarse_fraction=0.5)
    a, b = fit(img, heal, cfg), fit(img, heal, cfg)
    assert np.array_equal(a.healed, b.healed)
    plain = fit(img, heal, FitConfig(**TINY))
    assert not np.array_equal(a.output, plain.output)


def test_coarse_fraction_is_validated():
    with pytest.raises(DipHealError, match="coarse_fraction"):
        FitConfig(coarse_fraction=1.0)
    with pytest.raises(DipHealError, match="coarse_factor"):
        FitConfig(coarse_factor=0)


def test_warm_start_continues_from_the_given_weights(detector_image):
    img, heal = detector_image
    cfg = FitConfig(**TINY)
    first = fit(img, heal, cfg)
    assert first.extra["init"] == "random" and first.net_state
    # one iteration from the first fit's weights starts where it ended: its loss is far below a fresh start's
    one = cfg.replace(num_iter=1, snapshot_every=1, select="final")
    warm = fit(img, heal, one, init_state=first.net_state)
    cold = fit(img, heal, one)
    assert warm.extra["init"] == "warm"
    assert warm.metrics[-1]["loss"] < cold.metrics[-1]["loss"]
    # the weights given are not changed by the fit
    again = fit(img, heal, one, init_state=first.net_state)
    assert np.array_equal(warm.output, again.output)


def test_warm_start_of_another_network_is_refused(detector_image):
    img, heal = detector_image
    first = fit(img, heal, FitConfig(**TINY))
    with pytest.raises(DipHealError, match="do not fit this network"):
        fit(img, heal, FitConfig(**{**TINY, "channels": 4}), init_state=first.net_state)
    with pytest.raises(DipHealError, match="ensemble"):
        fit(img, heal, FitConfig(**TINY, ensemble=2), init_state=first.net_state)


def test_pretrained_without_matching_weights_is_refused(detector_image, tmp_path):
    from dip_heal.dip.pretrained import pretrained_state

    with pytest.raises(DipHealError, match="no shipped weights fit"):
        pretrained_state(FitConfig(**TINY), 2, root=tmp_path)


def test_pretrained_weights_round_trip(detector_image, tmp_path):
    pytest.importorskip("safetensors")
    from dip_heal.dip.pretrained import pretrained_state, save_pretrained

    img, heal = detector_image
    cfg = FitConfig(**TINY)
    first = fit(img, heal, cfg)
    save_pretrained(tmp_path / "dip-init-tiny", first.net_state["net"], cfg, 2, {"data": "test"})
    state = pretrained_state(cfg, 2, root=tmp_path)
    assert state.keys() == first.net_state["net"].keys()
    assert all(torch.equal(state[k], first.net_state["net"][k]) for k in state)


def test_shipped_pretrained_start_fits_the_default_network(detector_image):
    pytest.importorskip("safetensors")
    import json

    from dip_heal.dip.pretrained import MODELS_DIR, pretrained_dirs

    img, heal = detector_image
    shipped = pretrained_dirs()
    assert MODELS_DIR / "dip-init-default" in shipped
    card = json.loads((MODELS_DIR / "dip-init-default" / "card.json").read_text())
    assert {"data", "seed", "seconds", "commit", "script"} <= card.keys()
    cfg = FitConfig.preset("default", init="pretrained", num_iter=2, snapshot_every=1, time_limit=0.0)
    res = fit(img, heal, cfg)
    assert res.extra["init"] == "pretrained"
    assert np.array_equal(res.healed[~heal], img[~heal])
    random = fit(img, heal, cfg.replace(init="random"))
    assert not np.array_equal(res.output, random.output)

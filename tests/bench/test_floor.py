"""The benchmark's noise floor (issue 19): the truth's neighbours as predictors, the excess above it."""

from __future__ import annotations

import numpy as np
import pytest

from dip_heal.bench import BenchResult, MethodScore, markdown_table
from dip_heal.bench.floor import excess, is_photon_counting, noise_floor


def _smooth(n: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n]
    return 200.0 + 3.0 * xx + 2.0 * yy


def _rows(n: int = 64) -> np.ndarray:
    s = np.zeros((n, n), bool)
    s[20:27] = True
    return s


def test_floor_of_a_noise_free_smooth_frame_is_about_zero():
    truth = _smooth()
    f = noise_floor(truth, _rows(), np.ones_like(truth, bool), float(np.log1p(truth.max())))
    assert f.l1 < 2e-4
    assert f.r > 0.999


def test_floor_of_a_poisson_frame_is_positive_and_the_poisson_predictor_lowers_it():
    rng = np.random.default_rng(0)
    lam = _smooth() / 10.0
    truth = rng.poisson(lam).astype(np.float64)
    scale = float(np.log1p(truth.max()))
    valid = np.ones_like(truth, bool)
    plain = noise_floor(truth, _rows(), valid, scale)
    counting = noise_floor(truth, _rows(), valid, scale, counting=True)
    assert plain.l1 > 0.01
    assert set(counting.by) == {"mean3", "median3", "poisson5"} and counting.counting
    assert 0 < counting.l1 <= plain.l1
    # the best per pixel is below every predictor's own mean
    assert counting.l1 < min(counting.by.values())
    # CC*: noisy truth is correlated less than perfectly with its neighbours
    assert plain.r < 0.999


def test_floor_reads_only_valid_neighbours():
    truth = _smooth()
    valid = np.ones_like(truth, bool)
    poisoned = truth.copy()
    poisoned[19, :] = 1e6  # invalid pixels hold garbage next to the scored rows
    valid[19, :] = False
    scale = float(np.log1p(truth.max()))
    a = noise_floor(truth, _rows(), np.ones_like(valid), scale)
    b = noise_floor(poisoned, _rows(), valid, scale)
    assert b.l1 == pytest.approx(a.l1, abs=2e-4)


def test_excess_is_clipped_at_zero_and_summed_per_method():
    assert excess(0.5, 0.25) == 0.25 and excess(0.1, 0.25) == 0.0
    assert np.isnan(excess(float("nan"), 0.1))
    from dip_heal.bench.floor import Floor

    res = BenchResult(methods=["a", "b"], cases=["c1", "c2"])
    res.scores += [MethodScore("c1", "a", l1=0.030, r=0.9), MethodScore("c2", "a", l1=0.010, r=0.9),
                   MethodScore("c1", "b", l1=0.025, r=0.9), MethodScore("c2", "b", error="boom")]
    res.floors = {"c1": Floor(0.020, 0.99, False, {}), "c2": Floor(0.015, 0.99, True, {})}
    assert res.excess("c2", "a") == 0.0  # below the floor counts 0
    total, n = res.summed_excess("a")
    assert n == 2 and total == pytest.approx(0.010)
    total_b, nb = res.summed_excess("b")
    assert nb == 1 and total_b == pytest.approx(0.005)
    table = markdown_table(res)
    assert "| floor (truth's neighbours) | 20.00 / 0.9900 | 15.00 / 0.9900 (P) |" in table
    assert "| a | 10.00 | 0.00 | 10.00 |" in table
    assert "summed excess" in table
    rows = res.floor_csv().splitlines()
    assert rows[0] == "case,method,l1_e3,r,excess_e3,note"
    assert "c1,a,30.0000,0.90000,10.0000," in rows
    assert any(r.startswith("sum,a,20.0000,0.90000,10.0000,2 cases") for r in rows)


def test_photon_counting_by_name_or_shape():
    assert is_photon_counting(None, (619, 487))  # PILATUS 300K
    assert is_photon_counting({}, (10, 10), detector="Eiger2 4M")
    assert not is_photon_counting(None, (512, 512))

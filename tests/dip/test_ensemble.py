"""`FitConfig.ensemble`: several seeded fits on one held-out set, healed by their log-median."""

from __future__ import annotations

import numpy as np
import pytest

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.dip import fit, make_holdout

CFG = FitConfig.preset("default", depth=3, channels=8, num_iter=20, snapshot_every=10, time_limit=0.0)


def _frame():
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:48, :48]
    lam = 400 / (1 + np.hypot(xx - 20.5, yy - 26.0) / 5) ** 2 + 3
    img = rng.poisson(lam).astype(np.float32)
    heal = np.zeros((48, 48), bool)
    heal[18:23, :] = True
    heal[:, 33:36] = True
    return img, heal


def test_ensemble_is_the_median_of_its_members():
    img, heal = _frame()
    ens = fit(img, heal, CFG.replace(ensemble=3))
    members = ens.extra["members"]
    assert [m["seed"] for m in members] == [0, 1, 2]
    holdout = make_holdout(~heal, heal, CFG.holdout_fraction, 0)
    np.testing.assert_array_equal(ens.holdout, holdout)
    singles = [fit(img, heal, CFG.replace(seed=s), holdout=holdout, center=ens.extra["center"]).healed
               for s in (0, 1, 2)]
    want = np.expm1(np.median(np.log1p(np.stack([s[heal] for s in singles]).astype(np.float64)), axis=0))
    np.testing.assert_allclose(ens.healed[heal], want, rtol=1e-5)
    np.testing.assert_array_equal(ens.healed[~heal], img[~heal])  # measured pixels bit for bit
    # the members differ (else averaging would be pointless) and every member's metrics are kept
    assert not np.array_equal(singles[0][heal], singles[1][heal])
    assert {m["member"] for m in ens.metrics} == {0, 1, 2}
    assert ens.config.ensemble == 3 and ens.seed == 0


def test_ensemble_splits_the_time_limit(caplog):
    img, heal = _frame()
    ens = fit(img, heal, CFG.replace(ensemble=2, time_limit=30.0, num_iter=10))
    assert len(ens.extra["members"]) == 2
    assert ens.seconds < 60


def test_config_refuses_a_zero_ensemble():
    with pytest.raises(DipHealError, match="ensemble"):
        FitConfig(ensemble=0)


def test_fit_to_run_names_member_snapshots(tmp_path):
    import csv

    from dip_heal.runs import fit_to_run

    img, heal = _frame()
    frame = np.where(heal, -1, img).astype(np.int32)
    np.save(tmp_path / "f.npy", frame)
    summary = fit_to_run(tmp_path / "f.npy", tmp_path / "run", CFG.replace(ensemble=2))
    names = sorted(p.name for p in (summary.run_dir / "snapshots").glob("*.npy"))
    assert names[0].startswith("member0_iter_") and names[-1].startswith("member1_iter_")
    rows = list(csv.DictReader(open(summary.run_dir / "metrics.csv")))
    assert {r["member"] for r in rows} == {"0", "1"}
    healed = np.load(summary.healed_path)
    np.testing.assert_array_equal(healed[~heal], frame[~heal])


def test_sweep_refuses_an_ensemble(tmp_path):
    from dip_heal.sweeps import run_sweep

    img, heal = _frame()
    np.save(tmp_path / "f.npy", np.where(heal, -1, img).astype(np.int32))
    with pytest.raises(DipHealError, match="average trials afterwards") as exc:
        run_sweep(tmp_path / "f.npy", tmp_path / "run", base_config=CFG.replace(ensemble=2))
    assert "\n" not in str(exc.value)

"""``dip-heal fit --series``: warm starts along a series, resume, fall back (issue 16)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dip_heal.cli import main
from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.runs import series as series_mod
from dip_heal.runs.series import SeriesPolicy, expand_frames, fit_series
from dip_heal.synthetic import synthetic_series

CFG = FitConfig(depth=2, channels=8, num_iter=16, snapshot_every=4, holdout_fraction=0.05, select="best_val",
                patience=2)


@pytest.fixture
def frames(tmp_path):
    fs = synthetic_series(4, (48, 48), detector=None, kind="saxs", seed=3, counts=2e3)
    paths = []
    for k, f in enumerate(fs):
        p = tmp_path / f"scan_{k:02d}.npy"
        np.save(p, f.counts)
        paths.append(p)
    heal = fs[0].heal.copy()
    heal[20:23, :] = True
    np.save(tmp_path / "mask.npy", heal)
    return paths, tmp_path / "mask.npy"


def test_series_warm_starts_after_the_first_frame(frames, tmp_path):
    paths, mask = frames
    s = fit_series(paths, tmp_path / "S", CFG, mask_path=mask)
    assert (s.fitted, s.skipped) == (4, 0)
    starts = [r["start"] for r in s.rows]
    assert starts[0] == "random" and set(starts[1:]) <= {"warm", "random (fallback)"}
    assert starts.count("warm") >= 2
    for k, p in enumerate(paths):
        d = tmp_path / "S" / "frames" / f"{k:04d}_{p.stem}"
        rec = json.loads((d / "config.json").read_text())
        assert rec["seed"] == CFG.seed and rec["input"].endswith(p.name)
        healed = np.load(d / "healed.npy")
        raw, heal = np.load(p), np.load(d / "heal_mask.npy")
        assert np.array_equal(healed[~heal], raw[~heal])  # measured pixels bit-exact
        assert (d / "net.pt").is_file()
        if rec["series"]["start"] == "warm":
            assert rec["config"]["num_iter"] == SeriesPolicy().warm_config(CFG).num_iter
            assert rec["series"]["from"] == f"{k - 1:04d}_{paths[k - 1].stem}"
    table = (tmp_path / "S" / "series.csv").read_text().splitlines()
    assert len(table) == 5 and table[0].startswith("index,frame,start")


def test_interrupted_series_continues_without_refitting(frames, tmp_path, monkeypatch):
    paths, mask = frames
    real = series_mod.fit_to_run
    calls = []

    def dying(frame, folder, *a, **kw):
        calls.append(frame)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed during the third frame
        return real(frame, folder, *a, **kw)

    monkeypatch.setattr(series_mod, "fit_to_run", dying)
    with pytest.raises(KeyboardInterrupt):
        fit_series(paths, tmp_path / "S", CFG, mask_path=mask)
    done = sorted(p.name for p in (tmp_path / "S" / "frames").iterdir() if not p.name.startswith("."))
    assert done == ["0000_scan_00", "0001_scan_01"]
    before = (tmp_path / "S" / "frames" / "0001_scan_01" / "healed.npy").stat().st_mtime_ns
    monkeypatch.setattr(series_mod, "fit_to_run", real)
    s = fit_series(paths, tmp_path / "S", CFG, mask_path=mask)
    assert (s.fitted, s.skipped) == (2, 2)
    assert (tmp_path / "S" / "frames" / "0001_scan_01" / "healed.npy").stat().st_mtime_ns == before
    assert not list((tmp_path / "S" / "frames").glob(".*"))  # no partial folder left
    rec = json.loads((tmp_path / "S" / "frames" / "0002_scan_02" / "config.json").read_text())
    assert rec["series"]["from"] == "0001_scan_01"


def test_another_series_in_the_folder_is_refused(frames, tmp_path):
    paths, mask = frames
    fit_series(paths[:2], tmp_path / "S", CFG, mask_path=mask)
    with pytest.raises(DipHealError, match="another series"):
        fit_series(paths[:3], tmp_path / "S", CFG, mask_path=mask)
    s = fit_series(paths[:3], tmp_path / "S", CFG, mask_path=mask, force=True)
    assert s.fitted == 3


def test_a_changed_pattern_falls_back_to_a_full_fit(frames, tmp_path):
    paths, mask = frames
    rng = np.random.default_rng(0)
    other = tmp_path / "other.npy"
    np.save(other, rng.poisson(rng.uniform(1, 5000, (48, 48))).astype(np.int32))  # nothing like the scan
    s = fit_series([paths[0], other], tmp_path / "S", CFG, mask_path=mask)
    row = s.rows[1]
    assert row["start"] == "random (fallback)" and "refitted in full" in row["note"]
    assert s.fallbacks == 1


def test_cli_series_and_usage_errors(frames, tmp_path):
    paths, mask = frames
    cfg = tmp_path / "cfg.json"
    CFG.to_json(cfg)
    r = CliRunner().invoke(main, ["fit", str(tmp_path / "scan_0*.npy"), "--series", "--mask", str(mask),
                                  "--config", str(cfg), "--out", str(tmp_path / "S"), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "series of 4 frames: 4 fitted now" in r.output
    r = CliRunner().invoke(main, ["fit", str(paths[0]), str(paths[1]), "--mask", str(mask)])
    assert r.exit_code == 2 and "--series" in r.output
    r = CliRunner().invoke(main, ["fit", str(paths[0]), "--series", "--mask", str(mask)])
    assert r.exit_code == 2 and "--out" in r.output


def test_expand_frames_errors(tmp_path):
    with pytest.raises(DipHealError, match="matches no file"):
        expand_frames([str(tmp_path / "*.cbf")])
    with pytest.raises(DipHealError, match="no such file"):
        expand_frames([str(tmp_path / "a.cbf")])
    (tmp_path / "a.npy").write_bytes(b"")
    with pytest.raises(DipHealError, match="twice"):
        expand_frames([tmp_path / "a.npy", str(tmp_path / "a.npy")])


def test_plateau_rule_and_policy_checks():
    p = SeriesPolicy(warm_patience=2, warm_tol=0.05)
    assert not p.plateaued([1.0, 0.9])  # too few snapshots
    assert not p.plateaued([1.0, 0.9, 0.8, 0.7])  # still falling by more than 5 %
    assert p.plateaued([1.0, 0.8, 0.79, 0.81])  # 0.79 is less than 5 % below 0.8
    assert not SeriesPolicy(warm_patience=2, warm_tol=0.0).plateaued([1.0, 1.0, 1.0, 1.0])  # warm_tol 0: off
    assert SeriesPolicy(warm_patience=2).plateaued([1.0, 1.0, 1.0, 1.0])  # the default, 1 %: a plateau
    for bad in ({"warm_tol": 1.0}, {"warm_tol": -0.1}, {"warm_shrink": 0.0}, {"warm_shrink": 1.5}):
        with pytest.raises(DipHealError, match=next(iter(bad))):
            SeriesPolicy(**bad)


def test_warm_frames_stop_on_a_plateau_and_shrink_toward_their_random_start(frames, tmp_path):
    paths, mask = frames
    # the warm budget: 16 iterations, 4 snapshots; val_tol 0.99: the fit's own patience never stops one
    cfg = CFG.replace(num_iter=64, val_tol=0.99)
    long = fit_series(paths[:3], tmp_path / "A", cfg, mask_path=mask,
                      policy=SeriesPolicy(warm_patience=1, warm_tol=0.0))  # the plateau rule off
    short = fit_series(paths[:3], tmp_path / "B", cfg, mask_path=mask,
                       policy=SeriesPolicy(warm_patience=1, warm_tol=0.5))  # any gain under 50 %: a plateau
    assert [r["iterations"] for r in long.rows[1:]] == [16, 16]
    assert all(r["iterations"] < 16 for r in short.rows[1:])
    rec = json.loads((tmp_path / "B" / "series.json").read_text())
    assert rec["policy"]["warm_tol"] == 0.5


def test_shrink_starts_between_the_warm_weights_and_the_fits_own_random_start():
    from dip_heal import fit
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame((32, 32), detector=None, seed=1)
    image = np.where(f.heal, np.nan, f.counts).astype(np.float32)
    cfg = CFG.replace(num_iter=4, reg_noise_std=0.0)
    warm = fit(image, f.heal, cfg).net_state["net"]
    still = cfg.replace(lr=1e-12)  # Adam moves each weight by about 1e-12 a step: the start comes back
    rand = fit(image, f.heal, still).net_state["net"]
    half = fit(image, f.heal, still, init_state={"net": warm, "shrink": 0.5}).net_state["net"]
    same = fit(image, f.heal, still, init_state={"net": warm}).net_state["net"]
    k = next(k for k, v in warm.items() if v.ndim == 4)  # a convolution's weights
    assert not np.allclose(warm[k].numpy(), rand[k].numpy())
    np.testing.assert_allclose(half[k].numpy(), 0.5 * warm[k].numpy() + 0.5 * rand[k].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(same[k].numpy(), warm[k].numpy(), rtol=1e-6, atol=1e-9)

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

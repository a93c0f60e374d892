"""``--poni`` (issue 18) in ``fit`` (one fit and ``--grid``), ``bench`` cases, ``bulk`` and sweep files."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dip_heal.cli import main

SHAPE = (40, 48)


def _poni(tmp_path, shape=SHAPE, center=(30.0, 18.0), tilt=0.0, name="beamline.poni"):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    ai = AzimuthalIntegrator(detector=Detector(pixel1=172e-6, pixel2=172e-6, max_shape=shape), wavelength=1e-10)
    ai.setFit2D(80.0, center[0] + 0.5, center[1] + 0.5, tilt=tilt, tiltPlanRotation=30.0)
    ai.save(str(tmp_path / name))
    return tmp_path / name


def _frame(tmp_path, shape=SHAPE, center=(30.0, 18.0)):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(xx - center[0], yy - center[1])
    img = np.random.default_rng(0).poisson(2000.0 / (1 + r) ** 1.3 * (1 + 0.5 * np.exp(-((r - 12) ** 2) / 4)) + 3)
    img = img.astype(np.int32)
    img[:, 10:13] = -1  # a gap (sentinel) to heal
    path = tmp_path / "frame.npy"
    np.save(path, img)
    return path, img


@pytest.fixture
def guided_config(tmp_path):
    from dip_heal.config import FitConfig

    p = tmp_path / "cfg.json"
    FitConfig(depth=2, channels=8, num_iter=4, snapshot_every=2, seed=1, polar_input=True, guide="azimuthal",
              holdout_fraction=0.0).to_json(p)
    return p


def test_fit_with_poni_records_the_geometry(tmp_path, guided_config):
    path, img = _frame(tmp_path)
    poni = _poni(tmp_path, tilt=10.0)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["fit", str(path), "--poni", str(poni), "--config", str(guided_config),
                                    "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "config.json").read_text())
    geo = rec["geometry"]
    assert geo["poni"] == str(poni) and len(geo["sha256"]) == 64 and geo["tilt_deg"] == pytest.approx(10.0)
    assert rec["center"] == pytest.approx(geo["center_xy"])
    prov = [json.loads(p.read_text()) for p in out.glob("*.provenance.json")]
    assert prov and prov[0]["geometry"]["sha256"] == geo["sha256"]
    healed = np.load(out / "healed.npy")
    assert np.array_equal(healed[img >= 0], img[img >= 0])


def test_fit_poni_errors_are_one_line_and_write_nothing(tmp_path, guided_config):
    path, _ = _frame(tmp_path)
    other = _poni(tmp_path, shape=(40, 50), name="other.poni")
    garbled = tmp_path / "garbled.poni"
    garbled.write_bytes(b"\x00\x01 not a calibration\nDistance: -3\n")
    for args, msg in ((["--poni", str(other)], "the frame is 40x48"),
                      (["--poni", str(tmp_path / "missing.poni")], "no such PONI file"),
                      (["--poni", str(garbled)], "PONI file"),
                      (["--poni", str(other), "--center", "3,4"], "--center and --poni")):
        out = tmp_path / "r"
        res = CliRunner().invoke(main, ["fit", str(path), *args, "--config", str(guided_config), "--out", str(out)])
        assert res.exit_code != 0 and msg in res.output, (args, res.output)
        errors = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
        assert "Traceback" not in res.output and len(errors) == 1, res.output
        assert not out.exists()


TOML = """sampler = "grid"
{poni}
[config]
depth = 2
channels = 8
num_iter = 2
snapshot_every = 1
holdout_fraction = 0.05
polar_input = true
[params]
lr = [1e-2, 1e-3]
seed = [0]
"""


def test_sweep_file_poni_is_relative_to_the_file_and_recorded(tmp_path):
    from dip_heal.sweep.spec import load_sweep

    path, _ = _frame(tmp_path)
    poni = _poni(tmp_path)
    (tmp_path / "sw").mkdir()
    toml = tmp_path / "sw" / "s.toml"
    toml.write_text(TOML.format(poni='poni = "../beamline.poni"'))
    spec = load_sweep(toml)
    assert spec.poni == str(poni.resolve()) and spec.to_dict()["poni"] == spec.poni
    bad = tmp_path / "bad.toml"
    bad.write_text(TOML.format(poni="poni = 3"))
    with pytest.raises(Exception, match="expected the path of a .poni file"):
        load_sweep(bad)
    out = tmp_path / "sweep"
    res = CliRunner().invoke(main, ["fit", str(path), "--sweep", str(toml), "--trials", "1", "--out", str(out),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "sweep.json").read_text())
    assert rec["geometry"]["sha256"] and rec["geometry"]["poni"] == str(poni.resolve())


def test_grid_with_poni_flag(tmp_path):
    path, _ = _frame(tmp_path)
    poni = _poni(tmp_path)
    toml = tmp_path / "s.toml"
    toml.write_text(TOML.format(poni=""))
    out = tmp_path / "sweep"
    res = CliRunner().invoke(main, ["fit", str(path), "--sweep", str(toml), "--poni", str(poni), "--trials", "1",
                                    "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "sweep.json").read_text())["geometry"]["poni"] == str(poni)


def test_bench_case_poni_reaches_the_ring_fills(tmp_path):
    from dip_heal.bench.cases import load_cases
    from dip_heal.bench.prepare import prepare_case
    from dip_heal.bench.run import run_case

    # a 260 x 120 "detector" with rings about (60.5, 120.5) in its pixel centres; the case crops it at
    # (4, 6), 240 rows tall so the pasted 17-row gaps (every 229 rows) cross it
    shape = (260, 120)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(xx - 60.5, yy - 120.5)
    np.save(tmp_path / "det.npy", (3000.0 / (1 + r) ** 1.2 * (1 + 0.6 * np.exp(-((r - 25) ** 2) / 6)) + 5))
    _poni(tmp_path, shape=shape, center=(60.5, 120.5), name="det.poni")
    cases = [{"name": "c", "file": "det.npy", "crop": [4, 6, 240, 100], "invalid": "negative", "seed": 1,
              "poni": "det.poni"}]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (case,), _ = load_cases(tmp_path / "cases.json")
    prep = prepare_case(case, tmp_path)
    scores, healed = run_case(prep, ["azimuthal", "pyfai"], data_dir=tmp_path)
    assert all(s.ok for s in scores), [s.error for s in scores]
    # the PONI's rings are the pattern's: far better than a centre 6 px off
    import dataclasses

    off = dataclasses.replace(prep, case=dataclasses.replace(case, poni=None, center=(66.5, 126.5)))
    worse, _ = run_case(off, ["azimuthal"], data_dir=tmp_path)
    assert scores[0].l1 < 0.5 * worse[0].l1


def test_bulk_with_poni_masks_at_its_centre_and_records_it(tmp_path):
    path, img = _frame(tmp_path)
    poni = _poni(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["bulk", str(path), "--method", "azimuthal", "--poni", str(poni), "--out",
                                    str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    prov = json.loads((out / "frame_healed.npy.provenance.json").read_text())
    assert prov["geometry"]["poni"] == str(poni.resolve()) and prov["method"] == "azimuthal"
    healed = np.load(out / "frame_healed.npy")
    assert np.array_equal(healed[img >= 0], img[img >= 0]) and (healed[img < 0] > 0).all()
    bad = CliRunner().invoke(main, ["bulk", str(path), "--poni", str(_poni(tmp_path, shape=(5, 5), name="s.poni")),
                                    "--method", "telea", "--out", str(tmp_path / "o2"), "--no-progress"])
    assert bad.exit_code != 0 and "the frame is 40x48" in bad.output


def test_bench_dip_gets_the_case_geometry_for_its_crop(tmp_path, monkeypatch):
    import dip_heal.dip as dip_pkg
    from dip_heal.bench.cases import load_cases
    from dip_heal.bench.prepare import prepare_case
    from dip_heal.bench.run import run_case

    shape = (260, 120)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    np.save(tmp_path / "det.npy", 3000.0 / (1 + np.hypot(xx - 60.5, yy - 120.5)) + 5)
    _poni(tmp_path, shape=shape, center=(60.5, 120.5), name="det.poni")
    (tmp_path / "cases.json").write_text(json.dumps([{"name": "c", "file": "det.npy", "crop": [4, 6, 240, 100],
                                                      "seed": 1, "poni": "det.poni"}]))
    seen = {}
    real_fit = dip_pkg.fit

    def spy(image, heal, config, **kw):
        seen["geometry"] = kw.get("geometry")
        return real_fit(image, heal, config.replace(depth=2, channels=8, num_iter=2, snapshot_every=1), **kw)

    monkeypatch.setattr(dip_pkg, "fit", spy)
    (case,), _ = load_cases(tmp_path / "cases.json")
    scores, _ = run_case(prepare_case(case, tmp_path), ["dip"], data_dir=tmp_path)
    assert scores[0].ok, scores[0].error
    geo = seen["geometry"]
    assert geo is not None and geo.offset == (4, 6) and geo.center == pytest.approx((54.5, 116.5))

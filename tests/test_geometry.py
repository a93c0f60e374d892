"""The beamline geometry (issue 18): a PONI read with pyFAI, its centre, its rings, and its use in the fits."""

import json

import numpy as np
import pytest

from dip_heal.errors import DipHealError
from dip_heal.geometry import Geometry, load_geometry
from dip_heal.polar import azimuthal_model

SHAPE = (48, 56)


def _write_poni(tmp_path, *, shape=SHAPE, center=(20.0, 25.0), tilt=0.0, tilt_plan=0.0, dist_mm=60.0,
                name="g.poni", pixel=172e-6):
    """A PONI written by pyFAI for a generic detector of ``shape`` (Fit2D centre in pixels)."""
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = Detector(pixel1=pixel, pixel2=pixel, max_shape=shape)
    ai = AzimuthalIntegrator(detector=det, wavelength=1.0e-10)
    ai.setFit2D(dist_mm, center[0], center[1], tilt=tilt, tiltPlanRotation=tilt_plan)
    path = tmp_path / name
    ai.save(str(path))
    return path, ai


def _ring_frame(ai, shape=SHAPE):
    """Rings in 2theta of pyFAI's own geometry (so tilted rings are ellipses in pixels)."""
    tth = np.asarray(ai.center_array(shape, unit="2th_rad"), float)
    r = 60e-3 * np.tan(tth) / 172e-6
    return 2000.0 / (1 + r) ** 1.5 * (1 + 0.8 * np.exp(-((r - 14) ** 2) / 3)) + 1.0


def test_centre_from_pyfai_in_pixel_centre_coordinates(tmp_path):
    path, ai = _write_poni(tmp_path, center=(20.0, 25.0))
    geo = load_geometry(path, SHAPE)
    # pyFAI's Fit2D centre counts from the detector's corner; dip-heal's from pixel centres
    assert geo.center == pytest.approx((19.5, 24.5))
    r, chi = geo.polar(SHAPE)
    assert r.shape == SHAPE and chi.shape == SHAPE
    # pyFAI's own per-pixel 2theta and chi, as a radius in pixels
    tth = np.asarray(ai.center_array(SHAPE, unit="2th_rad"))
    np.testing.assert_allclose(r, ai.dist * np.tan(tth) / 172e-6, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.cos(chi), np.cos(np.asarray(ai.center_array(SHAPE, unit="chi_rad"))), atol=1e-9)
    # untilted: the radius is the distance in pixels from the centre
    yy, xx = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    np.testing.assert_allclose(r, np.hypot(xx - 19.5, yy - 24.5), rtol=1e-3, atol=1e-3)


def test_a_crop_shifts_the_centre_and_a_padded_grid_extends_the_rings(tmp_path):
    path, _ = _write_poni(tmp_path, center=(20.0, 25.0))
    geo = load_geometry(path, (20, 30), offset=(10, 5))
    assert geo.center == pytest.approx((14.5, 14.5))
    r, _ = geo.polar((20, 30), pads=(2, 3, 4, 5))
    assert r.shape == (25, 39)
    # the padded grid's pixel (row 2, col 4) is the crop's (0, 0), the detector's (10, 5)
    assert r[2, 4] == pytest.approx(np.hypot(5 - 19.5, 10 - 24.5), rel=1e-3)
    with pytest.raises(DipHealError, match="the frame is 20x30"):
        load_geometry(path, (20, 30), offset=(40, 0))


def test_bad_ponis_are_one_line_errors(tmp_path):
    with pytest.raises(DipHealError, match="no such PONI file") as e:
        load_geometry(tmp_path / "missing.poni")
    assert "\n" not in str(e.value)
    bad = tmp_path / "bad.poni"
    bad.write_text("Distance: banana\nPoni1: ???\n")
    with pytest.raises(DipHealError, match="cannot read PONI file|expected positive") as e:
        load_geometry(bad)
    assert "\n" not in str(e.value)
    path, _ = _write_poni(tmp_path)
    with pytest.raises(DipHealError, match=r"is for a 48x56 .*the frame is 40x56") as e:
        load_geometry(path, (40, 56))
    assert "\n" not in str(e.value)


def test_record_names_the_file_its_hash_and_parameters(tmp_path):
    import hashlib

    path, _ = _write_poni(tmp_path, tilt=2.0, tilt_plan=30.0)
    rec = load_geometry(path, SHAPE).record()
    json.dumps(rec)
    assert rec["poni"] == str(path)
    assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec["tilt_deg"] == pytest.approx(2.0) and rec["wavelength_m"] == pytest.approx(1e-10)
    assert rec["detector_shape"] == list(SHAPE) and rec["distance_m"] > 0


def test_flipped_detector_orientation_keeps_the_centre_where_2theta_vanishes(tmp_path):
    import pyFAI.detectors
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = pyFAI.detectors.detector_factory("Pilatus100k", {"orientation": 1})
    ai = AzimuthalIntegrator(detector=det, wavelength=1e-10)
    ai.setFit2D(100, 100.0, 50.0)
    ai.save(str(tmp_path / "o1.poni"))
    geo = load_geometry(tmp_path / "o1.poni", det.shape)
    r, _ = geo.polar(det.shape)
    iy, ix = np.unravel_index(np.argmin(r), r.shape)
    assert abs(ix - geo.center[0]) <= 0.5 and abs(iy - geo.center[1]) <= 0.5


def test_azimuthal_model_follows_tilted_rings_better_than_circles(tmp_path):
    path, ai = _write_poni(tmp_path, center=(20.0, 25.0), tilt=30.0, tilt_plan=20.0)
    geo = load_geometry(path, SHAPE)
    img = np.log1p(_ring_frame(ai))
    known = np.ones(SHAPE, bool)
    known[4:8, :] = False  # gaps away from the steep centre, across the tilted rings
    known[:, 40:44] = False
    hole = ~known
    with_geo = azimuthal_model(img, known, None, n_azim=36, smooth=0, geometry=geo)
    circles = azimuthal_model(img, known, geo.center, n_azim=36, smooth=0)
    e_geo = np.abs(with_geo[hole] - img[hole]).mean()
    e_circ = np.abs(circles[hole] - img[hole]).mean()
    assert e_geo < 0.5 * e_circ
    padded = azimuthal_model(img, known, None, n_azim=36, smooth=0, pads=(1, 2, 3, 4), geometry=geo)
    assert padded.shape == (SHAPE[0] + 3, SHAPE[1] + 7) and np.isfinite(padded).all()
    np.testing.assert_allclose(padded[1:-2, 3:-4], with_geo, atol=1e-6)


def test_an_untilted_poni_gives_the_model_about_its_centre(tmp_path):
    path, ai = _write_poni(tmp_path, center=(20.0, 25.0))
    geo = load_geometry(path, SHAPE)
    img = np.log1p(_ring_frame(ai))
    known = np.ones(SHAPE, bool)
    known[:, 30:34] = False
    a = azimuthal_model(img, known, None, n_azim=36, smooth=1, geometry=geo)
    b = azimuthal_model(img, known, geo.center, n_azim=36, smooth=1)
    assert np.abs(a - b).max() < 2e-3


def test_fit_with_a_poni_uses_its_centre_and_rings(tmp_path):
    from dip_heal.config import FitConfig
    from dip_heal.dip import fit

    path, ai = _write_poni(tmp_path, center=(20.0, 25.0), tilt=20.0, tilt_plan=10.0)
    img = _ring_frame(ai)
    heal = np.zeros(SHAPE, bool)
    heal[:, 36:40] = True
    cfg = FitConfig(depth=2, channels=8, num_iter=4, snapshot_every=2, polar_input=True, guide="azimuthal",
                    holdout_fraction=0.0)
    res = fit(img, heal, cfg, geometry=path)
    assert res.extra["center"] == pytest.approx((19.5, 24.5))
    assert res.extra["geometry"]["poni"] == str(path)
    assert np.isfinite(res.healed).all()
    with pytest.raises(DipHealError, match="the frame is 40x56"):
        fit(img[:40], heal[:40], cfg, geometry=path)


def test_polar_channels_are_pyfai_s(tmp_path):
    from dip_heal.config import FitConfig
    from dip_heal.dip.inputs import guide_channels

    path, _ = _write_poni(tmp_path, center=(20.0, 25.0), tilt=25.0, tilt_plan=0.0)
    geo = load_geometry(path, SHAPE)
    y = np.zeros(SHAPE, np.float32)
    cfg = FitConfig(polar_input=True, guide="none")
    chans, center = guide_channels(cfg, y, np.ones(SHAPE, bool), (3.0, 3.0), (0, 0, 0, 0), geometry=geo)
    r, chi = geo.polar(SHAPE)
    assert center == pytest.approx(geo.center)
    np.testing.assert_allclose(chans[0], r / r.max(), atol=1e-6)
    np.testing.assert_allclose(chans[1], np.cos(chi), atol=1e-6)
    plain, _ = guide_channels(cfg, y, np.ones(SHAPE, bool), geo.center, (0, 0, 0, 0))
    assert np.abs(plain[0] - chans[0]).max() > 0.01  # the tilt changes the radius channel


def test_heal_with_a_poni_masks_and_fits_at_its_centre(tmp_path):
    import dip_heal
    from dip_heal.config import FitConfig

    path, ai = _write_poni(tmp_path, center=(20.0, 25.0))
    img = np.rint(_ring_frame(ai)).astype(np.int32)
    img[:, 40:43] = -1
    cfg = FitConfig(depth=2, channels=8, num_iter=2, snapshot_every=1, polar_input=True, holdout_fraction=0.0)
    out = dip_heal.heal(img, config=cfg, poni=path)
    rec = out.meta["dip_heal"]
    assert rec["geometry"]["poni"] == str(path) and rec["center"] == pytest.approx([19.5, 24.5])
    assert np.array_equal(out.raw[img >= 0], img[img >= 0])
    with pytest.raises(DipHealError, match="expected one"):
        dip_heal.heal(img, config=cfg, poni=path, center=(3.0, 3.0))


def test_a_poni_and_a_centre_together_are_refused(tmp_path):
    path, _ = _write_poni(tmp_path, center=(20.0, 25.0))
    with pytest.raises(DipHealError, match="the PONI holds the beam centre"):
        load_geometry(path, None, center=(3.0, 4.0))
    assert load_geometry(None, None, center=(3.0, 4.0)) is None  # no PONI: the centre is the caller's

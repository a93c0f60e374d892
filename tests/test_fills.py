"""The classical fills (dip_heal.fills): biharmonic, OpenCV's 16-bit path, pyFAI; the log space they fill in."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cross_gap, ring_pattern

from dip_heal._intensity import from_log, to_log
from dip_heal.errors import DipHealError
from dip_heal.fills import heal_biharmonic, heal_ns, heal_pyfai, heal_telea

FILLS = [heal_biharmonic, heal_ns, heal_telea]


def _log_err(out, truth, heal):
    _, s = to_log(truth, ~heal)
    return float(np.mean(np.abs(np.log1p(out[heal]) - np.log1p(truth[heal])) / s))


# ----------------------------------------------------------------------------- normalisation
def test_to_log_hand_values():
    img = np.array([[0.0, 3.0], [-2.0, np.nan]])
    known = np.array([[True, True], [True, False]])
    y, s = to_log(img, known)
    assert s == pytest.approx(np.log(4.0))
    np.testing.assert_allclose(y, [[0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(from_log(y, s), [[0.0, 3.0], [0.0, 0.0]])


def test_to_log_flat_zero_frame_uses_unit_scale():
    y, s = to_log(np.zeros((3, 3)), np.ones((3, 3), bool))
    assert s == 1.0 and not y.any()


# ----------------------------------------------------------------------------- fills
@pytest.mark.parametrize("func", FILLS + [heal_pyfai])
def test_fill_keeps_measured_pixels_and_fills_holes(func, detector_image):
    image, heal = detector_image
    kw = {"center": (33.0, 30.5)} if func is heal_pyfai else {}
    out = func(image, heal, **kw)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_array_equal(out[~heal], image[~heal])
    assert np.isfinite(out).all()
    assert (out[heal] >= 0).all() and out[heal].max() > 1  # counts, not the -1 sentinel or a [0, 1] range


@pytest.mark.parametrize("func", FILLS)
@pytest.mark.parametrize("space", ["log", "linear"])
def test_fill_is_close_on_a_smooth_pattern(func, space):
    truth = ring_pattern()
    heal = cross_gap()
    image = np.where(heal, -1.0, truth)
    out = func(image, heal, space=space)
    assert _log_err(out, truth, heal) < 0.02


def test_pyfai_follows_rings_with_a_given_centre():
    truth = ring_pattern()
    heal = cross_gap()
    out = heal_pyfai(np.where(heal, 0, truth), heal, center=(33.0, 30.5))
    # azimuthal interpolation of an exactly isotropic pattern: near exact away from the centre
    far = heal & (np.hypot(*np.mgrid[0:64, 0:64] - np.array([30.5, 33.0])[:, None, None]) > 6)
    assert _log_err(out, truth, far) < 0.01


def test_pyfai_estimates_the_centre_when_none_given():
    truth = ring_pattern()
    heal = cross_gap()
    out = heal_pyfai(np.where(heal, 0, truth), heal)
    assert _log_err(out, truth, heal) < 0.03


def test_pyfai_poni_with_crop_offset_matches_centre(tmp_path):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    # calibration of a 100 x 100 detector; the image is its crop starting at (10, 20)
    ai = AzimuthalIntegrator(detector=Detector(pixel1=172e-6, pixel2=172e-6, max_shape=(100, 100)))
    # pyFAI counts from the corner: pixel centre (53.2, 40.6), near the rings' (53, 40.5) and off the
    # pixel grid's symmetry lines (pixels exactly on a bin edge may fall either side in two integrators)
    ai.setFit2D(1000.0, 53.7, 41.1)
    ai.wavelength = 1e-10
    poni = tmp_path / "geo.poni"
    ai.save(str(poni))
    truth = ring_pattern()  # centred at (33, 30.5) in crop pixels = (53, 40.5) in detector pixels
    heal = cross_gap()
    image = np.where(heal, 0, truth)
    a = heal_pyfai(image, heal, poni=poni, offset=(10, 20))
    b = heal_pyfai(image, heal, center=(53.2, 40.6), offset=(10, 20))
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    # the same centre as dip_heal.geometry reads from the PONI
    from dip_heal.geometry import load_geometry

    assert load_geometry(poni, (100, 100)).center == pytest.approx((53.2, 40.6))


def test_biharmonic_never_rescales_integers():
    truth = np.rint(ring_pattern()).astype(np.int32)
    heal = cross_gap()
    image = np.where(heal, -1, truth).astype(np.int32)
    out = heal_biharmonic(image, heal, space="linear")
    assert _log_err(out, truth.astype(float), heal) < 0.02


@pytest.mark.parametrize("func", [heal_ns, heal_telea])
def test_opencv_16bit_path_keeps_large_counts(func):
    truth = ring_pattern() * 4000.0  # ~1e5 counts in the holes: beyond uint16
    heal = cross_gap()
    out = func(np.where(heal, 0, truth), heal, space="linear")
    assert out[heal].max() > 65535
    assert _log_err(out, truth, heal) < 0.02


def test_nothing_to_heal_returns_the_image():
    img = ring_pattern()
    for func in FILLS:
        np.testing.assert_array_equal(func(img, np.zeros(img.shape, bool)), img.astype(np.float32))


def test_non_finite_pixels_are_healed_too():
    img = ring_pattern()
    img[5, 5] = np.nan
    out = heal_telea(img, np.zeros(img.shape, bool))
    assert np.isfinite(out).all()


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "image, heal, kw, match",
    [
        (np.zeros((4, 4, 2)), np.zeros((4, 4), bool), {}, "2-D"),
        (np.ones((4, 4)), np.zeros((4, 5), bool), {}, "does not match"),
        (np.ones((4, 4)), np.ones((4, 4), bool), {}, "every pixel"),
        (np.ones((4, 4)), np.array([["a"] * 4] * 4), {}, "dtype"),
        (np.ones((4, 4)), np.eye(4, dtype=bool), {"space": "sqrt"}, "space"),
    ],
)
def test_bad_input(image, heal, kw, match):
    with pytest.raises(DipHealError, match=match):
        heal_biharmonic(image, heal, **kw)


def test_bad_radius():
    with pytest.raises(DipHealError, match="radius"):
        heal_telea(np.ones((8, 8)), np.eye(8, dtype=bool), radius=0)


def test_pyfai_missing_poni(tmp_path):
    with pytest.raises(DipHealError, match="PONI"):
        heal_pyfai(np.ones((8, 8)), np.eye(8, dtype=bool), poni=tmp_path / "nope.poni")


def test_pyfai_bad_pixel_size():
    with pytest.raises(DipHealError, match="pixel_size"):
        heal_pyfai(np.ones((8, 8)), np.eye(8, dtype=bool), center=(4, 4), pixel_size=0)


# ----------------------------------------------------------------------------- registry
def test_pyfai_linear_space_with_negative_values():
    truth = ring_pattern()
    truth[::7, ::5] = -1.5  # reduced data may hold small negative values near pyFAI's dummy (-1)
    heal = cross_gap()
    out = heal_pyfai(np.where(heal, 0, truth), heal, center=(33.0, 30.5), space="linear")
    assert np.isfinite(out).all() and (out[heal] >= 0).all()
    np.testing.assert_array_equal(out[~heal], truth[~heal].astype(np.float32))

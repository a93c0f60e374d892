"""The method registry and the classical fills (biharmonic, OpenCV 16-bit, pyFAI, dip)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dip_heal import classical
from dip_heal.classical import (
    METHODS,
    from_log,
    heal_biharmonic,
    heal_method,
    heal_ns,
    heal_pyfai,
    heal_telea,
    method_names,
    register_method,
    to_log,
)
from dip_heal.errors import DipHealError

FILLS = [heal_biharmonic, heal_ns, heal_telea]


def _rings(shape=(64, 64), cx=33.0, cy=30.5):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(yy - cy, xx - cx)
    return (2000.0 / (1.0 + r) ** 1.5 + 80.0 * np.exp(-(((r - 18.0) / 2.0) ** 2)) + 2.0).astype(np.float64)


def _gap(shape=(64, 64)):
    heal = np.zeros(shape, bool)
    heal[40:44, :] = True
    heal[:, 20:23] = True
    return heal


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
    truth = _rings()
    heal = _gap()
    image = np.where(heal, -1.0, truth)
    out = func(image, heal, space=space)
    assert _log_err(out, truth, heal) < 0.02


def test_pyfai_follows_rings_with_a_given_centre():
    truth = _rings()
    heal = _gap()
    out = heal_pyfai(np.where(heal, 0, truth), heal, center=(33.0, 30.5))
    # azimuthal interpolation of an exactly isotropic pattern: near exact away from the centre
    far = heal & (np.hypot(*np.mgrid[0:64, 0:64] - np.array([30.5, 33.0])[:, None, None]) > 6)
    assert _log_err(out, truth, far) < 0.01


def test_pyfai_estimates_the_centre_when_none_given():
    truth = _rings()
    heal = _gap()
    out = heal_pyfai(np.where(heal, 0, truth), heal)
    assert _log_err(out, truth, heal) < 0.03


def test_pyfai_poni_with_crop_offset_matches_centre(tmp_path):
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    # calibration of a 100 x 100 detector; the image is its crop starting at (10, 20)
    ai = AzimuthalIntegrator(detector=Detector(pixel1=172e-6, pixel2=172e-6, max_shape=(100, 100)))
    ai.setFit2D(1000.0, 53.0, 40.5)
    ai.wavelength = 1e-10
    poni = tmp_path / "geo.poni"
    ai.save(str(poni))
    truth = _rings()  # centred at (33, 30.5) in crop pixels = (53, 40.5) in detector pixels
    heal = _gap()
    image = np.where(heal, 0, truth)
    a = heal_pyfai(image, heal, poni=poni, offset=(10, 20))
    b = heal_pyfai(image, heal, center=(53.0, 40.5), offset=(10, 20))
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_biharmonic_never_rescales_integers():
    truth = np.rint(_rings()).astype(np.int32)
    heal = _gap()
    image = np.where(heal, -1, truth).astype(np.int32)
    out = heal_biharmonic(image, heal, space="linear")
    assert _log_err(out, truth.astype(float), heal) < 0.02


@pytest.mark.parametrize("func", [heal_ns, heal_telea])
def test_opencv_16bit_path_keeps_large_counts(func):
    truth = _rings() * 4000.0  # ~1e5 counts in the holes: beyond uint16
    heal = _gap()
    out = func(np.where(heal, 0, truth), heal, space="linear")
    assert out[heal].max() > 65535
    assert _log_err(out, truth, heal) < 0.02


def test_nothing_to_heal_returns_the_image():
    img = _rings()
    for func in FILLS:
        np.testing.assert_array_equal(func(img, np.zeros(img.shape, bool)), img.astype(np.float32))


def test_non_finite_pixels_are_healed_too():
    img = _rings()
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
def test_unknown_method_lists_the_known_ones():
    with pytest.raises(DipHealError) as err:
        heal_method("inpaint-magic")
    for name in ("biharmonic", "ns", "telea", "pyfai", "dip", "blind"):
        assert name in str(err.value)


def test_blind_is_registered_lazily_with_a_model_dir_argument():
    f = heal_method("blind:models/mine")
    assert f.keywords == {"model_dir": "models/mine"}
    assert f.func.__module__ == "dip_heal.blind.bulk"


def test_name_arg_form_goes_to_the_argument_keyword():
    f = heal_method("dip:fast")
    assert f.keywords == {"preset": "fast"}
    with pytest.raises(DipHealError, match="takes no"):
        heal_method("telea:3")
    with pytest.raises(DipHealError, match="takes no"):
        heal_method("dip:")


def test_register_method_lazily(monkeypatch):
    monkeypatch.setitem(METHODS, "lazy", "dip_heal.classical:heal_telea")
    assert heal_method("lazy") is heal_telea
    register_method("lazy2", lambda image, heal_mask: image, arg="model_dir")
    try:
        assert heal_method("lazy2:abc").keywords == {"model_dir": "abc"}
        assert "lazy2" in method_names()
    finally:
        METHODS.pop("lazy2")
        classical.METHOD_ARG.pop("lazy2")


def test_register_method_bad(monkeypatch):
    with pytest.raises(DipHealError):
        register_method("a:b", heal_telea)
    with pytest.raises(DipHealError):
        register_method("x", 42)  # type: ignore[arg-type]
    monkeypatch.setitem(METHODS, "gone", "dip_heal.nonexistent_module:heal")
    with pytest.raises(DipHealError, match="not available"):
        heal_method("gone")


# ----------------------------------------------------------------------------- dip
TINY = {"depth": 2, "channels": 8, "snapshot_every": 2}


def test_dip_method_tiny_fit():
    truth = _rings((32, 32), 15.0, 14.0)
    heal = np.zeros((32, 32), bool)
    heal[10:13, :] = True
    info: dict = {}
    out = classical.heal_dip(np.where(heal, 0, truth), heal, num_iter=3, info=info, **TINY)
    np.testing.assert_array_equal(out[~heal], truth[~heal].astype(np.float32))
    assert np.isfinite(out).all() and (out[heal] >= 0).all()
    assert info["iterations"] == 3 and info["num_iter"] == 3 and info["preset"] == "default"
    assert 0 <= info["snapshot"] <= 3  # 0: the azimuthal fill the default starts from
    assert info["seconds"] > 0


def test_dip_method_from_config_json(tmp_path):
    from dip_heal.config import FitConfig

    path = tmp_path / "best.json"
    FitConfig.preset("default", num_iter=2, **TINY).to_json(path)
    heal = np.zeros((32, 32), bool)
    heal[:, 5] = True
    info: dict = {}
    heal_method(f"dip:{path}")(np.ones((32, 32)), heal, info=info)
    assert info["iterations"] == 2 and info["preset"] == "best.json"
    with pytest.raises(DipHealError, match="no such FitConfig"):
        heal_method(f"dip:{tmp_path / 'missing.json'}")(np.ones((32, 32)), heal)
    with pytest.raises(DipHealError, match="preset"):
        heal_method("dip:no-such-preset")(np.ones((32, 32)), heal)


def test_import_is_light():
    code = (
        "import sys, dip_heal.classical, dip_heal.bench; "
        "print(sorted(m for m in ('torch', 'cv2', 'skimage', 'pyFAI', 'matplotlib', 'fabio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_dip_method_from_a_sweep_run(tmp_path):
    """``dip:RUN_DIR`` fits the best trial's config for its recommended number of iterations."""
    from dip_heal.pick import open_run
    from dip_heal.sweeps import run_sweep

    truth = _rings((32, 32), 15.0, 14.0)
    counts = np.rint(truth).astype(np.int32)
    counts[10:12, :] = -1
    np.save(tmp_path / "frame.npy", counts)
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        'sampler = "grid"\nseed = 0\n[config]\ndepth = 2\nchannels = 8\nnum_iter = 4\nsnapshot_every = 2\n'
        "holdout_fraction = 0.05\n[params]\nlr = [1e-3, 1e-2]\nseed = [0]\n"
    )
    run = tmp_path / "run"
    run_sweep(tmp_path / "frame.npy", run, sweep_file=sweep)
    best = open_run(run).best()
    info: dict = {}
    heal = counts < 0
    out = heal_method(f"dip:{run}")(counts, heal, info=info)
    # iteration 0 (the blended fills) is replayed as one iteration, keeping the better of 0 and 1
    assert info["iterations"] == max(1, best.best_iteration) and info["preset"] == f"run trial {best.number}"
    np.testing.assert_array_equal(out[~heal], counts[~heal].astype(np.float32))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DipHealError, match="sweep.json"):
        heal_method(f"dip:{tmp_path / 'plain'}")(counts, heal)


def test_dip_method_from_a_sweep_run_fast(tmp_path, monkeypatch):
    """The same with the sweep's study stood in for: config and iteration come from the best trial."""
    import types

    from dip_heal import pick
    from dip_heal.config import FitConfig

    cfg = FitConfig.preset("default", holdout_fraction=0.05, select="best_val", num_iter=50, **TINY).to_dict()
    best = types.SimpleNamespace(number=3, config=cfg, best_iteration=4)
    monkeypatch.setattr(pick, "open_run", lambda run: types.SimpleNamespace(best=lambda: best))
    run = tmp_path / "run"
    run.mkdir()
    (run / "sweep.json").write_text("{}")
    heal = _gap((32, 32))
    info: dict = {}
    heal_method(f"dip:{run}")(_rings((32, 32), 15.0, 14.0), heal, info=info)
    assert info["iterations"] == 4 and info["num_iter"] == 4 and info["preset"] == "run trial 3"
    best.best_iteration = None
    with pytest.raises(DipHealError, match="recommended snapshot"):
        heal_method(f"dip:{run}")(_rings((32, 32), 15.0, 14.0), heal)


def test_pyfai_linear_space_with_negative_values():
    truth = _rings()
    truth[::7, ::5] = -1.5  # reduced data may hold small negative values near pyFAI's dummy (-1)
    heal = _gap()
    out = heal_pyfai(np.where(heal, 0, truth), heal, center=(33.0, 30.5), space="linear")
    assert np.isfinite(out).all() and (out[heal] >= 0).all()
    np.testing.assert_array_equal(out[~heal], truth[~heal].astype(np.float32))

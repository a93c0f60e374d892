"""The method registry and the DIP adapter (dip_heal.methods)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cross_gap, ring_pattern

from dip_heal import methods
from dip_heal.errors import DipHealError
from dip_heal.fills import heal_telea
from dip_heal.methods import METHODS, heal_method, method_names, register_method


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
    monkeypatch.setitem(METHODS, "lazy", "dip_heal.fills:heal_telea")
    assert heal_method("lazy") is heal_telea
    register_method("lazy2", lambda image, heal_mask: image, arg="model_dir")
    try:
        assert heal_method("lazy2:abc").keywords == {"model_dir": "abc"}
        assert "lazy2" in method_names()
    finally:
        METHODS.pop("lazy2")
        methods.METHOD_ARG.pop("lazy2")


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
    truth = ring_pattern((32, 32), 15.0, 14.0)
    heal = np.zeros((32, 32), bool)
    heal[10:13, :] = True
    info: dict = {}
    out = methods.heal_dip(np.where(heal, 0, truth), heal, num_iter=3, info=info, **TINY)
    np.testing.assert_array_equal(out[~heal], truth[~heal].astype(np.float32))
    assert np.isfinite(out).all() and (out[heal] >= 0).all()
    assert info["iterations"] == 3 and info["num_iter"] == 3 and info["preset"] == "default"
    assert 0 <= info["snapshot"] <= 3  # 0: the azimuthal fill the default starts from
    assert info["seconds"] > 0


def test_dip_method_takes_a_frame_centre_shifted_to_the_crop(monkeypatch):
    import dip_heal.dip as dip_pkg
    from dip_heal.bench.cases import Case
    from dip_heal.bench.prepare import PreparedCase
    from dip_heal.bench.run import _method_opts

    seen = {}
    real_fit = dip_pkg.fit

    def spy(image, heal, config, **kw):
        seen.update(kw)
        return real_fit(image, heal, config, **kw)

    monkeypatch.setattr(dip_pkg, "fit", spy)
    truth = ring_pattern((32, 32), 15.0, 14.0)
    heal = np.zeros((32, 32), bool)
    heal[10:13, :] = True
    methods.heal_dip(np.where(heal, 0, truth), heal, num_iter=1, center=(115.0, 214.0), offset=(200, 100), **TINY)
    assert seen["center"] == (15.0, 14.0) and seen["geometry"] is None
    # the benchmark hands a case's centre (full-frame pixels) to dip as to the other geometric fills
    case = Case("c", "f.npy", crop=(200, 100, 32, 32), center=(115.0, 214.0))
    prep = PreparedCase(case=case, image=truth, heal=heal, truth=truth, score=heal, scale=1.0, offset=(200, 100),
                        full_shape=(400, 300))
    kw, _ = _method_opts("dip", methods.heal_dip, prep, Path("."), {})
    assert kw["center"] == (115.0, 214.0) and kw["offset"] == (200, 100)


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
        "import sys, dip_heal.methods, dip_heal.bench; "
        "print(sorted(m for m in ('torch', 'cv2', 'skimage', 'pyFAI', 'matplotlib', 'fabio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_dip_method_from_a_sweep_run(tmp_path):
    """``dip:RUN_DIR`` fits the best trial's config for its recommended number of iterations."""
    from dip_heal.pick import open_run
    from dip_heal.sweeps import run_sweep

    truth = ring_pattern((32, 32), 15.0, 14.0)
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
    heal = cross_gap((32, 32))
    info: dict = {}
    heal_method(f"dip:{run}")(ring_pattern((32, 32), 15.0, 14.0), heal, info=info)
    assert info["iterations"] == 4 and info["num_iter"] == 4 and info["preset"] == "run trial 3"
    best.best_iteration = None
    with pytest.raises(DipHealError, match="recommended snapshot"):
        heal_method(f"dip:{run}")(ring_pattern((32, 32), 15.0, 14.0), heal)

"""`dip-heal fit` end to end on tiny generated frames, and its one-line errors."""

import json

import fabio
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dip_heal.cli import main
from dip_heal.io import read_image

TINY = ["--iters", "4", "--snapshot-every", "2"]


@pytest.fixture
def tiny_config(tmp_path):
    """A FitConfig JSON for a depth-2, 8-channel net (fast)."""
    from dip_heal.config import FitConfig

    p = tmp_path / "tiny.json"
    FitConfig(depth=2, channels=8, num_iter=4, snapshot_every=2, seed=3).to_json(p)
    return p


@pytest.fixture
def cbf_frame(tmp_path, detector_image):
    img, heal = detector_image
    raw = np.where(heal, -1, img).astype(np.int32)
    path = tmp_path / "frame.cbf"
    fabio.cbfimage.CbfImage(data=raw).write(str(path))
    return path, raw, heal


def run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_fit_writes_a_complete_run_folder(tmp_path, cbf_frame, tiny_config):
    path, raw, heal = cbf_frame
    out = tmp_path / "run"
    res = run(["fit", str(path), "--config", str(tiny_config), "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    for name in ("config.json", "metrics.csv", "healed.cbf", "healed.png", "heal_mask.npy",
                 "snapshots/iter_000002.npy", "snapshots/iter_000004.png"):
        assert (out / name).exists(), name
    rec = json.loads((out / "config.json").read_text())
    assert rec["seed"] == 3 and rec["config"]["depth"] == 2 and rec["n_heal"] == int(heal.sum())
    healed = read_image(out / "healed.cbf").raw
    assert healed.dtype == np.int32 and healed.shape == raw.shape
    assert np.array_equal(healed[~heal], raw[~heal])  # bit-exact measured pixels
    assert (healed[heal] >= 0).all()
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0] == "iteration,loss,seconds,val_l1" and len(lines) == 5


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_float32_input_keeps_measured_pixels_bit_exact(tmp_path, detector_image, tiny_config, suffix):
    img, heal = detector_image
    data = np.where(heal, np.nan, img * 1.37).astype(np.float32)
    path = tmp_path / f"f{suffix}"
    if suffix == ".npy":
        np.save(path, data)
    else:
        fabio.tifimage.TifImage(data=data).write(str(path))
    out = tmp_path / "run"
    assert run(["fit", str(path), "--config", str(tiny_config), "--out", str(out), "--no-progress"]).exit_code == 0
    healed = read_image(out / f"healed{suffix}").raw
    assert healed.dtype == np.float32
    assert np.array_equal(healed[~heal], data[~heal]) and np.isfinite(healed).all()


def test_png_mask_in_the_seed_projects_convention(tmp_path, cbf_frame, tiny_config):
    path, raw, heal = cbf_frame
    extra = np.zeros_like(heal)
    extra[5:8, 50:60] = True
    png = tmp_path / "mask.png"
    Image.fromarray(np.where(extra, 0, 255).astype(np.uint8)).save(png)  # 0 = heal, 255 = keep
    out = tmp_path / "run"
    res = run(["fit", str(path), "--mask", str(png), "--config", str(tiny_config), "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    used = np.load(out / "heal_mask.npy")
    assert np.array_equal(used, extra | heal)  # the frame's own invalid pixels are healed too


def test_same_seed_reproduces_through_the_cli(tmp_path, cbf_frame, tiny_config):
    path, _, _ = cbf_frame
    for name in ("a", "b"):
        assert run(["fit", str(path), "--config", str(tiny_config), "--out", str(tmp_path / name),
                    "--no-progress"]).exit_code == 0
    assert np.array_equal(read_image(tmp_path / "a" / "healed.cbf").raw, read_image(tmp_path / "b" / "healed.cbf").raw)


def _one_line_error(res, *fragments):
    assert res.exit_code != 0
    lines = [ln for ln in res.output.strip().splitlines() if not ln.startswith(("INFO ", "WARNING ", "DEBUG "))]
    err = "\n".join(lines)
    assert "Traceback" not in res.output and len(lines) == 1, res.output
    for f in fragments:
        assert f in err, err


def test_bad_input_one_clear_line_and_no_output(tmp_path, cbf_frame, tiny_config):
    path, raw, heal = cbf_frame
    out = tmp_path / "run"
    base = ["--config", str(tiny_config), "--out", str(out), "--no-progress"]
    _one_line_error(run(["fit", str(tmp_path / "missing.cbf"), *base]), "no such file")
    unknown = tmp_path / "frame.xyz"
    unknown.write_bytes(b"hello")
    _one_line_error(run(["fit", str(unknown), *base]), "xyz")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 7), bool))
    _one_line_error(run(["fit", str(path), "--mask", str(wrong), *base]), "(5, 7)", "(64, 64)")
    everything = tmp_path / "all.npy"
    np.save(everything, np.ones(raw.shape, bool))
    _one_line_error(run(["fit", str(path), "--mask", str(everything), *base]), "heals every pixel")
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((16, 16), np.nan, np.float32))
    _one_line_error(run(["fit", str(nan), *base]), "no valid pixel")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]  # no partial folder left


def test_mask_that_heals_nothing_exits_zero_and_says_so(tmp_path, tiny_config):
    clean = tmp_path / "clean.npy"
    np.save(clean, np.ones((16, 16), np.float32))
    res = CliRunner().invoke(main, ["fit", str(clean), "--config", str(tiny_config), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0 and "no pixel to heal" in res.output
    assert not (tmp_path / "r").exists()


def test_output_that_would_overwrite_the_input_is_refused(tmp_path, detector_image, tiny_config):
    img, heal = detector_image
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    src = run_dir / "healed.npy"
    np.save(src, np.where(heal, np.nan, img).astype(np.float32))
    before = src.read_bytes()
    res = CliRunner().invoke(main, ["fit", str(src), "--config", str(tiny_config), "--out", str(run_dir), "--force"])
    _one_line_error(res, "input")
    assert src.read_bytes() == before


def test_existing_run_folder_needs_force(tmp_path, cbf_frame, tiny_config):
    path, _, _ = cbf_frame
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    _one_line_error(run(["fit", str(path), "--config", str(tiny_config), "--out", str(out)]), "--force")
    assert (out / "keep.txt").exists()


def test_center_and_time_limit_flags_reach_the_fit(tmp_path, cbf_frame):
    from dip_heal.config import FitConfig

    path, raw, heal = cbf_frame
    cfg = tmp_path / "blend.json"
    FitConfig.preset("default", depth=2, channels=8, num_iter=4, snapshot_every=2).to_json(cfg)
    out = tmp_path / "run"
    res = run(["fit", str(path), "--config", str(cfg), "--center", "20.5,31", "--time-limit", "600",
               "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "config.json").read_text())
    assert rec["center"] == [20.5, 31.0] and rec["config"]["time_limit"] == 600
    assert set(rec["blend"]) == {"dip", "azimuthal", "telea"}
    bad = CliRunner().invoke(main, ["fit", str(path), "--config", str(cfg), "--center", "20.5",
                                    "--out", str(tmp_path / "r2")])
    assert bad.exit_code != 0 and "expected two numbers X,Y" in bad.output
    assert not (tmp_path / "r2").exists()


def test_ensemble_flag_fits_several_seeds(tmp_path, cbf_frame, tiny_config):
    path, raw, heal = cbf_frame
    out = tmp_path / "run"
    res = run(["fit", str(path), "--config", str(tiny_config), "--ensemble", "2", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    rec = json.loads((out / "config.json").read_text())
    assert rec["config"]["ensemble"] == 2 and [m["seed"] for m in rec["members"]] == [3, 4]
    healed = read_image(out / "healed.cbf").raw
    np.testing.assert_array_equal(healed[~heal], raw[~heal])


def test_center_with_a_sweep_is_refused_in_one_line(tmp_path, cbf_frame):
    path, _, _ = cbf_frame
    res = CliRunner().invoke(main, ["fit", str(path), "--grid", "--center", "1,2", "--out", str(tmp_path / "s")])
    assert res.exit_code != 0 and "--center applies to one fit" in res.output
    assert not (tmp_path / "s").exists()

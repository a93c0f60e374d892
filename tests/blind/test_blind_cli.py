"""``dip-heal train`` and ``dip-heal bulk`` end to end on tiny synthetic frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from click.testing import CliRunner  # noqa: E402

from dip_heal.cli import main  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def tiny_model(tmp_path):
    from dip_heal.blind.model_dir import save_model
    from dip_heal.blind.nets import MSDNet

    net = MSDNet(4, 2, in_channels=2)
    card = {"architecture": "msdnet", "hyperparameters": net.hparams, "inputs": "image+mask",
            "tile": {"size": 32, "overlap": 8}, "layout": {"detector": "Pilatus300k", "frame_shape": None}}
    return save_model(tmp_path / "model", net, card)


def _write_frames(folder, n=2, shape=(48, 40)):
    from dip_heal.synthetic import synthetic_frame

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        f = synthetic_frame(shape, detector=None, seed=i, counts=500.0)
        counts = f.counts.copy()
        counts[20:24, :] = -1  # a module gap
        counts[:, 7] = -2  # a bad column
        p = folder / f"frame_{i}.npy"
        np.save(p, counts)
        paths.append(p)
    return paths


def test_train_cli_writes_model_dir(tmp_path):
    frames = _write_frames(tmp_path / "in", n=3, shape=(64, 64))
    out = tmp_path / "model"
    res = CliRunner().invoke(main, [
        "train", "--arch", "msdnet", "--layers", "4", "--max-dilation", "2", "--frames", str(tmp_path / "in" / "*.npy"),
        "--detector", "Pilatus300k", "--out", str(out), "--crop", "32", "--batch", "2", "--steps", "6",
        "--val-every", "3", "--val-fraction", "0.34", "--no-progress", "--device", "cpu",
    ])
    assert res.exit_code == 0, res.output
    assert "validation L1" in res.output
    card = json.loads((out / "card.json").read_text())
    assert card["architecture"] == "msdnet" and card["layout"]["frame_shape"] == [64, 64]
    assert sorted(card["training"]["frames"] + card["training"]["validation_frames"]) == sorted(p.name for p in frames)
    assert (out / "checkpoint" / "state.safetensors").is_file()


def test_train_cli_tunet_synthetic(tmp_path):
    res = CliRunner().invoke(main, [
        "train", "--arch", "tunet", "--depth", "2", "--base-channels", "4", "--synthetic", "3",
        "--synthetic-shape", "40,40", "--detector", "Pilatus300k", "--out", str(tmp_path / "t"), "--crop", "32",
        "--batch", "2", "--steps", "2", "--val-every", "2", "--no-progress",
    ])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "t" / "card.json").read_text())["layout"]["frame_shape"] is None


def test_train_cli_bad_input(tmp_path):
    r = CliRunner().invoke(main, ["train", "--detector", "Pilatus1M", "--out", str(tmp_path / "m")])
    assert r.exit_code != 0 and "no training data" in r.output
    r = CliRunner().invoke(main, ["train", "--detector", "Pilatus1M", "--out", str(tmp_path / "m"),
                                  "--frames", str(tmp_path / "none*.tif")])
    assert r.exit_code != 0 and "matches no file" in r.output


def test_bulk_cli_heals_resumes_and_skips_bad_frames(tmp_path, tiny_model):
    frames = _write_frames(tmp_path / "in", n=2)
    bad = tmp_path / "in" / "broken.npy"
    bad.write_bytes(b"not an array")
    out = tmp_path / "out"
    args = ["bulk", "--model", str(tiny_model), str(tmp_path / "in"), "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output  # one frame failed, the others were written
    assert "broken.npy" in res.output
    assert "healed 2" in res.output and "failed 1" in res.output
    from dip_heal.io import read_image
    from dip_heal.masks import build_mask

    for p in frames:
        raw = np.load(p)
        heal = build_mask(read_image(p))
        assert heal[raw < 0].all()
        healed = np.load(out / f"{p.stem}_healed.npy")
        assert healed.dtype == raw.dtype
        np.testing.assert_array_equal(healed[~heal], raw[~heal])
        assert (healed[heal] >= 0).all()
    res = CliRunner().invoke(main, ["bulk", "--model", str(tiny_model), *map(str, frames), "--out", str(out),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "already done 2" in res.output and "healed 0" in res.output


def test_bulk_cli_bad_model_dir(tmp_path, tiny_model):
    frames = _write_frames(tmp_path / "in", n=1)
    (tiny_model / "card.json").unlink()
    res = CliRunner().invoke(main, ["bulk", "--model", str(tiny_model), str(frames[0]), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "has no card.json" in lines[0]


def test_bulk_cli_frame_shape_mismatch_is_reported(tmp_path):
    from dip_heal.blind.model_dir import save_model
    from dip_heal.blind.nets import MSDNet

    net = MSDNet(3, 2, in_channels=2)
    d = save_model(tmp_path / "m", net, {"architecture": "msdnet", "hyperparameters": net.hparams,
                                         "inputs": "image+mask",
                                         "layout": {"detector": "Pilatus300k", "frame_shape": [619, 487]}})
    frames = _write_frames(tmp_path / "in", n=1)
    res = CliRunner().invoke(main, ["bulk", "--model", str(d), str(frames[0]), "--out", str(tmp_path / "o"),
                                    "--no-progress"])
    assert res.exit_code == 1
    assert "does not fit the model's detector layout (Pilatus300k, (619, 487))" in res.output


def test_bulk_with_mask_spec_heals_only_what_the_spec_says(tmp_path, tiny_model):
    from dip_heal.blind.bulk import bulk
    from dip_heal.masks import MaskSpec

    frames = _write_frames(tmp_path / "in", n=1)
    spec = tmp_path / "spec.json"
    MaskSpec(detector="none", beamstop="none", holder="none", stripes=False).to_json(spec)
    s = bulk(frames, tmp_path / "out", model_dir=tiny_model, mask_spec=spec)
    assert len(s.written) == 1 and not s.failed
    raw = np.load(frames[0])
    healed = np.load(s.written[0])
    np.testing.assert_array_equal(healed[raw >= 0], raw[raw >= 0])  # only sentinels were healed
    assert (healed[raw < 0] >= 0).all()
    assert "healed 1" in s.line() and "frames/s" in s.line()


def test_bulk_bad_inputs(tmp_path, tiny_model):
    from dip_heal.blind.bulk import bulk
    from dip_heal.errors import DipHealError

    (tmp_path / "file").write_text("x")
    with pytest.raises(DipHealError, match="is a file"):
        bulk([], tmp_path / "file", model_dir=tiny_model)
    with pytest.raises(DipHealError, match="no such spec file"):
        bulk([], tmp_path / "o", model_dir=tiny_model, mask_spec=tmp_path / "missing.json")


def test_training_from_flags_builds_the_frames_and_the_config(tmp_path):
    from dip_heal.blind.cli_config import training_from_flags
    from dip_heal.errors import DipHealError, FlagError

    _write_frames(tmp_path / "in", n=2, shape=(48, 48))
    data, cfg = training_from_flags([str(tmp_path / "in")], tmp_path / "m", arch="tunet", detector="Pilatus300k",
                                    depth=2, crop=32)
    assert len(data) == 2 and cfg.arch == "tunet" and cfg.frame_shape == [48, 48]
    assert cfg.net == {"depth": 2, "base_channels": 16, "growth_rate": 2.0, "hidden_rate": 1.0,
                       "normalization": "batch"}
    data, cfg = training_from_flags([], tmp_path / "m", arch="msdnet", synthetic=1, synthetic_shape="32,40",
                                    detector="Pilatus300k", layers=4)
    assert data[0].data.shape == (32, 40) and cfg.frame_shape is None
    assert cfg.net["num_layers"] == 4 and cfg.net["normalization"] == "none"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DipHealError, match="is a file"):
        training_from_flags([], tmp_path / "file", arch="msdnet", detector="Pilatus300k")
    with pytest.raises(FlagError, match="--synthetic-shape"):
        training_from_flags([], tmp_path / "m", arch="msdnet", synthetic=1, synthetic_shape="4",
                            detector="Pilatus300k")

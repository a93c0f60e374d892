"""Pictures of the blind models (issue 20): train's curves.png, bulk --previews."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

from dip_heal.cli import main  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


def _frames(folder, n=2, shape=(48, 40)):
    from dip_heal.synthetic import synthetic_frame

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        counts = synthetic_frame(shape, detector=None, seed=i, counts=500.0).counts.copy()
        counts[20:24, :] = -1  # a module gap
        p = folder / f"frame_{i}.npy"
        np.save(p, counts)
        paths.append(p)
    return paths


def test_a_tiny_train_writes_its_curves(tmp_path):
    from dip_heal.blind.train import CURVES_NAME, TrainConfig, train
    from dip_heal.synthetic import synthetic_frame
    from dip_heal.blind.crops import TrainFrame

    counts = [synthetic_frame((40, 40), detector=None, seed=i, counts=300.0).counts.astype(np.float32)
              for i in range(3)]
    frames = [TrainFrame(data=c, valid=np.ones(c.shape, bool), name=f"f{i}") for i, c in enumerate(counts)]
    cfg = TrainConfig(arch="msdnet", net={"num_layers": 3, "max_dilation": 2}, detector="Pilatus300k", crop=32,
                      batch=2, steps=4, val_every=2, val_crops=2)
    res = train(frames, tmp_path / "m", cfg, device="cpu")
    png = tmp_path / "m" / CURVES_NAME
    assert png.is_file() and len(res.history) == 3
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 500


def test_bulk_previews_write_a_picture_per_frame_and_a_summary(tmp_path):
    from dip_heal.blind.model_dir import save_model
    from dip_heal.blind.nets import MSDNet

    net = MSDNet(4, 2, in_channels=2)
    card = {"architecture": "msdnet", "hyperparameters": net.hparams, "inputs": "image+mask",
            "tile": {"size": 32, "overlap": 8}, "layout": {"detector": "Pilatus300k", "frame_shape": None}}
    model = save_model(tmp_path / "model", net, card)
    frames = _frames(tmp_path / "in")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["bulk", "--model", str(model), *map(str, frames), "--out", str(out),
                                    "--no-progress", "--previews"])
    assert res.exit_code == 0, res.output
    for p in frames:
        assert (out / f"{p.stem}_healed.npy").is_file()
        with Image.open(out / "previews" / f"{p.stem}.png") as im:
            assert im.format == "PNG"
    assert (out / "previews" / "summary.png").is_file()
    res = CliRunner().invoke(main, ["bulk", "--model", str(model), *map(str, frames), "--out", str(tmp_path / "o2"),
                                    "--no-progress"])
    assert res.exit_code == 0 and not (tmp_path / "o2" / "previews").exists()  # off by default

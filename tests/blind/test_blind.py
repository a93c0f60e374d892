"""Blind models: networks, tiling, model directories, dlsia import, training, healing."""

from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from dip_heal.blind import model_dir as md  # noqa: E402
from dip_heal.blind.bulk import heal_with_model, predict  # noqa: E402
from dip_heal.blind.nets import MSDNet, TUNet, build_net, count_parameters  # noqa: E402
from dip_heal.blind.tiling import predict_tiled, taper, tile_grid  # noqa: E402
from dip_heal.blind.crops import gap_layout  # noqa: E402
from dip_heal.blind.train import (  # noqa: E402
    TrainConfig,
    TrainFrame,
    log_denormalise,
    log_normalise,
    paste_window,
    synthetic_training_frames,
    train,
)
from dip_heal.errors import DipHealError  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# ---------------------------------------------------------------------------- networks


def test_tunet_parameter_count_reproduces_chavez_table():
    # Chavez et al. 2022 Table 2: depth 4, 64 base channels, growth 2 -> 8.556 M
    n = count_parameters(TUNet(depth=4, base_channels=64, growth_rate=2))
    assert n == 8_561_985
    assert abs(n - 8.556e6) / 8.556e6 < 0.02
    assert count_parameters(TUNet(4, 64, 2, normalization="none")) == 8_556_353


def test_msdnet_parameter_count_reproduces_chavez_table():
    # Table 3: 200 layers, max dilation 15 -> 0.181 M (no normalisation)
    n = count_parameters(MSDNet(num_layers=200, max_dilation=15))
    assert n == 181_302
    assert abs(n - 0.181e6) / 0.181e6 < 0.02
    assert count_parameters(MSDNet(200, 15, normalization="batch")) == 221_902


def test_msdnet_fast_path_equals_conv2d():
    torch.manual_seed(0)
    net = MSDNet(6, 3, in_channels=2)
    x = torch.rand(2, 2, 11, 17)
    fast = net(x)
    for m in net.modules():
        if hasattr(m, "_fast"):
            m._fast = False
    torch.testing.assert_close(net(x), fast, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("up", [2, 3, 4])
def test_tunet_any_shape(up):
    net = TUNet(depth=3, base_channels=4, up_kernel_size=up).eval()
    assert net(torch.zeros(1, 1, 13, 22)).shape == (1, 1, 13, 22)


def test_bad_network_arguments():
    with pytest.raises(DipHealError, match="unknown architecture 'unet'"):
        build_net("unet", {})
    with pytest.raises(DipHealError, match="bad hyperparameters"):
        build_net("msdnet", {"layers": 3})
    with pytest.raises(DipHealError, match="depth 1"):
        TUNet(depth=1)
    with pytest.raises(DipHealError, match="unknown normalization"):
        MSDNet(3, 2, normalization="group")


# ---------------------------------------------------------------------------- tiling


@pytest.mark.parametrize("shape", [(19, 37), (14, 9), (1, 5), (64, 64)])
@pytest.mark.parametrize("overlap", [0, 3, 7])
def test_tiling_identity_is_exact(shape, overlap):
    x = torch.rand(2, *shape, dtype=torch.float64)
    calls = []

    def ident(t):
        calls.append(t.shape[0])
        return t

    y = predict_tiled(ident, x, tile=8, overlap=overlap, batch=3)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-12)
    assert max(calls) <= 3


def test_tiling_covers_every_pixel_and_averages_overlaps():
    x = torch.zeros(1, 19, 37, dtype=torch.float64)
    # each tile returns its own index: overlapped pixels get a weighted mean of neighbours
    counter = iter(range(1000))
    y = predict_tiled(lambda t: torch.stack([torch.full_like(t[0], float(next(counter))) for _ in t]), x,
                      tile=8, overlap=4, batch=1)
    assert torch.isfinite(y).all()
    assert y.min() >= 0 and y.max() <= 1000
    assert len(torch.unique(y)) > 10  # overlaps blended, not last-writer-wins


def test_tile_grid_and_taper():
    assert tile_grid(37, 16, 4) == (15, 11, 37)
    assert tile_grid(9, 16, 4) == (9, 5, 9)
    assert taper(6, 2).min() > 0 and taper(6, 0).tolist() == [1.0] * 6


def test_tiling_bad_input():
    with pytest.raises(DipHealError, match=r"expected \(C, H, W\)"):
        predict_tiled(lambda t: t, torch.zeros(4, 4), tile=2)
    with pytest.raises(DipHealError, match="batch 0"):
        predict_tiled(lambda t: t, torch.zeros(1, 4, 4), tile=2, batch=0)
    with pytest.raises(DipHealError, match="same batch and tile size"):
        predict_tiled(lambda t: t[..., :1, :], torch.zeros(1, 4, 4), tile=2)


# ---------------------------------------------------------------------------- data helpers


def test_log_normalise_roundtrip():
    data = np.array([[0, 10, 1000], [5, -1, 7]], np.float32)
    known = data >= 0
    y, s = log_normalise(data, known)
    assert y.max() == pytest.approx(1.0) and y[1, 1] == 0
    np.testing.assert_allclose(log_denormalise(y, s)[known], data[known], rtol=1e-5)


def test_paste_window_uses_detector_gap_rows():
    from dip_heal.blind.train import gap_layout

    layout = gap_layout("Pilatus1M")
    rng = np.random.default_rng(0)

    def interior_runs(flags):
        runs, start = [], None
        for i, f in enumerate(list(flags) + [False]):
            if f and start is None:
                start = i
            elif not f and start is not None:
                if start > 0 and i < len(flags):  # runs cut by the window edge are partial
                    runs.append(i - start)
                start = None
        return runs

    for _ in range(20):
        win = paste_window(layout, (300, 600), rng)
        assert win.shape == (300, 600) and 0.02 <= win.mean() <= 0.6
        # PILATUS modules: 17-pixel gap rows, 7-pixel gap columns, at the module pitch
        assert set(interior_runs(win.all(axis=1))) <= {17}
        assert set(interior_runs(win.all(axis=0))) <= {7}
        assert win.all(axis=1).any() or win.all(axis=0).any()
    with pytest.raises(DipHealError, match="no module gaps"):
        gap_layout("Rayonix")


# ---------------------------------------------------------------------------- model directories


def _tiny_model(tmp_path, **card):
    net = MSDNet(4, 2, in_channels=2)
    base = {"architecture": "msdnet", "hyperparameters": net.hparams, "inputs": "image+mask",
            "tile": {"size": 32, "overlap": 8}, "layout": {"detector": "Pilatus300k", "frame_shape": None}}
    base.update(card)
    return net, md.save_model(tmp_path / "model", net, base)


def test_model_dir_roundtrip(tmp_path):
    net, d = _tiny_model(tmp_path)
    assert (d / "model.safetensors").is_file() and (d / "card.json").is_file()
    m = md.load_model(d)
    x = torch.rand(1, 2, 20, 20)
    torch.testing.assert_close(m.net(x), net.eval()(x))
    card = json.loads((d / "card.json").read_text())
    assert card["parameters"] == count_parameters(net) and card["format"] == md.CARD_FORMAT


def test_model_dir_without_card(tmp_path):
    _, d = _tiny_model(tmp_path)
    (d / "card.json").unlink()
    with pytest.raises(DipHealError, match="has no card.json") as e:
        md.load_model(d)
    assert "\n" not in str(e.value)


def test_model_dir_unknown_architecture(tmp_path):
    _, d = _tiny_model(tmp_path)
    card = json.loads((d / "card.json").read_text())
    card["architecture"] = "pconvnet"
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(DipHealError, match="architecture 'pconvnet'; expected one of tunet, msdnet") as e:
        md.load_model(d)
    assert "\n" not in str(e.value)


def test_model_dir_other_bad_inputs(tmp_path):
    with pytest.raises(DipHealError, match="does not exist"):
        md.load_model(tmp_path / "nope")
    _, d = _tiny_model(tmp_path)
    (d / "card.json").write_text("{not json")
    with pytest.raises(DipHealError, match="not valid JSON"):
        md.load_model(d)
    _, d = _tiny_model(tmp_path, hyperparameters={"num_layers": 5, "max_dilation": 2, "in_channels": 2})
    with pytest.raises(DipHealError, match="do not fit the card's network"):
        md.load_model(d)
    (d / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(DipHealError, match="cannot read"):
        md.load_model(d)


def test_frame_shape_must_fit_detector_layout(tmp_path):
    _, d = _tiny_model(tmp_path, layout={"detector": "Pilatus300k", "frame_shape": [619, 487]})
    m = md.load_model(d)
    img = np.ones((40, 30), np.float32)
    with pytest.raises(DipHealError, match=r"frame shape \(40, 30\) does not fit the model's detector layout "
                                           r"\(Pilatus300k, \(619, 487\)\)") as e:
        predict(m, img, np.zeros_like(img, bool))
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------- dlsia import


def _dlsia_msd_topo(**kw):
    from torch import nn

    topo = OrderedDict(in_channels=1, out_channels=1, num_layers=5, layer_width=1, max_dilation=3,
                       custom_msdnet=None, activation=nn.ReLU(), normalization=nn.BatchNorm2d, final_layer=None,
                       conv_kernel_size=3, dropout=None, convolution=nn.Conv2d, padding_mode="zeros")
    topo.update(kw)
    return topo


def test_import_dlsia_msdnet(tmp_path):
    ref = MSDNet(5, 3, normalization="batch").eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.rand_like(p) * 0.1)
    torch.save({"topo_dict": _dlsia_msd_topo(), "state_dict": ref.state_dict()}, tmp_path / "net.pt")
    m = md.import_dlsia(tmp_path / "net.pt", tmp_path / "imported")
    x = torch.rand(1, 1, 12, 12)
    torch.testing.assert_close(m.net(x), ref(x))
    again = md.load_model(tmp_path / "imported")
    assert again.card["architecture"] == "msdnet" and again.inputs == "image"
    torch.testing.assert_close(again.net(x), ref(x))


def test_import_dlsia_tunet(tmp_path):
    from torch import nn

    ref = TUNet(3, 4, 2, up_kernel_size=2).eval()
    topo = dict(image_shape=(32, 32), in_channels=1, out_channels=1, depth=3, base_channels=4, growth_rate=2,
                hidden_rate=1, conv_kernel=nn.Conv2d, kernel_down=nn.MaxPool2d, kernel_up=nn.ConvTranspose2d,
                normalization=nn.BatchNorm2d, activation=nn.ReLU(), conv_kernel_size=3, maxpool_kernel_size=2,
                dilation=1)
    torch.save({"topo_dict": topo, "state_dict": ref.state_dict()}, tmp_path / "tunet.pt")
    m = md.import_dlsia(tmp_path / "tunet.pt")
    x = torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(m.net(x), ref(x))


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_import_dlsia_refuses_pickled_code(tmp_path):
    torch.save({"topo_dict": {"hook": _Payload()}, "state_dict": {}}, tmp_path / "evil.pt")
    with pytest.raises(DipHealError, match=r"refusing .*weights_only=True") as e:
        md.import_dlsia(tmp_path / "evil.pt")
    assert "\n" not in str(e.value)


def test_import_dlsia_refuses_other_files(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(DipHealError, match="expected a dlsia network dictionary"):
        md.import_dlsia(tmp_path / "plain.pt")
    torch.save({"topo_dict": _dlsia_msd_topo(custom_msdnet=torch.ones(2, 3)), "state_dict": {}}, tmp_path / "c.pt")
    with pytest.raises(DipHealError, match="custom_msdnet"):
        md.import_dlsia(tmp_path / "c.pt")
    with pytest.raises(DipHealError, match="does not exist"):
        md.import_dlsia(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------- training and healing


def _tiny_config(**kw):
    base = dict(net={"num_layers": 6, "max_dilation": 4}, detector="Pilatus300k", crop=48, batch=4, steps=40,
                lr=3e-3, val_every=20, val_crops=8, tile=48, overlap=8, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_training_lowers_validation_l1(tmp_path):
    frames = synthetic_training_frames(4, shape=(64, 64), seed=3)
    res = train(frames[:3], tmp_path / "m", _tiny_config(inputs="image+mask"), val_frames=frames[3:])
    first, best = res.history[0]["val_l1"], res.model.card["validation"]["l1"]
    assert best < 0.7 * first
    card = json.loads((tmp_path / "m" / "card.json").read_text())
    assert card["validation"]["l1"] == pytest.approx(best)
    assert -1 <= card["validation"]["pearson_r"] <= 1
    assert card["training"]["frames"][0].startswith("synthetic:")
    assert card["normalisation"]["kind"] == "log1p-max" and card["tile"] == {"size": 48, "overlap": 8}


def test_prefill_training_starts_from_the_fill_and_improves(tmp_path):
    from dip_heal.blind.prefill import directional_fill

    frames = synthetic_training_frames(4, shape=(64, 64), seed=3)
    res = train(frames[:3], tmp_path / "m", _tiny_config(steps=60), val_frames=frames[3:])
    assert res.model.card["residual"] is True and res.model.card["inputs"] == "prefill+mask"
    assert res.model.card["validation"]["l1"] < res.history[0]["val_l1"]
    # the untrained residual net returns the fill exactly
    y = np.random.default_rng(0).random((20, 20)).astype(np.float32)
    hole = np.zeros((20, 20), bool)
    hole[8:12] = True
    net = MSDNet(3, 2, in_channels=2)
    torch.nn.init.zeros_(net.output_layer().weight)
    torch.nn.init.zeros_(net.output_layer().bias)
    from dip_heal.blind.prefill import model_inputs

    x = torch.from_numpy(model_inputs(y, hole, "prefill+mask"))[None]
    np.testing.assert_allclose((net(x) + x[:, :1])[0, 0].detach().numpy(), directional_fill(y, ~hole), atol=1e-7)


def test_directional_fill_interpolates_gaps():
    from dip_heal.blind.prefill import directional_fill

    yy, xx = np.mgrid[0:30, 0:40].astype(np.float64)
    plane = 0.5 + 0.01 * yy + 0.02 * xx
    known = np.ones_like(plane, bool)
    known[10:17, :] = False  # a row gap
    known[:, 20:23] = False  # a column gap crossing it
    f = directional_fill(plane, known, smooth=1)
    np.testing.assert_allclose(f, plane, atol=1e-6)  # linear data is filled exactly, crossings too
    assert directional_fill(plane, np.zeros_like(known)).max() == 0


def test_training_resumes_from_checkpoint(tmp_path):
    frames = synthetic_training_frames(3, shape=(64, 64), seed=4)
    train(frames, tmp_path / "m", _tiny_config(steps=20, val_every=10))
    res = train(frames, tmp_path / "m", _tiny_config(steps=30, val_every=10))
    assert [h["step"] for h in res.history] == [0, 10, 20, 30]
    with pytest.raises(DipHealError, match="other settings"):
        train(frames, tmp_path / "m", _tiny_config(steps=40, crop=32))


def test_training_bad_input(tmp_path):
    frames = synthetic_training_frames(2, shape=(40, 40), seed=5)
    with pytest.raises(DipHealError, match="smaller than the crop"):
        train(frames, tmp_path / "m", _tiny_config(crop=48))
    with pytest.raises(DipHealError, match="at least 2"):
        train(frames[:1], tmp_path / "m", _tiny_config(crop=32))
    with pytest.raises(DipHealError, match="val_fraction"):
        TrainConfig(val_fraction=1.5)
    with pytest.raises(DipHealError, match="CUDA is not available"):
        train(frames, tmp_path / "m", _tiny_config(crop=32), device="cuda")
    with pytest.raises(DipHealError, match="detector"):
        train([TrainFrame(np.ones((64, 64), np.float32), np.ones((64, 64), bool))] * 2, tmp_path / "m",
              _tiny_config(detector="NoSuchDetector"))


def test_predict_keeps_measured_pixels(tmp_path, detector_image):
    image, heal = detector_image
    _, d = _tiny_model(tmp_path)
    healed = heal_with_model(image, heal, model_dir=d)
    assert healed.dtype == np.float32 and healed.shape == image.shape
    np.testing.assert_array_equal(healed[~heal], image[~heal])
    assert np.isfinite(healed).all() and (healed[heal] >= 0).all()
    with pytest.raises(DipHealError, match="heal mask shape"):
        heal_with_model(image, heal[:10], model_dir=d)
    with pytest.raises(DipHealError, match="no measured pixel"):
        heal_with_model(image, np.ones_like(heal), model_dir=d)


def test_shipped_model_loads_and_names_its_sources():
    d = md.default_model_dir()
    if not (d / "card.json").exists():
        pytest.skip("shipped model not built in this checkout")
    m = md.load_model()
    assert m.card["architecture"] == "msdnet"
    assert (d / "model.safetensors").stat().st_size < 1_000_000
    text = json.dumps(m.card["training"])
    assert "synthetic" in text
    assert "107.tif" not in text and "duke" not in text  # dev-case frames kept out of training


def test_blind_is_not_imported_by_the_core():
    import subprocess
    import sys

    code = ("import sys, dip_heal, dip_heal.io, dip_heal.frame, dip_heal.cli; "
            "print('dip_heal.blind' in sys.modules, 'safetensors' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("mode,channels", [("image", 1), ("image+mask", 2), ("prefill+mask", 2), ("fills+mask", 4)])
def test_model_inputs_channels(mode, channels):
    from dip_heal.blind.prefill import IN_CHANNELS, model_inputs

    y = np.random.default_rng(1).random((12, 10)).astype(np.float32)
    hole = np.zeros((12, 10), bool)
    hole[4:6] = True
    x = model_inputs(y, hole, mode)
    assert x.shape == (channels, 12, 10) and IN_CHANNELS[mode] == channels and x.dtype == np.float32
    if mode != "image":
        np.testing.assert_array_equal(x[-1], hole)
    if mode in ("image", "image+mask"):
        assert (x[0][hole] == 0).all()
    else:
        assert (x[0][hole] > 0).all()  # holes are pre-filled
    np.testing.assert_array_equal(x[0][~hole], y[~hole])
    with pytest.raises(DipHealError, match="inputs='mask'"):
        TrainConfig(inputs="mask")


def test_truth_targets_for_synthetic_frames():
    from dip_heal.blind.crops import prepare_frames as _prepare

    f = synthetic_training_frames(1, shape=(40, 40), seed=7)[0]
    assert f.truth is not None
    p_truth = _prepare([f], 32, truth_targets=True)[0]
    p_meas = _prepare([f], 32, truth_targets=False)[0]
    np.testing.assert_array_equal(p_meas.target, p_meas.y)
    y, s = log_normalise(f.data, f.valid)
    np.testing.assert_allclose(p_truth.target, np.log1p(f.truth) / s, rtol=1e-5)
    bad = TrainFrame(f.data, f.valid, "bad", truth=f.truth[:10])
    with pytest.raises(DipHealError, match="truth"):
        _prepare([bad], 32)


def test_tile_grid_covers_with_little_padding():
    for size in (1, 7, 64, 255, 256, 257, 1043, 981, 2527):
        for tile, ov in ((256, 32), (64, 8), (16, 0)):
            t, stride, padded = tile_grid(size, tile, ov)
            assert t <= tile and stride >= 1 and padded >= size
            assert padded - size < max(t - min(ov, t - 1), 1)  # less than one stride of padding


# ---------------------------------------------------------------------------- the azimuthal input (issue 21)


def _ring_frame(shape=(96, 96), center=(40.0, 52.0), seed=0):
    """Isotropic rings about ``center`` (x, y), Poisson counts: the azimuthal model fits them."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(xx - center[0], yy - center[1])
    rate = 50 + 400 * np.exp(-((r - 25) / 4) ** 2) + 2000 / (1 + r) ** 1.5
    return np.random.default_rng(seed).poisson(rate).astype(np.float32)


def test_azimuthal_input_channels_and_its_need():
    from dip_heal.blind.prefill import AZIMUTHAL, IN_CHANNELS, azimuthal_channel, model_inputs

    counts = _ring_frame()
    hole = np.zeros(counts.shape, bool)
    hole[30:37] = True
    y, _ = log_normalise(counts, ~hole)
    az, c = azimuthal_channel(y, ~hole, counts)
    assert abs(c[0] - 40) < 2 and abs(c[1] - 52) < 2  # the ring centre, estimated
    x = model_inputs(y, hole, "prefill+azimuthal+mask", azimuthal=az)
    assert x.shape == (3, 96, 96) and IN_CHANNELS["prefill+azimuthal+mask"] == 3 and AZIMUTHAL == ("prefill+azimuthal+mask",)
    np.testing.assert_array_equal(x[1], az)
    np.testing.assert_array_equal(x[2], hole)
    # inside the row gap the ring model is closer to the truth than the row/column interpolation
    truth, _ = log_normalise(counts, np.ones_like(hole))
    truth = np.log1p(counts) / np.log1p(counts[~hole]).max()
    assert np.abs(az - truth)[hole].mean() < np.abs(x[0] - truth)[hole].mean()
    with pytest.raises(ValueError, match="azimuthal model"):
        model_inputs(y, hole, "prefill+azimuthal+mask")
    # a given centre is used as given
    _, c2 = azimuthal_channel(y, ~hole, counts, center=(41.0, 50.0))
    assert c2 == (41.0, 50.0)


def test_azimuthal_training_input_never_sees_its_pasted_pixels():
    from dip_heal.blind.crops import prepare_frames as _prepare
    from dip_heal.blind.crops import sample_crops

    counts = _ring_frame((128, 128), (60.0, 70.0), seed=1)
    f = TrainFrame(counts, np.ones(counts.shape, bool), "rings")
    layout = gap_layout("Pilatus300k")
    kw = dict(inputs="prefill+azimuthal+mask", layout=layout, seed=3, n_variants=1)
    p = _prepare([f], 48, False, **kw)[0]
    assert len(p.variants) == 1 and len(_prepare([f], 48, False, **{**kw, "n_variants": 3})[0].variants) == 3
    pasted, az = p.variants[0]
    assert pasted.shape == counts.shape and pasted.any()
    # change the pasted pixels' counts: the variant's azimuthal model is the same
    spoiled = counts.copy()
    spoiled[pasted] = 1e6
    q = _prepare([TrainFrame(spoiled, f.valid, "rings")], 48, False, **kw)[0]
    np.testing.assert_array_equal(q.variants[0][0], pasted)
    # (the frame is normalised over all its measured pixels, so compare in log counts)
    np.testing.assert_allclose(q.variants[0][1] * np.log1p(spoiled.max()), az * np.log1p(counts.max()), rtol=1e-5)
    # crops: the azimuthal channel is the variant's model cut (and flipped) with the crop
    cfg = _tiny_config(crop=48, inputs="prefill+azimuthal+mask", gain=0.0)
    x, t, m = sample_crops([p], layout, cfg, np.random.default_rng(0), 6, augment=True)
    assert x.shape == (6, 3, 48, 48) and m.any()
    for i in range(6):
        holes = x[i, 2].astype(bool)
        assert (m[i, 0] <= holes).all()  # the loss is only on pasted (hidden) pixels
    with pytest.raises(DipHealError, match="gap layout"):
        _prepare([f], 48, False, inputs="prefill+azimuthal+mask")


def test_azimuthal_model_trains_and_heals(tmp_path):
    counts = [_ring_frame((96, 96), (30.0 + 10 * i, 50.0), seed=i) for i in range(4)]
    frames = [TrainFrame(c, np.ones(c.shape, bool), f"rings{i}") for i, c in enumerate(counts)]
    cfg = _tiny_config(inputs="prefill+azimuthal+mask", crop=48, steps=30, val_every=15)
    res = train(frames[:3], tmp_path / "m", cfg, val_frames=frames[3:])
    assert res.model.card["inputs"] == "prefill+azimuthal+mask" and res.model.card["residual"] is True
    assert res.model.card["hyperparameters"]["in_channels"] == 3
    hole = np.zeros((96, 96), bool)
    hole[40:47] = True
    healed = heal_with_model(counts[3], hole, model_dir=tmp_path / "m")
    np.testing.assert_array_equal(healed[~hole], counts[3][~hole])
    assert np.isfinite(healed).all()
    # the centre reaches the model's input: a crop at an offset gets the same heal as the frame
    again = heal_with_model(counts[3], hole, model_dir=tmp_path / "m", center=(60.0, 70.0), offset=(20, 20))
    direct = heal_with_model(counts[3], hole, model_dir=tmp_path / "m", center=(40.0, 50.0))
    np.testing.assert_array_equal(again, direct)
    # a PONI gives the centre (bulk --poni): the same heal as that centre given directly
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    ai = AzimuthalIntegrator(detector=Detector(pixel1=172e-6, pixel2=172e-6, max_shape=(96, 96)), wavelength=1e-10)
    ai.setFit2D(60.0, 40.5, 50.5)  # Fit2D counts from the corner: the pixel-centre (40, 50)
    ai.save(str(tmp_path / "g.poni"))
    from dip_heal.geometry import load_geometry

    centre = load_geometry(tmp_path / "g.poni").center
    assert centre == pytest.approx((40.0, 50.0))
    with_poni = heal_with_model(counts[3], hole, model_dir=tmp_path / "m", poni=tmp_path / "g.poni")
    np.testing.assert_array_equal(with_poni, heal_with_model(counts[3], hole, model_dir=tmp_path / "m", center=centre))
    with pytest.raises(DipHealError, match="both a beam centre"):
        heal_with_model(counts[3], hole, model_dir=tmp_path / "m", poni=tmp_path / "g.poni", center=centre)


def test_bulk_estimates_the_beam_centre_once_and_the_ring_input_uses_the_masks(tmp_path, monkeypatch):
    """bulk heals with the centre the heal mask found the beamstop about (or the PONI's): the
    frame's centre is estimated once, not again for the azimuthal input."""
    import dip_heal.beam as beam
    import dip_heal.beam.center as center_mod
    from dip_heal.blind.bulk import bulk, heal_mask_path
    from dip_heal.io import read_image, write_image

    counts = [_ring_frame((96, 96), (30.0 + 10 * i, 50.0), seed=i) for i in range(3)]
    frames = [TrainFrame(c, np.ones(c.shape, bool), f"rings{i}") for i, c in enumerate(counts)]
    cfg = _tiny_config(inputs="prefill+azimuthal+mask", crop=48, steps=4, val_every=2)
    train(frames[:2], tmp_path / "m", cfg, val_frames=frames[2:])
    frame = counts[2].astype(np.int32)
    frame[40:46] = -1  # a gap row band
    src = write_image(tmp_path / "in" / "f.tif", frame)
    calls = []
    real = center_mod.find_center

    def spy(*a, **k):
        c = real(*a, **k)
        calls.append((c.x, c.y))
        return c

    monkeypatch.setattr(center_mod, "find_center", spy)
    monkeypatch.setattr(beam, "find_center", spy)
    s = bulk([src], tmp_path / "out", model_dir=tmp_path / "m")
    assert len(s.written) == 1 and len(calls) == 1
    heal = np.load(heal_mask_path(s.written[0]))
    fr = read_image(src)
    direct = heal_with_model(fr.data, heal, model_dir=tmp_path / "m", known=fr.valid & ~heal, center=calls[0])
    np.testing.assert_array_equal(read_image(s.written[0]).data[heal], np.rint(direct[heal]).astype(np.float32))
    # with a PONI: its centre, and no estimate at all
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    ai = AzimuthalIntegrator(detector=Detector(pixel1=172e-6, pixel2=172e-6, max_shape=(96, 96)), wavelength=1e-10)
    ai.setFit2D(60.0, 50.5, 50.5)
    ai.save(str(tmp_path / "g.poni"))
    calls.clear()
    s = bulk([src], tmp_path / "out_poni", model_dir=tmp_path / "m", poni=tmp_path / "g.poni")
    assert len(s.written) == 1 and calls == []
    heal = np.load(heal_mask_path(s.written[0]))
    from dip_heal.geometry import load_geometry

    centre = load_geometry(tmp_path / "g.poni").center
    assert centre == pytest.approx((50.0, 50.0))
    direct = heal_with_model(fr.data, heal, model_dir=tmp_path / "m", known=fr.valid & ~heal, center=centre)
    np.testing.assert_array_equal(read_image(s.written[0]).data[heal], np.rint(direct[heal]).astype(np.float32))


def test_beam_centre_far_off_stays_in_the_accepted_range():
    """A frame whose hot rows mislead the search far off: the estimate stays where check_center accepts it
    (it came out at y=-257.5 on a 128-px frame, beyond the two frame sizes, and the azimuthal input failed)."""
    from dip_heal.beam.center import find_center
    from dip_heal.polar import check_center

    counts = _ring_frame((128, 128), (60.0, 70.0), seed=1)
    rng = np.random.default_rng([3, 7])
    layout = gap_layout("Pilatus300k")
    first, second = (paste_window(layout, counts.shape, rng) for _ in range(2))
    counts[first] = 1e6  # hot pixels, measured in the second layout
    c = find_center(np.where(second, 0.0, counts), ~second)
    check_center((c.x, c.y), counts.shape)


def test_azimuthal_msdnet_starts_from_the_mean_of_the_two_fills(tmp_path):
    from dip_heal.blind.train import _start

    run = _start(_tiny_config(inputs="prefill+azimuthal+mask"), torch.device("cpu"), tmp_path / "m", False)
    w = run.net.output_layer().weight[0, :, 0, 0]
    assert float(w[0]) == -0.5 and float(w[1]) == 0.5  # fill + (ring model - fill) / 2
    other = _start(_tiny_config(inputs="prefill+mask"), torch.device("cpu"), tmp_path / "n", False)
    assert abs(float(other.net.output_layer().weight[0, 0, 0, 0])) < 0.5

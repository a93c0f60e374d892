"""Fast inference for the blind models (issue 21): each speed-up computes what the plain path computes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dip_heal.blind import prefill as P  # noqa: E402
from dip_heal.blind.infer import inference_fn, msdnet_forward  # noqa: E402
from dip_heal.blind.nets import MSDNet, TUNet  # noqa: E402
from dip_heal.blind.tiling import hole_regions, predict_holes, predict_tiled  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _full_frame_fill(y, known, smooths=(3,), passes=4):
    """directional_fills with the full-frame pass (the form the sparse pass replaces)."""
    if not known.any():
        return [np.zeros(y.shape, np.float32) for _ in smooths]
    bases = [P.box_smooth(y, known, s).astype(np.float32) for s in smooths]
    fs, k = P._one_pass_full(bases, known)
    for _ in range(passes - 1):
        if k.all():
            break
        f2, k2 = P._one_pass_full(fs, k)
        fs = [np.where(k, f, g) for f, g in zip(fs, f2)]
        k = k2
    out = []
    for f, base in zip(fs, bases):
        if not k.all():
            f = np.where(k, f, float(base[known].mean()))
        out.append(np.where(known, y, f).astype(np.float32))
    return out


def test_the_prefill_at_the_holes_only_is_bit_identical_to_the_full_frame_pass():
    rng = np.random.default_rng(0)
    for i in range(40):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        y = rng.random((h, w)).astype(np.float32)
        known = rng.random((h, w)) > rng.random()
        if i % 4 == 0:  # a module-gap cross: pixels no measured pixel reaches in the first pass
            known[:, w // 3 : w // 3 + 3] = False
            known[h // 2 : h // 2 + 4] = False
        if i % 9 == 0:
            known[:] = True
        for smooths in ((3,), (3, 1, 7)):
            for a, b in zip(_full_frame_fill(y, known, smooths), P.directional_fills(y, known, smooths)):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch", [1, 3])
def test_msdnet_on_one_buffer_is_bit_identical_to_its_forward(batch):
    torch.manual_seed(1)
    for width in (1, 2):
        net = MSDNet(6, 4, width, in_channels=2).eval()
        x = torch.rand(batch, 2, 37, 29)
        with torch.inference_mode():
            assert torch.equal(msdnet_forward(net, x), net(x))


def test_other_nets_run_their_own_forward():
    torch.manual_seed(2)
    net = TUNet(depth=2, base_channels=4, in_channels=2).eval()
    assert msdnet_forward(net, torch.rand(1, 2, 16, 16)) is None
    norm = MSDNet(3, 2, in_channels=2, normalization="batch").eval()
    assert msdnet_forward(norm, torch.rand(1, 2, 16, 16)) is None
    x = torch.rand(2, 2, 16, 16)
    with torch.inference_mode():
        assert torch.equal(inference_fn(net, residual=True)(x), net(x) + x[:, :1])


def test_bf16_stays_close_to_float32():
    torch.manual_seed(3)
    net = MSDNet(6, 3, in_channels=2).eval()
    x = torch.rand(2, 2, 24, 24)
    with torch.inference_mode():
        a = inference_fn(net)(x)
        b = inference_fn(net, dtype=torch.bfloat16)(x)
    assert b.dtype == torch.float32 and float((a - b).abs().max()) < 0.05 * float(a.abs().max()) + 1e-3


def test_hole_regions_cover_every_hole_with_its_context():
    heal = np.zeros((300, 200), bool)
    heal[100:117] = True  # a row gap
    heal[:, 90:97] = True  # a column gap
    heal[250:256, 20:30] = True  # a beamstop
    heal[5, 190] = True  # a dead pixel near the corner
    boxes = hole_regions(heal, 10)
    assert boxes[0] == (90, 127, 0, 200) and boxes[1] == (0, 300, 80, 107)
    cover = np.zeros_like(heal)
    for r0, r1, c0, c1 in boxes:
        a0, a1 = r0 + (10 if r0 else 0), r1 - (10 if r1 < 300 else 0)
        b0, b1 = c0 + (10 if c0 else 0), c1 - (10 if c1 < 200 else 0)
        cover[a0:a1, b0:b1] = True
    assert cover[heal].all()
    assert hole_regions(np.zeros((5, 5), bool), 3) == []
    assert hole_regions(np.ones((50, 50), bool), 3) is None  # all holes: the whole frame is cheaper
    spread = np.zeros((100, 100), bool)
    spread[::9, ::9] = True  # dead pixels everywhere: boxes would cover the frame
    assert hole_regions(spread, 8) is None


def test_predict_holes_is_the_net_on_each_rectangle_and_the_whole_frame_when_small():
    torch.manual_seed(4)
    net = MSDNet(4, 3, in_channels=2).eval()
    fn = inference_fn(net, residual=True)
    x = torch.rand(2, 120, 90)
    heal = np.zeros((120, 90), bool)
    heal[60:64] = True
    heal[10:13, 40:44] = True
    with torch.inference_mode():
        out = predict_holes(fn, x, heal, context=8, tile=32, overlap=8, batch=4)
        band = predict_tiled(fn, x[:, 52:72], tile=32, overlap=8, batch=4)
        box = predict_tiled(fn, x[:, 2:21, 32:52], tile=32, overlap=8, batch=4)
        np.testing.assert_array_equal(out[0, 60:64].numpy(), band[0, 8:12].numpy())
        np.testing.assert_array_equal(out[0, 10:13, 40:44].numpy(), box[0, 8:11, 8:12].numpy())
        assert not out[0][torch.from_numpy(~heal)].any()
        small = predict_holes(fn, x[:, :30, :30], heal[:30, :30], context=8, tile=32, overlap=8)
        assert torch.equal(small, predict_tiled(fn, x[:, :30, :30], tile=32, overlap=8))

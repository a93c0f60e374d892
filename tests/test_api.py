"""The notebook API (issue 20, part C): ``dip_heal.heal``, ``dip_heal.fit`` on a Frame, and the exports."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import dip_heal
from dip_heal import DipHealError, FitConfig, Frame
from dip_heal.errors import NothingToHeal

TINY = FitConfig(depth=2, channels=8, num_iter=3, snapshot_every=1)


def _counts(shape=(48, 48), seed=0) -> np.ndarray:
    """int32 counts with a 3-column PILATUS-style gap (-1) and a -2 bad pixel."""
    from dip_heal.synthetic import synthetic_frame

    raw = synthetic_frame(shape, detector=None, seed=seed).counts
    raw[:, 20:23] = -1
    raw[5, 5] = -2
    return raw


def test_exports_are_lazy_and_public():
    assert {"heal", "composite_native", "fit"} <= set(dip_heal.__all__)
    from dip_heal.frame import composite_native

    assert dip_heal.composite_native is composite_native
    assert callable(dip_heal.heal) and dip_heal.heal.__module__ == "dip_heal.api"


def test_import_dip_heal_is_light():
    import os
    import subprocess
    import sys

    code = ("import sys, dip_heal; dip_heal.heal, dip_heal.composite_native, dip_heal.fit; "
            "bad = [m for m in ('torch', 'optuna', 'matplotlib') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stdout + r.stderr


def test_heal_path_int32_bit_exact_and_record(tmp_path):
    raw = _counts()
    path = dip_heal.write_image(tmp_path / "frame.cbf", raw)
    mask = np.zeros(raw.shape, bool)
    mask[30:34, 30:40] = True
    healed = dip_heal.heal(path, mask, config=TINY, seed=3)

    assert healed.raw.dtype == np.int32 and healed.data.dtype == np.float32
    want = mask | (raw < 0)
    assert np.array_equal(healed.masks["healed"], want)
    assert np.array_equal(healed.raw[~want], raw[~want])  # measured pixels bit for bit
    assert (healed.raw[want] >= 0).all() and healed.valid.all()
    assert np.array_equal(healed.data, healed.raw.astype(np.float32))
    rec = healed.meta["dip_heal"]
    assert rec["seed"] == 3 and rec["config"]["num_iter"] == 3 and rec["config"]["seed"] == 3
    assert rec["version"] == dip_heal.__version__ and rec["iteration"] == 3 and rec["mask"] == "array"
    assert rec["n_healed"] == int(want.sum()) and "blend" in rec and rec["device"] == "cpu"
    assert healed.meta["path"] == str(path) and healed.meta["format"] == "cbf"

    out = dip_heal.write_image(tmp_path / "healed.cbf", healed.raw, like=healed)
    back = dip_heal.read_image(out)
    assert back.raw.dtype == np.int32 and np.array_equal(back.raw, healed.raw)
    with pytest.raises(DipHealError, match="input"):
        dip_heal.write_image(path, healed.raw, like=healed)


def test_heal_float32_frame_bit_exact():
    rng = np.random.default_rng(1)
    raw = (rng.random((32, 40)) * 1e3).astype(np.float32)
    raw[10:14, :] = np.nan
    frame = Frame.from_array(raw)
    mask = np.zeros(raw.shape, bool)
    mask[20:25, 5:9] = True
    healed = dip_heal.heal(frame, mask, config=TINY)
    heal = mask | np.isnan(raw)
    assert healed.raw.dtype == np.float32
    assert np.array_equal(healed.raw[~heal].view(np.uint32), raw[~heal].view(np.uint32))
    assert np.isfinite(healed.raw).all() and np.array_equal(healed.masks["healed"], heal)
    assert frame.raw is raw and np.isnan(frame.raw[10, 0])  # the input is left alone


def test_heal_default_is_the_automatic_mask():
    raw = _counts((64, 64), seed=2)
    frame = Frame.from_array(raw)
    healed = dip_heal.heal(frame, config=TINY)
    assert np.array_equal(healed.masks["healed"], dip_heal.build_mask(frame) | ~frame.valid)
    assert healed.meta["dip_heal"]["mask"].startswith("automatic")
    from dip_heal.masks import MaskSpec

    only = dip_heal.heal(frame, spec=MaskSpec(beamstop="none"), config=TINY)
    assert np.array_equal(only.masks["healed"], dip_heal.build_mask(frame, MaskSpec(beamstop="none")))
    named = dip_heal.heal(frame, spec="gaps-only", config=TINY)
    assert np.array_equal(named.masks["healed"], dip_heal.build_mask(frame, MaskSpec.from_json("gaps-only")))


def test_heal_mask_file(tmp_path):
    from dip_heal.masks import write_mask

    raw = _counts((32, 48))
    path = dip_heal.write_image(tmp_path / "frame.edf", raw)
    mask = np.zeros(raw.shape, bool)
    mask[2:6, 30:44] = True
    mpath = write_mask(tmp_path / "m.png", mask)
    healed = dip_heal.heal(path, mpath, config=TINY)
    assert np.array_equal(healed.masks["healed"], mask | (raw < 0))
    assert healed.meta["dip_heal"]["mask"] == str(mpath)
    assert np.array_equal(healed.raw[~healed.masks["healed"]], raw[~healed.masks["healed"]])


def test_heal_hdf5_selector(tmp_path):
    h5py = pytest.importorskip("h5py")
    stack = np.stack([_counts((32, 32), seed=s).astype(np.int32) for s in range(3)])
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("entry/data/data", data=stack)
    mask = np.zeros((32, 32), bool)
    mask[8:12, 8:12] = True
    healed = dip_heal.heal(f"{tmp_path / 'f.h5'}::/entry/data/data[1]", mask, config=TINY)
    keep = ~healed.masks["healed"]
    assert healed.raw.dtype == stack.dtype and np.array_equal(healed.raw[keep], stack[1][keep])
    out = dip_heal.write_image(tmp_path / "healed.tif", healed.raw, like=healed)
    assert np.array_equal(dip_heal.read_image(out).raw, healed.raw)


def test_heal_preset_iters_seed():
    frame = Frame.from_array(_counts((32, 32)))
    healed = dip_heal.heal(frame, None, "light", iters=2, seed=7)
    rec = healed.meta["dip_heal"]
    assert rec["config"]["preset_name"] == "light" and rec["config"]["num_iter"] == 2 and rec["seed"] == 7


@pytest.mark.parametrize("kwargs, match", [
    ({"mask": np.zeros((48, 48), bool), "spec": "x"}, "both mask and spec"),
    ({"preset": "light", "config": TINY}, "both preset"),
    ({"mask": np.zeros((48, 48), np.uint8)}, "dtype uint8"),
    ({"mask": np.zeros((4, 4), bool)}, "does not match the frame"),
    ({"mask": np.ones((48, 48), bool)}, "heals every pixel"),
    ({"preset": "nope"}, "unknown preset"),
])
def test_heal_refuses(kwargs, match):
    with pytest.raises(DipHealError, match=match):
        dip_heal.heal(Frame.from_array(_counts()), **kwargs)


def test_heal_refuses_nothing_to_heal_and_bad_input():
    clean = np.ones((32, 32), np.int32)
    with pytest.raises(NothingToHeal):
        dip_heal.heal(clean, np.zeros((32, 32), bool), config=TINY)
    with pytest.raises(DipHealError, match="no valid pixel"):
        dip_heal.heal(np.full((32, 32), -1, np.int32), config=TINY)
    with pytest.raises(DipHealError, match="expected a file path"):
        dip_heal.heal([[1, 2], [3, 4]])


def test_fit_frame_is_fit_of_its_arrays():
    raw = _counts()
    frame = Frame.from_array(raw)
    mask = np.zeros(raw.shape, bool)
    mask[30:34, 30:40] = True
    heal = mask | ~frame.valid
    a = dip_heal.fit(frame, mask, TINY, device="cpu")
    b = dip_heal.fit(np.where(heal, np.nan, frame.data).astype(np.float32), heal, TINY, device="cpu")
    assert np.array_equal(a.healed, b.healed) and np.array_equal(a.output, b.output)
    assert np.array_equal(a.holdout, b.holdout) and a.iteration == b.iteration
    c = dip_heal.fit(frame, config=TINY, device="cpu")  # no mask: the invalid pixels
    d = dip_heal.fit(np.where(frame.valid, frame.data, np.nan).astype(np.float32), ~frame.valid, TINY, device="cpu")
    assert np.array_equal(c.healed, d.healed)
    native = dip_heal.composite_native(frame.raw, a.healed, heal)
    assert np.array_equal(native[~heal], raw[~heal])
    with pytest.raises(DipHealError, match="heal=None"):
        dip_heal.fit(frame.data, None, TINY)


def test_dip_heal_fit_twice_in_one_process():
    """Issue 20: ``dip_heal.fit`` worked once per process; every fitting module imported, then two calls."""
    for name in ("dip_heal.dip", "dip_heal.api", "dip_heal.runs", "dip_heal.sweeps", "dip_heal.methods",
                 "dip_heal.cli"):
        importlib.import_module(name)
    raw = _counts((32, 32))
    heal = raw < 0
    image = np.where(heal, np.nan, raw).astype(np.float32)
    first = dip_heal.fit(image, heal, TINY, device="cpu")
    second = dip_heal.fit(image, heal, TINY, device="cpu")
    assert callable(dip_heal.fit) and np.array_equal(first.healed, second.healed)
    assert callable(dip_heal.heal) and dip_heal.heal(raw, config=TINY).raw.dtype == np.int32


def test_heal_render_writes_back_the_healed_pixels(tmp_path):
    """A colour-map render: figure pixels stay not-data, ``like=healed`` re-draws the healed pixels only."""
    from PIL import Image

    from dip_heal.renders import synthetic_render

    yy, xx = np.mgrid[0:40, 0:56]
    t = np.clip(0.9 * np.exp(-np.hypot(yy - 18, xx - 31) / 14.0) + 0.08 * np.cos(xx / 5.0) ** 2, 0, 1)
    rgb = synthetic_render(t, "mve385", frame=1, ticks=10)
    Image.fromarray(rgb).save(tmp_path / "render.png")
    frame = dip_heal.read_image(tmp_path / "render.png")
    mask = np.zeros(frame.shape, bool)
    mask[10:13, 5:30] = True
    healed = dip_heal.heal(frame, mask, config=TINY)
    assert np.array_equal(healed.valid, frame.valid)
    out = dip_heal.write_image(tmp_path / "healed.png", healed.raw, like=healed)
    back = np.asarray(Image.open(out).convert("RGB"))
    same = (back == rgb).all(-1)
    assert same[~mask].all()  # figure and measured pixels: the input's colours
    ref = dip_heal.write_image(tmp_path / "ref.png", healed.raw, like=frame)
    assert np.array_equal(back, np.asarray(Image.open(ref).convert("RGB")))

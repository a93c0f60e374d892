"""Colour-map renders: the map catalogue, detection, inversion, the image-area crop, the
render finders (stripes at the lowest level, beamstop, holder), write-back and a tiny fit
(issue 22). Generated data; the real MVE385 renders in ../shared/data skip when absent."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

from dip_heal.errors import DipHealError
from dip_heal.renders import (
    COLORMAPS,
    colormap_lut,
    colormap_option,
    detect_colormap,
    image_area,
    invert_colormap,
    read_render,
    render_colors,
    render_scalar,
    scalar_to_units,
    synthetic_render,
    units_to_scalar,
)

from conftest import shared_file


def field(shape=(40, 56), seed=0) -> np.ndarray:
    """A smooth scalar field in [0, 1] with a spread of levels and a gap at the lowest level."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(yy - 0.45 * shape[0], xx - 0.55 * shape[1])
    t = np.clip(0.9 * np.exp(-r / 14.0) + 0.08 * np.cos(xx / 5.0) ** 2, 0, 1)
    t[shape[0] // 2 + 5 : shape[0] // 2 + 8] = 0.0
    return t


def save(tmp_path, rgb, name="render.png"):
    p = tmp_path / name
    Image.fromarray(rgb).save(p)
    return p


# --------------------------------------------------------------------------------------------
# catalogue


def test_catalogue_maps_have_256_colours_and_known_ends():
    for name in COLORMAPS:
        lut = colormap_lut(name)
        assert lut.shape == (256, 3) and lut.min() >= 0 and lut.max() <= 1, name
    mve = colormap_lut("mve385")
    np.testing.assert_allclose(mve[:8, 2], np.arange(1, 9) / 8)  # the dark-blue ramp
    np.testing.assert_allclose(mve[8:], colormap_lut("matlab-jet")[8:])  # then MATLAB jet
    np.testing.assert_allclose(colormap_lut("matlab-jet")[0], [0, 0, 33 / 64])  # jet(256)(1, :)
    np.testing.assert_allclose(colormap_lut("matlab-jet")[-1], [0.5, 0, 0])
    np.testing.assert_allclose(colormap_lut("parula")[0], [0.2422, 0.1504, 0.6603])
    np.testing.assert_allclose(colormap_lut("viridis_r"), colormap_lut("viridis")[::-1])
    assert np.array_equal(colormap_lut("dark-blue"), mve)


def test_unknown_colormap_is_one_clear_error():
    with pytest.raises(DipHealError, match="unknown colour map 'nope'.*expected one of mve385"):
        colormap_lut("nope")
    with pytest.raises(DipHealError, match="unknown colour map"):
        with colormap_option("nope"):
            pass


def test_units_are_log1p_linear_in_t():
    t = np.array([0.0, 0.25, 1.0])
    u = scalar_to_units(t)
    np.testing.assert_allclose(u, [0.0, 3.0, 255.0])
    np.testing.assert_allclose(units_to_scalar(u), t)
    np.testing.assert_allclose(np.log1p(u) / np.log1p(u).max(), t)  # what fit's normalisation sees


# --------------------------------------------------------------------------------------------
# detection and inversion


@pytest.mark.parametrize("name", list(COLORMAPS))
def test_each_map_is_detected(name):
    if name == "gray":
        pytest.skip("a gray render's grey frame is on its own map; see test_gray_render_without_frame")
    rgb = synthetic_render(field(), name, frame=1)
    best, matches = detect_colormap(rgb)
    assert best == name, [(m.name, round(m.covered, 3)) for m in matches[:3]]


def test_gray_render_without_frame():
    rgb = synthetic_render(field(), "gray", frame=0)
    assert detect_colormap(rgb)[0] == "gray"


@pytest.mark.parametrize("name", ["matlab-jet", "viridis", "mve385"])
def test_round_trip_within_one_level_and_frame_is_not_data(name):
    t = field()
    rgb = synthetic_render(t, name, frame=2, margin=4, ticks=9)
    frame = read_render("x.png", rgb)
    r0, r1, c0, c1 = frame.meta["render"]["area"]
    assert (r0, r1, c0, c1) == (6, 6 + t.shape[0] - 1, 6, 6 + t.shape[1] - 1)
    rec = render_scalar(frame)
    ticks = np.isnan(rec)
    assert 0 < ticks.sum() < 40  # the tick marks inside the image area are not data
    assert np.abs(rec - t)[~ticks].max() * 255 <= 1.0
    assert not frame.valid[:r0].any() and not frame.valid[:, :c0].any()  # margin and frame


def test_matplotlib_jet_draws_five_levels_alike():
    lv = np.arange(256)
    t, on = invert_colormap(render_colors(lv / 255, "jet")[None], "jet")
    err = np.abs(t[0] * 255 - lv)
    assert on.all() and err.max() <= 2.0  # levels 28-32 are all (0, 0, 255): the middle is taken
    assert (err > 1).sum() <= 2


def test_colour_drawn_twice_takes_its_neighbours_level():
    t = np.linspace(0, 0.2, 60)[None].repeat(6, 0)  # crosses the dark ramp and jet's blues
    rgb = synthetic_render(t, "mve385", frame=0)
    rec, on = invert_colormap(rgb, "mve385")
    assert on.all() and np.abs(rec - t).max() * 255 <= 1.0


def test_image_area_skips_margins_axes_and_colour_bar():
    t = field()
    fig = np.full((60, 90, 3), 255, np.uint8)
    fig[5:47, 5:63] = (30, 30, 30)  # axes box
    fig[6:46, 6:62] = render_colors(t, "viridis")
    fig[6:46, 70:76] = render_colors(np.linspace(1, 0, 40)[:, None].repeat(6, 1), "viridis")  # colour bar
    fig[50:54, 20:40] = 0  # a black label
    _, on = invert_colormap(fig, "viridis")
    assert image_area(on) == (6, 45, 6, 61)
    frame = read_render("fig.png", fig)
    assert frame.meta["render"]["cropped"] == {"top": 6, "bottom": 14, "left": 6, "right": 28}


def test_no_map_matches_returns_none(caplog):
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    assert read_render("p.png", photo) is None
    flat = np.zeros((4, 5, 3), np.uint8)
    flat[..., 0] = 255  # one colour: a map is not recognised from it
    assert read_render("r.png", flat) is None


def test_named_map_that_does_not_fit_is_an_error():
    rgb = synthetic_render(field(), "viridis", frame=1)
    with pytest.raises(DipHealError, match="on the jet map.*--colormap"):
        read_render("x.png", rgb, colormap="jet")


# --------------------------------------------------------------------------------------------
# reading and writing through dip_heal.io


def test_read_image_png_render_and_its_warning(tmp_path, caplog):
    from dip_heal.io import read_image, write_image

    t = field()
    p = save(tmp_path, synthetic_render(t, "viridis", frame=1, ticks=10))
    with caplog.at_level(logging.WARNING):
        frame = read_image(p)
    assert "not intensities" in caplog.text and "256 levels" in caplog.text and "raw frame" in caplog.text
    assert frame.meta["format"] == "png" and frame.meta["render"]["colormap"] == "viridis"
    assert frame.raw.dtype == np.float32 and frame.shape == (t.shape[0] + 2, t.shape[1] + 2)
    assert frame.data.min() >= 0 and frame.data.max() <= 255
    with pytest.raises(DipHealError, match="input"):
        write_image(p, frame.data, like=frame)  # never over the input


def test_write_back_changes_only_the_healed_pixels(tmp_path):
    from dip_heal.io import output_path_like, read_image, write_image

    t = field()
    rgb = synthetic_render(t, "mve385", frame=1, ticks=10)
    frame = read_image(save(tmp_path, rgb))
    healed = frame.raw.copy()
    heal = np.zeros(frame.shape, bool)
    heal[10:13, 5:30] = True
    heal[0, :] = True  # a frame pixel marked to heal stays as it was
    healed[heal] = scalar_to_units(np.full(int(heal.sum()), 0.5))
    out = output_path_like(frame, tmp_path / "run", "healed")
    assert out.name == "healed_render.png"
    write_image(out, healed, like=frame)
    back = np.asarray(Image.open(out).convert("RGB"))
    same = (back == rgb).all(-1)
    assert same[~heal].all() and same[0].all()
    inside = heal & frame.valid
    assert (back[inside] == render_colors(np.array([0.5]), "mve385")[0]).all()  # the healed level's colour
    was = np.rint(np.pad(t, 1)[inside] * 255)
    assert np.array_equal(~same[inside], was != 128)  # re-drawn wherever the level changed


def test_scalar_tiff_of_the_image_area(tmp_path):
    from dip_heal.io import read_image
    from dip_heal.renders import write_scalar_tiff

    t = field()
    frame = read_image(save(tmp_path, synthetic_render(t, "viridis", frame=1)))
    p = write_scalar_tiff(tmp_path / "t.tif", frame.data, frame)
    with Image.open(p) as im:
        desc = json.loads(im.tag_v2[270])
        back = np.asarray(im, np.float64)
    assert back.shape == t.shape and desc["colormap"] == "viridis" and desc["area_rows"] == [1, t.shape[0]]
    assert np.abs(back - t).max() * 255 <= 1.0


def test_colormap_option_reaches_the_reader(tmp_path):
    from dip_heal.io import read_image

    p = save(tmp_path, synthetic_render(field(), "viridis", frame=1))
    with colormap_option("viridis_r"):
        f = read_image(p)
    assert f.meta["render"]["colormap"] == "viridis_r"
    np.testing.assert_allclose(render_scalar(f)[5, 5], 1 - field()[5, 5], atol=1 / 255)
    assert read_image(p).meta["render"]["colormap"] == "viridis"  # only inside the block


# --------------------------------------------------------------------------------------------
# the render finders and the mask


def sparse_render(seed=1, shape=(90, 120)):
    """A sparse Poisson-like render: a lit blob, a sparse background, two gap bands at the lowest
    level, a beamstop at the centre and a dark holder band to the left edge."""
    rng = np.random.default_rng(seed)
    M, N = shape
    yy, xx = np.mgrid[0:M, 0:N]
    cy, cx = 47.0, 66.0
    r = np.hypot(yy - cy, xx - cx)
    lam = 6.0 * np.exp(-r / 18.0) + 0.06
    counts = rng.poisson(lam)
    counts[20:24] = 0  # module gaps
    counts[:, 90:92] = 0
    counts[r < 5.2] = 0  # beamstop
    counts[(np.abs(yy - cy) <= 1) & (xx < cx)] = 0  # holder arm to the left edge, at the same level
    t = np.where(counts > 0, 0.3 + 0.7 * np.log10(np.maximum(counts, 1)) / np.log10(40), 0.0)
    return synthetic_render(np.clip(t, 0, 1), "mve385", frame=1, ticks=15), counts


def test_minimum_stripes_find_gaps_not_sparse_background():
    from dip_heal.masks.render_finders import minimum_stripes

    rgb, _ = sparse_render()
    frame = read_render("s.png", rgb)
    st = minimum_stripes(frame.data, frame.valid)
    rows = np.flatnonzero(st.sum(1) > 0.9 * frame.valid.sum(1).clip(1))
    cols = np.flatnonzero(st.sum(0) > 0.9 * frame.valid.sum(0).clip(1))
    assert rows.tolist() == [21, 22, 23, 24] and cols.tolist() == [91, 92]


def test_minimum_stripes_reference_values():
    from dip_heal.masks.render_finders import minimum_stripes

    d = np.ones((5, 5))
    d[2] = 0
    d[:, 1] = 0
    got = minimum_stripes(d, np.ones(d.shape, bool), window=2, alpha=0.05).astype(int)
    assert got.tolist() == [[0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0]]


def test_render_mask_layers_beamstop_holder_and_no_frame_pixel():
    from dip_heal.masks import CAUSES, MaskSpec, build_mask_layers

    rgb, counts = sparse_render()
    frame = read_render("s.png", rgb)
    layers = build_mask_layers(frame, MaskSpec(holder="auto"))
    heal = np.zeros(frame.shape, bool)
    for k in CAUSES:
        heal |= layers[k]
    assert not (heal & ~frame.valid).any()  # frame, ticks: never data to heal
    assert np.array_equal(layers["ignore"], ~frame.valid)
    bs = layers["beamstop"]
    assert bs[48, 67] and bs.sum() < 160
    holder = layers["holder"]
    assert holder[48, 10:60].mean() > 0.9 and not holder[40].any() and not holder[:, 75:].any()
    info = frame.meta["mask_info"]
    assert info["detector"] is None and info["holder_polygon"] is not None
    assert np.array_equal(build_mask_layers(frame, MaskSpec())["holder"], holder)  # on by default (issue 18)
    assert not build_mask_layers(frame, MaskSpec(holder="none"))["holder"].any()  # --no-holder


def test_no_holder_without_a_dark_band():
    from dip_heal.masks.render_finders import find_band_holder

    rng = np.random.default_rng(4)
    d = scalar_to_units(np.clip(0.4 + 0.1 * rng.standard_normal((60, 70)), 0, 1))
    assert find_band_holder(d, np.ones(d.shape, bool), (35.0, 30.0)) is None


def test_mask_command_on_a_render(tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main
    from dip_heal.masks import read_mask

    rgb, _ = sparse_render()
    p = save(tmp_path, rgb)
    out = tmp_path / "m.png"
    res = CliRunner().invoke(main, ["mask", str(p), "--auto-holder", "-o", str(out), "--colormap", "mve385"])
    assert res.exit_code == 0, res.output
    heal = read_mask(out, rgb.shape[:2])
    assert heal[22, 5] and not heal[0, 5]  # a gap row is healed, the frame is not
    res = CliRunner().invoke(main, ["mask", str(p), "-o", str(out), "--colormap", "nope"])
    assert res.exit_code == 1 and "unknown colour map" in res.output


# --------------------------------------------------------------------------------------------
# a tiny fit, written back


def test_fit_a_render_writes_png_and_scalar_tiff(tmp_path):
    from dip_heal.config import FitConfig
    from dip_heal.masks import MaskSpec, mask_frame_files
    from dip_heal.runs import fit_to_run

    rgb, _ = sparse_render()
    p = save(tmp_path, rgb)
    mask_frame_files(p, MaskSpec(), tmp_path / "m.png", overlay=False)
    cfg = FitConfig(depth=2, channels=8, num_iter=2, snapshot_every=1, seed=1)
    s = fit_to_run(p, tmp_path / "run", cfg, mask_path=tmp_path / "m.png")
    assert s.healed_path.name == "healed_render.png" and (s.run_dir / "healed.png").exists()
    back = np.asarray(Image.open(s.healed_path).convert("RGB"))
    heal = np.load(s.run_dir / "heal_mask.npy")
    assert back.shape == rgb.shape and ((back == rgb).all(-1) | heal).all()  # identical outside the heal
    assert (back[0] == rgb[0]).all()  # the figure frame restored
    with Image.open(s.run_dir / "healed_scalar.tif") as im:
        t = np.asarray(im)
    assert t.shape == (rgb.shape[0] - 2, rgb.shape[1] - 2) and np.isfinite(t).all()
    snap = np.load(s.run_dir / "snapshots" / "iter_000001.npy")
    assert snap.shape == rgb.shape[:2]  # snapshots in the picture's shape, fitted on its image area
    rec = json.loads((s.run_dir / "config.json").read_text())
    assert rec["healed"] == "healed_render.png"


# --------------------------------------------------------------------------------------------
# the real MVE385 renders (skip without ../shared/data)


def _seed_iou(name: str, holder: str) -> float:
    from dip_heal.io import read_image
    from dip_heal.masks import MaskSpec, build_mask

    frame = read_image(shared_file(f"mve385/{name}.png"))
    with Image.open(shared_file(f"mve385/{name}_mask.png")) as im:
        seed = np.asarray(im.convert("L")) <= 127
    ours = build_mask(frame, MaskSpec(holder=holder))
    assert not (ours & ~frame.valid).any()
    return float((ours & seed).sum() / (ours | seed).sum())


def test_real_render_hdpe_matches_the_seed_mask():
    assert _seed_iou("HDPE_85_low", "auto") >= 0.85


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MD2_MV_bulk_2", "MD2_MV_bulk_3", "MD2_MV_edge_2", "MD2_MV_edge_3",
                                  "MD2_MV_shear_2", "MD2_MV_shear_3"])
def test_real_renders_md2_match_the_seed_mask(name):
    assert _seed_iou(name, "auto") >= 0.85


def test_real_render_map_is_the_fig_colormap():
    from dip_heal.io import read_image

    frame = read_image(shared_file("mve385/HDPE_85_low.png"))
    assert frame.meta["render"]["colormap"] == "mve385"
    fig = read_image(shared_file("mve385/HDPE_85_low.fig"))
    np.testing.assert_array_equal(fig.meta["figure"]["colormap"], colormap_lut("mve385"))


def test_example_pieces_smoke(tmp_path):
    """The walk-through's render and picture helpers (the example itself is not run in tests)."""
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("mve385_renders", REPO / "examples" / "mve385_renders.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    counts = np.random.default_rng(0).poisson(20.0, (30, 40))
    counts[10:13] = 0
    rgb, t = ex.render_of(counts)
    assert rgb.shape == (32, 42, 3) and (rgb[0] == 50).all()  # the grey figure frame
    frame = read_render("ex.png", rgb)
    assert frame.meta["render"]["colormap"] == "mve385" and frame.meta["render"]["area"] == (1, 30, 1, 40)
    assert np.abs(render_scalar(frame) - t)[frame.valid[1:-1, 1:-1]].max() * 255 <= 1.0
    assert ex.before_after(tmp_path / "ba.png", rgb, rgb, rgb).exists()

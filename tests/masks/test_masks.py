"""MaskSpec, build_mask, shapes, mask files and the ``dip-heal mask`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file

from dip_heal.cli import main
from dip_heal.errors import DipHealError
from dip_heal.frame import Frame
from dip_heal.masks import (
    CAUSES,
    MaskSpec,
    apply_shape,
    build_mask,
    build_mask_layers,
    read_mask,
    shape_mask,
    write_mask,
)

NONE = MaskSpec(beamstop="none", detector="none")


def _ring_frame(shape=(96, 80), c=(41.0, 50.0), r_bs=5, seed=0):
    """Poisson ring pattern with a dark beamstop disk and a dark holder arm to the left edge."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(xx - c[0], yy - c[1])
    lam = 5000.0 / (1 + r / 3) ** 2 + 300 * np.exp(-((r - 25) / 2) ** 2) + 20
    bs = r <= r_bs
    arm = (np.abs(yy - c[1]) <= 1.5) & (xx <= c[0])
    lam = np.where(bs | arm, 1.0, lam)
    return rng.poisson(lam).astype(np.int32), bs, arm


# ------------------------------------------------------------------ spec


def test_spec_json_round_trip(tmp_path):
    spec = MaskSpec(detector="Pilatus300k", dilate=2, holder="auto", beam_center=(10.5, 20),
                    shapes=({"kind": "polygon", "points": [[0, 0], [5, 0], [5, 5]], "cause": "holder"},),
                    edits=({"kind": "line", "points": [[1, 1], [3, 3]], "width": 2, "mode": "unmask"},))
    text = spec.to_json(tmp_path / "s.json")
    assert json.loads(text)["dilate"] == 2
    back = MaskSpec.from_json(tmp_path / "s.json")
    assert back == spec
    assert MaskSpec.from_json(text) == spec


def test_spec_unknown_key_and_bad_values():
    with pytest.raises(DipHealError, match="unknown mask-spec keys.*'colour'"):
        MaskSpec.from_dict({"colour": 1})
    with pytest.raises(DipHealError, match="beamstop"):
        MaskSpec(beamstop="maybe")
    with pytest.raises(DipHealError, match=">= 0"):
        MaskSpec(dilate=-1)
    with pytest.raises(DipHealError, match="not valid JSON"):
        MaskSpec.from_json("{nope")


def test_spec_unknown_detector_lists_known_ones():
    with pytest.raises(DipHealError, match="unknown detector 'Pilatus 7M'.*Pilatus1M.*Pilatus6M"):
        MaskSpec.from_dict({"detector": "Pilatus 7M"})


# ------------------------------------------------------------------ shapes


def test_rect_circle_polygon_line_pixels():
    r = shape_mask({"kind": "rect", "x0": 3, "y0": 1, "x1": 1, "y1": 2}, (4, 5))
    assert r.astype(int).tolist() == [[0] * 5, [0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0] * 5]
    c = shape_mask({"kind": "circle", "x": 2, "y": 2, "r": 1}, (5, 5))
    assert int(c.sum()) == 5 and c[2, 2] and c[1, 2] and not c[1, 1]
    p = shape_mask({"kind": "polygon", "points": [[0, 0], [4, 0], [4, 4], [0, 4]]}, (6, 6))
    assert p[1:4, 1:4].all() and not p[5].any() and not p[:, 5].any()
    ln = shape_mask({"kind": "line", "points": [[0, 2], [9, 2]], "width": 3}, (5, 10))
    assert ln[1:4].all() and not ln[0].any() and not ln[4].any()


def test_rect_below_is_the_seed_rule():
    img = np.full((10, 10), 100.0)
    img[4:6, 4:6] = 1
    m = shape_mask({"kind": "rect", "x0": 2, "y0": 2, "x1": 7, "y1": 7, "below": 10}, img.shape, img)
    assert m.sum() == 4 and m[4:6, 4:6].all()
    auto = shape_mask({"kind": "rect", "x0": 2, "y0": 2, "x1": 7, "y1": 7, "below": "auto"}, img.shape, img)
    assert np.array_equal(auto, m)


def test_flood_fill_picks_the_dark_region():
    img, bs, arm = _ring_frame()
    m = shape_mask({"kind": "fill", "x": 41, "y": 50}, img.shape, img.astype(float))
    assert m[bs].mean() > 0.95 and m[arm].mean() > 0.8
    assert m.sum() < 3 * (bs | arm).sum()


def test_bad_shapes_one_line_each():
    with pytest.raises(DipHealError, match="polygon with 2 points; expected at least 3"):
        shape_mask({"kind": "polygon", "points": [[0, 0], [1, 1]]}, (5, 5))
    with pytest.raises(DipHealError, match="outside the frame"):
        shape_mask({"kind": "rect", "x0": 50, "y0": 50, "x1": 60, "y1": 60}, (10, 10))
    with pytest.raises(DipHealError, match="outside the frame"):
        shape_mask({"kind": "circle", "x": -20, "y": 3, "r": 2}, (10, 10))
    with pytest.raises(DipHealError, match="kind 'star'"):
        shape_mask({"kind": "star"}, (5, 5))
    with pytest.raises(DipHealError, match="radius"):
        shape_mask({"kind": "circle", "x": 1, "y": 1, "r": 0}, (5, 5))
    with pytest.raises(DipHealError, match="lacks"):
        shape_mask({"kind": "rect", "x0": 1}, (5, 5))


def test_rect_partly_outside_is_clipped():
    m = shape_mask({"kind": "rect", "x0": -5, "y0": -5, "x1": 1, "y1": 1}, (4, 4))
    assert int(m.sum()) == 4


def test_unmask_grow_shrink_invert():
    layers = {k: np.zeros((9, 9), bool) for k in CAUSES}
    layers["ignore"] = np.zeros((9, 9), bool)
    apply_shape(layers, {"kind": "rect", "x0": 3, "y0": 3, "x1": 5, "y1": 5})
    assert layers["user"].sum() == 9
    apply_shape(layers, {"kind": "rect", "x0": 4, "y0": 4, "x1": 4, "y1": 4, "mode": "unmask"})
    assert layers["user"].sum() == 8 and not layers["user"][4, 4]
    apply_shape(layers, {"kind": "grow", "r": 1})
    assert layers["user"].sum() == 21
    apply_shape(layers, {"kind": "shrink", "r": 1})
    apply_shape(layers, {"kind": "invert"})
    assert layers["user"].sum() == 81 - 9 + 1 or layers["user"].sum() > 60


# ------------------------------------------------------------------ build


def test_pilatus_gaps_stored_as_zero_are_masked_from_geometry():
    raw = np.full((619, 487), 7, np.int32)
    from dip_heal.detectors import gap_mask

    g = gap_mask("Pilatus300k", raw.shape)
    raw[g] = 0  # PILATUS default: gaps hold 0
    raw[10, 10] = -2
    heal = build_mask(Frame.from_array(raw), MaskSpec(beamstop="none"))
    assert heal[g].all() and heal[10, 10] and int(heal.sum()) == int(g.sum()) + 1


def test_eiger_sentinel_and_nxmx_bits():
    raw = np.full((20, 30), 3, np.uint32)
    raw[2, 3] = 2**32 - 1
    fr = Frame.from_array(raw)
    pm = np.zeros(raw.shape, np.uint32)
    pm[5, 5] = 1 << 1  # dead
    pm[6, 6] = 1 << 8  # user (beamstop)
    pm[7, 7] = 1 << 31  # virtual pixel: not healed by default
    fr.masks["pixel_mask"] = pm
    heal = build_mask(fr, NONE)
    assert heal[2, 3] and heal[5, 5] and heal[6, 6] and not heal[7, 7] and int(heal.sum()) == 3
    assert int(build_mask(fr, NONE.replace(file_masks=False)).sum()) == 1
    fr.masks = {"Imask": np.eye(20, 30, dtype=bool)}
    assert int(build_mask(fr, NONE).sum()) == 21


def test_empty_stripes_not_on_an_empty_frame():
    raw = np.random.default_rng(0).poisson(5, (40, 50)).astype(np.int32)
    raw[10, :] = 0
    raw[:, 7] = 0
    layers = build_mask_layers(Frame.from_array(raw), NONE)
    assert layers["stripes"][10].all() and layers["stripes"][:, 7].all() and int(layers["stripes"].sum()) == 89
    sparse = np.zeros((40, 50), np.int32)
    sparse[::7, ::9] = 1  # nearly empty frame: its zero rows are data, not stripes
    assert not build_mask_layers(Frame.from_array(sparse), NONE)["stripes"].any()


def test_automatic_beamstop_and_holder_on_a_small_frame():
    img, bs, arm = _ring_frame()
    layers = build_mask_layers(Frame.from_array(img), MaskSpec(detector="none", holder="auto", beamstop_margin=0))
    found = layers["beamstop"] | layers["holder"]
    truth = bs | arm
    iou = (found & truth).sum() / (found | truth).sum()
    assert layers["beamstop"][bs].all() and iou > 0.6
    assert layers["holder"][arm].mean() > 0.9


def test_dilate_and_edits_are_exact_after_dilation():
    raw = np.full((20, 20), 10, np.int32)
    raw[10, 10] = -1
    spec = NONE.replace(dilate=2, edits=({"kind": "rect", "x0": 0, "y0": 0, "x1": 1, "y1": 0},))
    heal = build_mask(Frame.from_array(raw), spec)
    assert heal[10, 12] and not heal[10, 13] and heal[0, :2].all() and not heal[1, 0]


def test_no_valid_pixels_one_line():
    with pytest.raises(DipHealError, match="no valid pixels"):
        build_mask(Frame.from_array(np.full((8, 8), -1, np.int32)), NONE)


def test_synthetic_frame_mask_covers_gaps_and_beamstop():
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame(detector="Pilatus300k", seed=1)
    fr = Frame.from_array(f.counts)
    heal = build_mask(fr, MaskSpec(holder="auto"))
    assert heal[f.gaps].all()
    assert heal[f.beamstop].mean() > 0.9
    outside = heal & ~f.heal
    assert outside.sum() < 0.5 * f.beamstop.sum()


# ------------------------------------------------------------------ files


@pytest.mark.parametrize("ext", [".npy", ".png", ".edf", ".tif", ".msk", ".h5"])
def test_write_read_round_trip_every_format(tmp_path, ext):
    heal = np.zeros((13, 40), bool)  # Fit2D rows pack into 32-bit words: use a width > 32
    heal[2:5, 3:9] = True
    heal[12, 39] = True
    p = write_mask(tmp_path / f"m{ext}", heal)
    side = json.loads((tmp_path / f"m{ext}.json").read_text())
    assert side["shape"] == [13, 40] and "polarity" in side
    assert np.array_equal(read_mask(p, (13, 40)), heal)


def test_polarity_of_files_without_sidecar(tmp_path):
    heal = np.zeros((6, 7), bool)
    heal[1, 2] = True
    write_mask(tmp_path / "a.edf", heal)
    (tmp_path / "a.edf.json").unlink()
    assert np.array_equal(read_mask(tmp_path / "a.edf", (6, 7)), heal)  # pyFAI: 1 = masked
    from PIL import Image

    Image.fromarray(np.where(heal, 0, 255).astype(np.uint8)).save(tmp_path / "b.png")
    assert np.array_equal(read_mask(tmp_path / "b.png", (6, 7)), heal)  # PNG: 0 = heal
    np.save(tmp_path / "c.npy", np.where(heal, 0, 1).astype(np.int8))
    assert np.array_equal(read_mask(tmp_path / "c.npy", (6, 7), convention="keep"), heal)


def test_flip_vertical_round_trip(tmp_path):
    heal = np.zeros((5, 4), bool)
    heal[0, 0] = True
    write_mask(tmp_path / "d.npy", heal, flip_vertical=True)
    assert np.load(tmp_path / "d.npy")[4, 0]
    assert np.array_equal(read_mask(tmp_path / "d.npy", (5, 4)), heal)  # sidecar undoes the flip
    np.save(tmp_path / "e.npy", np.flipud(heal).astype(np.uint8))
    assert np.array_equal(read_mask(tmp_path / "e.npy", (5, 4), convention="dioptas"), heal)


def test_read_mask_wrong_shape_names_both(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((4, 5), bool))
    with pytest.raises(DipHealError, match=r"\(4, 5\) does not match the frame \(5, 4\)"):
        read_mask(tmp_path / "m.npy", (5, 4))


def test_read_mask_bad_inputs(tmp_path):
    with pytest.raises(DipHealError, match="no such mask file"):
        read_mask(tmp_path / "nope.npy")
    (tmp_path / "m.xyz").write_text("x")
    with pytest.raises(DipHealError, match="extension"):
        read_mask(tmp_path / "m.xyz")
    np.save(tmp_path / "m.npy", np.zeros((2, 2), bool))
    with pytest.raises(DipHealError, match="convention 'up'"):
        read_mask(tmp_path / "m.npy", convention="up")


def test_read_nxmx_pixel_mask(tmp_path):
    import h5py

    pm = np.zeros((4, 6), np.uint32)
    pm[1, 1] = 1
    pm[2, 2] = 1 << 31
    with h5py.File(tmp_path / "m.h5", "w") as h5:
        h5["entry/instrument/detector/pixel_mask"] = pm
    heal = read_mask(tmp_path / "m.h5", (4, 6))
    assert heal[1, 1] and not heal[2, 2] and heal.sum() == 1


def test_write_refuses_to_overwrite_input(tmp_path):
    p = tmp_path / "in.npy"
    np.save(p, np.zeros((3, 3)))
    with pytest.raises(DipHealError, match="is the input"):
        write_mask(p, np.zeros((3, 3), bool), protect=(p,))


# ------------------------------------------------------------------ CLI


def _tiff(tmp_path, arr):
    p = tmp_path / "f.npy"
    np.save(p, arr)
    return p


def test_cli_writes_mask_spec_overlay_and_spec_reproduces(tmp_path):
    img, bs, arm = _ring_frame()
    p = _tiff(tmp_path, img)
    out = tmp_path / "o" / "m.png"
    res = CliRunner().invoke(main, ["mask", str(p), "--out", str(out), "--holder", "0,48;40,48;40,52;0,52",
                                    "--dilate", "1"])
    assert res.exit_code == 0, res.output
    heal = read_mask(out, img.shape)
    assert heal[bs].all() and heal[arm].all()
    assert (tmp_path / "o" / "m.overlay.png").exists()
    spec = MaskSpec.from_json(tmp_path / "o" / "m.png.spec.json")
    from dip_heal.io import read_image

    assert np.array_equal(build_mask(read_image(p), spec), heal)


def test_cli_series_with_spec(tmp_path):
    a, _, _ = _ring_frame(seed=1)
    b, _, _ = _ring_frame(c=(45.0, 40.0), seed=2)  # the beamstop moved
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    MaskSpec(detector="none").to_json(tmp_path / "s.json")
    res = CliRunner().invoke(main, ["mask", "--spec", str(tmp_path / "s.json"), str(tmp_path / "a.npy"),
                                    str(tmp_path / "b.npy"), "--out", str(tmp_path / "out"), "--no-overlay"])
    assert res.exit_code == 0, res.output
    ma = np.load(tmp_path / "out" / "a_mask.npy")
    mb = np.load(tmp_path / "out" / "b_mask.npy")
    assert ma[50, 41] and mb[40, 45] and not mb[50, 41] or not np.array_equal(ma, mb)


@pytest.mark.parametrize(
    "args, msg",
    [(["--holder", "1,2;3,4;5"], "expected 2"), (["--beamstop", "900,900,950,950"], "outside the frame"),
     (["--detector", "Pilatus 7M"], "Pilatus6M"), (["--holder", "0,0;1,1;2"], "expected 2"),
     (["--holder", "5,5"], "polygon with 1 points; expected at least 3"),
     (["--beamstop-circle", "500,500,3"], "outside the frame")],
)
def test_cli_bad_input_one_line(tmp_path, args, msg):
    img, _, _ = _ring_frame()
    res = CliRunner().invoke(main, ["mask", str(_tiff(tmp_path, img)), "--out", str(tmp_path / "m.npy"), *args])
    assert res.exit_code != 0 and msg in res.output
    assert not (tmp_path / "m.npy").exists()


def test_cli_wrong_detector_shape(tmp_path):
    img, _, _ = _ring_frame()
    res = CliRunner().invoke(main, ["mask", str(_tiff(tmp_path, img)), "--detector", "Pilatus1M",
                                    "--out", str(tmp_path / "m.npy")])
    assert res.exit_code == 1 and "(1043, 981)" in res.output and "(96, 80)" in res.output


# ------------------------------------------------------------------ real frames (skip when ../shared/data is absent)

_PILATUS = ["bioxtasraw/saxslab_image.tiff", "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif",
            "musclex/P1_F1_tet_1_100_005_0001.tif", "bioxtasraw/GI2_A9_19_001_0000.tiff",
            "pywaxs/LaB6_5.6m_12.7keV_corrected_1150.1s_x-1.601_th0.500_5.00s_1116949_maxs.tiff"]


def _auto(rel, spec=None):
    from dip_heal.io import read_image

    fr = read_image(shared_file(rel))
    layers = build_mask_layers(fr, spec or MaskSpec())
    heal = np.zeros(fr.shape, bool)
    for k in CAUSES:
        heal |= layers[k]
    return fr, layers, heal


@pytest.mark.parametrize("rel", _PILATUS)
def test_real_pilatus_sentinels_all_masked_and_nothing_else(rel):
    fr, layers, heal = _auto(rel)
    sentinels = fr.raw < 0
    assert heal[sentinels].all()
    allowed = layers["gaps"] | layers["sentinel"] | layers["beamstop"] | layers["holder"]
    assert int((heal & ~allowed).sum()) == 0


def test_real_hdpe_pilatus2m_gaps_stored_as_zero():
    fr, layers, heal = _auto("mve385/HDPE_85_low.counts.tif")
    assert fr.meta["mask_info"]["detector"] == "Pilatus2M"
    gaps = np.zeros(fr.shape, bool)
    for k in range(7):
        gaps[195 + 212 * k : 212 + 212 * k] = True
    gaps[:, 487:494] = gaps[:, 981:988] = True
    assert heal[gaps].all() and int(layers["gaps"].sum()) == 197365
    allowed = layers["gaps"] | layers["sentinel"] | layers["beamstop"] | layers["holder"]
    assert int((heal & ~allowed).sum()) == 0


@pytest.mark.slow
@pytest.mark.parametrize("rel", ["bioxtasraw/vac_007_data_000001.h5", "fabio_history/run2_1_00148.cbf.bz2"])
def test_real_big_frames_sentinels(rel):
    fr, layers, heal = _auto(rel)
    raw = fr.raw
    sent = raw < 0 if np.issubdtype(raw.dtype, np.signedinteger) else raw == np.iinfo(raw.dtype).max
    assert sent.any() and heal[sent].all()
    allowed = layers["gaps"] | layers["sentinel"] | layers["beamstop"] | layers["holder"]
    assert int((heal & ~allowed).sum()) == 0


def test_real_bam_holder_polygon_against_imask():
    # holder polygon drawn by hand; the file's own Imask is the reference, so file masks are off
    poly = [[501, 415], [521, 413], [815, 1064], [793, 1064]]
    spec = MaskSpec(file_masks=False, shapes=({"kind": "polygon", "points": poly, "cause": "holder"},))
    fr, layers, heal = _auto("sasdata/BAM_2D.h5", spec)
    ref = fr.masks["Imask"].astype(bool)
    tp = (heal & ref).sum()
    assert tp / ref.sum() >= 0.99 and tp / heal.sum() >= 0.90


def test_real_bam_automatic_holder_against_imask():
    fr, layers, heal = _auto("sasdata/BAM_2D.h5", MaskSpec(file_masks=False, holder="auto"))
    ref = fr.masks["Imask"].astype(bool)
    tp = (heal & ref).sum()
    assert tp / ref.sum() >= 0.95 and tp / heal.sum() >= 0.95


def test_real_lab6_agrees_with_the_beamline_mask():
    fr, layers, heal = _auto(_PILATUS[-1])
    ref = read_mask(shared_file("pywaxs/LaB6_SRM660c_Calib_Mask.edf"), fr.shape, convention="pyfai")
    assert (heal & ref).sum() / (heal | ref).sum() > 0.99


@pytest.mark.parametrize("rel", ["bioxtasraw/saxslab_image.tiff",
                                 "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif",
                                 "mve385/HDPE_85_low.counts.tif"])
def test_real_beamstop_against_hand_drawn(rel):
    from pathlib import Path

    hand = json.loads((Path(__file__).parent / "hand_beamstops.json").read_text())[rel]
    fr, layers, heal = _auto(rel)
    drawn = shape_mask(hand, fr.shape)
    auto = layers["beamstop"]
    assert (auto & drawn).sum() / (auto | drawn).sum() > 0.7


def test_shipped_specs_load():
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[2] / "masks").glob("*.json"))
    assert len(files) >= 5
    for f in files:
        MaskSpec.from_json(f)


def test_ignore_zero_border_keeps_zeros_inside_the_active_area():
    yy, xx = np.mgrid[0:64, 0:64]
    raw = np.where(np.hypot(xx - 31.5, yy - 31.5) < 30, 7, 0).astype(np.uint16)
    raw[30:34, 30:34] = 0  # a dark patch inside: not ignored
    layers = build_mask_layers(Frame.from_array(raw), MaskSpec.from_json(
        '{"detector": "none", "beamstop": "none", "stripes": false, "ignore_zero_border": true}'))
    assert layers["ignore"][0, 0] and not layers["ignore"][31, 31] and not layers["ignore"][5:59, 31].any()
    assert not build_mask(Frame.from_array(raw), MaskSpec(detector="none", beamstop="none", stripes=False,
                                                          ignore_zero_border=True))[0, 0]


def test_read_dioptas_mask_file(tmp_path):
    from PIL import Image

    heal = np.zeros((6, 5), bool)
    heal[0, 1] = True
    Image.fromarray(np.flipud(heal).astype(np.uint8)).save(tmp_path / "d.mask", format="TIFF")
    assert np.array_equal(read_mask(tmp_path / "d.mask", (6, 5)), heal)


# --------------------------------------------------------------------------------------------
# the library half of `dip-heal mask` (issue 15): flags -> spec, images -> mask files


def test_spec_from_flags_builds_what_the_flags_say(tmp_path):
    from dip_heal.masks import MaskSpec

    assert MaskSpec.from_flags() == MaskSpec()
    s = MaskSpec.from_flags(detector="none", beamstop_rect="1,2,5,6", beamstop_below="7", beamstop_circle="9,9,2",
                            holder="0,3;4,3", holder_width=2.0, center="10, 11", stripes=False, hot_pixels=True,
                            dilate=1)
    assert s.detector == "none" and s.beam_center == (10.0, 11.0) and not s.stripes and s.hot_pixels
    assert s.dilate == 1 and s.beamstop == "none" and s.holder == "none"  # fixed shapes turn the finders off
    assert [(d["kind"], d["cause"]) for d in s.shapes] == [("rect", "beamstop"), ("circle", "beamstop"),
                                                           ("line", "holder")]
    assert s.shapes[0]["below"] == 7.0 and s.shapes[2]["width"] == 2.0
    poly = MaskSpec.from_flags(holder="0,0;5,0;5,5", auto_holder=True, auto_beamstop=True, beamstop_circle="3,3,1")
    assert poly.shapes[-1]["kind"] == "polygon" and poly.holder == "auto" and poly.beamstop == "auto"
    base = MaskSpec(dilate=3, shapes=({"kind": "circle", "x": 1, "y": 1, "r": 1},))
    base.to_json(tmp_path / "s.json")
    more = MaskSpec.from_flags(tmp_path / "s.json", beamstop_rect="0,0,2,2")
    assert more.dilate == 3 and [d["kind"] for d in more.shapes] == ["circle", "rect"]
    assert more.shapes[1]["below"] == "auto"


@pytest.mark.parametrize("flags, msg", [
    ({"center": "1,2,3"}, "expected 2 for --center"), ({"beamstop_rect": "a,b,c,d"}, "comma-separated"),
    ({"beamstop_below": "5"}, "--beamstop-below needs --beamstop"), ({"holder": "1,2;3"}, "expected 2"),
])
def test_spec_from_flags_bad_values_are_flag_errors(flags, msg):
    from dip_heal.errors import FlagError

    with pytest.raises(FlagError, match=msg):
        MaskSpec.from_flags(**flags)


def test_mask_images_names_series_masks_and_refuses_bad_requests(tmp_path):
    from dip_heal.masks import mask_images
    from dip_heal.masks.frame_files import default_mask_path

    img, _, _ = _ring_frame()
    a, b = tmp_path / "a.npy", tmp_path / "b.cbf.gz"
    np.save(a, img)
    assert default_mask_path(b, tmp_path / "o", "png") == tmp_path / "o" / "b_mask.png"
    out = list(mask_images([a, a], NONE, tmp_path / "o", overlay=False))
    assert [p["mask"] for p in out] == [tmp_path / "o" / "a_mask.npy"] * 2
    one = list(mask_images([a], NONE, tmp_path / "m.png", format="png"))
    assert one[0]["mask"] == tmp_path / "m.png" and one[0]["overlay"].is_file()
    with pytest.raises(DipHealError, match="looks like a file"):
        next(mask_images([a, a], NONE, tmp_path / "x.npy"))
    with pytest.raises(DipHealError, match="--interactive with 2 images"):
        next(mask_images([a, a], NONE, interactive=True))
    with pytest.raises(DipHealError, match="no such file"):
        next(mask_images([tmp_path / "none.npy"], NONE))

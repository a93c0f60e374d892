"""Beam centre, beamstop and holder detection."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from dip_heal.beam import estimate_center, find_beamstop, find_holder, grow, shrink
from dip_heal.errors import DipHealError


@pytest.mark.parametrize("kind", ["saxs", "waxs", "fibre"])
@pytest.mark.parametrize("seed", [0, 1])
def test_center_on_synthetic_frames(kind, seed):
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame(detector="Pilatus300k", kind=kind, seed=seed)
    valid = (f.counts >= 0) & ~f.gaps
    x, y = estimate_center(f.counts, valid)
    assert np.hypot(x - f.center[0], y - f.center[1]) < 1.0


def test_center_off_centre_and_subpixel():
    yy, xx = np.mgrid[0:150, 0:200]
    img = 1e4 / (1 + np.hypot(xx - 61.3, yy - 97.6)) ** 2 + 50 * np.exp(-((np.hypot(xx - 61.3, yy - 97.6) - 30) / 2) ** 2)
    x, y = estimate_center(img)
    assert abs(x - 61.3) < 0.3 and abs(y - 97.6) < 0.3


def test_center_bad_input():
    with pytest.raises(DipHealError, match="no valid pixels"):
        estimate_center(np.ones((10, 10)), np.zeros((10, 10), bool))
    with pytest.raises(DipHealError, match=r"\(5, 5\) does not match the frame \(10, 10\)"):
        estimate_center(np.ones((10, 10)), np.ones((5, 5), bool))
    with pytest.raises(DipHealError, match="2-D"):
        estimate_center(np.ones(10))


def test_beamstop_and_holder_on_synthetic():
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame(detector="Pilatus300k", seed=0)
    valid = (f.counts >= 0) & ~f.gaps
    bs = find_beamstop(f.counts, valid)
    poly = find_holder(f.counts, valid, bs)
    assert poly is not None and len(poly) == 4
    from dip_heal.masks import shape_mask

    found = bs | shape_mask({"kind": "polygon", "points": poly}, f.counts.shape)
    truth = f.beamstop
    assert found[truth].mean() > 0.9
    assert (found & truth).sum() / (found | truth).sum() > 0.6


def test_no_beamstop_on_a_flat_frame():
    img = np.random.default_rng(0).poisson(100, (64, 64))
    assert not find_beamstop(img, center=(32, 32)).any()
    assert find_holder(img, beamstop=np.zeros((64, 64), bool)) is None


def test_grow_shrink():
    m = np.zeros((11, 11), bool)
    m[5, 5] = True
    g = grow(m, 2)
    assert g.sum() == 13 and shrink(g, 2).sum() <= 1


@pytest.mark.parametrize("rel, centre", [("bioxtasraw/saxslab_image.tiff", (267.5, 359.1)),
                                         ("musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif", (303.1, 530.6))])
def test_center_on_real_frames(rel, centre):
    from dip_heal.detectors import detector_from_shape, gap_mask
    from dip_heal.io import read_image

    fr = read_image(shared_file(rel))
    valid = fr.valid & ~gap_mask(detector_from_shape(fr.shape), fr.shape)
    x, y = estimate_center(fr.data, valid)
    assert np.hypot(x - centre[0], y - centre[1]) < 2.0


def test_no_false_beamstop_when_the_centre_estimate_is_off():
    # GISAXS is not centrosymmetric: the centre estimate misses the beam; the dark region found
    # there is not enclosed by bright scattering, so no beamstop is claimed (give --center)
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame(detector="Pilatus300k", kind="gisaxs", seed=1)
    valid = (f.counts >= 0) & ~f.gaps
    bs = find_beamstop(f.counts, valid)
    assert not (bs & ~f.beamstop).sum() > 0.2 * max(int(bs.sum()), 1)
    found = find_beamstop(f.counts, valid, center=f.center)  # with the right centre it is found
    assert found.sum() > 500 and (found & ~f.beamstop).sum() < 0.1 * found.sum()  # the disk (the truth includes the arm)


def _rings(shape, cx, cy, offset=0.0, seed=0):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(xx - cx, yy - cy)
    lam = 2e4 / (1 + r) ** 1.2 + 300 * np.exp(-(((r % 40) - 20) / 2.0) ** 2) + 5
    return np.random.default_rng(seed).poisson(lam).astype(np.float32) + offset


def test_find_center_on_a_ccd_with_a_dark_offset_and_a_centre_near_the_edge():
    from dip_heal.beam import find_center

    img = _rings((160, 200), 185.0, 70.0, offset=1000.0)
    img[50:90, 165:200] = 1000 + np.random.default_rng(1).normal(0, 3, (40, 35))  # the shadow at the offset
    c = find_center(img)
    assert np.hypot(c.x - 185.0, c.y - 70.0) <= 3.0 and c.on_detector and c.sure


def test_find_center_off_the_detector():
    from dip_heal.beam import find_center

    c = find_center(_rings((120, 160), 190.0, 60.0))
    assert not c.on_detector and np.hypot(c.x - 190.0, c.y - 60.0) <= 3.0


def test_find_center_is_unsure_on_noise():
    from dip_heal.beam import estimate_center, find_center

    img = np.random.default_rng(0).poisson(50, (96, 96)).astype(np.float32)
    c = find_center(img)
    assert not c.sure and c.confidence < 0.5
    assert estimate_center(img) == (c.x, c.y)


def test_round_ccd_corners_do_not_pull_the_centre():
    from dip_heal.beam import find_center

    img = _rings((160, 160), 60.0, 95.0)
    yy, xx = np.mgrid[0:160, 0:160]
    img[np.hypot(xx - 79.5, yy - 79.5) > 80] = 0  # the dead corners of a round active area
    c = find_center(img)
    assert np.hypot(c.x - 60.0, c.y - 95.0) <= 3.0


def test_find_center_of_a_crop_far_from_the_beam():
    """Rings about a centre 1.6 frame widths beyond the crop's right edge (a 512x512 crop of a big
    detector's corner): the first search stops at its edge (a quarter of the frame off), the
    widened one finds the rings' centre, and a fit accepts it."""
    from dip_heal.beam import find_center
    from dip_heal.beam.center import MAX_OFF_FRAME
    from dip_heal.polar import check_center

    shape, cx, cy = (128, 128), 128 + 1.6 * 128, 50.0
    img = _rings(shape, cx, cy)
    c = find_center(img)
    assert not c.on_detector and abs(c.x - cx) <= 0.05 * (cx - 128) and abs(c.y - cy) <= 3.0
    check_center((c.x, c.y), shape)  # within MAX_OFF_FRAME: no error
    assert c.x > (1 + 0.25) * shape[1] and c.x < (1 + MAX_OFF_FRAME) * shape[1]
    with pytest.raises(DipHealError, match="2 frame sizes"):
        check_center(((2 + MAX_OFF_FRAME) * shape[1], cy), shape)

"""Defaults of issue 18: a round CCD's active area, the holder on by default, --no-holder."""

from __future__ import annotations

import numpy as np
import pytest

from dip_heal.errors import DipHealError
from dip_heal.frame import Frame
from dip_heal.masks import MaskSpec, build_mask_layers


def _round_ccd(n=96, corners_zero=True):
    rng = np.random.default_rng(0)
    img = rng.poisson(40, (n, n)).astype(np.uint16) + 1
    yy, xx = np.mgrid[0:n, 0:n]
    if corners_zero:
        img[np.hypot(xx - (n - 1) / 2, yy - (n - 1) / 2) > n / 2] = 0
    return img


def test_round_active_area_is_ignored_by_default_and_can_be_turned_off():
    img = _round_ccd()
    spec = MaskSpec(beamstop="none", holder="none", stripes=False)
    ign = build_mask_layers(Frame.from_array(img), spec)["ignore"]
    assert ign[0, 0] and not ign[48, 48] and not (ign & (img != 0)).any() and ign.sum() > 0.9 * (img == 0).sum()
    off = build_mask_layers(Frame.from_array(img), spec.replace(active_area="off"))["ignore"]
    assert not off.any()


def test_active_area_auto_needs_zero_corners():
    img = _round_ccd(corners_zero=False)
    img[np.add.outer(np.arange(96), np.arange(96)) < 10] = 0  # one dead corner only
    ign = build_mask_layers(Frame.from_array(img), MaskSpec(beamstop="none", holder="none", stripes=False))["ignore"]
    assert not ign.any()
    on = build_mask_layers(Frame.from_array(img), MaskSpec(beamstop="none", holder="none", stripes=False,
                                                           active_area="on"))["ignore"]
    assert on[0, 0] and on[0, 8] and not on[48, 48]


def test_holder_on_by_default_and_flags():
    assert MaskSpec().holder == "auto" and MaskSpec().active_area == "auto"
    assert MaskSpec.from_flags(auto_holder=False).holder == "none"
    assert MaskSpec.from_flags(active_area=True).active_area == "on"
    assert MaskSpec.from_flags(active_area=False).active_area == "off"
    with pytest.raises(DipHealError, match="active_area"):
        MaskSpec(active_area="yes")
    assert MaskSpec.from_json(MaskSpec(active_area="off").to_json()).active_area == "off"


def test_no_holder_flag_on_the_command_line(tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main

    np.save(tmp_path / "f.npy", _round_ccd().astype(np.float32))
    res = CliRunner().invoke(main, ["mask", str(tmp_path / "f.npy"), "--no-holder", "--no-active-area",
                                    "-o", str(tmp_path / "m.npy"), "--no-overlay"])
    assert res.exit_code == 0, res.output
    import json

    spec = json.loads((tmp_path / "m.npy.spec.json").read_text())
    assert spec["holder"] == "none" and spec["active_area"] == "off"

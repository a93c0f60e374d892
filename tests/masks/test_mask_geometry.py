"""Issue 18 in the masks: --poni, crops of a named detector, Dioptas .mask by extension, TIFF masks fabio reads."""

import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner

from dip_heal.cli import main
from dip_heal.errors import DipHealError
from dip_heal.masks import MaskSpec, build_mask_layers, read_mask, write_mask


def _poni(tmp_path, shape, center, name="g.poni", detector=None):
    """A PONI written by pyFAI (Fit2D centre, untilted) for a generic detector or a named one."""
    import pyFAI.detectors
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = (pyFAI.detectors.detector_factory(detector) if detector
           else Detector(pixel1=172e-6, pixel2=172e-6, max_shape=shape))
    ai = AzimuthalIntegrator(detector=det, wavelength=1e-10)
    ai.setFit2D(100.0, center[0] + 0.5, center[1] + 0.5)
    ai.save(str(tmp_path / name))
    return tmp_path / name


def _frame_with_beamstop(shape=(60, 70), center=(40.0, 22.0), r_stop=4.0):
    from dip_heal.frame import Frame

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(xx - center[0], yy - center[1])
    img = (3000.0 / (1 + r) ** 1.2 + 20).astype(np.int32)
    img[r <= r_stop] = 0
    return Frame.from_array(img)


def test_spec_takes_a_poni_and_refuses_it_with_a_centre(tmp_path):
    p = _poni(tmp_path, (60, 70), (40.0, 22.0))
    spec = MaskSpec.from_flags(poni=p)
    assert spec.poni == str(p) and MaskSpec.from_json(spec.to_json()).poni == str(p)
    with pytest.raises(DipHealError, match="both a beam centre"):
        MaskSpec.from_flags(poni=p, center="3,4")


def test_the_poni_centre_replaces_the_estimate(tmp_path):
    fr = _frame_with_beamstop()
    p = _poni(tmp_path, (60, 70), (40.0, 22.0))
    layers = build_mask_layers(fr, MaskSpec(poni=str(p)))
    info = fr.meta["mask_info"]
    assert info["center"] == pytest.approx((40.0, 22.0))
    assert info["geometry"]["sha256"] and info["geometry"]["poni"] == str(p)
    assert layers["beamstop"][22, 40] and not layers["beamstop"][5, 5]


def test_a_poni_for_another_detector_is_one_line(tmp_path):
    fr = _frame_with_beamstop()
    p = _poni(tmp_path, (50, 70), (40.0, 22.0))
    with pytest.raises(DipHealError, match=r"is for a 50x70 .*the frame is 60x70") as e:
        build_mask_layers(fr, MaskSpec(poni=str(p)))
    assert "\n" not in str(e.value)


def test_a_named_detector_in_the_poni_gives_the_gaps(tmp_path):
    from dip_heal.frame import Frame

    img = np.full((195 * 0 + 619, 487), 50, np.int32)  # a PILATUS 300K frame without gap sentinels
    p = _poni(tmp_path, img.shape, (240.0, 300.0), detector="Pilatus300k")
    layers = build_mask_layers(Frame.from_array(img), MaskSpec(poni=str(p), detector="auto", beamstop="none"))
    assert layers["gaps"][195:212].all() and int(layers["gaps"].sum()) == 16558


def test_mask_cli_with_poni_records_the_geometry_in_the_spec(tmp_path):
    fr = _frame_with_beamstop()
    np.save(tmp_path / "f.npy", fr.raw)
    p = _poni(tmp_path, (60, 70), (40.0, 22.0))
    res = CliRunner().invoke(main, ["mask", str(tmp_path / "f.npy"), "--poni", str(p), "--out",
                                    str(tmp_path / "m.npy"), "--no-overlay"])
    assert res.exit_code == 0, res.output
    spec = json.loads((tmp_path / "m.npy.spec.json").read_text())
    assert spec["poni"] == str(p) and spec["geometry"]["center_xy"] == pytest.approx([40.0, 22.0])
    assert spec["geometry"]["sha256"] and spec["geometry"]["distance_m"] == pytest.approx(0.1)
    MaskSpec.from_json(tmp_path / "m.npy.spec.json")  # the recipe reads back
    bad = CliRunner().invoke(main, ["mask", str(tmp_path / "f.npy"), "--poni", str(tmp_path / "no.poni")])
    assert bad.exit_code != 0 and "no such PONI file" in bad.output and "Traceback" not in bad.output


def test_a_crop_whose_header_names_pilatus6m_warns_and_continues(tmp_path, caplog):
    from fabio.cbfimage import CbfImage

    from dip_heal.detectors import gap_mask
    from dip_heal.io import read_image

    # a generated PILATUS 6M frame (pyFAI's module gaps at -1, Poisson counts), cropped across a gap
    gaps = gap_mask("Pilatus6M", (2527, 2463))[1000:1160, 1100:1300]
    crop = np.random.default_rng(3).poisson(100.0, gaps.shape).astype(np.int32)
    crop[gaps] = -1
    assert gaps.any()
    hdr = {"_array_data.header_convention": "PILATUS_1.2",
           "_array_data.header_contents": "# Detector: PILATUS 6M, 60-0001\r\n"}
    CbfImage(data=crop, header=hdr).write(str(tmp_path / "crop.cbf"))
    fr = read_image(tmp_path / "crop.cbf")
    assert fr.meta.get("detector") == "Pilatus6M"
    with caplog.at_level(logging.WARNING):
        layers = build_mask_layers(fr, MaskSpec())
    warn = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "Pilatus6M" in r.getMessage()]
    assert len(warn) == 1 and "\n" not in warn[0] and "(160, 200)" in warn[0]
    assert fr.meta["mask_info"]["detector"] is None and not layers["gaps"].any()
    # the gap sentinels (-1) of the crop are still masked
    assert np.array_equal(layers["sentinel"], crop < 0)
    res = CliRunner().invoke(main, ["mask", str(tmp_path / "crop.cbf"), "--out", str(tmp_path / "m.npy"),
                                    "--no-overlay"])
    assert res.exit_code == 0, res.output


def test_dioptas_mask_by_extension_round_trips_upside_down(tmp_path):
    import fabio

    heal = np.zeros((6, 5), bool)
    heal[0, :] = True
    heal[4, 2] = True
    out = write_mask(tmp_path / "m.mask", heal)
    stored = np.asarray(fabio.open(str(out)).data)
    assert stored.dtype == np.uint8
    np.testing.assert_array_equal(stored, np.flipud(heal).astype(np.uint8))  # Dioptas's orientation, 1 = masked
    np.testing.assert_array_equal(read_mask(out, (6, 5)), heal)
    (tmp_path / "m.mask.json").unlink()  # as Dioptas would leave it: no sidecar
    np.testing.assert_array_equal(read_mask(out, (6, 5)), heal)


def test_mask_cli_writes_dioptas_mask_without_format(tmp_path):
    fr = _frame_with_beamstop()
    np.save(tmp_path / "f.npy", fr.raw)
    res = CliRunner().invoke(main, ["mask", str(tmp_path / "f.npy"), "--out", str(tmp_path / "m.mask"),
                                    "--no-overlay"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "m.mask.json").read_text())["format"] == "dioptas"
    heal = read_mask(tmp_path / "m.mask", (60, 70))
    assert heal[22, 40] and heal.sum() > 0


@pytest.mark.parametrize("name", ["m.tif", "m.mask"])
def test_fabio_reads_written_tiff_masks_without_a_warning(tmp_path, caplog, recwarn, name):
    import fabio

    heal = np.zeros((20, 30), bool)
    heal[3:6, 4:9] = True
    out = write_mask(tmp_path / name, heal)
    with caplog.at_level(logging.DEBUG, logger="fabio"):
        data = np.asarray(fabio.open(str(out)).data)
    assert int(data.sum()) == 15
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
    assert not [w for w in recwarn.list if "fabio" in str(w.filename) or "tif" in str(w.message).lower()]

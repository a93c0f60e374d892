"""Tests of dip_heal.io: every reader on real frames (skipped when ../shared/data is absent) and on
generated files, bit-exact round trips, sentinels, selectors, and every bad-input path."""

from __future__ import annotations

import bz2
import gzip
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import shared_file

from dip_heal.errors import DipHealError
from dip_heal.frame import Frame
from dip_heal.io import (
    detector_name,
    output_path_like,
    read_image,
    write_image,
)

RNG = np.random.default_rng(42)


def _pilatus_like(shape=(23, 17), dtype=np.int32) -> np.ndarray:
    """Small PILATUS-like counts with a -1 gap row and two -2 bad pixels."""
    a = np.random.default_rng(0).poisson(50, shape).astype(dtype)
    a[7, :] = -1
    a[3, 4] = -2
    a[15, 9] = -2
    return a


def _write_cbf(path, data, header_contents: str | None = None):
    from fabio.cbfimage import CbfImage

    hdr = {}
    if header_contents is not None:
        hdr = {"_array_data.header_convention": "PILATUS_1.2", "_array_data.header_contents": header_contents}
    CbfImage(data=data, header=hdr).write(str(path))
    return path


# --------------------------------------------------------------------------------------------
# real frames (each read once; the 6M bz2 CBF and the FReLoN EDF take ~1 s to decompress)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pilatus6m_bz2():
    return read_image(shared_file("fabio_history/run2_1_00148.cbf.bz2"))


@pytest.fixture(scope="module")
def eiger_file():
    return shared_file("bioxtasraw/vac_007_data_000001.h5")


def test_real_cbf_gz_pilatus():
    f = read_image(shared_file("dials_data_files/DLS_I03_smargon_0001.cbf.gz"))
    assert f.meta["format"] == "cbf"
    assert f.raw.shape == (2527, 2463) and f.raw.dtype == np.int32
    assert f.meta["detector"] == "Pilatus6M"
    assert "PILATUS3 6M" in f.meta["header"]["_array_data.header_contents"]
    np.testing.assert_array_equal(f.valid, f.raw >= 0)
    assert 0 < (~f.valid).sum() < f.raw.size // 4
    assert f.data.dtype == np.float32 and np.array_equal(f.data, f.raw.astype(np.float32))


def test_real_cbf_bz2_6m(pilatus6m_bz2):
    f = pilatus6m_bz2
    assert f.meta["format"] == "cbf" and f.meta["detector"] == "Pilatus6M"
    assert f.raw.shape == (2527, 2463) and f.raw.dtype == np.int32
    assert (f.raw == -2).sum() > 0 and (f.raw == -1).sum() > 0
    np.testing.assert_array_equal(f.valid, f.raw >= 0)


def test_real_edf_bz2_frelon():
    f = read_image(shared_file("fabio_history/F2K_Seb_Lyso0675.edf.bz2"))
    assert f.meta["format"] == "edf" and f.meta["detector"] == "FReLoN"
    assert f.raw.shape == (2048, 2048) and f.raw.dtype == np.uint16
    assert f.valid.all()  # a CCD: no sentinel
    assert f.meta["header"]["title"] == "ESPIA FRELON Image"


def test_real_pilatus_tiff():
    f = read_image(shared_file("musclex/P1_F1_tet_1_100_005_0001.tif"))
    assert f.meta["format"] == "tiff" and f.meta["detector"] == "Pilatus1M"
    assert f.raw.shape == (1043, 981) and f.raw.dtype == np.int32
    assert (f.raw == -1).any() and (f.raw == -2).any()
    np.testing.assert_array_equal(f.valid, f.raw >= 0)


def test_real_pilatus300k_tiff_model_tag():
    f = read_image(shared_file("bioxtasraw/saxslab_image.tiff"))
    assert f.meta["detector"] == "Pilatus300k" and f.raw.shape == (619, 487)


def test_real_uint16_ccd_tiff():
    f = read_image(shared_file("musclex/107.tif"))
    assert f.meta["format"] == "tiff" and f.raw.dtype == np.uint16 and f.raw.shape == (1024, 1024)
    assert f.valid.all() and f.meta["detector"] is None


def test_real_marccd_bz2():
    f = read_image(shared_file("fabio_history/corkcont2_H_0089.mccd.bz2"))
    assert f.meta["format"] == "marccd"
    assert f.raw.shape == (2048, 2048) and f.raw.dtype == np.uint16
    assert f.valid.all() and f.raw.max() > 0


def test_real_bruker_by_content():
    f = read_image(shared_file("fabio_history/Cr8F8140k103.0026.bz2"))
    assert f.meta["format"] == "bruker"
    assert f.raw.shape == (512, 512) and f.raw.dtype == np.uint32
    assert f.meta["header"]["SAMPLE"] == "Cr8F8140k"


def test_real_eiger_hdf5_default_and_selection(eiger_file, caplog):
    with caplog.at_level(logging.INFO, logger="dip_heal.io"):
        f0 = read_image(eiger_file)
    assert "/entry/data/data" in caplog.text
    assert f0.meta["format"] == "hdf5"
    assert f0.meta["dataset"] == "/entry/data/data" and f0.meta["index"] == 0
    assert f0.raw.shape == (3262, 3108) and f0.raw.dtype == np.uint32
    np.testing.assert_array_equal(f0.valid, f0.raw != 4294967295)
    assert (~f0.valid).sum() > 100_000  # module gaps
    f1 = read_image(f"{eiger_file}::/entry/data/data[1]")
    assert f1.meta["index"] == 1 and f1.meta["dataset"] == "/entry/data/data"
    assert f1.meta["path"] == str(eiger_file)
    assert not np.array_equal(f0.raw, f1.raw)
    with pytest.raises(DipHealError, match="frame index 2 out of range"):
        read_image(eiger_file, index=2)


def test_real_nxcansas(caplog):
    with caplog.at_level(logging.INFO, logger="dip_heal.io"):
        f = read_image(shared_file("sasdata/BAM_2D.h5"))
    assert "NXcanSAS" in caplog.text
    assert f.meta["format"] == "nxcansas" and f.meta["dataset"] == "/sasentry01/data/I"
    assert f.raw.shape == (1065, 1030) and f.raw.dtype == np.float64
    assert f.masks["Imask"].dtype == bool and f.masks["Imask"].any()
    np.testing.assert_array_equal(f.valid, ~f.masks["Imask"] & np.isfinite(f.raw))
    assert (f.raw[f.valid] < 0).any()  # reduced data: negatives are noise, still valid


def test_real_npy():
    f = read_image(shared_file("scikit_beam_examples/duke_img.npy"))
    assert f.meta["format"] == "npy" and f.raw.shape == (256, 256) and f.raw.dtype == np.float64
    assert f.valid.all()


def test_real_png_render_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="dip_heal.io"):
        f = read_image(shared_file("mve385/HDPE_85_low.png"))
    assert "not intensities" in caplog.text
    assert f.meta["format"] == "png" and f.raw.ndim == 2 and f.raw.dtype == np.float32
    assert f.raw.shape == (242, 212)
    assert 0 <= f.data.min() and f.data.max() <= 255


# --------------------------------------------------------------------------------------------
# generated files of every format
# --------------------------------------------------------------------------------------------


def test_cbf_roundtrip_int32_with_header(tmp_path):
    raw = _pilatus_like()
    src = _write_cbf(tmp_path / "in.cbf", raw, "# Detector: PILATUS 1M, S/N 10-0100\r\n# Exposure_time 1.0 s\r\n")
    f = read_image(src)
    assert f.meta["detector"] == "Pilatus1M" and f.raw.dtype == np.int32
    np.testing.assert_array_equal(f.raw, raw)
    np.testing.assert_array_equal(f.valid, raw >= 0)
    out = write_image(tmp_path / "out.cbf", f.raw, like=f)
    g = read_image(out)
    assert g.raw.dtype == np.int32 and np.array_equal(g.raw, raw)
    assert g.meta["detector"] == "Pilatus1M"  # header carried over
    assert "Exposure_time 1.0 s" in g.meta["header"]["_array_data.header_contents"]


@pytest.mark.parametrize("comp", ["gz", "bz2"])
@pytest.mark.parametrize("ext", ["cbf", "edf"])
def test_compressed_cbf_edf(tmp_path, ext, comp):
    raw = _pilatus_like()
    plain = write_image(tmp_path / f"a.{ext}", raw)
    opener = gzip.compress if comp == "gz" else bz2.compress
    packed = tmp_path / f"a.{ext}.{comp}"
    packed.write_bytes(opener(plain.read_bytes()))
    f = read_image(packed)
    assert f.meta["format"] == ext and f.raw.dtype == np.int32
    np.testing.assert_array_equal(f.raw, raw)


@pytest.mark.parametrize("dtype", ["int32", "uint16", "float32"])
def test_tiff_roundtrip_bit_exact(tmp_path, dtype):
    raw = RNG.integers(0, 60000, (19, 37)).astype(dtype)
    if dtype == "float32":
        raw = raw * np.float32(0.37) + np.float32(1e-3)
        raw[2, 3] = np.nan
    if dtype == "int32":
        raw[4, :] = -1
    src = write_image(tmp_path / "in.tif", raw)
    f = read_image(src)
    assert f.meta["format"] == "tiff" and f.raw.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(f.raw, raw)  # NaN == NaN in assert_array_equal
    out = write_image(tmp_path / "out.tif", f.raw, like=f)
    g = read_image(out)
    assert g.raw.dtype == np.dtype(dtype) and g.raw.tobytes() == raw.tobytes()
    if dtype == "float32":
        assert not g.valid[2, 3] and g.valid.sum() == raw.size - 1
    if dtype == "int32":
        assert not g.valid[4].any()


def test_edf_float32_roundtrip_header_carried(tmp_path):
    from fabio.edfimage import EdfImage

    raw = RNG.normal(100, 10, (11, 13)).astype(np.float32)
    raw[0, 0] = np.inf
    EdfImage(data=raw, header={"title": "ESPIA FRELON Image", "ExposureTime": "2.5"}).write(str(tmp_path / "in.edf"))
    f = read_image(tmp_path / "in.edf")
    assert f.meta["detector"] == "FReLoN" and not f.valid[0, 0] and f.valid.sum() == raw.size - 1
    out = write_image(tmp_path / "out.edf", f.raw, like=f)
    g = read_image(out)
    assert g.raw.dtype == np.float32 and g.raw.tobytes() == raw.tobytes()
    assert g.meta["header"]["ExposureTime"] == "2.5" and g.meta["detector"] == "FReLoN"


def test_npy_roundtrip(tmp_path):
    raw = RNG.normal(size=(5, 9)).astype(np.float64)
    out = write_image(tmp_path / "x.npy", raw)
    f = read_image(out)
    assert f.raw.dtype == np.float64 and f.raw.tobytes() == raw.tobytes()
    assert f.meta["format"] == "npy" and f.meta["detector"] is None


def test_multiframe_edf_and_tiff(tmp_path):
    from fabio.edfimage import EdfImage
    from PIL import Image

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    e = EdfImage(data=a)
    e.append_frame(data=a + 100)
    e.write(str(tmp_path / "m.edf"))
    assert np.array_equal(read_image(tmp_path / "m.edf").raw, a)
    f1 = read_image(tmp_path / "m.edf", index=1)
    assert np.array_equal(f1.raw, a + 100) and f1.meta["index"] == 1
    Image.fromarray(a).save(tmp_path / "m.tif", save_all=True, append_images=[Image.fromarray(a + 100)])
    assert np.array_equal(read_image(tmp_path / "m.tif", index=1).raw, a + 100)
    with pytest.raises(DipHealError, match="out of range"):
        read_image(tmp_path / "m.tif", index=5)


def test_mar345_generated(tmp_path):
    import fabio.mar345image
    from fabio.fabioutils import ENDIANNESS

    # fabio's PCK writer needs values < 1000 here (larger ones crash it) and an explicit byte order
    a = np.random.default_rng(0).integers(0, 1000, (64, 64)).astype(np.int32)
    img = fabio.mar345image.Mar345Image(data=a, header={})
    img.byteorder = ENDIANNESS.LITTLE
    img.write(str(tmp_path / "x.mar3450"))
    f = read_image(tmp_path / "x.mar3450")
    assert f.meta["format"] == "mar345" and f.meta["detector"] == "Mar345"
    np.testing.assert_array_equal(f.raw, a)
    assert output_path_like(f, tmp_path, "h").suffix == ".edf"  # issue 20: mar345 -> EDF with its header


def test_bruker_generated_by_content(tmp_path):
    import fabio.bruker100image

    a = np.random.default_rng(1).integers(0, 5000, (64, 64)).astype(np.int32)
    fabio.bruker100image.Bruker100Image(data=a).write(str(tmp_path / "frame.0001"))
    f = read_image(tmp_path / "frame.0001")
    assert f.meta["format"] == "bruker"
    np.testing.assert_array_equal(f.raw, a)


def test_marccd_generated(tmp_path):
    import fabio.marccdimage

    a = np.random.default_rng(2).integers(0, 65536, (64, 64)).astype(np.uint16)
    a[0, 0] = 65535  # CCD saturation, not a sentinel
    fabio.marccdimage.MarccdImage(data=a).write(str(tmp_path / "x.mccd"))
    f = read_image(tmp_path / "x.mccd")
    assert f.meta["format"] == "marccd" and f.valid.all()
    np.testing.assert_array_equal(f.raw, a)


def _nxmx(path, data, pixel_mask, *, where="/entry/instrument/detector/pixel_mask", description="Dectris EIGER2 Si 4M"):
    import h5py
    import hdf5plugin

    with h5py.File(path, "w") as h:
        entry = h.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        det = h.create_group("/entry/instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["description"] = description
        h.create_dataset(where, data=pixel_mask)
        grp = entry.create_group("data")
        grp.attrs["NX_class"] = "NXdata"
        grp.attrs["signal"] = "data"
        grp.create_dataset("data", data=data, chunks=(1,) + data.shape[1:], **hdf5plugin.Bitshuffle())
    return path


def test_nxmx_pixel_mask_and_uint16_sentinel(tmp_path, caplog):
    data = np.random.default_rng(3).integers(0, 100, (3, 10, 12)).astype(np.uint16)
    data[:, 5, :] = 65535  # EIGER fills masked pixels with 2**16 - 1
    pm = np.zeros((10, 12), np.uint32)
    pm[1, 1] = 1  # gap
    pm[2, 2] = 1 << 8  # user mask
    pm[3, 3] = 1 << 31  # virtual pixel: high bits are not invalid
    path = _nxmx(tmp_path / "m.h5", data, pm)
    with caplog.at_level(logging.INFO, logger="dip_heal.io"):
        f = read_image(path)
    assert "/entry/data/data" in caplog.text and f.meta["index"] == 0
    assert f.meta["format"] == "hdf5" and f.meta["detector"] == "Eiger2_4M"
    np.testing.assert_array_equal(f.masks["pixel_mask"], pm)
    expect = (data[0] != 65535) & ((pm & 0xFFFF) == 0)
    np.testing.assert_array_equal(f.valid, expect)
    assert f.valid[3, 3] and not f.valid[1, 1] and not f.valid[2, 2]
    f2 = read_image(f"{path}::/entry/data/data[2]")
    np.testing.assert_array_equal(f2.raw, data[2])
    f1 = read_image(f"{path}::/entry/data/data", index=1)
    np.testing.assert_array_equal(f1.raw, data[1])


def test_nxmx_detector_specific_pixel_mask(tmp_path):
    data = np.ones((1, 4, 5), np.uint32)
    pm = np.zeros((4, 5), np.uint32)
    pm[0, 0] = 2
    path = _nxmx(tmp_path / "m.h5", data, pm, where="/entry/instrument/detector/detectorSpecific/pixel_mask",
                 description="EIGER 16M")
    f = read_image(path)
    assert f.meta["detector"] == "Eiger16M"
    assert not f.valid[0, 0] and f.valid.sum() == 19


def test_eiger_master_with_external_data_blocks(tmp_path, caplog):
    import h5py

    stack = np.random.default_rng(6).integers(0, 50, (3, 6, 7)).astype(np.uint32)
    stack[:, :, 3] = 4294967295
    for i, sl in ((1, stack[:2]), (2, stack[2:])):
        with h5py.File(tmp_path / f"s_data_00000{i}.h5", "w") as h:
            h["/entry/data/data"] = sl
    pm = np.zeros((6, 7), np.uint32)
    pm[0, 0] = 4
    with h5py.File(tmp_path / "s_master.h5", "w") as h:
        h.create_group("entry").attrs["NX_class"] = "NXentry"
        det = h.create_group("/entry/instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["description"] = "Dectris EIGER2 Si 1M"
        det["detectorSpecific/pixel_mask"] = pm
        g = h.create_group("/entry/data")
        g.attrs["NX_class"] = "NXdata"
        for i in (1, 2):
            g[f"data_00000{i}"] = h5py.ExternalLink(f"s_data_00000{i}.h5", "/entry/data/data")
    master = tmp_path / "s_master.h5"
    f = read_image(master)
    assert f.meta["dataset"] == "/entry/data/data_000001" and f.meta["detector"] == "Eiger2_1M"
    np.testing.assert_array_equal(f.raw, stack[0])
    np.testing.assert_array_equal(f.valid, (stack[0] != 4294967295) & (pm == 0))
    with caplog.at_level(logging.INFO, logger="dip_heal.io"):
        f2 = read_image(master, index=2)  # frame 2 of the series = frame 0 of the second block
    assert "frame 2 of the series" in caplog.text
    assert f2.meta["dataset"] == "/entry/data/data_000002" and f2.meta["index"] == 0
    np.testing.assert_array_equal(f2.raw, stack[2])
    with pytest.raises(DipHealError, match="out of range"):
        read_image(master, index=3)
    for i in (1, 2):
        (tmp_path / f"s_data_00000{i}.h5").unlink()
    with pytest.raises(DipHealError, match="without its data files"):
        read_image(master)  # never falls back to reading the pixel_mask as the frame


def test_rgb_tiff_warns_and_uses_luminance(tmp_path, caplog):
    from PIL import Image

    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(rgb).save(tmp_path / "rgb.tif")
    with caplog.at_level(logging.WARNING, logger="dip_heal.io"):
        f = read_image(tmp_path / "rgb.tif")
    assert "not intensities" in caplog.text and f.raw.shape == (5, 6)
    np.testing.assert_allclose(f.data, 0.587 * 200, rtol=1e-6)


def test_hdf5_default_chain_and_fallback(tmp_path):
    import h5py

    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    with h5py.File(tmp_path / "d.h5", "w") as h:
        h.attrs["default"] = "e"
        e = h.create_group("e")
        e.attrs["default"] = "plot"
        p = e.create_group("plot")
        p.attrs["signal"] = "img"
        p["img"] = a
        h["other"] = np.zeros((40, 50))
    f = read_image(tmp_path / "d.h5")
    assert f.meta["dataset"] == "/e/plot/img" and np.array_equal(f.raw, a)
    with h5py.File(tmp_path / "plain.h5", "w") as h:
        h["small"] = np.zeros((2, 2))
        h["big"] = a
    assert read_image(tmp_path / "plain.h5").meta["dataset"] == "/big"


def test_generated_nxcansas(tmp_path):
    import h5py

    I = np.random.default_rng(4).normal(size=(6, 7))
    m = np.zeros((6, 7), bool)
    m[0] = True
    I[5, 5] = np.nan
    with h5py.File(tmp_path / "sas.h5", "w") as h:
        e = h.create_group("sasentry01")
        e.attrs.update({"NX_class": "NXentry", "canSAS_class": "SASentry"})
        d = e.create_group("sasdata01")
        d.attrs.update({"NX_class": "NXdata", "canSAS_class": "SASdata", "signal": "I", "mask": "Imask"})
        d["I"] = I
        d["Imask"] = m
    f = read_image(tmp_path / "sas.h5")
    assert f.meta["format"] == "nxcansas"
    np.testing.assert_array_equal(f.masks["Imask"], m)
    assert f.valid.sum() == 42 - 7 - 1
    g = read_image(f"{tmp_path / 'sas.h5'}::/sasentry01/sasdata01/I")  # explicit selection keeps the mask
    assert g.meta["format"] == "nxcansas" and np.array_equal(g.valid, f.valid)


def test_hdf5_selector_errors(tmp_path):
    import h5py

    with h5py.File(tmp_path / "s.h5", "w") as h:
        h["g/x"] = np.zeros((2, 2, 2, 2))
        h["one"] = np.zeros((3,))
    with pytest.raises(DipHealError, match="no dataset '/nope'"):
        read_image(f"{tmp_path / 's.h5'}::/nope")
    with pytest.raises(DipHealError, match="is a group"):
        read_image(f"{tmp_path / 's.h5'}::/g")
    with pytest.raises(DipHealError, match=r"expected \(M, N\) or \(frames, M, N\)"):
        read_image(f"{tmp_path / 's.h5'}::/g/x")
    with h5py.File(tmp_path / "none.h5", "w") as h:
        h["one"] = np.zeros((3,))
    with pytest.raises(DipHealError, match="no 2-D image dataset"):
        read_image(tmp_path / "none.h5")
    np.save(tmp_path / "a.npy", np.zeros((2, 2)))
    with pytest.raises(DipHealError, match="only applies to HDF5"):
        read_image(f"{tmp_path / 'a.npy'}::/x")


def test_sentinels_by_dtype(tmp_path):
    u32 = np.array([[1, 4294967295]], np.uint32)
    assert read_image(write_image(tmp_path / "a.tif", u32)).valid.tolist() == [[True, False]]
    u16 = np.array([[1, 65535]], np.uint16)
    assert read_image(write_image(tmp_path / "b.tif", u16)).valid.all()  # CCD saturation stays valid


def test_png_jpeg_generated(tmp_path, caplog):
    from PIL import Image

    g = np.random.default_rng(5).integers(0, 256, (8, 9)).astype(np.uint8)
    Image.fromarray(g).save(tmp_path / "g.png")
    with caplog.at_level(logging.WARNING, logger="dip_heal.io"):
        f = read_image(tmp_path / "g.png")
    assert "not intensities" in caplog.text and f.raw.dtype == np.uint8 and np.array_equal(f.raw, g)
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=100)
    f = read_image(tmp_path / "c.jpg")
    assert f.meta["format"] == "jpeg" and f.raw.shape == (4, 5)
    np.testing.assert_allclose(f.data, 0.299 * 255, atol=3)  # luminance of pure red
    u16 = np.array([[0, 1000], [65535, 7]], np.uint16)
    Image.fromarray(u16).save(tmp_path / "u.png")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dip_heal.io"):
        f = read_image(tmp_path / "u.png")
    assert "not intensities" not in caplog.text
    np.testing.assert_array_equal(f.raw.astype(np.uint16), u16)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def test_write_refuses_input_and_leaves_no_temp(tmp_path):
    src = _write_cbf(tmp_path / "in.cbf", _pilatus_like())
    f = read_image(src)
    before = src.read_bytes()
    with pytest.raises(DipHealError, match="is the input file"):
        write_image(src, f.raw, like=f)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.cbf"]


@pytest.mark.parametrize("name", ["out.h5", "out.mar3450", "out.png", "out"])
def test_write_unwritable_format(tmp_path, name):
    with pytest.raises(DipHealError, match=r"write \.tif"):
        write_image(tmp_path / name, np.zeros((2, 2), np.float32))


def test_write_cast_rules(tmp_path):
    like = Frame.from_array(np.array([[1, -1], [3, 4]], np.int32), format="cbf", path=str(tmp_path / "in.cbf"))
    out = write_image(tmp_path / "h.cbf", np.array([[1.4, 2.6], [3.0, 1e12]]), like=like)
    g = read_image(out)
    assert g.raw.dtype == np.int32 and g.raw.tolist() == [[1, 3], [3, 2**31 - 1]]
    with pytest.raises(DipHealError, match="NaN"):
        write_image(tmp_path / "n.cbf", np.array([[np.nan, 0], [0, 0]]), like=like)
    with pytest.raises(DipHealError, match="CBF cannot hold float32"):
        write_image(tmp_path / "f.cbf", np.zeros((2, 2), np.float32))
    with pytest.raises(DipHealError, match="does not match the input frame"):
        write_image(tmp_path / "s.tif", np.zeros((3, 2)), like=like)
    with pytest.raises(DipHealError, match="expected a 2-D frame"):
        write_image(tmp_path / "s.tif", np.zeros((3, 2, 2)))
    t = read_image(write_image(tmp_path / "d.tif", np.full((2, 2), 1 / 3, np.float64)))
    assert t.raw.dtype == np.float32  # TIFF cannot hold float64
    e = read_image(write_image(tmp_path / "d.dat", np.ones((2, 2), np.uint16), format="edf"))
    assert e.meta["format"] == "edf" and e.raw.dtype == np.uint16
    n = write_image(tmp_path / "x.bin", np.ones((2, 2)), format="npy")
    assert n.name == "x.bin" and read_image(n).meta["format"] == "npy"
    i = read_image(write_image(tmp_path / "i.tif", np.full((2, 2), 7.6), dtype="uint16"))
    assert i.raw.dtype == np.uint16 and (i.raw == 8).all()


def test_output_path_like(tmp_path):
    # issue 20: without a source file HDF5/Bruker have no tree or header to copy: .tif; MarCCD -> EDF
    cases = {"cbf": ".cbf", "edf": ".edf", "tiff": ".tif", "npy": ".npy", "hdf5": ".tif", "nxcansas": ".tif",
             "marccd": ".edf", "bruker": ".tif", "png": ".tif"}
    for fmt, ext in cases.items():
        f = Frame.from_array(np.zeros((2, 2), np.int32), format=fmt)
        assert output_path_like(f, tmp_path, "h") == tmp_path / f"h{ext}"
    f = Frame.from_array(np.zeros((2, 2), np.float32), format="cbf")
    assert output_path_like(f, tmp_path, "h").suffix == ".tif"


def test_write_hdf5_input_to_tif_keeps_dtype(tmp_path):
    data = np.full((1, 3, 4), 7, np.uint32)
    data[0, 0, 0] = 4294967295
    f = read_image(_nxmx(tmp_path / "e.h5", data, np.zeros((3, 4), np.uint32)))
    out = write_image(tmp_path / "healed.tif", f.raw, like=f)
    g = read_image(out)
    assert out.suffix == ".tif" and g.raw.dtype == np.uint32 and np.array_equal(g.raw, data[0])
    assert output_path_like(f, tmp_path, "healed").suffix == ".h5"  # issue 20: the input's format


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DipHealError, match="no such file"):
        read_image(tmp_path / "nope.cbf")


def test_unknown_format_lists_supported(tmp_path):
    p = tmp_path / "x.xyz"
    p.write_bytes(b"not an image at all" * 10)
    with pytest.raises(DipHealError, match=r"unknown image format \(extension '\.xyz'\).*CBF.*EDF.*NPY"):
        read_image(p)


def test_corrupt_known_format(tmp_path):
    p = tmp_path / "x.cbf"
    p.write_bytes(b"###CBF: garbage" * 5)
    with pytest.raises(DipHealError, match="x.cbf"):
        read_image(p)
    q = tmp_path / "y.h5"
    q.write_bytes(b"no hdf5 here")
    with pytest.raises(DipHealError, match="content is not hdf5"):
        read_image(q)


def test_empty_file_and_folder(tmp_path):
    p = tmp_path / "e.tif"
    p.write_bytes(b"")
    with pytest.raises(DipHealError, match="empty file"):
        read_image(p)
    with pytest.raises(DipHealError, match="is a folder"):
        read_image(tmp_path)


def test_bad_npy(tmp_path):
    np.save(tmp_path / "s.npy", np.zeros((2, 3, 4)))
    with pytest.raises(DipHealError, match=r"shape \(2, 3, 4\); expected a 2-D frame"):
        read_image(tmp_path / "s.npy")
    np.save(tmp_path / "o.npy", np.array([["a", "b"]]))
    with pytest.raises(DipHealError, match="expected numeric"):
        read_image(tmp_path / "o.npy")
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DipHealError, match="object array"):
        read_image(tmp_path / "p.npy")
    np.save(tmp_path / "z.npy", np.zeros((0, 3)))
    with pytest.raises(DipHealError, match="empty"):
        read_image(tmp_path / "z.npy")
    np.save(tmp_path / "ok.npy", np.zeros((2, 3)))
    assert read_image(tmp_path / "ok.npy", index=0).raw.shape == (2, 3)
    with pytest.raises(DipHealError, match="out of range"):
        read_image(tmp_path / "ok.npy", index=1)


# --------------------------------------------------------------------------------------------
# detector names, cheap import
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, name",
    [
        ("# Detector: PILATUS3 6M, S/N 60-0126", "Pilatus6M"),
        ("# Detector: PILATUS 2M, S/N 24-0111", "Pilatus2M"),
        ("PILATUS3 R 300K-W", "Pilatus300kw"),
        ("PILATUS3 X CdTe 1M", "PilatusCdTe1M"),
        ("PILATUS4 2M", "Pilatus4_2M"),
        ("Dectris EIGER2 Si 9M", "Eiger2_9M"),
        ("EIGER2 X CdTe 4M", "Eiger2CdTe_4M"),
        ("JUNGFRAU 4M", "Jungfrau4M"),
        ("mar345 image plate", "Mar345"),
        ("Dectris Eiger 4M", "Eiger4M"),
        ("ESPIA FRELON Image", "FReLoN"),
        ("PILATUS 7M", None),
        ("Rayonix MX", None),
        ("", None),
    ],
)
def test_detector_name(text, name):
    assert detector_name(text) == name


def test_detector_names_resolve_in_pyfai():
    pyFAI = pytest.importorskip("pyFAI")
    from dip_heal.detectors import known_detectors

    for name in known_detectors() + ["FReLoN", "Mar345"]:
        pyFAI.detector_factory(name)  # raises for a name pyFAI does not know


def test_import_is_light():
    code = (
        "import sys, dip_heal.io; "
        "bad = [m for m in ('torch', 'fabio', 'h5py', 'pyFAI', 'matplotlib') if m in sys.modules]; "
        "print(bad); sys.exit(bool(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stdout + r.stderr

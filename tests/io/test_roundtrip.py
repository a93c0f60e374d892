"""What goes in comes out (issue 20): every input kind written back in its own format, measured
pixels bit-exact in its own dtype, every header key, tag, HDF5 dataset and attribute kept, and
the provenance of the heal present; fabio, h5py and pyFAI read the output back."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pytest
from click.testing import CliRunner

from dip_heal import read_image, write_image
from dip_heal.frame import composite_native
from dip_heal.io import output_path_like
from dip_heal.io.provenance import TIFF_PROVENANCE_TAG, provenance
from conftest import shared_file

SHAPE = (12, 16)


def _counts(dtype=np.int32, hi=900):
    return np.random.default_rng(1).integers(0, hi, SHAPE).astype(dtype)


def _heal(frame, extra=True):
    """The frame's invalid pixels plus two measured ones; the healed frame in the input's dtype."""
    heal = ~frame.valid
    if extra:
        heal = heal.copy()
        heal[1, 2] = heal[5, 7] = True
    healed = composite_native(frame.raw, np.full(frame.shape, 7.0), heal)
    return heal, healed


def _prov(n):
    return provenance("preset default", n, "run/heal_mask.npy", version="9.9.9")


def _assert_measured(out_raw, frame, heal):
    assert out_raw.dtype == frame.raw.dtype
    keep = ~heal
    assert np.array_equal(out_raw[keep].view(np.uint8), frame.raw[keep].view(np.uint8))  # bit-exact


def _pyfai(path):
    from pyFAI.io.image import read_image_data

    return np.asarray(read_image_data(str(path)))


# ----------------------------------------------------------------------------- fabio formats


def test_cbf_roundtrip(tmp_path):
    from fabio.cbfimage import CbfImage

    raw = _counts()
    raw[4, :] = -1
    contents = "# Detector: PILATUS 1M, S/N 10-0100\r\n# Exposure_time 1.0 s\r\n# Wavelength 1.0 A\r\n"
    src = tmp_path / "in.cbf"
    CbfImage(data=raw, header={"_array_data.header_convention": "PILATUS_1.2",
                               "_array_data.header_contents": contents}).write(str(src))
    f = read_image(src)
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path / "run", "healed"), healed, like=f,
                      provenance=_prov(int(heal.sum())))
    assert out.name == "healed.cbf"
    import fabio

    img = fabio.open(str(out))
    _assert_measured(np.asarray(img.data), f, heal)
    text = img.header["_array_data.header_contents"]
    for line in contents.strip().splitlines():
        assert line.strip() in text
    prov = json.loads(text.split("# dip-heal provenance: ", 1)[1].splitlines()[0])
    assert prov["version"] == "9.9.9" and prov["n_healed"] == int(heal.sum()) and prov["heal_mask"] == "heal_mask.npy"
    assert np.array_equal(_pyfai(out), img.data)
    assert read_image(out).meta["detector"] == f.meta["detector"]


def test_edf_roundtrip(tmp_path):
    from fabio.edfimage import EdfImage

    raw = _counts(np.float32)
    raw[3, 3] = np.nan
    hdr = {"ExposureTime": "0.5", "Title": "sample 7", "Center_1": "8.5", "Detector": "FReLoN"}
    src = tmp_path / "in.edf"
    EdfImage(data=raw, header=hdr).write(str(src))
    f = read_image(src)
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path, "healed"), healed, like=f, provenance=_prov(int(heal.sum())))
    import fabio

    img = fabio.open(str(out))
    _assert_measured(np.asarray(img.data), f, heal)
    for k, v in fabio.open(str(src)).header.items():
        if k not in ("EDF_BinarySize", "EDF_HeaderSize"):
            assert img.header[k] == v, k
    for k, v in hdr.items():
        assert img.header[k] == v
    assert img.header["dip_heal_version"] == "9.9.9" and img.header["dip_heal_n_healed"] == str(int(heal.sum()))
    assert img.header["dip_heal_heal_mask"] == "heal_mask.npy" and img.header["dip_heal_method"] == "preset default"
    assert np.array_equal(_pyfai(out), img.data, equal_nan=True)


def _pilatus_tiff(path, raw):
    import tifffile

    desc = "# Pixel_size 172e-6 m x 172e-6 m\r\n# Silicon sensor, thickness 0.000450 m\r\n# Exposure_time 1.0 s\r\n"
    tifffile.imwrite(path, raw, photometric="minisblack", description=desc, software="camserver",
                     datetime="2021:01:02 03:04:05", resolution=((1, 172), (1, 172)), metadata=None,
                     extratags=[(272, 2, 0, "PILATUS3 1M, S/N 10-0100", True), (315, 2, 0, "beamline", True),
                                (33000, 3, 2, (7, 9), True)])
    return path


def _tags(path):
    import tifffile

    with tifffile.TiffFile(path) as tf:
        return {t.code: t.value for t in tf.pages[0].tags.values()}


def test_pilatus_tiff_keeps_every_tag(tmp_path):
    raw = _counts()
    raw[:, 5] = -1
    src = _pilatus_tiff(tmp_path / "in.tif", raw)
    f = read_image(src)
    assert f.meta["detector"] is not None
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path, "healed"), healed, like=f, provenance=_prov(int(heal.sum())))
    assert out.suffix == ".tif"
    before, after = _tags(src), _tags(out)
    layout = {273, 279, 278}  # where the strips lie: the writer's business
    for code, value in before.items():
        if code not in layout:
            assert code in after and np.array_equal(np.asarray(after[code], dtype=object),
                                                   np.asarray(value, dtype=object)), code
    prov = json.loads(after[TIFF_PROVENANCE_TAG])
    assert prov["program"] == "dip-heal" and prov["n_healed"] == int(heal.sum())
    import fabio

    _assert_measured(np.asarray(fabio.open(str(out)).data), f, heal)
    _assert_measured(read_image(out).raw, f, heal)
    assert np.array_equal(_pyfai(out), healed)


def test_tiff_without_provenance_keeps_tags_and_adds_none(tmp_path):
    raw = _counts()
    src = _pilatus_tiff(tmp_path / "in.tif", raw)
    f = read_image(src)
    out = write_image(tmp_path / "o.tif", f.raw, like=f)
    after = _tags(out)
    assert TIFF_PROVENANCE_TAG not in after and after[270] == _tags(src)[270] and after[305] == "camserver"


def test_marccd_becomes_edf_with_its_header(tmp_path, caplog):
    import fabio
    import fabio.marccdimage

    raw = np.random.default_rng(2).integers(0, 65536, (64, 64)).astype(np.uint16)  # fabio's MarCCD: 3 kB header
    fabio.marccdimage.MarccdImage(data=raw).write(str(tmp_path / "x.mccd"))
    f = read_image(tmp_path / "x.mccd")
    assert f.meta["format"] == "marccd"
    heal, healed = _heal(f)
    target = output_path_like(f, tmp_path / "run", "healed")
    assert target.name == "healed.edf"
    with caplog.at_level("INFO"):
        out = write_image(target, healed, like=f, provenance=_prov(int(heal.sum())))
    assert "cannot write marccd" in caplog.text
    img = fabio.open(str(out))
    _assert_measured(np.asarray(img.data), f, heal)
    _assert_header_in_edf(f.meta["header"], img.header)
    assert img.header["dip_heal_version"] == "9.9.9"
    assert np.array_equal(_pyfai(out), img.data)


_EDF_OWN = {"compression", "datatype", "byteorder", "dim_1", "dim_2", "size", "image", "headerid"}


def _assert_header_in_edf(header, edf_header):
    """Every key of ``header`` in the EDF's header (EDF keeps no leading/trailing blanks)."""
    from urllib.parse import unquote

    quoted = set(edf_header.get("dip_heal_quoted_keys", "").split(","))
    for k, v in header.items():
        if k.lower() not in _EDF_OWN:
            got = edf_header.get(k, "")
            assert (unquote(got) if k in quoted else got).strip() == v.strip(), k


def test_real_marccd_becomes_edf_with_its_header(tmp_path):
    import fabio

    f = read_image(shared_file("fabio_history/corkcont2_H_0089.mccd.bz2"))
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path, "healed"), healed, like=f, provenance=_prov(int(heal.sum())))
    img = fabio.open(str(out))
    _assert_measured(np.asarray(img.data), f, heal)
    _assert_header_in_edf(f.meta["header"], img.header)


def test_mar345_becomes_edf_with_its_header(tmp_path):
    import fabio
    import fabio.mar345image
    from fabio.fabioutils import ENDIANNESS

    raw = _counts(np.int32, 900)
    img = fabio.mar345image.Mar345Image(data=raw, header={})
    img.byteorder = ENDIANNESS.LITTLE
    img.write(str(tmp_path / "x.mar3450"))
    f = read_image(tmp_path / "x.mar3450")
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path, "healed"), healed, like=f, provenance=_prov(int(heal.sum())))
    assert out.suffix == ".edf"
    back = fabio.open(str(out))
    _assert_measured(np.asarray(back.data), f, heal)
    _assert_header_in_edf(f.meta["header"], back.header)
    assert back.header["dip_heal_method"] == "preset default"
    assert np.array_equal(_pyfai(out), back.data)


def test_bruker_roundtrip(tmp_path):
    import fabio
    import fabio.bruker100image

    raw = _counts(np.int32, 100000)
    fabio.bruker100image.Bruker100Image(data=raw).write(str(tmp_path / "frame.sfrm"))
    f = read_image(tmp_path / "frame.sfrm")
    assert f.meta["format"] == "bruker"
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path / "run", "healed"), healed, like=f,
                      provenance=_prov(int(heal.sum())))
    assert out.name == "healed.sfrm"
    src_hdr, img = fabio.open(str(tmp_path / "frame.sfrm")).header, fabio.open(str(out))
    _assert_measured(np.asarray(img.data).astype(f.raw.dtype), f, heal)
    for k, v in src_hdr.items():
        if k not in ("TITLE", "NOVERFL"):  # NOVERFL counts the frame's overflow pixels: the data's, not the header's
            assert img.header[k] == v, k
    assert "dip-heal provenance" in img.header["TITLE"] and '"version":"9.9.9"' in img.header["TITLE"].replace("\n", "")
    assert np.array_equal(_pyfai(out), img.data)


def test_npy_roundtrip(tmp_path):
    raw = _counts(np.float64)
    raw[2, 2] = np.nan
    np.save(tmp_path / "in.npy", raw)
    f = read_image(tmp_path / "in.npy")
    heal, healed = _heal(f)
    out = write_image(output_path_like(f, tmp_path, "healed"), healed, like=f, provenance=_prov(int(heal.sum())))
    _assert_measured(np.load(out), f, heal)
    prov = json.loads(Path(str(out) + ".provenance.json").read_text())
    assert prov["heal_mask"] == "heal_mask.npy" and prov["n_healed"] == int(heal.sum())


# ------------------------------------------------------------------------------------- HDF5


def _eiger(path):
    """An EIGER-style NeXus file: bitshuffle-LZ4 stack, pixel_mask, links, attributes."""
    rng = np.random.default_rng(2)
    stack = rng.integers(0, 500, (3, *SHAPE)).astype(np.uint32)
    stack[:, 4, :] = 2**32 - 1
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        f.attrs["file_name"] = "eiger.h5"
        e = f.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        e.attrs["default"] = "data"
        e["definition"] = "NXmx"
        d = e.create_group("data")
        d.attrs["NX_class"] = "NXdata"
        d.attrs["signal"] = "data"
        ds = d.create_dataset("data", data=stack, chunks=(1, *SHAPE), **hdf5plugin.Bitshuffle(cname="lz4"))
        ds.attrs["units"] = "counts"
        det = e.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        pm = np.zeros(SHAPE, np.uint32)
        pm[4, :] = 1
        pm[7, 9] = 8
        det["pixel_mask"] = pm
        det["description"] = "Dectris EIGER2 Si 4M"
        det["count_time"] = 0.1
        det["count_time"].attrs["units"] = "s"
        e["sample/name"] = "lysozyme"
        e["data_link"] = h5py.SoftLink("/entry/data/data")
        e["external"] = h5py.ExternalLink("elsewhere.h5", "/entry/data/data_000001")
    return path, stack


def _all_items(f):
    """{path: (kind, value or link, attributes)} of every object and link in an HDF5 file."""
    items = {}

    def walk(group, prefix):
        for name in group:
            p = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                items[p] = ("soft", link.path, {})
            elif isinstance(link, h5py.ExternalLink):
                items[p] = ("external", (link.filename, link.path), {})
            else:
                obj = group[name]
                attrs = {k: np.asarray(v).tolist() for k, v in obj.attrs.items()}
                if isinstance(obj, h5py.Group):
                    items[p] = ("group", None, attrs)
                    walk(obj, p)
                else:
                    items[p] = ("dataset", obj[()], attrs)

    walk(f, "")
    items["/@"] = ("root", None, {k: np.asarray(v).tolist() for k, v in f.attrs.items()})
    return items


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")
    return a == b


def _assert_tree_kept(src, out, healed_path, added):
    with h5py.File(src) as a, h5py.File(out) as b:
        before, after = _all_items(a), _all_items(b)
    for p, (kind, value, attrs) in before.items():
        assert p in after and after[p][0] == kind, p
        assert after[p][2] == attrs, p
        if p != healed_path:
            assert _same(value, after[p][1]), p
    assert set(after) - set(before) <= added, set(after) - set(before)


def test_eiger_nexus_roundtrip(tmp_path):
    src, stack = _eiger(tmp_path / "eiger.h5")
    f = read_image(f"{src}::/entry/data/data[1]")
    assert "pixel_mask" in f.masks
    heal, healed = _heal(f)
    target = output_path_like(f, tmp_path / "run", "healed")
    assert target.name == "healed.h5"
    out = write_image(target, healed, like=f, provenance=_prov(int(heal.sum())), heal=heal)
    proc = {"/entry/dip_heal"} | {f"/entry/dip_heal/{k}" for k in (
        "program", "version", "date", "method", "config", "n_healed", "healed_dataset", "healed_frame_index",
        "heal_mask_file", "heal_mask")}
    _assert_tree_kept(src, out, "/entry/data/data", proc)
    with h5py.File(out) as g:
        ds = g["/entry/data/data"]
        assert ds.dtype == np.uint32 and ds.chunks == (1, *SHAPE) and "32008" in ds._filters  # bitshuffle
        assert np.array_equal(ds[0], stack[0]) and np.array_equal(ds[2], stack[2])
        _assert_measured(ds[1], f, heal)
        p = g["/entry/dip_heal"]
        assert p.attrs["NX_class"] == "NXprocess" and p["program"][()] == b"dip-heal"
        assert p["version"][()] == b"9.9.9" and int(p["healed_frame_index"][()]) == 1
        assert np.array_equal(p["heal_mask"][()].astype(bool), heal)
        assert json.loads(p["config"][()])["n_healed"] == int(heal.sum())
    back = read_image(f"{out}::/entry/data/data[1]")
    _assert_measured(back.raw, f, heal)
    assert np.array_equal(back.masks["pixel_mask"], f.masks["pixel_mask"])
    import fabio

    img = fabio.open(f"{out}::/entry/data/data")
    assert img.nframes == 3 and np.array_equal(img.getframe(0).data, stack[0])
    _assert_measured(np.asarray(img.getframe(1).data), f, heal)
    assert _pyfai(out).shape[-2:] == SHAPE


def test_eiger_master_block_is_copied_in_and_the_data_file_untouched(tmp_path):
    data = tmp_path / "series_data_000001.h5"
    block = np.random.default_rng(4).integers(0, 300, (2, *SHAPE)).astype(np.uint16)
    block[:, :, 3] = 65535
    with h5py.File(data, "w") as f:
        f.create_dataset("/entry/data/data", data=block, chunks=(1, *SHAPE), **hdf5plugin.Bitshuffle(cname="lz4"))
    master = tmp_path / "series_master.h5"
    with h5py.File(master, "w") as f:
        g = f.create_group("entry/data")
        g.attrs["NX_class"] = "NXdata"
        g["data_000001"] = h5py.ExternalLink(data.name, "/entry/data/data")
    before = data.read_bytes()
    fr = read_image(master, index=1)
    heal, healed = _heal(fr)
    out = write_image(output_path_like(fr, tmp_path / "run", "healed"), healed, like=fr,
                      provenance=_prov(int(heal.sum())), heal=heal)
    assert data.read_bytes() == before
    with h5py.File(out) as g:
        assert isinstance(g.get("/entry/data/data_000001", getlink=True), h5py.HardLink)
        ds = g["/entry/data/data_000001"]
        assert "32008" in ds._filters and np.array_equal(ds[0], block[0])
        _assert_measured(ds[1], fr, heal)


def _nxcansas(path, dtype=np.float64):
    rng = np.random.default_rng(3)
    intensity = rng.random(SHAPE).astype(dtype) * 100
    imask = np.zeros(SHAPE, bool)
    imask[:, 6] = True
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "sasentry01"
        f.attrs["canSAS_version"] = "1.1"
        e = f.create_group("sasentry01")
        e.attrs.update({"NX_class": "NXentry", "canSAS_class": "SASentry", "version": "1.1", "default": "sasdata01"})
        e["definition"] = "NXcanSAS"
        e["title"] = "a 2-D test pattern"
        e["run"] = "42"
        d = e.create_group("sasdata01")
        d.attrs.update({"NX_class": "NXdata", "canSAS_class": "SASdata", "signal": "I", "I_axes": ["Q", "Q"],
                        "Q_indices": [0, 1], "mask": "Imask"})
        i = d.create_dataset("I", data=intensity)
        i.attrs.update({"units": "1/cm", "uncertainties": "Idev"})
        q = np.stack(np.meshgrid(np.linspace(-1, 1, SHAPE[1]), np.linspace(-1, 1, SHAPE[0])))
        d.create_dataset("Q", data=q).attrs["units"] = "1/A"
        d.create_dataset("Idev", data=np.sqrt(intensity)).attrs["units"] = "1/cm"
        d["Imask"] = imask
        inst = e.create_group("sasinstrument")
        inst.attrs.update({"NX_class": "NXinstrument", "canSAS_class": "SASinstrument"})
    return path


def _check_nxcansas(src, tmp_path):
    f = read_image(src)
    assert f.meta["format"] == "nxcansas"
    heal, healed = _heal(f)
    target = output_path_like(f, tmp_path / "run", "healed")
    assert target.suffix == src.suffix
    out = write_image(target, healed, like=f, provenance=_prov(int(heal.sum())), heal=heal)
    ds_path = f.meta["dataset"]
    group = ds_path.rsplit("/", 1)[0]
    entry = "/" + ds_path.strip("/").split("/")[0]
    added = {f"{group}/I_healed_mask", f"{entry}/dip_heal"} | {f"{entry}/dip_heal/{k}" for k in (
        "program", "version", "date", "method", "config", "n_healed", "healed_dataset", "healed_frame_index",
        "heal_mask_file", "heal_mask")}
    _assert_tree_kept(src, out, ds_path, added)
    with h5py.File(out) as g:
        ds = g[ds_path]
        assert ds.dtype == f.raw.dtype
        _assert_measured(ds[()] if ds.ndim == 2 else ds[f.meta["index"]], f, heal)
        hm = g[f"{group}/I_healed_mask"][()]
        assert np.array_equal(hm if hm.ndim == 2 else hm[f.meta["index"]], heal)
        assert g[f"{entry}/dip_heal"].attrs["NX_class"] == "NXprocess"
    back = read_image(out)
    assert back.meta["format"] == "nxcansas" and back.raw.dtype == f.raw.dtype
    _assert_measured(back.raw, f, heal)
    with h5py.File(out) as g:
        flat = g[ds_path].ndim == 2
    if flat:
        import fabio

        assert np.array_equal(np.asarray(fabio.open(f"{out}::{ds_path}").data), healed, equal_nan=True)
        assert np.array_equal(_pyfai(f"{out}::{ds_path}"), healed, equal_nan=True)
    return out


def test_nxcansas_roundtrip(tmp_path):
    out = _check_nxcansas(_nxcansas(tmp_path / "sas.h5"), tmp_path)
    with h5py.File(out) as g:
        assert g["/sasentry01/sasdata01/I"].dtype == np.float64
        assert g["/sasentry01/sasdata01/I"].attrs["units"] == "1/cm"


def test_nxcansas_bam_2d(tmp_path):
    src = shared_file("sasdata/BAM_2D.h5")
    _check_nxcansas(src, tmp_path)


def test_hdf5_needs_an_hdf5_input(tmp_path):
    from dip_heal.errors import DipHealError

    with pytest.raises(DipHealError, match="without a hdf5 input"):
        write_image(tmp_path / "x.h5", np.zeros(SHAPE, np.float32))


# ------------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("kind", ["eiger", "tiff"])
def test_fit_writes_the_input_format_with_provenance(tmp_path, kind):
    from dip_heal.cli import main
    from dip_heal.config import FitConfig

    cfg = tmp_path / "cfg.json"
    FitConfig(depth=2, channels=8, num_iter=2, snapshot_every=1).to_json(cfg)
    if kind == "eiger":
        src, _stack = _eiger(tmp_path / "eiger.h5")
        arg = f"{src}::/entry/data/data[1]"
    else:
        raw = _counts()
        raw[:, 5] = -1
        src = arg = _pilatus_tiff(tmp_path / "in.tif", raw)
    res = CliRunner().invoke(main, ["fit", str(arg), "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    f = read_image(arg)
    heal = np.load(tmp_path / "run" / "heal_mask.npy")
    if kind == "eiger":
        out = tmp_path / "run" / "healed.h5"
        _assert_tree_kept(src, out, "/entry/data/data", {"/entry/dip_heal"} | {
            f"/entry/dip_heal/{k}" for k in ("program", "version", "date", "method", "config", "n_healed",
                                             "healed_dataset", "healed_frame_index", "heal_mask_file", "heal_mask")})
        back = read_image(f"{out}::/entry/data/data[1]")
        with h5py.File(out) as g:
            prov = json.loads(g["/entry/dip_heal/config"][()])
            assert np.array_equal(g["/entry/dip_heal/heal_mask"][()].astype(bool), heal)
    else:
        out = tmp_path / "run" / "healed.tif"
        back = read_image(out)
        prov = json.loads(_tags(out)[TIFF_PROVENANCE_TAG])
        assert _tags(out)[270] == _tags(src)[270]
    _assert_measured(back.raw, f, heal)
    assert prov["n_healed"] == int(heal.sum()) and prov["heal_mask"] == "heal_mask.npy"
    assert prov["method"].startswith("DIP fit") and prov["config"]["num_iter"] == 2


def test_hdf5_filter_that_cannot_encode_falls_back_to_gzip(tmp_path, monkeypatch, caplog):
    src, stack = _eiger(tmp_path / "eiger.h5")
    f = read_image(f"{src}::/entry/data/data[1]")
    heal, healed = _heal(f)
    real = h5py.Dataset.__setitem__
    calls = []

    def refuse_once(self, key, value):
        if not calls and self.name == "/entry/data/data":
            calls.append(key)
            raise OSError("filter cannot encode")
        return real(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", refuse_once)
    with caplog.at_level("INFO"):
        out = write_image(tmp_path / "healed.h5", healed, like=f, provenance=_prov(int(heal.sum())), heal=heal)
    assert "gzip" in caplog.text
    monkeypatch.undo()
    with h5py.File(out) as g:
        ds = g["/entry/data/data"]
        assert ds.compression == "gzip" and ds.dtype == np.uint32 and ds.attrs["units"] == "counts"
        assert np.array_equal(ds[0], stack[0]) and np.array_equal(ds[2], stack[2])
        _assert_measured(ds[1], f, heal)

"""MATLAB .fig figures read as frames (issue 22): a .fig-like MAT file is generated with
scipy.io.savemat; the real HDPE_85_low.fig in ../shared/data skips when absent."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat

from dip_heal.errors import DipHealError
from dip_heal.io import read_image, write_image
from dip_heal.matfig import NO_COUNTS, is_log10_counts, read_matfig

from conftest import shared_file


def node(kind: str, props: dict, children: list | None = None) -> dict:
    return {"type": kind, "handle": 1.0, "properties": props,
            "children": np.array(children or [], dtype=object), "special": np.zeros((0, 0))}


def write_fig(path, cdata, *, clim=(0.0, 2.0), ydir="normal", extra_images=(), colorbar=True, rgb=False):
    """A figure > axes > image (+ text labels, + a colour bar), as MATLAB's savefig lays it out."""
    lut = np.linspace(0, 1, 64)[:, None].repeat(3, 1)
    kids = [node("image", {"CData": cdata, "CDataMapping": "scaled", "XData": np.array([[1.0, cdata.shape[1]]]),
                           "YData": np.array([[1.0, cdata.shape[0]]])}),
            node("text", {"String": "x [ pixel ]"}), node("text", {"String": "y [ pixel ]"})]
    kids += [node("image", {"CData": im}) for im in extra_images]
    axes = node("axes", {"CLim": np.array([clim]), "YDir": ydir, "XDir": "normal", "Colormap": lut,
                         "XLim": np.array([[0.5, cdata.shape[1] + 0.5]])}, kids)
    children = [node("scribe.scribeaxes", {}), axes]
    if colorbar:
        children.append(node("scribe.colorbar", {"Location": "eastoutside"},
                             [node("image", {"CData": np.linspace(0, 2, 64)[:, None].repeat(200, 1)})]))
    fig = node("figure", {"Colormap": lut, "Position": np.array([[0, 0, 560, 420]])}, children)
    savemat(str(path), {"hgS_070000": fig}, do_compression=True)
    return path


def counts_image(shape=(12, 15), seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(30.0, shape)
    counts[4:6] = 0  # a module gap: no counts
    counts[0, 0] = 1048575  # a PILATUS overflow value
    cdata = np.where(counts > 0, np.log10(np.maximum(counts, 1)), NO_COUNTS)
    return counts, cdata


def test_mve385_convention_is_read_as_counts(tmp_path, caplog):
    counts, cdata = counts_image()
    p = write_fig(tmp_path / "f.fig", cdata)
    with caplog.at_level("INFO", logger="dip_heal.matfig"):
        f = read_image(p)
    assert f.meta["format"] == "matfig" and f.raw.dtype == np.int32
    np.testing.assert_array_equal(f.raw, counts)
    assert f.valid.all() and f.data.dtype == np.float32
    fig = f.meta["figure"]
    assert fig["CLim"] == [0.0, 2.0] and fig["YDir"] == "normal" and fig["colorbar"] is True
    assert fig["texts"] == ["x [ pixel ]", "y [ pixel ]"] and fig["colormap"].shape == (64, 3)
    assert "round(10**CData)" in f.meta["header"]["conversion"]
    assert "MVE385 convention" in caplog.text and "bottom of the figure" in caplog.text


def test_plain_cdata_is_read_as_stored(tmp_path):
    cdata = np.linspace(-1.0, 3.3, 12 * 15).reshape(12, 15)
    cdata[3, 3] = np.nan
    f = read_matfig(write_fig(tmp_path / "p.fig", cdata, ydir="reverse"))
    assert f.raw.dtype == np.float64 and np.array_equal(f.raw, cdata, equal_nan=True)
    assert not f.valid[3, 3] and f.valid.sum() == cdata.size - 1
    assert f.meta["header"]["conversion"] == "plain CData, as stored"


def test_largest_image_in_axes_and_not_the_colour_bar(tmp_path):
    counts, cdata = counts_image((20, 30))
    small = np.log10(np.full((5, 6), 7.0))
    p = write_fig(tmp_path / "two.fig", cdata, extra_images=[small])
    assert read_matfig(p).shape == (20, 30)  # the colour bar's 64 x 200 image is never taken
    assert read_matfig(p, 1).shape == (5, 6)
    with pytest.raises(DipHealError, match="image index 2 out of range; expected 0..1"):
        read_matfig(p, 2)


def test_log10_counts_test():
    assert is_log10_counts(np.log10(np.array([[1.0, 2.0], [3.0, 1e5]])))
    assert is_log10_counts(np.full((2, 2), NO_COUNTS))
    assert not is_log10_counts(np.array([[0.5, 1.0]]))  # 10**0.5 is no whole count
    assert not is_log10_counts(np.array([[1, 2]], np.int32))


def test_bad_figures_get_one_line_errors(tmp_path):
    junk = tmp_path / "junk.fig"
    junk.write_bytes(b"not a MAT file at all" * 20)
    with pytest.raises(DipHealError, match="could not read it as a MATLAB figure"):
        read_image(junk)
    nofig = tmp_path / "vars.fig"
    savemat(str(nofig), {"x": np.ones((3, 3))})
    with pytest.raises(DipHealError, match=r"no figure struct \(hgS_\*\).*variables: x"):
        read_image(nofig)
    rgb = tmp_path / "rgb.fig"
    fig = node("figure", {}, [node("axes", {}, [node("image", {"CData": np.zeros((4, 5, 3))})])])
    savemat(str(rgb), {"hgS_070000": fig})
    with pytest.raises(DipHealError, match="true-colour"):
        read_image(rgb)


def test_healed_counts_written_as_tiff_and_edf(tmp_path):
    from dip_heal.io import output_path_like

    counts, cdata = counts_image()
    f = read_image(write_fig(tmp_path / "f.fig", cdata))
    assert output_path_like(f, tmp_path, "healed").suffix == ".tif"
    for name in ("h.tif", "h.edf"):
        back = read_image(write_image(tmp_path / name, f.raw, like=f))
        assert back.raw.dtype == np.int32 and np.array_equal(back.raw, counts)


def test_fit_a_fig(tmp_path):
    from dip_heal.config import FitConfig
    from dip_heal.runs import fit_to_run

    counts, cdata = counts_image((32, 32), seed=2)
    counts[0, 0] = 30
    cdata[0, 0] = np.log10(30)
    p = write_fig(tmp_path / "f.fig", cdata)
    heal = np.zeros((32, 32), bool)
    heal[4:6] = True
    np.save(tmp_path / "m.npy", heal)
    s = fit_to_run(p, tmp_path / "run", FitConfig(depth=2, channels=8, num_iter=2, snapshot_every=1, seed=1),
                   mask_path=tmp_path / "m.npy")
    out = read_image(s.healed_path)
    assert s.healed_path.name == "healed.tif" and out.raw.dtype == np.int32
    assert np.array_equal(out.raw[~heal], counts[~heal]) and (out.raw[heal] > 0).all()


def test_real_fig_matches_the_hand_derived_counts():
    f = read_image(shared_file("mve385/HDPE_85_low.fig"))
    ref = read_image(shared_file("mve385/HDPE_85_low.counts.tif")).raw
    assert f.raw.dtype == ref.dtype and np.array_equal(f.raw, ref)
    assert f.meta["figure"]["CLim"] == [0.0, 2.0]


def test_no_counts_inside_a_detectors_module_gaps_are_gaps_to_heal(tmp_path):
    from dip_heal.detectors import gap_mask

    shape = (619, 487)  # a PILATUS 300K by its shape
    rng = np.random.default_rng(1)
    counts = rng.poisson(20.0, shape)
    gaps = gap_mask("Pilatus300k", shape)
    counts[gaps] = 0
    counts[3, 3] = 0  # a measured zero outside the gaps
    cdata = np.where(counts > 0, np.log10(np.maximum(counts, 1)), NO_COUNTS)
    f = read_image(write_fig(tmp_path / "p.fig", cdata))
    np.testing.assert_array_equal(f.raw, counts)  # the counts as they were
    assert f.meta["detector"] == "Pilatus300k"
    assert np.array_equal(~f.valid, gaps)  # gaps are not measurements; the measured zero is

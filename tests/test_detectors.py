"""Detector geometry (pyFAI catalogue), names, header/shape recognition and sentinels."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from dip_heal.detectors import (
    canonical_name,
    detector_family,
    detector_from_header,
    detector_from_shape,
    gap_mask,
    known_detectors,
    resolve_detector,
    sentinel_mask,
)
from dip_heal.errors import DipHealError


@pytest.mark.parametrize(
    "name, shape, n_gap",
    [("Pilatus300k", (619, 487), 16558), ("Pilatus1M", (1043, 981), 73533),
     ("Pilatus2M", (1679, 1475), 197365), ("Eiger1M", (1065, 1030), 38110)],
)
def test_gap_counts_match_pyfai_geometry(name, shape, n_gap):
    g = gap_mask(name, shape)
    assert g.dtype == bool and g.shape == shape and int(g.sum()) == n_gap


def test_pilatus_gap_rows_and_columns():
    g = gap_mask("Pilatus300k", (619, 487))
    assert g[195:212].all() and not g[194].any() and not g[212, :].any()
    assert not g[:, :].all(axis=0).any()  # PILATUS 300k: one module wide, no gap columns


def test_gap_mask_is_a_copy():
    g = gap_mask("Pilatus300k", (619, 487))
    g[:] = False
    assert gap_mask("Pilatus300k", (619, 487)).any()


def test_gap_mask_wrong_shape_names_both():
    with pytest.raises(DipHealError, match=r"\(619, 487\).*\(100, 100\)"):
        gap_mask("Pilatus300k", (100, 100))


@pytest.mark.parametrize(
    "text, name",
    [("PILATUS3 1M", "Pilatus1M"), ("pilatus_2m", "Pilatus2M"), ("Eiger2 9M", "Eiger2_9M"),
     ("EIGER2 CdTe 4M", "Eiger2CdTe_4M"), ("Pilatus4 1M", "Pilatus4_1M"), ("eiger1m", "Eiger1M")],
)
def test_canonical_names(text, name):
    assert canonical_name(text) == name


def test_unknown_detector_lists_known_ones():
    with pytest.raises(DipHealError) as exc:
        canonical_name("Pilatus 7M")
    msg = str(exc.value)
    assert "Pilatus 7M" in msg and "Pilatus6M" in msg and "Eiger2_16M" in msg and "\n" not in msg


def test_known_detectors_cover_the_families():
    names = known_detectors()
    for n in ("Pilatus100k", "Pilatus300k", "Pilatus1M", "Pilatus2M", "Pilatus6M", "Eiger1M", "Eiger16M",
              "Eiger2_1M", "Eiger2_16M"):
        assert n in names


@pytest.mark.parametrize(
    "shape, name",
    [((619, 487), "Pilatus300k"), ((1043, 981), "Pilatus1M"), ((2527, 2463), "Pilatus6M"),
     ((3262, 3108), "Eiger2_9M"), ((1065, 1030), "Eiger1M"), ((1024, 1024), None), ((512, 512), None)],
)
def test_detector_from_shape(shape, name):
    assert detector_from_shape(shape) == name


@pytest.mark.parametrize(
    "text, name",
    [("# Detector: PILATUS 6M, 60-0001, X06SA@SLS", "Pilatus6M"), ("Dectris EIGER2 Si 9M", "Eiger2_9M"),
     ("# Detector: PILATUS3 X CdTe 300K, S/N", "PilatusCdTe300k"), ("PILATUS 300K-W", "Pilatus300kw"),
     ("a CCD camera", None)],
)
def test_detector_from_header(text, name):
    assert detector_from_header({"h": text}) == name


def test_resolve_prefers_flag_then_reader_then_header_then_shape():
    assert resolve_detector("none", (619, 487)) is None
    assert resolve_detector("Pilatus300k", (10, 10)) == "Pilatus300k"
    assert resolve_detector("auto", (619, 487), {}, "Pilatus 300k") == "Pilatus300k"
    assert resolve_detector("auto", (619, 487), {"d": "# Detector: PILATUS 300K"}) == "Pilatus300k"
    # header naming another size than the frame: the shape wins
    assert resolve_detector(None, (1043, 981), {"d": "# Detector: PILATUS 6M"}) == "Pilatus1M"
    assert resolve_detector(None, (100, 100)) is None


def test_sentinels_by_dtype():
    a = np.array([[0, -1, -2, 5]], np.int32)
    assert sentinel_mask(a).tolist() == [[False, True, True, False]]
    u = np.array([[0, 2**32 - 1, 7]], np.uint32)
    assert sentinel_mask(u).tolist() == [[False, True, False]]
    u16 = np.array([[65535, 1]], np.uint16)
    # 16-bit maximum: EIGER's sentinel in HDF5 files, a saturated (overflow) CCD pixel elsewhere
    assert sentinel_mask(u16, hdf5=True, overflow=False).tolist() == [[True, False]]
    assert sentinel_mask(u16, overflow=False).tolist() == [[False, False]]
    assert sentinel_mask(u16).tolist() == [[True, False]]
    f = np.array([[np.nan, np.inf, -1.0, -2.0, 3.0]], np.float32)
    assert sentinel_mask(f).tolist() == [[True, True, True, True, False]]
    # background-subtracted float data: -1 and -2 are measurements like any other negative value
    g = np.array([[np.nan, -1.0, -0.5, 3.0]], np.float32)
    assert sentinel_mask(g).tolist() == [[True, False, False, False]]


@pytest.mark.parametrize("raw, suffix", [
    (np.array([[5, -1, -2, 7], [1, 2, 3, 4]], np.int32), ".npy"),
    (np.array([[5.0, -1.0, np.nan, 7.0], [1, 2, 3, 4]], np.float32), ".npy"),
    (np.array([[5.0, -1.0, -0.3, 7.0], [1, 2, 3, 4]], np.float32), ".npy"),
    (np.array([[5, 65535, 2, 7], [1, 2, 3, 4]], np.uint16), ".tif"),
    (np.array([[5, 65535, 2, 7], [1, 2, 3, 4]], np.uint16), ".h5"),
    (np.array([[5, 2**32 - 1, 2, 7], [1, 2, 3, 4]], np.uint32), ".tif"),
])
def test_one_sentinel_rule_for_read_mask_and_bulk(tmp_path, raw, suffix):
    """fit without a mask heals ~Frame.valid; mask and bulk mask build_mask's sentinel layer: the same pixels."""
    import h5py

    from dip_heal.io import read_image, write_image
    from dip_heal.masks import MaskSpec, build_mask

    p = tmp_path / f"f{suffix}"
    if suffix == ".h5":
        with h5py.File(p, "w") as h:
            h["entry/data/data"] = raw
    else:
        write_image(p, raw)
    frame = read_image(p)
    spec = MaskSpec(detector="none", beamstop="none", holder="none", stripes=False, overflow=False,
                    ignore_zero_border=False)
    assert np.array_equal(build_mask(frame, spec), ~frame.valid)


def test_pilatus_overflow_and_count_cutoff():
    a = np.array([[2**20 - 1, 100, 5000]], np.int32)
    assert sentinel_mask(a, detector="Pilatus1M").tolist() == [[True, False, False]]
    assert sentinel_mask(a, detector=None).tolist() == [[False, False, False]]
    assert sentinel_mask(a, detector="Pilatus1M", overflow=False).tolist() == [[False, False, False]]
    hdr = {"d": "# Count_cutoff 4000 counts"}
    assert sentinel_mask(a, header=hdr).tolist() == [[True, False, True]]


def test_sentinel_rejects_non_numbers():
    with pytest.raises(DipHealError, match="dtype"):
        sentinel_mask(np.array([["a"]]))


def test_family():
    assert detector_family("Pilatus1M") == "pilatus" and detector_family("Eiger2_4M") == "eiger"
    assert detector_family(None) == "other"


@pytest.mark.parametrize("png, det", [("Pilatus300k_main_gaps-mask.png", "Pilatus300k"),
                                      ("Pilatus1M_main_gaps-mask.png", "Pilatus1M"),
                                      ("Pilatus2M_gaps-mask.png", "Pilatus2M")])
def test_scianalysis_pilatus_gap_masks_reproduced_exactly(png, det):
    from PIL import Image

    a = np.asarray(Image.open(shared_file(f"scianalysis_masks/{png}")))
    masked = (a[..., 0] if a.ndim == 3 else a) < 128  # SciAnalysis: black = masked
    assert np.array_equal(gap_mask(det, masked.shape), masked)

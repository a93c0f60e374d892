"""The GISAXS dev case (issue 19): the pilatus1m rule, and its gap rows never scored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import REPO, shared_file

from dip_heal.bench import invalid_pixels, load_cases, prepare_case

CASES = REPO / "benchmarks" / "cases-gisaxs.json"
GAP_ROWS = [r for k in range(4) for r in range(195 + 212 * k, 212 + 212 * k)]  # the PILATUS 1M's


def test_pilatus1m_marks_every_module_gap_whatever_it_holds():
    full = invalid_pixels(np.full((1043, 981), 7, np.int32), "pilatus1m")
    rows = np.flatnonzero(full.all(axis=1)).tolist()
    cols = np.flatnonzero(full.all(axis=0)).tolist()
    assert rows == GAP_ROWS and cols == list(range(487, 494))
    crop = invalid_pixels(np.full((40, 20), 7, np.int32), "pilatus1m", offset=(400, 480))
    assert np.flatnonzero(crop.all(axis=1)).tolist() == list(range(7, 24))  # rows 407..423
    assert np.flatnonzero(crop.all(axis=0)).tolist() == list(range(7, 14))  # columns 487..493


def test_the_gisaxs_case_never_scores_its_gap_rows(tmp_path):
    """The case file's crop and rule on a frame whose gap rows hold counts, as GALAXI's do."""
    (case,), rejected = load_cases(CASES)
    assert not rejected and case.invalid == "pilatus1m"
    frame = np.random.default_rng(0).poisson(20.0, (1043, 981)).astype(np.int32)
    frame[:, 487:494] = -1
    (tmp_path / "bornagain").mkdir()
    np.save(tmp_path / "bornagain" / "frame.npy", frame)
    entry = json.loads(CASES.read_text())[0] | {"file": "bornagain/frame.npy"}
    (tmp_path / "c.json").write_text(json.dumps([entry]))
    (c,), _ = load_cases(tmp_path / "c.json")
    prep = prepare_case(c, tmp_path)
    y0, x0 = prep.offset
    rows = np.arange(y0, y0 + prep.score.shape[0])
    in_gap = np.isin(rows, GAP_ROWS)
    assert in_gap.any() and not prep.score[in_gap].any() and prep.heal[in_gap].all()
    assert prep.counting  # a PILATUS 1M by its shape: the floor has the Poisson predictor


def test_the_real_gisaxs_frame_when_present():
    path = shared_file("bornagain/galaxi_data.tif.gz")
    (case,), _ = load_cases(CASES)
    prep = prepare_case(case, Path(path).parents[1])
    rows = np.arange(prep.offset[0], prep.offset[0] + prep.score.shape[0])
    assert not prep.score[np.isin(rows, GAP_ROWS)].any()
    assert prep.score.sum() > 10_000

"""The healing benchmark: metrics, gap pasting, invalid rules, pair cases, the run and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED_DATA, shared_file

from dip_heal.bench import (
    COL_GAP,
    COL_MODULE,
    ROW_GAP,
    ROW_MODULE,
    Case,
    invalid_pixels,
    l1_pearson,
    load_cases,
    log_scale,
    lsq_scale,
    normalised_log,
    parse_case,
    paste_gaps,
    paste_offsets,
    prepare_case,
    run_bench,
    score_healed,
)
from dip_heal.methods import METHODS, heal_method
from dip_heal.cli import main
from dip_heal.errors import DipHealError


def _runs(v: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the True runs of a 1-D bool array."""
    d = np.diff(np.concatenate([[0], v.astype(int), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def _pattern(h: int, w: int, cx: float, cy: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - cy, xx - cx)
    return (3000.0 / (1.0 + r) ** 1.5 + 60.0 * np.exp(-(((r - 40.0) / 4.0) ** 2)) + 3.0).astype(np.float32)


# ----------------------------------------------------------------------------- metrics
def test_l1_pearson_hand_computed():
    y_hat = np.array([[1.0, 2.0], [4.0, 100.0]])
    y_true = np.array([[1.0, 3.0], [5.0, -7.0]])
    mask = np.array([[True, True], [True, False]])  # the last pixel is not scored
    l1, r = l1_pearson(y_hat, y_true, mask)
    # |0| + |1| + |1| over 3; r = 6 / sqrt(42/9 * 8)
    assert l1 == pytest.approx(2.0 / 3.0)
    assert r == pytest.approx(6.0 / np.sqrt(42.0 / 9.0 * 8.0))


def test_l1_pearson_constant_gives_nan_and_bad_masks_raise():
    l1, r = l1_pearson(np.ones(3), np.arange(3.0), np.ones(3, bool))
    assert l1 == pytest.approx(2.0 / 3.0) and np.isnan(r)  # |1-0| + |1-1| + |1-2| over 3
    with pytest.raises(DipHealError, match="no pixel"):
        l1_pearson(np.ones(3), np.ones(3), np.zeros(3, bool))
    with pytest.raises(DipHealError, match="differ"):
        l1_pearson(np.ones(3), np.ones(4), np.ones(3, bool))


def test_normalised_log_and_score_hand_values():
    e = np.e
    truth = np.array([[0.0, e - 1, e**2 - 1, -5.0]])
    known = np.array([[True, True, True, False]])
    scale = log_scale(truth, known)
    assert scale == pytest.approx(2.0)
    np.testing.assert_allclose(normalised_log(truth, scale), [[0.0, 0.5, 1.0, 0.0]])
    healed = np.array([[0.0, e**2 - 1, e**2 - 1, 0.0]])  # 2nd pixel off by 0.5 in y
    score = np.array([[False, True, True, False]])
    l1, r = score_healed(healed, truth, score, scale)
    assert l1 == pytest.approx(0.25)
    assert log_scale(np.zeros((2, 2)), np.ones((2, 2), bool)) == 1.0


def test_lsq_scale():
    a = np.array([2.0, 4.0, 6.0, 99.0])
    b = np.array([1.0, 2.0, 3.0, 0.0])
    assert lsq_scale(a, b, np.array([True, True, True, False])) == pytest.approx(2.0)
    with pytest.raises(DipHealError, match="overlap"):
        lsq_scale(a, b, np.zeros(4, bool))


# ----------------------------------------------------------------------------- masks
def test_paste_gaps_pitch_and_widths():
    shape = (700, 1300)
    g = paste_gaps(shape, seed=7)
    rows = _runs(g.all(axis=1))
    cols = _runs(g.all(axis=0))
    full_rows = [r for r in rows if 0 < r[0] and r[0] + r[1] < shape[0]]
    full_cols = [c for c in cols if 0 < c[0] and c[0] + c[1] < shape[1]]
    assert len(full_rows) >= 2 and len(full_cols) >= 2
    assert {n for _, n in full_rows} == {ROW_GAP} == {17}
    assert {n for _, n in full_cols} == {COL_GAP} == {7}
    assert set(np.diff([s for s, _ in rows])) == {ROW_MODULE + ROW_GAP} == {229}
    assert set(np.diff([s for s, _ in cols])) == {COL_MODULE + COL_GAP} == {501}
    # nothing but whole rows and whole columns
    expect = g.all(axis=1)[:, None] | g.all(axis=0)[None, :]
    np.testing.assert_array_equal(g, expect)


def test_paste_offsets_seeded_and_in_range():
    for seed in range(30):
        oy, ox = paste_offsets((512, 512), seed)
        assert 40 <= oy < 40 + 212 and 60 <= ox < 512 - 20
    assert paste_offsets((512, 512), 3) == paste_offsets((512, 512), 3)
    assert len({paste_offsets((512, 512), s) for s in range(10)}) == 10
    np.testing.assert_array_equal(paste_gaps((300, 300), 5), paste_gaps((300, 300), 5))


def test_paste_gaps_small_frames_and_bad_shape():
    g = paste_gaps((30, 40), seed=1)  # smaller than a module: still periodic, never an error
    assert g.shape == (30, 40)
    with pytest.raises(DipHealError):
        paste_gaps((0, 5), seed=1)


def test_invalid_rules():
    raw = np.array([[0, -1, 7], [np.nan, 2**32 - 1, np.inf]], dtype=np.float64)
    np.testing.assert_array_equal(invalid_pixels(raw, "negative"), [[False, True, False], [True, True, True]])
    np.testing.assert_array_equal(invalid_pixels(raw, "zero_is_gap"), [[True, True, False], [True, True, True]])
    u32 = np.array([[4294967295, 5]], dtype=np.uint32)
    np.testing.assert_array_equal(invalid_pixels(u32, "negative"), [[True, False]])
    with pytest.raises(DipHealError, match="expected one of"):
        invalid_pixels(raw, "bogus")


def test_invalid_pilatus2m_follows_the_crop_offset():
    a = np.ones((30, 20), np.int32)
    inv = invalid_pixels(a, "pilatus2m", offset=(190, 480))
    # full-frame gap rows 195..211 -> crop rows 5..21; gap columns 487..493 -> crop columns 7..13
    assert _runs(inv.all(axis=1)) == [(5, 17)]
    assert _runs(inv.all(axis=0)) == [(7, 7)]
    assert not inv[0, 0] and not inv[25, 18]
    full = invalid_pixels(np.ones((1679, 1475)), "pilatus2m")
    assert _runs(full.all(axis=0)) == [(487, 7), (981, 7)]
    assert len(_runs(full.all(axis=1))) == 7


# ----------------------------------------------------------------------------- cases
def test_parse_case_good_and_bad():
    c = parse_case({"name": "a", "file": "x.npy", "crop": [1, 2, 3, 4], "seed": 5})
    assert c.crop == (1, 2, 3, 4) and c.kind == "pasted" and c.invalid == "negative"
    bad = [
        ([], "JSON object"),
        ({"file": "x"}, "name"),
        ({"name": "a"}, "file"),
        ({"name": "a", "file": "x", "crop": [1, 2, 3]}, "crop"),
        ({"name": "a", "file": "x", "crop": [0, 0, 0, 4]}, "crop"),
        ({"name": "a", "file": "x", "invalid": "nan"}, "invalid"),
        ({"name": "a", "file": "x", "seed": -1}, "seed"),
        ({"name": "a", "file": "x", "kind": "pair"}, "file_b"),
        ({"name": "a", "file": "x", "kind": "pair", "file_b": "y", "shift": [0, 0]}, "shift"),
        ({"name": "a", "file": "x", "colour": 1}, "unknown key"),
        ({"name": "../a", "file": "x"}, "name"),
        ({"name": "a", "file": "x", "center": [1]}, "center"),
        ({"name": "a", "file": "x", "pixel_size": -1}, "pixel_size"),
    ]
    for entry, match in bad:
        with pytest.raises(DipHealError, match=match):
            parse_case(entry)


def test_load_cases_errors(tmp_path):
    with pytest.raises(DipHealError, match="no such case file"):
        load_cases(tmp_path / "none.json")
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(DipHealError, match="not valid JSON"):
        load_cases(p)
    p.write_text('{"name": "a"}')
    with pytest.raises(DipHealError, match="list"):
        load_cases(p)
    p.write_text('[{"name": "a", "file": "x"}, {"name": "a", "file": "y"}]')
    with pytest.raises(DipHealError, match="more than once"):
        load_cases(p)
    p.write_text('[{"name": "a", "file": "x"}, {"name": "b", "crop": 3}]')
    cases, rejected = load_cases(p)
    assert [c.name for c in cases] == ["a"] and rejected[0][0] == "b"


def _write_frame(tmp_path: Path, name: str, arr: np.ndarray) -> str:
    np.save(tmp_path / name, arr)
    return name


def test_prepare_pasted_case(tmp_path):
    img = _pattern(300, 300, 150.0, 140.0)
    img[100:110, 0:50] = -1  # the frame's own invalid pixels
    _write_frame(tmp_path, "f.npy", img)
    prep = prepare_case(Case("c", "f.npy", crop=(10, 20, 256, 256), seed=3), tmp_path)
    crop = img[10:266, 20:276]
    gaps = paste_gaps((256, 256), 3)
    np.testing.assert_array_equal(prep.heal, gaps | (crop < 0))
    np.testing.assert_array_equal(prep.score, gaps & (crop >= 0))
    assert (prep.image[prep.heal] == 0).all()
    np.testing.assert_array_equal(prep.image[~prep.heal], crop[~prep.heal])
    np.testing.assert_array_equal(prep.truth[prep.score], crop[prep.score])
    assert prep.scale == pytest.approx(np.log1p(crop[~prep.heal]).max())
    assert prep.offset == (10, 20)


def test_prepare_case_missing_file_and_crop_outside(tmp_path):
    _write_frame(tmp_path, "f.npy", np.ones((50, 60), np.float32))
    with pytest.raises(DipHealError, match="no such file"):
        prepare_case(Case("c", "missing.npy"), tmp_path)
    with pytest.raises(DipHealError, match="exceeds the frame"):
        prepare_case(Case("c", "f.npy", crop=(0, 10, 50, 51)), tmp_path)


# ----------------------------------------------------------------------------- real pairs
def _pair(tmp_path: Path, dy: int, k: float = 2.5):
    """Frames A and B of one scene, B's detector moved: B[y', x'] = k * A_true[y' + dy, x']."""
    h, w = 120, 100
    canvas = _pattern(h + dy, w, 50.0, 70.0)
    a = canvas[:h].copy()
    b = k * canvas[dy : dy + h].copy()
    a_true = a.copy()
    a[30:37, :] = -1  # A's module gap (measured by B)
    b[80:87, :] = -1  # B's own gap elsewhere
    _write_frame(tmp_path, "a.npy", a)
    _write_frame(tmp_path, "b.npy", b)
    return a_true


def test_pair_case_truth_and_scale(tmp_path):
    dy = 12
    a_true = _pair(tmp_path, dy)
    case = parse_case({"name": "p", "kind": "pair", "file": "a.npy", "file_b": "b.npy", "shift": [dy, 0]})
    prep = prepare_case(case, tmp_path)
    assert prep.pair_scale == pytest.approx(1 / 2.5)
    assert _runs(prep.heal.all(axis=1)) == [(30, 7)]
    np.testing.assert_array_equal(prep.score, prep.heal)  # B measures all of A's gap rows
    np.testing.assert_allclose(prep.truth[prep.score], a_true[prep.score], rtol=1e-5)
    # the true scene scores perfectly against the pair's truth; a wrong shift does not
    wrong = prepare_case(parse_case({"name": "p", "kind": "pair", "file": "a.npy", "file_b": "b.npy",
                                     "shift": [dy + 3, 0]}), tmp_path)
    l1_right, r_right = score_healed(a_true, prep.truth, prep.score, prep.scale)
    l1_wrong, _ = score_healed(a_true, wrong.truth, wrong.score, wrong.scale)
    assert l1_right < 1e-6 and r_right == pytest.approx(1.0)
    assert l1_wrong > 100 * max(l1_right, 1e-9)


def test_pair_case_scores_only_where_b_measures(tmp_path):
    dy = 50  # A's gap rows 30..36 map to B rows -20..-14: outside B
    _pair(tmp_path, dy)
    case = parse_case({"name": "p", "kind": "pair", "file": "a.npy", "file_b": "b.npy", "shift": [dy, 0]})
    with pytest.raises(DipHealError, match="no pixel to score"):
        prepare_case(case, tmp_path)


def test_pair_case_runs_through_the_bench(tmp_path, monkeypatch):
    dy = 12
    a_true = _pair(tmp_path, dy)
    monkeypatch.setitem(METHODS, "oracle", lambda image, heal_mask: np.where(heal_mask, a_true, image))
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([{"name": "p", "kind": "pair", "file": "a.npy", "file_b": "b.npy",
                                  "shift": [dy, 0]}]))
    res = run_bench(cases, tmp_path, ["oracle", "telea"])
    oracle, telea = res.get("p", "oracle"), res.get("p", "telea")
    assert oracle.l1 < 1e-6 and oracle.r == pytest.approx(1.0)
    assert telea.ok and telea.l1 > oracle.l1


# ----------------------------------------------------------------------------- the run
def _bench_folder(tmp_path: Path) -> Path:
    _write_frame(tmp_path, "good.npy", _pattern(300, 280, 140.0, 150.0))
    _write_frame(tmp_path, "small.npy", _pattern(100, 100, 50.0, 50.0))
    cases = [
        {"name": "good", "file": "good.npy", "crop": [20, 10, 256, 256], "seed": 1},
        {"name": "missing", "file": "nope.npy", "crop": [0, 0, 64, 64]},
        {"name": "toolarge", "file": "small.npy", "crop": [0, 0, 256, 256]},
        {"name": "broken", "file": "good.npy", "crop": "all"},
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    return tmp_path / "cases.json"


def test_run_bench_skips_bad_cases_and_writes_everything(tmp_path):
    cases = _bench_folder(tmp_path)
    out = tmp_path / "out"
    res = run_bench(cases, tmp_path, ["biharmonic", "telea"], out=out)
    assert res.cases == ["good"]
    skipped = dict(res.skipped)
    assert set(skipped) == {"missing", "toolarge", "broken"}
    assert "no such file" in skipped["missing"] and "exceeds the frame" in skipped["toolarge"]
    for m in ("biharmonic", "telea"):
        s = res.get("good", m)
        assert s.ok and 0 < s.l1 < 0.05 and s.r > 0.9 and s.seconds > 0
    for name in ("table.md", "results.csv", "bars.png", "panels/good.png"):
        assert (out / name).stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "| biharmonic |" in table and "case missing skipped" in table
    csv = (out / "results.csv").read_text().splitlines()
    assert csv[0] == "case,method,l1_e3,r,seconds,iterations,snapshot,n_scored,status"
    floor = (out / "floor.csv").read_text().splitlines()
    assert floor[0] == "case,method,l1_e3,r,excess_e3,note" and floor[1].startswith("good,floor")
    assert any(line.startswith("mean,telea,") for line in csv)
    assert not list(out.glob(".*"))  # no temporary files left


def test_unreadable_frame_is_skipped(tmp_path):
    cases = _bench_folder(tmp_path)
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file at all")
    data = json.loads(cases.read_text()) + [{"name": "junk", "file": "junk.npy"}]
    cases.write_text(json.dumps(data))
    res = run_bench(cases, tmp_path, ["telea"])
    assert res.cases == ["good"] and "junk" in dict(res.skipped)


def test_run_bench_unknown_method_lists_known(tmp_path):
    cases = _bench_folder(tmp_path)
    with pytest.raises(DipHealError, match="expected one of: .*biharmonic.*telea"):
        run_bench(cases, tmp_path, ["telea", "magic"])


def test_run_bench_no_runnable_case(tmp_path):
    (tmp_path / "c.json").write_text('[{"name": "x", "file": "nope.npy"}]')
    with pytest.raises(DipHealError, match="no case could be run"):
        run_bench(tmp_path / "c.json", tmp_path, ["telea"])
    with pytest.raises(DipHealError, match="data folder"):
        run_bench(tmp_path / "c.json", tmp_path / "nodir", ["telea"])


def test_failing_method_is_reported_and_the_run_goes_on(tmp_path, monkeypatch):
    def broken(image, heal_mask):
        raise RuntimeError("boom")

    monkeypatch.setitem(METHODS, "broken", broken)
    cases = _bench_folder(tmp_path)
    res = run_bench(cases, tmp_path, ["broken", "telea"])
    assert not res.get("good", "broken").ok and "boom" in res.get("good", "broken").error
    assert res.get("good", "telea").ok
    assert "broken failed on good: boom" in res.to_markdown()


def test_iterative_methods_record_budget_and_time(tmp_path, monkeypatch):
    def iterative(image, heal_mask, *, num_iter=10, info=None):
        if info is not None:
            info.update(iterations=num_iter, snapshot=5, num_iter=num_iter, preset="tiny", seconds=1.5)
        return heal_method("telea")(image, heal_mask)

    monkeypatch.setitem(METHODS, "iter", iterative)
    cases = _bench_folder(tmp_path)
    res = run_bench(cases, tmp_path, ["iter"], method_opts={"iter": {"num_iter": 7, "bogus": 1}})
    s = res.get("good", "iter")
    assert s.iterations == 7 and s.snapshot == 5 and s.seconds == 1.5
    md = res.to_markdown()
    assert "| iter (tiny, 7 it) |" in md and "1.50 (7 it, kept 5)" in md
    assert "good,iter,,,,7,5," not in res.to_csv() and ",1.500,7,5," in res.to_csv()


def test_pyfai_gets_the_case_geometry(tmp_path, monkeypatch):
    seen = {}

    def fake_pyfai(image, heal_mask, *, center=None, offset=(0, 0), poni=None, pixel_size=1.0):
        seen.update(center=center, offset=offset, poni=poni, pixel_size=pixel_size)
        return np.where(heal_mask, 1.0, image)

    monkeypatch.setitem(METHODS, "pyfai", fake_pyfai)
    _bench_folder(tmp_path)
    (tmp_path / "c.json").write_text(json.dumps([{"name": "g", "file": "good.npy", "crop": [20, 10, 256, 256],
                                                  "center": [140, 150], "poni": "x.poni", "pixel_size": 75e-6}]))
    run_bench(tmp_path / "c.json", tmp_path, ["pyfai"])
    assert seen == {"center": (140.0, 150.0), "offset": (20, 10), "poni": str(tmp_path / "x.poni"),
                    "pixel_size": 75e-6}


# ----------------------------------------------------------------------------- CLI
def test_cli_bench(tmp_path):
    cases = _bench_folder(tmp_path)
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["bench", str(cases), "--methods", "ns,telea", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "| telea |" in r.output
    assert (out / "panels" / "good.png").exists() and (out / "bars.png").exists()


def test_cli_bench_unknown_method(tmp_path):
    cases = _bench_folder(tmp_path)
    r = CliRunner().invoke(main, ["bench", str(cases), "--methods", "telea,magic", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1
    assert "unknown method 'magic'" in r.output and "biharmonic" in r.output


def test_cli_bench_dip_budget(tmp_path):
    from dip_heal.config import FitConfig

    _write_frame(tmp_path, "f.npy", _pattern(64, 64, 30.0, 30.0))
    (tmp_path / "c.json").write_text(json.dumps([{"name": "t", "file": "f.npy", "seed": 0}]))
    cfg = tmp_path / "tiny.json"
    FitConfig.preset("default", depth=2, channels=8).to_json(cfg)
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["bench", str(tmp_path / "c.json"), "--methods", "telea,dip", "--dip-preset",
                                  str(cfg), "--dip-iters", "3", "--out", str(out), "--no-panels"])
    assert r.exit_code == 0, r.output
    assert re.search(r"\| dip:\S+ \(tiny\.json, 3 it\) \|", r.output)
    assert "(3 it" in r.output  # ", kept 0" when the azimuthal fill (iteration 0) wins
    assert not (out / "panels").exists()


# ----------------------------------------------------------------------------- real data
def _ttq_reference() -> dict[str, dict[str, tuple[float, float]]]:
    text = shared_file("ttq/README.md").read_text()
    ref: dict[str, dict[str, tuple[float, float]]] = {}
    cols = ["biharmonic", "ns", "telea"]
    for line in text.splitlines():
        m = re.match(r"\|\s*(\w+)\s*\|(.+)\|\s*$", line)
        if not m or m.group(1) in ("case", "mean"):
            continue
        cells = [c.strip() for c in m.group(2).split("|")]
        if len(cells) == 3 and all("/" in c for c in cells):
            ref[m.group(1)] = {k: tuple(float(v) for v in c.split("/")) for k, c in zip(cols, cells)}
    return ref


TTQ_CASES = ["corkcont2", "cr8f8", "duke", "f2k_rings", "fibre107", "hdpe2m", "saxslab300k"]


@pytest.mark.parametrize("name", TTQ_CASES)
def test_ttq_classical_scores_reproduced(name):
    """Our metric and fills reproduce the ttq README's classical table on the 256 x 256 crops."""
    ref = _ttq_reference()[name]
    d = np.load(shared_file(f"ttq/{name}.npz"))
    heal, score = d["heal"], d["score"]
    scale = log_scale(d["image"], d["known"])
    for method, (l1_ref, r_ref) in ref.items():
        out = heal_method(method)(d["image"], heal)
        l1, r = score_healed(out, d["truth"], score, scale)
        assert round(l1 * 1e3, 2) == pytest.approx(l1_ref, abs=0.011), method
        assert round(r, 4) == pytest.approx(r_ref, abs=0.00011), method


def _dev_case(name: str) -> Case:
    p = shared_file("cases-dev.json")
    cases, _ = load_cases(p)
    return next(c for c in cases if c.name == name)


@pytest.mark.parametrize(
    "name",
    ["corkcont2", "cr8f8", "duke", "fibre107", "hdpe2m", "saxslab300k",
     pytest.param("f2k_rings", marks=pytest.mark.slow)],
)
def test_dev_case_masks_match_ttq_crops(name):
    """The pasted gaps and invalid rules reproduce the ttq centre crops of the dev cases exactly."""
    d = np.load(shared_file(f"ttq/{name}.npz"))
    prep = prepare_case(_dev_case(name), SHARED_DATA)
    h, w = prep.image.shape
    sl = np.s_[(h - 256) // 2 : (h - 256) // 2 + 256, (w - 256) // 2 : (w - 256) // 2 + 256]
    np.testing.assert_array_equal(prep.heal[sl], d["heal"])
    np.testing.assert_array_equal(prep.score[sl], d["score"])
    np.testing.assert_array_equal(prep.image[sl].astype(np.float32), d["image"])
    np.testing.assert_array_equal(prep.truth[sl][d["score"]].astype(np.float32), d["truth"][d["score"]])


def test_bench_progress_bar_is_on_stderr_and_leaves_the_table_intact(tmp_path):  # issue 20
    cases = _bench_folder(tmp_path)
    r = CliRunner().invoke(main, ["bench", str(cases), "--methods", "ns,telea", "--out", str(tmp_path / "o"),
                                  "--no-panels"])
    assert r.exit_code == 0, r.output
    assert "bench:" in r.stderr and re.search(r"\b(\d+)/\1\b", r.stderr)  # every case x method, done
    assert "bench:" not in r.stdout and r.stdout == (tmp_path / "o" / "table.md").read_text()
    quiet = CliRunner().invoke(main, ["bench", str(cases), "--methods", "telea", "--out", str(tmp_path / "q"),
                                      "--no-panels", "--no-progress"])
    assert quiet.exit_code == 0 and "bench:" not in quiet.stderr


def test_run_bench_bar_counts_every_method_of_every_case(tmp_path, monkeypatch):
    import dip_heal.bench.run as bench_run

    bars = []

    class Bar:
        def __init__(self, total, initial=0):
            self.total, self.n, self.closed, self.shown = total, initial, False, []
            bars.append(self)

        def update(self, k=1):
            self.n += k

        def set_postfix_str(self, s):
            self.shown.append(s)

        def close(self):
            self.closed = True

    monkeypatch.setattr(bench_run, "_bar", Bar)
    run_bench(_bench_folder(tmp_path), tmp_path, ["biharmonic", "telea"], progress=True)
    (bar,) = bars
    assert bar.n == bar.total and bar.closed and "good: telea" in bar.shown

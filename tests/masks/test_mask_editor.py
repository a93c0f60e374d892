"""The interactive editor, driven headless by synthetic matplotlib events (Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backend_bases import KeyEvent, MouseEvent  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dip_heal.errors import DipHealError  # noqa: E402
from dip_heal.frame import Frame  # noqa: E402
from dip_heal.masks.editor import MaskEditor, display_available, edit_mask  # noqa: E402
from dip_heal.masks import MaskSpec, build_mask  # noqa: E402


@pytest.fixture
def editor():
    rng = np.random.default_rng(0)
    raw = rng.poisson(50, (60, 80)).astype(np.int32)
    raw[20, 30] = -1  # one sentinel
    fig = Figure(figsize=(8, 6), dpi=50)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    ed = MaskEditor(Frame.from_array(raw), MaskSpec(detector="none", beamstop="none"), fig=fig)
    ed.ax.apply_aspect()  # the layout a first draw would give, without rendering
    return ed


def _mouse(ed, name, x, y, button=1, key=None, dblclick=False):
    X, Y = ed.ax.transData.transform((x, y))
    ev = MouseEvent(name, ed.fig.canvas, X, Y, button=button, key=key, dblclick=dblclick)
    ed.fig.canvas.callbacks.process(name, ev)


def _key(ed, key):
    ed.fig.canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", ed.fig.canvas, key))


def _hist(ed, xs, button=1, key=None):
    """Press at xs[0] on the histogram (log10(counts + 1)), move through xs, release at xs[-1]."""
    cv = ed.fig.canvas
    for name, x in [("button_press_event", xs[0])] + [("motion_notify_event", x) for x in xs[1:]] + [
            ("button_release_event", xs[-1])]:
        X, Y = ed.ax_hist.transData.transform((x, 1))
        cv.callbacks.process(name, MouseEvent(name, cv, X, Y, button=button, key=key))


def _drag(ed, pts, key=None):
    _mouse(ed, "button_press_event", *pts[0], key=key)
    for p in pts[1:]:
        _mouse(ed, "motion_notify_event", *p, key=key)
    _mouse(ed, "button_release_event", *pts[-1], key=key)


def test_rectangle_changes_exactly_its_pixels_and_undo_restores(editor):
    before = editor.heal.copy()
    assert before.sum() == 1 and before[20, 30]
    _key(editor, "r")
    _drag(editor, [(10, 5), (14, 7), (15, 8)])
    expected = before.copy()
    expected[5:9, 10:16] = True
    assert np.array_equal(editor.heal, expected)
    _key(editor, "u")
    assert np.array_equal(editor.heal, before)
    _key(editor, "y")
    assert np.array_equal(editor.heal, expected)


def test_polygon_by_clicks_and_shift_unmask(editor):
    _key(editor, "p")
    for p in [(40, 10), (50, 10), (50, 20), (40, 20)]:
        _mouse(editor, "button_press_event", *p)
    _mouse(editor, "button_press_event", 40, 10)  # click on the first vertex closes
    m = editor.heal
    assert m[10:21, 40:51].all() and int(m.sum()) == 1 + 11 * 11
    _key(editor, "r")
    _drag(editor, [(45, 15), (46, 16)], key="shift")  # shift = unmask
    assert not editor.heal[15:17, 45:47].any() and int(editor.heal.sum()) == 1 + 121 - 4


def test_brush_stroke(editor):
    editor._brush.set_val(3)
    _key(editor, "b")
    _drag(editor, [(5, 40), (10, 40), (20, 40)])
    m = editor.heal
    assert m[39:42, 5:21].all()  # width 3 around row 40, columns 5..20
    assert not m[37].any() and not m[43].any() and not m[40, 23:].any()
    expected = np.zeros_like(m)
    yy, xx = np.mgrid[0:60, 0:80]
    expected |= (np.abs(yy - 40) <= 1.5) & (xx >= 5) & (xx <= 20)
    expected |= np.hypot(xx - 5, yy - 40) <= 1.5
    expected |= np.hypot(xx - 20, yy - 40) <= 1.5
    expected[20, 30] = True
    assert np.array_equal(m, expected)


def test_undo_fifty_steps(editor):
    before = editor.heal.copy()
    _key(editor, "r")
    for i in range(55):
        _drag(editor, [(i % 70, i % 50), (i % 70 + 1, i % 50 + 1)])
    for _ in range(55):
        _key(editor, "u")
    assert np.array_equal(editor.heal, before)


def test_accepted_spec_reproduces_the_mask(editor, tmp_path):
    _key(editor, "r")
    _drag(editor, [(3, 3), (8, 9)])
    _key(editor, "f")
    _mouse(editor, "button_press_event", 60, 50)
    _key(editor, "+")
    editor.toggle("sentinel")
    _key(editor, "enter")
    assert editor.confirming and not editor.finished and editor.result is None  # asks first
    _key(editor, "enter")
    assert editor.finished and editor.result is not None
    spec = MaskSpec.from_json(editor.result.to_json())
    assert spec.sentinels is False
    assert np.array_equal(build_mask(editor.frame, spec), editor.heal)


def test_quit_writes_nothing(editor):
    _key(editor, "r")
    _drag(editor, [(3, 3), (8, 9)])
    _key(editor, "q")
    assert editor.finished and editor.result is None


def test_threshold_on_histogram_and_invert_and_outline(editor):
    _key(editor, "t")
    _hist(editor, [np.log10(40.5)])  # a click: below 39.5 counts
    expected = (editor.frame.data < 40) & editor._measured
    expected[20, 30] = True  # the sentinel
    assert np.array_equal(editor.heal, expected) and 0 < expected.sum() < expected.size // 2
    n = int(editor.heal.sum())
    _key(editor, "i")
    assert int(editor.heal.sum()) == editor.heal.size - n
    _key(editor, "o")
    assert editor.outline


def test_pan_with_middle_drag_while_a_tool_is_active(editor):
    _key(editor, "r")
    xl = editor.ax.get_xlim()
    _mouse(editor, "button_press_event", 40, 30, button=2)
    _mouse(editor, "motion_notify_event", 30, 30, button=2)
    _mouse(editor, "button_release_event", 30, 30, button=2)
    assert editor.ax.get_xlim() != xl
    assert int(editor.heal.sum()) == 1  # panning drew nothing


def test_no_display_one_line(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert not display_available()
    with pytest.raises(DipHealError, match="no display.*--beamstop") as exc:
        edit_mask(Frame.from_array(np.ones((4, 4))))
    assert "\n" not in str(exc.value)


def test_cli_interactive_without_display_writes_nothing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dip_heal.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    np.save(tmp_path / "f.npy", np.random.default_rng(0).poisson(9, (20, 20)).astype(np.int32))
    res = CliRunner().invoke(main, ["mask", str(tmp_path / "f.npy"), "-i", "--out", str(tmp_path / "m.npy")])
    assert res.exit_code == 1 and "no display" in res.output and "--beamstop" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "m.npy").exists()


def test_component_toggle_by_checkbox_and_by_call(editor):
    assert editor.heal[20, 30]
    labels = [t.get_text() for t in editor._chk.labels]
    editor._chk.set_active(labels.index("sentinel"))  # a click on the check box
    assert not editor.enabled["sentinel"] and not editor.heal[20, 30]
    editor.toggle("sentinel")
    assert editor.enabled["sentinel"] and editor._chk.get_status()[labels.index("sentinel")]
    assert editor.heal[20, 30]
    with pytest.raises(DipHealError, match="no automatic component"):
        editor.toggle("moon")


def test_edit_model_works_without_a_window():
    from dip_heal.masks.edits import MaskEdits

    raw = np.random.default_rng(0).poisson(50, (60, 80)).astype(np.int32)
    raw[20, 30] = -1
    m = MaskEdits(Frame.from_array(raw), MaskSpec(detector="none", beamstop="none"))
    m.apply({"kind": "rect", "x0": 1, "y0": 1, "x1": 3, "y1": 2})
    assert int(m.heal.sum()) == 1 + 6
    assert m.undo() and int(m.heal.sum()) == 1 and not m.undo()
    assert m.redo() and int(m.heal.sum()) == 7 and not m.redo()
    m.toggle("sentinel")
    assert not m.heal[20, 30] and int(m.heal.sum()) == 6
    spec = m.current_spec()
    assert spec.sentinels is False and len(spec.edits) == 1
    assert np.array_equal(build_mask(m.frame, spec), m.heal)


# ---------------------------------------------------------------------------------------- issue 18


def _ring_truth(shape, cx, cy, r0, r1, a0=None, a1=None):
    """The annulus (sector) by its definition, written out here, not with the editor's code."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(xx - cx, yy - cy)
    m = (r >= r0) & (r <= r1)
    if a0 is not None:
        ang = np.degrees(np.arctan2(cy - yy, xx - cx)) % 360  # counter-clockwise on screen (y down)
        m &= (ang - a0) % 360 <= (a1 - a0) % 360
    return m


def test_ring_tool_annulus_sector_unmask_and_centre(editor):
    cx, cy = editor.ring_center  # the beam estimate the automatic beamstop used
    assert (cx, cy) == tuple(editor.frame.meta["mask_info"]["center"])
    _mouse(editor, "button_press_event", 40, 30, button=3)  # no tool yet: nothing happens
    assert editor.ring_center == (cx, cy)
    _key(editor, "a")
    assert editor.tool == "ring"
    _mouse(editor, "button_press_event", 40, 30, button=3)  # right-click moves the centre
    assert editor.ring_center == (40.0, 30.0)
    before = editor.heal.copy()
    _drag(editor, [(45, 30), (47, 30), (49, 30)])  # radial drag: the whole annulus 5 <= r <= 9
    ring = _ring_truth(before.shape, 40, 30, 5, 9)
    assert np.array_equal(editor.heal, before | ring) and ring.sum() > 100
    assert editor.edits[-1]["kind"] == "ring" and "a0" not in editor.edits[-1]
    _key(editor, "u")
    # a sweep from 0 deg (right of the centre) to 90 deg (above it), from r=12 out to r=20
    _drag(editor, [(52, 30), (40 + 14 * np.cos(0.4), 30 - 14 * np.sin(0.4)),
                   (40 + 17 * np.cos(1.0), 30 - 17 * np.sin(1.0)), (40, 10)])
    e = editor.edits[-1]
    assert (e["a0"], e["a1"], e["r0"], e["r1"]) == (0.0, 90.0, 12.0, 20.0)
    sector = _ring_truth(before.shape, 40, 30, 12, 20, 0, 90)
    assert np.array_equal(editor.heal, before | sector)
    new = editor.heal & ~before
    assert not new[31:].any() and not new[:, :40].any() and new[10:30, 40:61].sum() > 100  # only the upper right
    # shift: unmask a thinner sector out of it
    _drag(editor, [(54, 30), (40, 15)], key="shift")  # 14..15 px, swept 0 -> 90 in one step
    assert np.array_equal(editor.heal, before | (sector & ~_ring_truth(before.shape, 40, 30, 14, 15, 0, 90)))
    spec = editor.current_spec()
    assert np.array_equal(build_mask(editor.frame, MaskSpec.from_json(spec.to_json())), editor.heal)


def test_ring_sector_over_180_degrees_and_across_0(editor):
    _key(editor, "a")
    _mouse(editor, "button_press_event", 40, 30, button=3)
    # from 300 deg (below right) counter-clockwise through 0, 90, 180 to 200 deg: a 260 deg sector
    pts = [(40 + 15 * np.cos(np.radians(a)), 30 - 15 * np.sin(np.radians(a))) for a in range(300, 561, 20)]
    pts[-1] = (40 + 18 * np.cos(np.radians(200)), 30 - 18 * np.sin(np.radians(200)))
    pts[0] = (40 + 10 * np.cos(np.radians(300)), 30 - 10 * np.sin(np.radians(300)))
    _drag(editor, pts)
    e = editor.edits[-1]
    assert abs(e["a0"] - 300) < 1e-6 and abs(e["a1"] - 200) < 1e-6  # counter-clockwise from 300 to 200
    truth = _ring_truth(editor.frame.shape, 40, 30, 10, 18, 300, 200)
    truth[20, 30] = True
    assert np.array_equal(editor.heal, truth)
    assert not editor.heal[30 + 14, 40] and editor.heal[30 - 14, 40]  # 270 deg (down) is out, 90 deg (up) in


def test_between_thresholds_by_a_drag_on_the_histogram_and_marked(editor):
    _key(editor, "t")
    _hist(editor, [np.log10(40.5), np.log10(50), np.log10(61.5)])  # drag: 39.5 .. 60.5 counts
    e = editor.edits[-1]
    assert e["kind"] == "threshold" and "below" not in e and "above" not in e
    assert abs(e["min"] - 39.5) < 1e-6 and abs(e["max"] - 60.5) < 1e-6
    d = editor.frame.data
    expected = (d >= 40) & (d <= 60) & editor._measured
    expected[20, 30] = True
    assert np.array_equal(editor.heal, expected)
    assert 0.2 < expected.mean() < 0.98 and not editor.heal[(d > 60) & editor._measured].any()
    # both limits are marked on the histogram (red lines and a span), at log10(counts + 1)
    reds = [a for a in editor._hist_marks if getattr(a, "get_xdata", None) and a.get_color() == "red"]
    assert sorted(round(float(a.get_xdata()[0]), 6) for a in reds) == [round(np.log10(40.5), 6),
                                                                       round(np.log10(61.5), 6)]
    assert any(type(a).__name__ in ("Rectangle", "Polygon") for a in editor._hist_marks)
    _key(editor, "u")
    assert not [a for a in editor._hist_marks if getattr(a, "get_xdata", None) and a.get_color() == "red"]
    _hist(editor, [np.log10(56.5)], button=3)  # right-click: above 55.5
    assert np.array_equal(editor.heal[editor._measured], d[editor._measured] > 55)


def test_readout_shows_position_value_and_mask_not_rgba(editor):
    from matplotlib.backend_bases import NavigationToolbar2

    txt = editor.ax.format_coord(30, 20)
    assert txt.startswith("x=30 y=20") and "value=-1" in txt and "masked: sentinel" in txt
    d = editor.frame.data
    assert editor.ax.format_coord(10.3, 5.6) == f"x=10 y=6  value={d[6, 10]:.6g}  not masked"
    X, Y = editor.ax.transData.transform((10, 6))
    ev = MouseEvent("motion_notify_event", editor.fig.canvas, X, Y)
    msg = NavigationToolbar2._mouse_event_to_message(ev)  # what a window's status bar shows
    assert msg == f"x=10 y=6  value={d[6, 10]:.6g}  not masked"  # no "[r, g, b, a]" of the overlay
    editor.fig.canvas.callbacks.process("motion_notify_event", ev)
    assert editor._readout.get_text() == msg
    _key(editor, "r")
    _drag(editor, [(9, 5), (11, 7)])
    assert editor.ax.format_coord(10, 6).endswith("masked: user")


def test_colour_map_scale_and_contrast_controls(editor):
    im = editor._base_im
    assert im.get_cmap().name == "gray" and editor.scale == "log"
    _key(editor, "k")
    assert im.get_cmap().name == "viridis"
    _key(editor, "k")
    _key(editor, "K")
    assert im.get_cmap().name == "viridis"
    vals = editor.frame.data[editor._measured]
    assert np.allclose(im.get_array()[editor._measured], np.log1p(vals))
    _key(editor, "v")
    assert editor.scale == "linear" and np.array_equal(im.get_array()[editor._measured], vals)
    editor._low.set_val(10)
    editor._high.set_val(90)
    lo, hi = im.get_clim()
    assert abs(lo - np.percentile(vals, 10)) <= 1 and abs(hi - np.percentile(vals, 90)) <= 1 and lo < hi
    # the contrast limits are marked on the histogram
    blue = sorted(float(a.get_xdata()[0]) for a in editor._hist_marks
                  if getattr(a, "get_xdata", None) and a.get_color() == "tab:blue")
    assert np.allclose(blue, np.log10(np.array([lo, hi]) + 1))
    _key(editor, "v")
    assert editor.scale == "log" and np.allclose(np.expm1(im.get_clim()), (lo, hi), atol=1)
    assert "viridis, log" in editor._view_label.get_text()
    # drag the upper limit's blue line on the histogram (no threshold tool) to 60.5 counts
    _key(editor, "n")
    lo_c, hi_c = editor.clim_counts()
    _hist(editor, [np.log10(hi_c + 1) - 0.01, np.log10(56), np.log10(61.5)])  # x = log10(counts + 1)
    assert abs(editor.clim_counts()[0] - lo_c) < 1e-3 and abs(editor.clim_counts()[1] - 61) < 1e-3  # the first >= 60.5
    assert abs(editor._high.val - 100 * np.mean(vals < 60.5)) < 0.1  # the slider follows (its percentile)
    assert editor.edits == []  # no threshold was made


def test_load_and_add_a_mask_file(editor, tmp_path):
    from dip_heal.masks import read_mask, write_mask

    filemask = np.zeros(editor.frame.shape, bool)
    filemask[40:50, 60:75] = True
    write_mask(tmp_path / "old.edf", filemask)  # pyFAI convention: 1 = masked
    assert np.array_equal(read_mask(tmp_path / "old.edf", editor.frame.shape), filemask)
    _key(editor, "r")
    _drag(editor, [(3, 3), (8, 9)])
    drawn = editor.heal.copy()
    _key(editor, "m")  # empty box: says what to do, changes nothing
    assert np.array_equal(editor.heal, drawn) and "mask file" in editor._prompt.get_text()
    editor._file_box.set_val(str(tmp_path / "old.edf"))
    _key(editor, "m")  # add
    assert np.array_equal(editor.heal, drawn | filemask)
    _key(editor, "u")
    assert np.array_equal(editor.heal, drawn)
    _key(editor, "M")  # load: replaces the mask
    assert np.array_equal(editor.heal, filemask)
    spec = MaskSpec.from_json(editor.current_spec().to_json())
    assert np.array_equal(build_mask(editor.frame, spec), filemask)
    np.save(tmp_path / "small.npy", np.zeros((5, 5), bool))
    assert not editor.load_mask_file(tmp_path / "small.npy")  # another shape: refused, said
    assert "(5, 5)" in editor._prompt.get_text() and np.array_equal(editor.heal, filemask)
    # typing the path in the box does not trigger tools
    editor._file_box.begin_typing()
    _key(editor, "r")
    _key(editor, "q")
    assert not editor.finished and "rq" in editor._file_box.text and len(editor.edits) == 2
    editor._file_box.stop_typing()


def test_cli_load_mask_adds_the_file_and_opens_the_editor_with_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dip_heal.cli import main
    from dip_heal.masks import read_mask, write_mask

    raw = np.random.default_rng(0).poisson(9, (20, 24)).astype(np.int32) + 1
    np.save(tmp_path / "f.npy", raw)
    old = np.zeros((20, 24), bool)
    old[2:5, 3:9] = True
    write_mask(tmp_path / "old.npy", old)
    args = ["mask", str(tmp_path / "f.npy"), "--detector", "none", "--no-auto-beamstop", "--no-overlay",
            "--load-mask", str(tmp_path / "old.npy")]
    res = CliRunner().invoke(main, args + ["--out", str(tmp_path / "m.npy")])
    assert res.exit_code == 0, res.output
    assert np.array_equal(read_mask(tmp_path / "m.npy", (20, 24)), old)
    seen = {}

    def fake_editor(frame, spec):  # what the window would open with
        seen["heal"] = build_mask(frame, spec)
        return spec

    monkeypatch.setattr("dip_heal.masks.editor.edit_mask", fake_editor)
    res = CliRunner().invoke(main, args + ["--edit", "--out", str(tmp_path / "e.npy")])
    assert res.exit_code == 0, res.output
    assert np.array_equal(seen["heal"], old)
    res = CliRunner().invoke(main, args[:-1] + [str(tmp_path / "nope.npy"), "--out", str(tmp_path / "x.npy")])
    assert res.exit_code == 1 and "no such mask file" in res.output and len(res.output.strip().splitlines()) == 1


def test_shortcuts_listed_in_the_window(editor):
    from dip_heal.masks.editor_view import SHORTCUTS

    panel = editor._help.get_text()
    assert editor._help.get_visible()
    for keys, what in SHORTCUTS:
        assert what in panel and keys in panel
    for tool in ("ring", "threshold", "brush", "polygon", "undo", "colour map", "contrast", "mask file"):
        assert tool in panel
    _key(editor, "h")
    assert not editor._help.get_visible()
    _key(editor, "h")
    assert editor._help.get_visible()


def test_enter_asks_before_writing(editor):
    _key(editor, "enter")
    assert editor.confirming and not editor.finished and "Write the mask (1 px," in editor._prompt.get_text()
    _key(editor, "escape")  # any other key: keep editing
    assert not editor.confirming and not editor.finished and editor._prompt.get_text() == ""
    _key(editor, "enter")
    _mouse(editor, "button_press_event", 10, 10)  # a click on the image also withdraws the question
    assert not editor.confirming
    # the Accept button asks too, a second press writes
    ax_b = editor._b_acc.ax
    X, Y = ax_b.transAxes.transform((0.5, 0.5))
    for _ in range(2):
        assert not editor.finished
        for name in ("button_press_event", "button_release_event"):
            editor.fig.canvas.callbacks.process(name, MouseEvent(name, editor.fig.canvas, X, Y, button=1))
        if not editor.finished:
            assert editor.confirming and editor._b_acc.label.get_text() == "Write?"
    assert editor.finished and editor.result is not None


def _tk_display() -> bool:
    try:
        import tkinter

        tkinter.Tk().destroy()
    except Exception:  # noqa: BLE001 - no display, no Tk: the window test skips
        return False
    return display_available()


@pytest.mark.skipif(not _tk_display(), reason="needs a display and Tk (CI runs this file under xvfb-run)")
def test_every_new_tool_in_a_real_window(tmp_path):
    """X events through Tk, matplotlib's key map and toolbar: readout, ring, between, file, keys, confirm."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    old = np.zeros((60, 80), bool)
    old[40:50, 60:75] = True
    np.save(tmp_path / "old.npy", old)
    driver = Path(__file__).with_name("editor_window_driver.py")
    run = subprocess.run([sys.executable, str(driver), str(tmp_path / "old.npy")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    raw = np.random.default_rng(0).poisson(50, (60, 80)).astype(np.int32)
    assert seen["status"] == seen["readout"] == f"x=10 y=6  value={raw[6, 10]}  not masked"  # not the RGBA
    assert seen["draws_on_motion"] == 0  # the readout line is blitted alone, the figure is not redrawn
    ring, file_edit = seen["edits"]
    assert ring["kind"] == "ring" and "a0" not in ring
    assert abs(ring["x"] - 40) < 0.2 and abs(ring["y"] - 30) < 0.2
    assert abs(ring["r0"] - 5) < 0.2 and abs(ring["r1"] - 9) < 0.2
    thr = seen["threshold"]
    assert thr["kind"] == "threshold" and 38.5 < thr["min"] < 40.5 and 59.5 < thr["max"] < 61.5
    assert file_edit == {"kind": "file", "path": str((tmp_path / "old.npy").resolve()), "mode": "mask",
                         "cause": "user"}
    assert (seen["cmap"], seen["scale"], seen["help"], seen["xscale"]) == ("viridis", "linear", False, "linear")
    assert seen["dialog"] == ["Mask file to add (m) or load (M)"] and seen["box"] == str(tmp_path / "old.npy")
    assert seen["confirming"] and seen["prompt"].startswith("Write the mask (")
    spec = MaskSpec.from_dict(seen["result"])
    yy, xx = np.mgrid[0:60, 0:80]
    r = np.hypot(xx - ring["x"], yy - ring["y"])
    expected = ((r >= ring["r0"]) & (r <= ring["r1"])) | old
    expected[20, 30] = True
    raw[20, 30] = -1
    assert np.array_equal(build_mask(Frame.from_array(raw), spec), expected)


def test_new_edit_kinds_checked_and_rasterised_without_the_window(tmp_path):
    from dip_heal.masks.shapes import check_shape, file_edit, shape_mask

    for bad, msg in [({"kind": "ring", "x": 1, "y": 1, "r0": 5, "r1": 5}, "0 <= r0 < r1"),
                     ({"kind": "ring", "x": 1, "y": 1, "r0": 1, "r1": 5, "a0": 3}, "both angles"),
                     ({"kind": "threshold", "min": 5, "max": 2}, "min <= max"),
                     ({"kind": "file"}, "lacks")]:
        with pytest.raises(DipHealError, match=msg):
            check_shape(bad)
    with pytest.raises(DipHealError, match="no such mask file"):
        file_edit(tmp_path / "nope.npy")
    # a centre off the frame (left of it): the part of the annulus on the frame
    m = shape_mask({"kind": "ring", "x": -20, "y": 10, "r0": 25, "r1": 30}, (20, 30))
    yy, xx = np.mgrid[0:20, 0:30]
    r = np.hypot(xx + 20, yy - 10)
    assert np.array_equal(m, (r >= 25) & (r <= 30)) and m.any()
    with pytest.raises(DipHealError, match="outside the frame"):
        shape_mask({"kind": "ring", "x": -100, "y": 10, "r0": 5, "r1": 30}, (20, 30))
    img = np.arange(20 * 30, dtype=float).reshape(20, 30)
    sel = shape_mask({"kind": "threshold", "min": 100, "max": 199}, (20, 30), img, np.ones((20, 30), bool))
    assert int(sel.sum()) == 100 and sel.reshape(-1)[100] and sel.reshape(-1)[199] and not sel.reshape(-1)[200]

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
    assert editor.result is not None
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
    X, Y = editor.ax_hist.transData.transform((np.log10(40.5), 1))  # below 39.5 counts
    editor.fig.canvas.callbacks.process("button_press_event",
                                        MouseEvent("button_press_event", editor.fig.canvas, X, Y, button=1))
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

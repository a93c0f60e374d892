"""Interactive mask editor (matplotlib): review the automatic mask, correct it, accept or quit.

Imported only by ``dip-heal mask --interactive``. Everything the user does is recorded as JSON
edits in the returned :class:`~dip_heal.masks.MaskSpec`, so ``build_mask(frame, spec)``
reproduces the accepted mask exactly and the edits can be changed later.

Keys (also listed in the window):

======================  ==========================================================
``r`` ``c`` ``p``       rectangle, circle, polygon (click vertices; double-click,
                        Enter or a click on the first vertex closes; Esc cancels)
``l``                   thick line (holder arm): click points, Enter/double-click ends
``b``                   brush: drag to paint; ``[`` ``]`` or the slider set the size
``f``                   flood fill: click picks the whole dark connected region
``t``                   threshold: click the histogram (left = mask below, right = above)
``n``                   no tool (pan/zoom only)
shift + any tool        unmask instead of mask
``+`` / ``-``           grow / shrink the mask by the brush size (px)
``i``                   invert
``u`` / ctrl+z          undo; ``y`` / ctrl+y redo (unlimited)
``o``                   outline mode on/off
Enter (no open shape)   accept: the command writes the files
``q`` / closing         quit: nothing is written
scroll / middle drag    zoom about the cursor / pan, whatever the tool
======================  ==========================================================
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import numpy as np

from .errors import DipHealError
from .frame import Frame
from .masks import CAUSES, MaskSpec, apply_shape, build_mask_layers

__all__ = ["MaskEditor", "edit_mask", "display_available"]

logger = logging.getLogger(__name__)

_TOOLS = {"r": "rect", "c": "circle", "p": "polygon", "l": "line", "b": "brush", "f": "fill", "t": "threshold",
          "n": None}
# automatic components: layer name -> (spec field, value when on, value when off)
_TOGGLES = {
    "gaps": ("gaps", True, False),
    "sentinel": ("sentinels", True, False),
    "file_mask": ("file_masks", True, False),
    "stripes": ("stripes", True, False),
    "beamstop": ("beamstop", "auto", "none"),
    "holder": ("holder", "auto", "none"),
    "hot": ("hot_pixels", True, False),
}


def display_available() -> bool:
    """True when a GUI window can be opened (a display on Linux, always on macOS/Windows)."""
    if sys.platform.startswith(("darwin", "win")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class MaskEditor:
    """The editor's state and its matplotlib figure.

    Parameters
    ----------
    frame : Frame
        The frame to mask.
    spec : MaskSpec
        The starting recipe; its automatic components are computed once (the holder proposal
        too, shown only when toggled on), its ``edits`` replayed.
    fig : matplotlib Figure, optional
        Figure to draw in (tests pass an Agg figure); default a new pyplot figure.

    Attributes
    ----------
    edits : list of dict
        The edit operations so far (JSON-able, as in ``MaskSpec.edits``).
    enabled : dict of str to bool
        Which automatic components are on.
    result : MaskSpec or None
        Set by :meth:`accept`; None after :meth:`quit` or while editing.
    """

    def __init__(self, frame: Frame, spec: MaskSpec | None = None, *, fig: Any = None) -> None:
        spec = spec or MaskSpec()
        self.frame = frame
        self.spec = spec
        base_spec = spec.replace(
            edits=(), gaps=True, sentinels=True, file_masks=True, stripes=True, beamstop="auto", holder="auto",
            hot_pixels=True,
        )
        self._base = build_mask_layers(frame, base_spec)
        self.enabled = {k: bool(getattr(spec, f) == on) for k, (f, on, _) in _TOGGLES.items()}
        self.edits: list[dict] = []
        self._undo: list[tuple[dict, dict]] = []  # (edit, diff)
        self._redo: list[dict] = []
        self.layers: dict[str, np.ndarray] = {}
        self._rebuild()
        for e in spec.edits:
            self.apply(e)
        self.result: MaskSpec | None = None
        self.finished = False
        self.tool: str | None = None
        self.cause = "user"
        self.brush = 5.0
        self.alpha = 0.5
        self.outline = False
        self._pts: list[tuple[float, float]] = []
        self._drag_start: tuple[float, float] | None = None
        self._pan: tuple[float, float, tuple, tuple] | None = None
        self._fig = fig
        self._setup_figure()

    # ------------------------------------------------------------------ state

    def _rebuild(self) -> None:
        """Layers = enabled automatic components, then every edit replayed (records the diffs)."""
        shape = self.frame.shape
        self._measured = np.isfinite(self.frame.data)
        for k in ("gaps", "sentinel", "file_mask", "stripes"):
            if self.enabled[k]:
                self._measured &= ~self._base[k]
        self.layers = {k: (self._base[k].copy() if self.enabled.get(k, True) else np.zeros(shape, bool))
                       for k in CAUSES}
        self.layers["ignore"] = self._base["ignore"].copy()
        edits, self.edits, self._undo = list(self.edits), [], []
        for e in edits:
            self._apply_no_redo(e)

    def _apply_no_redo(self, edit: dict) -> None:
        before = {k: v.copy() for k, v in self.layers.items()}
        apply_shape(self.layers, edit, self.frame.data, self._measured)
        if self._base["ignore"].any():
            for k in CAUSES:
                self.layers[k] &= ~self._base["ignore"]
        diff = {}
        for k, v in self.layers.items():
            changed = np.flatnonzero(v != before[k])
            if changed.size:
                diff[k] = changed
        self.edits.append(dict(edit))
        self._undo.append((dict(edit), diff))

    def apply(self, edit: dict) -> None:
        """Apply one edit (a shape or an operation, see :func:`dip_heal.masks.apply_shape`)."""
        self._apply_no_redo(edit)
        self._redo.clear()
        self._refresh()

    def undo(self) -> bool:
        """Undo the last edit; False when there is none."""
        if not self._undo:
            return False
        edit, diff = self._undo.pop()
        self.edits.pop()
        for k, idx in diff.items():
            flat = self.layers[k].reshape(-1)
            flat[idx] = ~flat[idx]
        self._redo.append(edit)
        self._refresh()
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; False when there is none."""
        if not self._redo:
            return False
        self._apply_no_redo(self._redo.pop())
        self._refresh()
        return True

    def toggle(self, cause: str) -> None:
        """Switch an automatic component on or off (the edits are replayed on top)."""
        if cause not in _TOGGLES:
            raise DipHealError(f"no automatic component {cause!r}; expected one of {', '.join(_TOGGLES)}")
        self.enabled[cause] = not self.enabled[cause]
        chk = getattr(self, "_chk", None)
        if chk is not None and not getattr(self, "_in_widget", False):
            labels = list(_TOGGLES)
            if chk.get_status()[labels.index(cause)] != self.enabled[cause]:
                chk.eventson = False  # show the new state without calling back
                chk.set_active(labels.index(cause))
                chk.eventson = True
        self._rebuild()
        self._redo.clear()
        self._refresh()

    @property
    def heal(self) -> np.ndarray:
        """The current mask, (M, N) bool, True = heal."""
        out = np.zeros(self.frame.shape, bool)
        for k in CAUSES:
            out |= self.layers[k]
        return out

    def current_spec(self) -> MaskSpec:
        """The spec that reproduces the current mask with ``build_mask``."""
        changes: dict[str, Any] = {f: (on if self.enabled[k] else off) for k, (f, on, off) in _TOGGLES.items()}
        return self.spec.replace(edits=tuple(self.edits), **changes)

    def accept(self) -> None:
        """Finish; :attr:`result` holds the spec to write."""
        self.result = self.current_spec()
        self.finished = True
        self._close()

    def quit(self) -> None:
        """Finish without a result (nothing is written)."""
        self.result = None
        self.finished = True
        self._close()

    def _close(self) -> None:
        if self._fig is not None and getattr(self, "_own_fig", False):
            import matplotlib.pyplot as plt

            plt.close(self._fig)

    # ------------------------------------------------------------------ figure

    def _setup_figure(self) -> None:
        from matplotlib.widgets import Button, CheckButtons, RadioButtons, Slider

        if self._fig is None:
            import matplotlib
            import matplotlib.pyplot as plt

            # our tool keys win over matplotlib's defaults (p = pan, o = zoom, l = log scale, ...)
            ours = set(_TOOLS) | {"o", "i", "u", "y", "q", "+", "-", "=", "[", "]", "enter", "escape", "ctrl+z"}
            for name in [k for k in matplotlib.rcParams if k.startswith("keymap.")]:
                matplotlib.rcParams[name] = [k for k in matplotlib.rcParams[name] if k not in ours]
            self._fig = plt.figure(figsize=(12, 8))
            self._own_fig = True
        fig = self.fig = self._fig
        if not getattr(self, "_own_fig", False):
            # an off-screen canvas (tests, scripts) renders only on savefig/draw, not on every widget change
            fig.canvas.draw_idle = lambda *a, **k: None
        self.ax = fig.add_axes([0.02, 0.08, 0.66, 0.88])
        self.ax_hist = fig.add_axes([0.72, 0.08, 0.26, 0.16])
        data = self.frame.data
        v = self._measured
        lg = np.log1p(np.maximum(np.where(v, data, 0), 0)).astype(np.float32)
        lo, hi = (np.percentile(lg[v], [1, 99.8]) if v.any() else (0.0, 1.0))
        self.ax.imshow(lg, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        self._ov = self.ax.imshow(self._overlay(), interpolation="nearest")
        self.ax.set_title("dip-heal mask: r c p l b f t tools, shift = unmask, Enter = accept, q = quit",
                          fontsize=9)
        (self._preview,) = self.ax.plot([], [], "-", color="yellow", lw=1)
        vals = data[v]
        self._hist_log = np.log10(np.maximum(vals, 0) + 1)
        self.ax_hist.hist(self._hist_log, bins=100, color="0.4", log=True)
        self.ax_hist.set_xlim(self.ax_hist.get_xlim())  # fix the view now (clicks map before a first draw)
        self.ax_hist.set_xlabel("log10(counts + 1): click = mask below, right-click = above", fontsize=8)
        self.ax_hist.tick_params(labelsize=7)
        # widgets
        ax_chk = fig.add_axes([0.72, 0.62, 0.26, 0.34])
        labels = list(_TOGGLES)
        self._chk = CheckButtons(ax_chk, labels, [self.enabled[k] for k in labels])
        self._chk.on_clicked(self._on_check)
        ax_cause = fig.add_axes([0.72, 0.45, 0.12, 0.15])
        self._radio = RadioButtons(ax_cause, ["user", "beamstop", "holder"])
        self._radio.on_clicked(lambda lab: setattr(self, "cause", lab))
        ax_alpha = fig.add_axes([0.76, 0.38, 0.2, 0.03])
        self._alpha = Slider(ax_alpha, "alpha", 0.0, 1.0, valinit=self.alpha)
        self._alpha.on_changed(self._on_alpha)
        ax_brush = fig.add_axes([0.76, 0.33, 0.2, 0.03])
        self._brush = Slider(ax_brush, "brush px", 1, 60, valinit=self.brush)
        self._brush.on_changed(lambda v: setattr(self, "brush", float(v)))
        b_acc = fig.add_axes([0.86, 0.52, 0.12, 0.05])
        b_quit = fig.add_axes([0.86, 0.45, 0.12, 0.05])
        self._b_acc, self._b_quit = Button(b_acc, "Accept"), Button(b_quit, "Quit")
        self._b_acc.on_clicked(lambda _e: self.accept())
        self._b_quit.on_clicked(lambda _e: self.quit())
        cv = fig.canvas
        self._cids = [
            cv.mpl_connect("button_press_event", self._on_press),
            cv.mpl_connect("motion_notify_event", self._on_motion),
            cv.mpl_connect("button_release_event", self._on_release),
            cv.mpl_connect("key_press_event", self._on_key),
            cv.mpl_connect("scroll_event", self._on_scroll),
            cv.mpl_connect("close_event", lambda _e: None if self.finished else self.quit()),
        ]

    def _overlay(self) -> np.ndarray:
        M, N = self.frame.shape
        rgba = np.zeros((M, N, 4), np.uint8)
        show = {k: self.layers[k] for k in CAUSES}
        if self.outline:
            from scipy import ndimage

            union = self.heal
            edge = union & ~ndimage.binary_erosion(union)
            show = {k: m & edge for k, m in show.items()}
        from .masks import _DRAW_ORDER

        for k in [k for k in _DRAW_ORDER if k in show]:
            m = show[k]
            if m.any():
                rgba[m, :3] = CAUSES[k]
                rgba[m, 3] = int(255 * (1.0 if self.outline else self.alpha))
        ign = self.layers.get("ignore")
        if ign is not None and ign.any():
            rgba[ign] = (90, 90, 90, int(255 * self.alpha))
        return rgba

    def _refresh(self) -> None:
        if getattr(self, "_ov", None) is None:
            return
        self._ov.set_data(self._overlay())
        self._draw()

    def _draw(self) -> None:
        """Redraw when shown in a window; an off-screen canvas (tests, Agg) is drawn on demand."""
        if getattr(self, "_own_fig", False):
            self.fig.canvas.draw_idle()

    def _on_alpha(self, v: float) -> None:
        self.alpha = float(v)
        self._refresh()

    def _on_check(self, label: str | None) -> None:
        if label in _TOGGLES:
            self._in_widget = True
            try:
                self.toggle(label)
            finally:
                self._in_widget = False

    # ------------------------------------------------------------------ events

    def _busy(self) -> bool:
        """The toolbar's pan/zoom mode is on: leave the mouse to it."""
        tb = getattr(self.fig.canvas, "toolbar", None)
        return bool(tb is not None and getattr(tb, "mode", ""))

    def _mode(self, event: Any) -> str:
        key = (event.key or "") if hasattr(event, "key") else ""
        return "unmask" if "shift" in key else "mask"

    def _edit(self, kind: str, event: Any, **kw: Any) -> None:
        cause = self.cause
        if kind == "line" and cause == "user" and self.tool == "line":
            cause = "holder"
        try:
            self.apply({"kind": kind, "mode": self._mode(event), "cause": cause, **kw})
        except DipHealError as exc:  # e.g. a degenerate shape: say it, keep editing
            logger.warning("%s", exc)

    def _on_press(self, event: Any) -> None:
        if event.button == 2 and event.inaxes is self.ax:  # middle drag pans with any tool
            self._pan = (event.x, event.y, self.ax.get_xlim(), self.ax.get_ylim())
            return
        if self._busy():
            return
        if event.inaxes is self.ax_hist and self.tool == "threshold" and event.xdata is not None:
            thr = float(10 ** event.xdata - 1)
            side = "above" if event.button == 3 else "below"
            self._edit("threshold", event, **{side: thr})
            return
        if event.inaxes is not self.ax or event.xdata is None or event.button != 1:
            return
        x, y = float(event.xdata), float(event.ydata)
        if self.tool in ("rect", "circle", "brush"):
            self._drag_start = (x, y)
            self._pts = [(x, y)]
            self._drag_mode = self._mode(event)
        elif self.tool in ("polygon", "line"):
            if getattr(event, "dblclick", False) and len(self._pts) >= (3 if self.tool == "polygon" else 1):
                self._finish_path(event)
                return
            if self.tool == "polygon" and len(self._pts) >= 3:
                x0, y0 = self._pts[0]
                tol = max(2.0, 0.01 * float(np.diff(self.ax.get_xlim())[0]).__abs__())
                if np.hypot(x - x0, y - y0) <= tol:
                    self._finish_path(event)
                    return
            self._pts.append((x, y))
            self._draw_preview()
        elif self.tool == "fill":
            self._edit("fill", event, x=x, y=y)

    def _finish_path(self, event: Any) -> None:
        pts = [[px, py] for px, py in self._pts]
        self._pts = []
        self._draw_preview()
        if self.tool == "polygon":
            self._edit("polygon", event, points=pts)
        else:
            self._edit("line", event, points=pts, width=self.brush)

    def _on_motion(self, event: Any) -> None:
        if self._pan is not None and event.x is not None:
            x0, y0, xl, yl = self._pan
            inv = self.ax.transData.inverted()
            (ax0, ay0), (ax1, ay1) = inv.transform([(x0, y0), (event.x, event.y)])
            dx, dy = ax1 - ax0, ay1 - ay0
            self.ax.set_xlim(xl[0] - dx, xl[1] - dx)
            self.ax.set_ylim(yl[0] - dy, yl[1] - dy)
            self._draw()
            return
        if self._drag_start is None or event.inaxes is not self.ax or event.xdata is None:
            return
        x, y = float(event.xdata), float(event.ydata)
        if self.tool == "brush":
            self._pts.append((x, y))
        else:
            self._pts = [self._drag_start, (x, y)]
        self._draw_preview()

    def _on_release(self, event: Any) -> None:
        if event.button == 2:
            self._pan = None
            return
        if self._drag_start is None:
            return
        x0, y0 = self._drag_start
        self._drag_start = None
        if event.inaxes is self.ax and event.xdata is not None:
            x, y = float(event.xdata), float(event.ydata)
        else:
            x, y = self._pts[-1]
        key_mode = self._drag_mode
        pts, self._pts = self._pts, []
        self._draw_preview()

        class _E:  # the modifier held at the press decides mask/unmask
            key = "shift" if key_mode == "unmask" else None

        if self.tool == "rect":
            self._edit("rect", _E, x0=round(x0), y0=round(y0), x1=round(x), y1=round(y))
        elif self.tool == "circle":
            r = float(np.hypot(x - x0, y - y0))
            if r > 0:
                self._edit("circle", _E, x=x0, y=y0, r=r)
        elif self.tool == "brush":
            pts.append((x, y))
            self._edit("line", _E, points=[[px, py] for px, py in pts], width=self.brush)

    def _draw_preview(self) -> None:
        pts = self._pts
        if self.tool == "rect" and len(pts) == 2:
            (x0, y0), (x1, y1) = pts
            xs, ys = [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0]
        elif self.tool == "circle" and len(pts) == 2:
            (x0, y0), (x1, y1) = pts
            r = np.hypot(x1 - x0, y1 - y0)
            t = np.linspace(0, 2 * np.pi, 64)
            xs, ys = list(x0 + r * np.cos(t)), list(y0 + r * np.sin(t))
        else:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        self._preview.set_data(xs, ys)
        self._preview.set_linewidth(1 if self.tool not in ("brush", "line") else max(1.0, self._brush_points()))
        self._draw()

    def _brush_points(self) -> float:
        """Brush size in screen points, for the preview line."""
        (x0, _), (x1, _) = self.ax.transData.transform([(0, 0), (self.brush, 0)])
        return abs(x1 - x0) * 72.0 / self.fig.dpi

    def _on_key(self, event: Any) -> None:
        key = event.key or ""
        base = key.replace("shift+", "")
        if key in ("enter", "return"):
            if self.tool in ("polygon", "line") and self._pts:
                self._finish_path(event)
            else:
                self.accept()
        elif key == "escape":
            self._pts = []
            self._drag_start = None
            self._draw_preview()
        elif base in _TOOLS and len(base) == 1:
            self.tool = _TOOLS[base]
            self._pts = []
            self.ax.set_xlabel(f"tool: {self.tool or 'pan/zoom'}  brush {self.brush:.0f} px", fontsize=8)
            self._draw()
        elif key in ("u", "ctrl+z", "cmd+z"):
            self.undo()
        elif key in ("y", "ctrl+y", "cmd+y", "ctrl+shift+z"):
            self.redo()
        elif key in ("+", "="):
            self.apply({"kind": "grow", "r": self.brush})
        elif key == "-":
            self.apply({"kind": "shrink", "r": self.brush})
        elif key == "i":
            self.apply({"kind": "invert"})
        elif key == "o":
            self.outline = not self.outline
            self._refresh()
        elif key == "[":
            self._brush.set_val(max(1.0, self.brush - 1))
        elif key == "]":
            self._brush.set_val(min(60.0, self.brush + 1))
        elif key == "q":
            self.quit()

    def _on_scroll(self, event: Any) -> None:
        if event.inaxes is not self.ax or event.xdata is None:
            return
        f = 0.8 if event.button == "up" else 1.25
        x, y = event.xdata, event.ydata
        xl, yl = self.ax.get_xlim(), self.ax.get_ylim()
        self.ax.set_xlim(x + (xl[0] - x) * f, x + (xl[1] - x) * f)
        self.ax.set_ylim(y + (yl[0] - y) * f, y + (yl[1] - y) * f)
        self._draw()


def edit_mask(frame: Frame, spec: MaskSpec | None = None) -> MaskSpec | None:
    """Open the editor window on ``frame``; return the accepted spec, or None after Quit.

    Raises
    ------
    DipHealError
        No display (one line pointing at the command-line flags).
    """
    if not display_available():
        raise DipHealError(
            "no display for --interactive (DISPLAY is not set); expected a desktop session; build the mask "
            "with flags instead: --beamstop x0,y0,x1,y1 --holder 'x,y;x,y;x,y' --dilate N, or run with ssh -X"
        )
    import matplotlib
    import matplotlib.pyplot as plt

    if matplotlib.get_backend().lower() == "agg":
        for b in ("QtAgg", "TkAgg", "GTK3Agg", "MacOSX"):
            try:
                plt.switch_backend(b)
                break
            except Exception:  # noqa: BLE001 - try the next GUI backend
                continue
        else:
            raise DipHealError(
                "no GUI backend for matplotlib (Qt, Tk, GTK); expected one for --interactive; install "
                "tkinter or PyQt, or build the mask with flags (--beamstop, --holder, --dilate)"
            )
    ed = MaskEditor(frame, spec)
    plt.show(block=True)
    if not ed.finished:
        ed.quit()
    return ed.result

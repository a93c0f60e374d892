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

The editor is :class:`~dip_heal.masks.edits.MaskEdits` (the model: layers, edits, undo, toggles)
with this module's figure and widgets and :mod:`dip_heal.masks.editor_events` (the tools).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from .editor_events import TOOLS, EditorEvents
from .edits import TOGGLES, MaskEdits
from .layers import CAUSES
from .overlay import DRAW_ORDER
from .spec import MaskSpec

__all__ = ["MaskEditor", "edit_mask", "display_available"]

logger = logging.getLogger(__name__)


def display_available() -> bool:
    """True when a GUI window can be opened (a display on Linux, always on macOS/Windows)."""
    if sys.platform.startswith(("darwin", "win")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class MaskEditor(EditorEvents, MaskEdits):
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
        super().__init__(frame, spec)
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

    def _show_toggle(self, cause: str) -> None:
        """Tick the component's check box when the toggle did not come from it."""
        chk = getattr(self, "_chk", None)
        if chk is not None and not getattr(self, "_in_widget", False):
            labels = list(TOGGLES)
            if chk.get_status()[labels.index(cause)] != self.enabled[cause]:
                chk.eventson = False  # show the new state without calling back
                chk.set_active(labels.index(cause))
                chk.eventson = True

    # ------------------------------------------------------------------ figure

    def _setup_figure(self) -> None:
        from matplotlib.widgets import Button, CheckButtons, RadioButtons, Slider

        if self._fig is None:
            import matplotlib
            import matplotlib.pyplot as plt

            # our tool keys win over matplotlib's defaults (p = pan, o = zoom, l = log scale, ...)
            ours = set(TOOLS) | {"o", "i", "u", "y", "q", "+", "-", "=", "[", "]", "enter", "escape", "ctrl+z"}
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
        labels = list(TOGGLES)
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
        for k in [k for k in DRAW_ORDER if k in show]:
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
        if label in TOGGLES:
            self._in_widget = True
            try:
                self.toggle(label)
            finally:
                self._in_widget = False


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

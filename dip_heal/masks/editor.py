"""Interactive mask editor (matplotlib): review the automatic mask, correct it, accept or quit.

Imported only by ``dip-heal mask --interactive``. Everything the user does is recorded as JSON
edits in the returned :class:`~dip_heal.masks.MaskSpec`, so ``build_mask(frame, spec)``
reproduces the accepted mask exactly and the edits can be changed later.

Keys (listed in the window's help panel, ``h`` hides it; the list is
:data:`dip_heal.masks.editor_view.SHORTCUTS`):

======================  ==========================================================
``r`` ``c`` ``p``       rectangle, circle, polygon (click vertices; double-click,
                        Enter or a click on the first vertex closes; Esc cancels)
``l``                   thick line (holder arm): click points, Enter/double-click ends
``b``                   brush: drag to paint; ``[`` ``]`` or the slider set the size
``f``                   flood fill: click picks the whole dark connected region
``a``                   ring/arc about the beam centre: drag from the inner to the outer
                        radius (a sweep round the centre makes a sector); right-click
                        moves the centre
``t``                   threshold on the histogram: click = mask below, right-click =
                        above, drag = between the two values (marked in red)
``n``                   no tool (pan/zoom only)
shift + any tool        unmask instead of mask
``+`` / ``-``           grow / shrink the mask by the brush size (px)
``i``                   invert
``u`` / ctrl+z          undo; ``y`` / ctrl+y redo (unlimited)
``m`` / ``M``           add / load (replacing the mask) the mask file named in the box
``k`` / ``K``           next / previous colour map; ``v`` log / linear scale; the
                        low/high sliders set the contrast (percentiles; or drag
                        the blue lines on the histogram, any tool but ``t``)
``o``                   outline mode on/off
``h``                   hide / show the shortcut panel
Enter (no open shape)   asks; a second Enter (or Accept) writes the files
``q`` / closing         quit: nothing is written
scroll / middle drag    zoom about the cursor / pan, whatever the tool
======================  ==========================================================

The status line under the image reads the pixel under the cursor: x, y, the frame's value and
what masks it (the toolbar's status bar shows the same through ``format_coord``).

The editor is :class:`~dip_heal.masks.edits.MaskEdits` (the model: layers, edits, undo, toggles)
with this module's figure and widgets, :mod:`dip_heal.masks.editor_events` (the tools) and
:mod:`dip_heal.masks.editor_view` (colour map, contrast, readout, histogram marks, help).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from .editor_events import TOOLS, EditorEvents
from .editor_view import EditorView, shortcut_text
from .edits import TOGGLES, MaskEdits
from .layers import CAUSES
from .files import MASK_FORMATS
from .shapes import file_edit
from .overlay import DRAW_ORDER
from .spec import MaskSpec

__all__ = ["MaskEditor", "edit_mask", "display_available"]

MASK_SUFFIXES = (*MASK_FORMATS, ".mask")  # what the file dialog lists

logger = logging.getLogger(__name__)


def display_available() -> bool:
    """True when a GUI window can be opened (a display on Linux, always on macOS/Windows)."""
    if sys.platform.startswith(("darwin", "win")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class MaskEditor(EditorEvents, EditorView, MaskEdits):
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
    confirming : bool
        :meth:`request_accept` was called once: the window asks before writing.
    ring_center : (float, float)
        Centre (x, y) of the ring tool: the spec's beam centre or the estimate the automatic
        beamstop used, else the frame's middle.
    """

    def __init__(self, frame: Frame, spec: MaskSpec | None = None, *, fig: Any = None) -> None:
        super().__init__(frame, spec)
        self.result: MaskSpec | None = None
        self.finished = False
        self.confirming = False
        M, N = frame.shape
        centre = (frame.meta.get("mask_info") or {}).get("center") or ((N - 1) / 2, (M - 1) / 2)
        self.ring_center: tuple[float, float] = (float(centre[0]), float(centre[1]))
        self._sweep = 0.0
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

    def request_accept(self) -> None:
        """Enter or Accept: the first time, ask in the window; the second time, :meth:`accept`."""
        if self.confirming:
            self.accept()
            return
        self.confirming = True
        n = int(self.heal.sum())
        self._say(f"Write the mask ({n} px, {100.0 * n / self.heal.size:.2f} %) and close?  Enter / Accept "
                  "again = write, other key = keep editing")
        if getattr(self, "_b_acc", None) is not None:
            self._b_acc.label.set_text("Write?")
        self._draw()

    def cancel_accept(self) -> None:
        """Withdraw the question of :meth:`request_accept` (nothing is written)."""
        if not self.confirming:
            return
        self.confirming = False
        self._say("")
        if getattr(self, "_b_acc", None) is not None:
            self._b_acc.label.set_text("Accept")
        self._draw()

    def load_mask_file(self, path: str | os.PathLike | None = None, *, replace: bool = False) -> bool:
        """Add the pixels a mask file marks (``replace``: instead of the current mask), as one edit.

        Parameters
        ----------
        path : path-like, optional
            Any file :func:`dip_heal.masks.read_mask` reads; default the path typed in the
            window's "mask file" box, else one picked in a file dialog (Tk windows).
        replace : bool
            Clear the mask first (Dioptas' Load); otherwise add to it (Dioptas' Add).

        Returns
        -------
        bool
            False when nothing was loaded (no path, a missing file, another shape): the reason
            is shown in the window and logged.
        """
        if path is None:
            box = getattr(self, "_file_box", None)
            path = box.text.strip() if box is not None else ""
            if not path:
                path = self._pick_mask_file()
        if not str(path):
            self._say("type the mask file's path in the 'mask file' box, then press m (add) or M (load)")
            self._draw()
            return False
        n0 = int(self.heal.sum())
        try:
            self.apply(file_edit(path, replace=replace))
        except DipHealError as exc:
            logger.warning("%s", exc)
            self._say(str(exc))
            self._draw()
            return False
        self._say(f"{'loaded' if replace else 'added'} {Path(path).name}: {int(self.heal.sum()) - n0:+d} px")
        self._draw()
        return True

    def _pick_mask_file(self) -> str:
        """A file dialog in a Tk window (the path goes into the box); "" elsewhere or when cancelled."""
        canvas = getattr(self.fig, "canvas", None)
        if not hasattr(canvas, "get_tk_widget"):
            return ""
        from tkinter import filedialog

        picked = filedialog.askopenfilename(
            parent=canvas.get_tk_widget(), title="Mask file to add (m) or load (M)",
            filetypes=[("mask files", " ".join(f"*{e}" for e in MASK_SUFFIXES)), ("all files", "*")])
        if picked and getattr(self, "_file_box", None) is not None:
            self._file_box.set_val(str(picked))
        return str(picked or "")

    def _say(self, text: str) -> None:
        msg = getattr(self, "_prompt", None)
        if msg is not None:
            msg.set_text(text)
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
        from matplotlib.widgets import Button, CheckButtons, RadioButtons, Slider, TextBox

        if self._fig is None:
            import matplotlib
            import matplotlib.pyplot as plt

            # our tool keys win over matplotlib's defaults (p = pan, o = zoom, l = log scale, k = x log, ...)
            ours = set(TOOLS) | {"o", "i", "u", "y", "q", "+", "-", "=", "[", "]", "enter", "escape", "ctrl+z",
                                 "k", "K", "v", "h", "?", "m", "M", "L"}
            for name in [k for k in matplotlib.rcParams if k.startswith("keymap.")]:
                matplotlib.rcParams[name] = [k for k in matplotlib.rcParams[name] if k not in ours]
            self._fig = plt.figure(figsize=(14, 8))
            self._own_fig = True
        fig = self.fig = self._fig
        if not getattr(self, "_own_fig", False):
            # an off-screen canvas (tests, scripts) renders only on savefig/draw, not on every widget change
            fig.canvas.draw_idle = lambda *a, **k: None
        self.ax = fig.add_axes([0.03, 0.12, 0.46, 0.82])
        self.ax_hist = fig.add_axes([0.535, 0.085, 0.215, 0.21])
        self._setup_view(self.ax)
        self._ov = self.ax.imshow(self._overlay(), interpolation="nearest")
        self._ov.set_mouseover(False)  # the status bar reads the frame (format_coord), not the overlay's RGBA
        self.ax.format_coord = self.readout
        self.ax.set_title("dip-heal mask: r c p l b f a t tools, shift = unmask, Enter = write (asks), q = quit, "
                          "h = help", fontsize=9)
        (self._preview,) = self.ax.plot([], [], "-", color="yellow", lw=1)
        (self._center_mark,) = self.ax.plot([], [], "+", color="yellow", ms=14, mew=1.5)
        data = self.frame.data
        vals = data[self._measured]
        self._hist_log = np.log10(np.maximum(vals, 0) + 1)
        self.ax_hist.hist(self._hist_log, bins=100, color="0.4", log=True)
        self.ax_hist.set_xlim(self.ax_hist.get_xlim())  # fix the view now (clicks map before a first draw)
        self.ax_hist.set_xlabel("log10(counts + 1)", fontsize=7)
        self.ax_hist.set_title("t: click = below, right = above, drag = between; drag blue = contrast",
                               fontsize=7)
        self.ax_hist.tick_params(labelsize=7)
        # status lines under the image: the question before writing, the pixel under the cursor
        self._prompt = fig.text(0.03, 0.035, "", color="red", fontsize=8.5, weight="bold")
        self._readout = fig.text(0.03, 0.008, "move the cursor over the image: x, y, value, mask state",
                                 fontsize=9, family="monospace")
        # widgets
        ax_chk = fig.add_axes([0.510, 0.70, 0.13, 0.26])
        labels = list(TOGGLES)
        self._chk = CheckButtons(ax_chk, labels, [self.enabled[k] for k in labels])
        self._chk.on_clicked(self._on_check)
        ax_cause = fig.add_axes([0.650, 0.81, 0.10, 0.15])
        self._radio = RadioButtons(ax_cause, ["user", "beamstop", "holder"])
        self._radio.on_clicked(lambda lab: setattr(self, "cause", lab))
        b_acc = fig.add_axes([0.650, 0.755, 0.10, 0.045])
        b_quit = fig.add_axes([0.650, 0.70, 0.10, 0.045])
        self._b_acc, self._b_quit = Button(b_acc, "Accept"), Button(b_quit, "Quit")
        self._b_acc.on_clicked(lambda _e: self.request_accept())
        self._b_quit.on_clicked(lambda _e: self.quit())
        self._alpha = Slider(fig.add_axes([0.565, 0.645, 0.16, 0.025]), "alpha", 0.0, 1.0, valinit=self.alpha)
        self._alpha.on_changed(self._on_alpha)
        self._brush = Slider(fig.add_axes([0.565, 0.61, 0.16, 0.025]), "brush px", 1, 60, valinit=self.brush)
        self._brush.on_changed(lambda v: setattr(self, "brush", float(v)))
        self._low = Slider(fig.add_axes([0.565, 0.575, 0.16, 0.025]), "low %", 0.0, 100.0,
                           valinit=self.contrast[0])
        self._low.on_changed(lambda v: self.set_contrast(low=float(v)))
        self._high = Slider(fig.add_axes([0.565, 0.54, 0.16, 0.025]), "high %", 0.0, 100.0,
                            valinit=self.contrast[1])
        self._high.on_changed(lambda v: self.set_contrast(high=float(v)))
        self._b_cmap = Button(fig.add_axes([0.510, 0.475, 0.075, 0.04]), "colours (k)")
        self._b_cmap.on_clicked(lambda _e: self.cycle_colormap(1))
        self._b_scale = Button(fig.add_axes([0.592, 0.475, 0.075, 0.04]), "log/lin (v)")
        self._b_scale.on_clicked(lambda _e: self.toggle_scale())
        self._b_help = Button(fig.add_axes([0.674, 0.475, 0.076, 0.04]), "help (h)")
        self._b_help.on_clicked(lambda _e: self.toggle_help())
        self._view_label = fig.text(0.51, 0.445, "", fontsize=8)
        self._file_box = _quiet_text_box(TextBox)(fig.add_axes([0.565, 0.38, 0.185, 0.04]), "mask file",
                                                 initial="")
        self._b_add = Button(fig.add_axes([0.565, 0.33, 0.09, 0.04]), "Add (m)")
        self._b_add.on_clicked(lambda _e: self.load_mask_file())
        self._b_load = Button(fig.add_axes([0.660, 0.33, 0.09, 0.04]), "Load (M)")
        self._b_load.on_clicked(lambda _e: self.load_mask_file(replace=True))
        self._help = fig.text(0.995, 0.965, "shortcuts (h hides)\n\n" + shortcut_text(), va="top", ha="right",
                              multialignment="left",
                              fontsize=7, family="monospace",
                              bbox={"boxstyle": "round", "facecolor": "0.96", "edgecolor": "0.7"})
        self._view_changed()
        cv = fig.canvas
        self._cids = [
            cv.mpl_connect("button_press_event", self._on_press),
            cv.mpl_connect("motion_notify_event", self._on_motion),
            cv.mpl_connect("button_release_event", self._on_release),
            cv.mpl_connect("key_press_event", self._on_key),
            cv.mpl_connect("scroll_event", self._on_scroll),
            cv.mpl_connect("close_event", lambda _e: None if self.finished else self.quit()),
        ]
        if getattr(self, "_own_fig", False):
            self._readout_by_blit()

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
        self._mark_hist()
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


def _quiet_text_box(text_box: type) -> type:
    """matplotlib's TextBox redraws the whole figure on every click anywhere (``stop_typing``);
    this one only when it was being typed in."""

    class QuietTextBox(text_box):  # type: ignore[misc, valid-type]
        def stop_typing(self) -> None:
            if self.capturekeystrokes:
                super().stop_typing()

    return QuietTextBox


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

"""What the mask editor shows besides the mask: the frame's colour map, scale and contrast, the
position and intensity readout, the histogram's marks (thresholds, contrast limits) and the
shortcut panel. A mixin of :class:`~dip_heal.masks.editor.MaskEditor`; it needs the editor's
``frame``, ``layers``, ``edits``, ``_measured``, its axes ``ax``/``ax_hist`` and figure ``fig``."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .layers import CAUSES

__all__ = ["EditorView", "COLORMAPS", "SHORTCUTS", "shortcut_text"]

logger = logging.getLogger(__name__)

#: Colour maps the ``k`` key cycles through (the first is the default).
COLORMAPS = ("gray", "viridis", "magma", "inferno", "cividis", "turbo", "gray_r")

#: Every shortcut of the editor, as (keys, what they do): the window's help panel and the docs.
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("r c p", "rectangle, circle, polygon"),
    ("", "  polygon: click the corners; double-"),
    ("", "  click, Enter or the 1st corner closes"),
    ("l", "thick line (holder arm): clicks, Enter"),
    ("b", "brush: drag; [ ] size"),
    ("f", "flood fill: the dark region clicked"),
    ("a", "ring/arc about the beam centre: drag"),
    ("", "  from inner to outer radius; sweep"),
    ("", "  round = sector; right-click = centre"),
    ("t", "threshold on the histogram: click ="),
    ("", "  below, right-click = above, drag ="),
    ("", "  between the two values (red marks)"),
    ("n", "no tool (pan/zoom)"),
    ("shift", "+ a tool: unmask instead of mask"),
    ("+ / -", "grow / shrink by the brush size"),
    ("i", "invert"),
    ("u ctrl+z", "undo"),
    ("y ctrl+y", "redo"),
    ("m / M", "add / load (replace) the mask file"),
    ("", "  in the box (empty: a file dialog)"),
    ("k / K", "next / previous colour map"),
    ("v", "log / linear scale"),
    ("low/high", "contrast sliders (percentiles of"),
    ("", "  the counts), or drag the blue lines"),
    ("", "  on the histogram (tool other than t)"),
    ("o", "outline mode"),
    ("Esc", "cancel the open shape"),
    ("scroll", "zoom; middle drag: pan"),
    ("h", "hide / show this help"),
    ("Enter", "write the mask: asks first; Enter"),
    ("", "  again (or Accept twice) writes"),
    ("q", "quit: nothing is written"),
)


def shortcut_text() -> str:
    """The shortcut list as aligned plain text (the help panel's content)."""
    w = max(len(k) for k, _ in SHORTCUTS)
    return "\n".join(f"{k:<{w}}  {d}" for k, d in SHORTCUTS)


class EditorView:
    """Colour map, scale, contrast, readout, histogram marks and help of the mask editor (mixin)."""

    cmap: str = COLORMAPS[0]
    scale: str = "log"
    contrast: tuple[float, float] = (1.0, 99.8)

    def _setup_view(self, base_ax: Any) -> None:
        """Draw the frame in ``base_ax`` (log scale, gray, 1-99.8 % contrast) and prepare the marks."""
        data = self.frame.data
        v = self._measured
        shown = np.where(v, data, 0).astype(np.float32)
        self._shown = {"linear": shown, "log": np.log1p(np.maximum(shown, 0)).astype(np.float32)}
        self._sorted: dict[str, np.ndarray] = {}
        lo, hi = self.clim()
        self._base_im = base_ax.imshow(self._shown[self.scale], cmap=self.cmap, vmin=lo, vmax=hi,
                                       interpolation="nearest")
        self._base_im.set_mouseover(False)  # the readout below is the status bar's text
        self._hist_marks: list[Any] = []

    def _display_values(self, scale: str) -> np.ndarray:
        """The measured pixels' displayed values, sorted (cached per scale)."""
        if scale not in self._sorted:
            vals = self._shown[scale][self._measured]
            self._sorted[scale] = np.sort(vals) if vals.size else np.array([0.0, 1.0], np.float32)
        return self._sorted[scale]

    def clim(self) -> tuple[float, float]:
        """The colour limits (display units: counts, or log(1 + counts)) of the contrast percentiles."""
        vals = self._display_values(self.scale)
        lo_p, hi_p = self.contrast
        idx = np.clip(np.rint(np.array([lo_p, hi_p]) / 100.0 * (vals.size - 1)).astype(int), 0, vals.size - 1)
        lo, hi = float(vals[idx[0]]), float(vals[idx[1]])
        if hi <= lo:
            hi = lo + (1.0 if self.scale == "linear" else 1e-3)
        return lo, hi

    def clim_counts(self) -> tuple[float, float]:
        """The colour limits in counts."""
        lo, hi = self.clim()
        if self.scale == "log":
            return float(np.expm1(lo)), float(np.expm1(hi))
        return lo, hi

    def set_colormap(self, name: str) -> None:
        """Show the frame with colour map ``name`` (any matplotlib name)."""
        self.cmap = name
        self._base_im.set_cmap(name)
        self._view_changed()

    def cycle_colormap(self, step: int = 1) -> str:
        """The next (``step=1``) or previous (``-1``) map of :data:`COLORMAPS`; returns its name."""
        i = COLORMAPS.index(self.cmap) if self.cmap in COLORMAPS else -1
        self.set_colormap(COLORMAPS[(i + step) % len(COLORMAPS)])
        return self.cmap

    def set_scale(self, scale: str) -> None:
        """``"log"`` (log(1 + counts)) or ``"linear"`` display."""
        if scale not in ("log", "linear"):
            raise ValueError(f"scale {scale!r}; expected 'log' or 'linear'")
        self.scale = scale
        self._base_im.set_data(self._shown[scale])
        self._apply_clim()

    def toggle_scale(self) -> str:
        """Switch between log and linear display; returns the new scale."""
        self.set_scale("linear" if self.scale == "log" else "log")
        return self.scale

    def set_contrast(self, low: float | None = None, high: float | None = None) -> None:
        """Contrast limits as percentiles (0-100) of the measured pixels' values."""
        lo_p, hi_p = self.contrast
        lo_p = float(np.clip(lo_p if low is None else low, 0, 100))
        hi_p = float(np.clip(hi_p if high is None else high, 0, 100))
        self.contrast = (min(lo_p, hi_p), max(lo_p, hi_p))
        self._apply_clim()

    def set_contrast_counts(self, low: float | None = None, high: float | None = None) -> None:
        """Contrast limits in counts (the percentile sliders follow)."""
        vals = self._display_values(self.scale)
        pct = []
        for c in (low, high):
            if c is None:
                pct.append(None)
                continue
            v = float(np.log1p(max(float(c), 0.0))) if self.scale == "log" else float(c)
            i = int(np.searchsorted(vals, v, side="left"))
            pct.append(100.0 * min(i, vals.size - 1) / max(vals.size - 1, 1))
        sliders = (getattr(self, "_low", None), getattr(self, "_high", None))
        for p, slider, key in zip(pct, sliders, ("low", "high")):
            if p is None:
                continue
            if slider is not None:
                slider.set_val(p)  # calls set_contrast
            else:
                self.set_contrast(**{key: p})

    def _press_clim(self, x: float) -> None:
        """A press on the histogram (no threshold tool): grab the nearer contrast limit."""
        at = [float(np.log10(max(c, 0.0) + 1.0)) for c in self.clim_counts()]
        self._clim_drag = int(np.argmin([abs(x - a) for a in at]))

    def _drag_clim(self, x: float) -> None:
        counts = float(10 ** x - 1)
        if self._clim_drag == 0:
            self.set_contrast_counts(low=counts)
        else:
            self.set_contrast_counts(high=counts)

    def _apply_clim(self) -> None:
        self._base_im.set_clim(*self.clim())
        self._view_changed()

    def _view_changed(self) -> None:
        self._mark_hist()
        label = getattr(self, "_view_label", None)
        if label is not None:
            lo, hi = self.clim_counts()
            label.set_text(f"{self.cmap}, {self.scale}, {lo:.4g}..{hi:.4g} counts")
        self._draw()

    # ------------------------------------------------------------------ readout

    def readout(self, x: float, y: float) -> str:
        """Position, intensity and mask state of the pixel under (x, y) (data coordinates).

        Examples
        --------
        ``"x=30 y=20  value=-1  raw=-1  masked: sentinel"``
        """
        col, row = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        M, N = self.frame.shape
        if not (0 <= row < M and 0 <= col < N):
            return f"x={x:.1f} y={y:.1f} (outside the frame)"
        val = self.frame.data[row, col]
        text = f"x={col} y={row}  value={float(val):.6g}"
        raw = getattr(self.frame, "raw", None)
        if raw is not None and np.shape(raw) == (M, N) and raw[row, col] != val:
            text += f"  raw={raw[row, col]}"
        causes = [k for k in CAUSES if self.layers[k][row, col]]
        if causes:
            text += "  masked: " + "+".join(causes)
        elif self.layers.get("ignore") is not None and self.layers["ignore"][row, col]:
            text += "  ignored (not measured, not healed)"
        else:
            text += "  not masked"
        return text

    def _show_readout(self, event: Any) -> None:
        txt = getattr(self, "_readout", None)
        if txt is None:
            return
        if event.inaxes is self.ax and event.xdata is not None:
            txt.set_text(self.readout(float(event.xdata), float(event.ydata)))
        elif event.inaxes is self.ax_hist and event.xdata is not None:
            txt.set_text(f"histogram: {10 ** float(event.xdata) - 1:.6g} counts")
        else:
            return
        if getattr(self, "_readout_bg", None) is not None:
            self._blit_readout()
        else:
            self._draw()

    def _readout_by_blit(self) -> None:
        """In a window, the readout line is redrawn alone on every mouse move (blitting), not the
        whole figure: it is animated, painted after each full draw over the background saved then."""
        cv = self.fig.canvas
        if not getattr(cv, "supports_blit", False):
            return
        self._readout.set_animated(True)
        self._readout_bg = None

        def saved(_event: Any) -> None:
            self._readout_bg = cv.copy_from_bbox(self._readout_box())
            self._blit_readout()

        self._cids.append(cv.mpl_connect("draw_event", saved))

    def _readout_box(self) -> Any:
        from matplotlib.transforms import Bbox

        return Bbox([[0, 0], [self.fig.bbox.width * 0.5, self.fig.bbox.height * 0.03]])

    def _blit_readout(self) -> None:
        cv = self.fig.canvas
        if self._readout_bg is not None:
            cv.restore_region(self._readout_bg)
        self.fig.draw_artist(self._readout)
        cv.blit(self._readout_box())

    # ------------------------------------------------------------------ histogram marks

    def _mark_hist(self) -> None:
        """Mark the thresholds of the edits (red lines, a span for between) and the contrast limits
        (blue dashes) on the histogram."""
        axh = getattr(self, "ax_hist", None)
        if axh is None:
            return
        for a in self._hist_marks:
            a.remove()
        self._hist_marks = []

        def at(counts: float) -> float:
            return float(np.log10(max(float(counts), 0.0) + 1.0))

        for e in self.edits:
            if e.get("kind") != "threshold":
                continue
            col = "tab:green" if e.get("mode") == "unmask" else "red"
            if e.get("min") is not None and e.get("max") is not None:
                self._hist_marks.append(axh.axvspan(at(e["min"]), at(e["max"]), color=col, alpha=0.3, lw=0))
            for key in ("below", "above", "min", "max"):
                if e.get(key) is not None:
                    self._hist_marks.append(axh.axvline(at(e[key]), color=col, lw=1.2))
        for c in self.clim_counts():
            self._hist_marks.append(axh.axvline(at(c), color="tab:blue", ls="--", lw=1))

    # ------------------------------------------------------------------ help

    def toggle_help(self) -> bool:
        """Show or hide the shortcut panel; returns whether it is shown."""
        panel = getattr(self, "_help", None)
        if panel is None:
            return False
        panel.set_visible(not panel.get_visible())
        self._draw()
        return panel.get_visible()

"""Mouse and key handling of the mask editor: each tool turns presses, drags and keys into one
edit of :class:`~dip_heal.masks.edits.MaskEdits` (see the key table in :mod:`dip_heal.masks.editor`)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import DipHealError

__all__ = ["EditorEvents", "TOOLS"]

logger = logging.getLogger(__name__)

TOOLS = {"r": "rect", "c": "circle", "p": "polygon", "l": "line", "b": "brush", "f": "fill", "t": "threshold",
         "a": "ring", "n": None}

#: A drag on the histogram shorter than this fraction of its width is a click (below / above).
HIST_CLICK = 0.01
#: A ring drag sweeping less than this many degrees is a whole annulus, not a sector.
RING_MIN_SWEEP = 3.0


class EditorEvents:
    """The event handlers of :class:`~dip_heal.masks.editor.MaskEditor` (a mixin: it needs the
    editor's axes ``ax``/``ax_hist``, its figure, ``apply``/``undo``/``redo``/``request_accept``/``quit``,
    ``ring_center`` and the view's methods of :class:`~dip_heal.masks.editor_view.EditorView`)."""

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
            self._hist_press = (float(event.xdata), event.button, self._mode(event))
            self._hist_last = float(event.xdata)
            return
        if event.inaxes is self.ax_hist and event.xdata is not None and event.button == 1:
            self._press_clim(float(event.xdata))  # any other tool: drag a contrast limit
            return
        if event.inaxes is self.ax:
            self.cancel_accept()
        if event.inaxes is not self.ax or event.xdata is None:
            return
        x, y = float(event.xdata), float(event.ydata)
        if self.tool == "ring" and event.button == 3:  # right-click moves the ring's centre
            self.ring_center = (round(x, 2), round(y, 2))
            self._draw_preview()
            return
        if event.button != 1:
            return
        if self.tool == "ring":
            self._drag_start = (x, y)
            self._pts = [(x, y)]
            self._drag_mode = self._mode(event)
            self._sweep = 0.0
        elif self.tool in ("rect", "circle", "brush"):
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
        self._show_readout(event)
        if getattr(self, "_clim_drag", None) is not None:
            if event.inaxes is self.ax_hist and event.xdata is not None:
                self._drag_clim(float(event.xdata))
            return
        if getattr(self, "_hist_press", None) is not None:
            if event.inaxes is self.ax_hist and event.xdata is not None:
                self._hist_last = float(event.xdata)
                self._preview_hist()
            return
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
        elif self.tool == "ring":
            self._sweep += self._angle_step(self._pts[-1], (x, y))
            self._pts = [self._drag_start, (x, y)]
        else:
            self._pts = [self._drag_start, (x, y)]
        self._draw_preview()

    def _angle_step(self, p0: tuple[float, float], p1: tuple[float, float]) -> float:
        """Signed angle (degrees, counter-clockwise as shown) from p0 to p1 about the ring's centre."""
        from .shapes import ring_angles

        cx, cy = self.ring_center
        a0, a1 = ring_angles(np.array([p0[0], p1[0]]), np.array([p0[1], p1[1]]), cx, cy)
        return float((a1 - a0 + 180.0) % 360.0 - 180.0)

    def _ring_edit(self, p0: tuple[float, float], p1: tuple[float, float], sweep: float) -> dict | None:
        """The ring edit of a drag from p0 to p1 that swept ``sweep`` degrees (None: no width)."""
        from .shapes import ring_angles

        cx, cy = self.ring_center
        r0, r1 = sorted((float(np.hypot(p0[0] - cx, p0[1] - cy)), float(np.hypot(p1[0] - cx, p1[1] - cy))))
        if r1 - r0 < 0.5:
            return None
        e: dict[str, Any] = {"x": round(cx, 2), "y": round(cy, 2), "r0": round(r0, 2), "r1": round(r1, 2)}
        if RING_MIN_SWEEP <= abs(sweep) < 360.0:
            a0 = float(ring_angles(p0[0], p0[1], cx, cy))
            a1 = a0 + sweep
            e["a0"], e["a1"] = round(min(a0, a1) % 360.0, 2), round(max(a0, a1) % 360.0, 2)
        return e

    def _on_release(self, event: Any) -> None:
        if event.button == 2:
            self._pan = None
            return
        if getattr(self, "_clim_drag", None) is not None:
            if event.inaxes is self.ax_hist and event.xdata is not None:
                self._drag_clim(float(event.xdata))
            self._clim_drag = None
            return
        press = getattr(self, "_hist_press", None)
        if press is not None:
            self._hist_press = None
            self._release_hist(event, press)
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
        elif self.tool == "ring":
            sweep = self._sweep + (self._angle_step(pts[-1], (x, y)) if pts else 0.0)
            ring = self._ring_edit((x0, y0), (x, y), sweep)
            if ring is None:
                logger.warning("ring of no width: drag from its inner to its outer radius")
            else:
                self._edit("ring", _E, **ring)

    def _release_hist(self, event: Any, press: tuple[float, Any, str]) -> None:
        """A click (below / above) or a drag (between) on the histogram: one threshold edit."""
        x0, button, mode = press
        x1 = float(event.xdata) if event.inaxes is self.ax_hist and event.xdata is not None else self._hist_last
        self._preview_hist(clear=True)
        width = abs(float(np.diff(self.ax_hist.get_xlim())[0]))

        class _E:
            key = "shift" if mode == "unmask" else None

        if abs(x1 - x0) <= HIST_CLICK * width:
            side = "above" if button == 3 else "below"
            self._edit("threshold", _E, **{side: float(10 ** x0 - 1)})
        else:
            lo, hi = sorted((x0, x1))
            self._edit("threshold", _E, min=float(10 ** lo - 1), max=float(10 ** hi - 1))

    def _preview_hist(self, clear: bool = False) -> None:
        span = getattr(self, "_hist_span", None)
        if span is not None:
            span.remove()
            self._hist_span = None
        press = getattr(self, "_hist_press", None)
        if not clear and press is not None:
            lo, hi = sorted((press[0], self._hist_last))
            self._hist_span = self.ax_hist.axvspan(lo, hi, color="yellow", alpha=0.4, lw=0)
        self._draw()

    def _draw_preview(self) -> None:
        pts = self._pts
        if self.tool == "ring":
            self._draw_ring_preview(pts)
            return
        self._center_mark.set_data([], [])
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

    def _draw_ring_preview(self, pts: list[tuple[float, float]]) -> None:
        """The centre's cross, and the ring or sector being dragged."""
        from .shapes import ring_angles

        cx, cy = self.ring_center
        self._center_mark.set_data([cx], [cy])
        xs: list[float] = []
        ys: list[float] = []
        if len(pts) == 2:
            ring = self._ring_edit(pts[0], pts[1], self._sweep)
            if ring is not None:
                r0, r1 = ring["r0"], ring["r1"]
                if "a0" in ring:
                    a0 = float(ring_angles(pts[0][0], pts[0][1], cx, cy))
                    t = np.radians(np.linspace(a0, a0 + self._sweep, 64))
                else:
                    t = np.linspace(0, 2 * np.pi, 96)
                outer = [(cx + r1 * np.cos(a), cy - r1 * np.sin(a)) for a in t]
                inner = [(cx + r0 * np.cos(a), cy - r0 * np.sin(a)) for a in t[::-1]]
                loop = outer + ([(np.nan, np.nan)] if "a0" not in ring else []) + inner
                if "a0" in ring:
                    loop.append(outer[0])
                xs, ys = [p[0] for p in loop], [p[1] for p in loop]
        self._preview.set_data(xs, ys)
        self._preview.set_linewidth(1)
        self._draw()

    def _brush_points(self) -> float:
        """Brush size in screen points, for the preview line."""
        (x0, _), (x1, _) = self.ax.transData.transform([(0, 0), (self.brush, 0)])
        return abs(x1 - x0) * 72.0 / self.fig.dpi

    def _on_key(self, event: Any) -> None:
        box = getattr(self, "_file_box", None)
        if box is not None and box.capturekeystrokes:  # typing a mask file's path
            return
        key = event.key or ""
        base = key.replace("shift+", "")
        if key not in ("enter", "return"):
            self.cancel_accept()
        if key in ("enter", "return"):
            if self.tool in ("polygon", "line") and self._pts:
                self._finish_path(event)
            else:
                self.request_accept()
        elif key == "escape":
            self._pts = []
            self._drag_start = None
            self._draw_preview()
        elif base in TOOLS and len(base) == 1:
            self.tool = TOOLS[base]
            self._pts = []
            label = f"tool: {self.tool or 'pan/zoom'}  brush {self.brush:.0f} px"
            if self.tool == "ring":
                label += f"  centre ({self.ring_center[0]:.1f}, {self.ring_center[1]:.1f}): right-click moves it"
            self.ax.set_xlabel(label, fontsize=8)
            self._draw_preview()
        elif key in ("k", "K", "shift+k"):
            self.cycle_colormap(1 if key == "k" else -1)
        elif key == "v":
            self.toggle_scale()
        elif key in ("h", "?"):
            self.toggle_help()
        elif key in ("m", "M", "shift+m"):
            self.load_mask_file(replace=key != "m")
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

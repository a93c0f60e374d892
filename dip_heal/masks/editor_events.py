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
         "n": None}


class EditorEvents:
    """The event handlers of :class:`~dip_heal.masks.editor.MaskEditor` (a mixin: it needs the
    editor's axes ``ax``/``ax_hist``, its figure, ``apply``/``undo``/``redo``/``accept``/``quit``)."""

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
        elif base in TOOLS and len(base) == 1:
            self.tool = TOOLS[base]
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

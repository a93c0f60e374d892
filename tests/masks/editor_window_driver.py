"""Drives the mask editor in a real Tk window (run by test_mask_editor.py under a display, e.g.
Xvfb): X events go through Tk and matplotlib's key map and toolbar as a user's would. Prints
what it saw as JSON on the last line. Usage: python editor_window_driver.py MASK.npy"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("TkAgg")

import numpy as np  # noqa: E402

from dip_heal.frame import Frame  # noqa: E402
from dip_heal.masks import MaskSpec  # noqa: E402
from dip_heal.masks import editor as E  # noqa: E402

SEEN: dict = {}


def drive(ed: E.MaskEditor) -> None:
    cv = ed.fig.canvas
    w = cv.get_tk_widget()
    w.focus_force()
    w.update()
    H = cv.figure.bbox.height

    def xy(x, y, ax):
        X, Y = ax.transData.transform((x, y))
        if ax is ed.ax_hist:
            Y = ax.transAxes.transform((0, 0.5))[1]
        return int(round(X)), int(round(H - Y))

    def key(k):
        w.event_generate(f"<KeyPress-{k}>", when="now")  # handled at once; redraws wait for idle time

    def mouse(ev, x, y, ax=None):
        X, Y = xy(x, y, ax or ed.ax)
        w.event_generate("<Motion>", x=X, y=Y, when="now")
        if ev != "Motion":
            w.event_generate(ev, x=X, y=Y, when="now")

    w.update()  # the first full draw
    draws = []
    cid = cv.mpl_connect("draw_event", lambda e: draws.append(1))
    for x in (3, 5, 7, 9, 10):
        mouse("Motion", x, 6)
        w.update()  # idle time: a full redraw would happen here
    cv.mpl_disconnect(cid)
    SEEN["draws_on_motion"] = len(draws)
    SEEN["status"] = cv.toolbar.message.get() if cv.toolbar is not None else None
    SEEN["readout"] = ed._readout.get_text()
    key("a")  # ring tool; right-click sets the centre; a radial drag = the whole annulus
    mouse("<ButtonPress-3>", 40, 30)
    mouse("<ButtonRelease-3>", 40, 30)
    mouse("<ButtonPress-1>", 45, 30)
    mouse("Motion", 47, 30)
    mouse("<ButtonRelease-1>", 49, 30)
    key("t")  # a drag on the histogram: between 39.5 and 60.5 counts
    mouse("<ButtonPress-1>", np.log10(40.5), 0, ed.ax_hist)
    mouse("Motion", np.log10(50), 0, ed.ax_hist)
    mouse("<ButtonRelease-1>", np.log10(61.5), 0, ed.ax_hist)
    SEEN["threshold"] = dict(ed.edits[-1])
    key("u")
    from tkinter import filedialog

    asked = []
    filedialog.askopenfilename = lambda **kw: asked.append(kw) or sys.argv[1]  # the user picks the file
    key("m")  # an empty box: the file dialog, then add the file picked
    SEEN["dialog"] = [kw.get("title") for kw in asked]
    SEEN["box"] = ed._file_box.text
    key("k")  # matplotlib's own keys (k = x log scale, h = home, ...) must not take these
    key("v")
    key("h")
    SEEN.update(tool=ed.tool, cmap=ed._base_im.get_cmap().name, scale=ed.scale, help=ed._help.get_visible(),
                xscale=ed.ax.get_xscale(), edits=[dict(e) for e in ed.edits])
    key("Return")
    SEEN["confirming"] = ed.confirming
    SEEN["prompt"] = ed._prompt.get_text()
    key("Return")


def main() -> None:
    raw = np.random.default_rng(0).poisson(50, (60, 80)).astype(np.int32)
    raw[20, 30] = -1
    orig = E.MaskEditor.__init__

    def init(self, *a, **k):
        orig(self, *a, **k)
        t = self.fig.canvas.new_timer(interval=200)
        t.single_shot = True
        t.add_callback(drive, self)
        t.start()
        self._driver_timer = t

    E.MaskEditor.__init__ = init
    res = E.edit_mask(Frame.from_array(raw), MaskSpec(detector="none", beamstop="none"))
    SEEN["result"] = None if res is None else res.to_dict()
    print(json.dumps(SEEN))


if __name__ == "__main__":
    main()

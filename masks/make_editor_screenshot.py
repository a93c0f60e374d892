"""Write masks/editor.png: the mask editor (``dip-heal mask IMAGE -i``) on a generated frame.

A synthetic PILATUS 300K WAXS frame (rings, module gaps, beamstop on its holder), with the edits
a user would make: a ring sector drawn with the ring tool, a between-thresholds selection on the
histogram, the cursor readout over a ring, the shortcut panel, and the question Enter asks
before writing. Everything is drawn off-screen (Agg), through the same events a window gets.

    python masks/make_editor_screenshot.py [--out masks/editor.png]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backend_bases import KeyEvent, MouseEvent  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from dip_heal.frame import Frame  # noqa: E402
from dip_heal.masks import MaskSpec  # noqa: E402
from dip_heal.masks.editor import MaskEditor  # noqa: E402
from dip_heal.synthetic import synthetic_frame  # noqa: E402


def _key(ed: MaskEditor, key: str) -> None:
    ed.fig.canvas.callbacks.process("key_press_event", KeyEvent("key_press_event", ed.fig.canvas, key))


def _mouse(ed: MaskEditor, ax, name: str, x: float, y: float, button: int = 1) -> None:
    X, Y = ax.transData.transform((x, y))
    if ax is ed.ax_hist:  # y in axes units there (the counts axis is logarithmic)
        Y = ax.transAxes.transform((0, y))[1]
    ed.fig.canvas.callbacks.process(name, MouseEvent(name, ed.fig.canvas, X, Y, button=button))


def _drag(ed: MaskEditor, ax, pts: list[tuple[float, float]], button: int = 1) -> None:
    _mouse(ed, ax, "button_press_event", *pts[0], button=button)
    for p in pts[1:]:
        _mouse(ed, ax, "motion_notify_event", *p, button=button)
    _mouse(ed, ax, "button_release_event", *pts[-1], button=button)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("editor.png"))
    ap.add_argument("--dpi", type=int, default=90)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    syn = synthetic_frame(detector="Pilatus300k", kind="waxs", seed=3, counts=3e3)
    frame = Frame.from_array(syn.counts)
    fig = Figure(figsize=(14, 8), dpi=args.dpi)  # the window's size
    FigureCanvasAgg(fig)
    ed = MaskEditor(frame, MaskSpec(detector="Pilatus300k", holder="auto"), fig=fig)
    ed.ax.apply_aspect()
    cx, cy = ed.ring_center
    # ring tool: a sector of one ring, dragged from its inner to its outer edge while sweeping round
    _key(ed, "a")
    r_in, r_out = 150.0, 168.0
    sweep = np.radians(np.linspace(200, 250, 6))
    rs = np.linspace(r_in, r_out, sweep.size)
    _drag(ed, ed.ax, [(cx + r * np.cos(t), cy - r * np.sin(t)) for r, t in zip(rs, sweep)])
    # threshold tool: drag on the histogram = mask the pixels between the two values
    _key(ed, "t")
    _drag(ed, ed.ax_hist, [(np.log10(1 + 300.0), 0.5), (np.log10(1 + 600.0), 0.5)])
    # the ring tool again, to show its centre; the cursor over a ring; Enter once: the question
    _key(ed, "a")
    X, Y = ed.ax.transData.transform((cx + 159 * np.cos(np.radians(225)), cy - 159 * np.sin(np.radians(225))))
    ed.fig.canvas.callbacks.process("motion_notify_event",
                                    MouseEvent("motion_notify_event", ed.fig.canvas, X, Y))
    _key(ed, "enter")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=args.dpi)
    from PIL import Image

    with Image.open(args.out) as im:  # 256 colours: a third of the size, no visible change
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} kB; edits: "
          + ", ".join(e["kind"] for e in ed.edits) + f"; {int(ed.heal.sum())} px to heal")


if __name__ == "__main__":
    main()

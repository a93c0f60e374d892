"""The beam-centre estimator against the reference centres of the real frames.

Usage::

    python benchmarks/bench_centres.py

For every frame of ``benchmarks/centres.json`` (made by ``reference_centres.py``) present in
``../shared/data``: the reference, the estimate of :func:`dip_heal.beam.find_center` on the
frame's measured pixels (as ``dip-heal mask`` sees them), its confidence, the error in pixels, the
tolerance (3 px or 0.5 % of the frame's larger side, whichever is larger) and the time (the
frame's reading not counted). Exit status 1 when an on-detector centre misses its tolerance.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def measured(frame) -> np.ndarray:
    """The pixels the mask's beam finders see: gaps, sentinels, file masks, stripes and the zero
    border excluded."""
    from dip_heal.masks import MaskSpec, build_mask_layers

    layers = build_mask_layers(frame, MaskSpec(beamstop="none", holder="none"))
    bad = layers["ignore"].copy()
    for k in ("gaps", "sentinel", "file_mask", "stripes"):
        bad |= layers[k]
    return np.isfinite(frame.data) & ~bad


def main() -> int:
    import torch

    torch.set_num_threads(1)
    from dip_heal.beam import find_center
    from dip_heal.io import read_image

    rows = json.loads((REPO / "benchmarks" / "centres.json").read_text())["frames"]
    print("| frame | shape | reference (x, y) | method | estimate (x, y) | confidence | error (px) | tolerance (px) | ok | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for r in rows:
        p = DATA / r["frame"]
        if not p.exists():
            continue
        fr = read_image(p)
        valid = measured(fr)
        t0 = time.perf_counter()
        est = find_center(fr.data, valid)
        dt = time.perf_counter() - t0
        err = float(np.hypot(est.x - r["x"], est.y - r["y"]))
        tol = max(3.0, 0.005 * max(r["shape"]))
        ok = err <= tol if r["on_detector"] else not est.on_detector
        bad += not ok
        where = "" if r["on_detector"] else " (off detector)"
        print(f"| {r['frame']} | {r['shape'][0]}x{r['shape'][1]} | ({r['x']:.1f}, {r['y']:.1f}){where} | {r['method']} | "
              f"({est.x:.1f}, {est.y:.1f}) | {est.confidence:.2f}{'' if est.sure else ' (unsure)'} | {err:.1f} | "
              f"{tol:.1f} | {'yes' if ok else 'NO'} | {dt:.2f} |")
    print(f"\n{len(rows) - bad} of {len(rows)} within tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

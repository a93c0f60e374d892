"""The beam-centre estimator against the reference centres of the real frames.

Usage::

    python benchmarks/bench_centres.py

For every frame of ``benchmarks/centres.json`` (made by ``reference_centres.py``) present in
``../shared/data``: the reference, the estimate of :func:`dip_heal.beam.find_center` on the
frame's measured pixels (as ``dip-heal mask`` sees them), its confidence, the error in pixels, the
tolerance (3 px or 0.5 % of the frame's larger side, whichever is larger) and the time (the
frame's reading not counted). Exit status 1 when an on-detector centre misses its tolerance.
Then, for each case of ``../shared/data/cases-dev.json`` on such a frame, the estimate on the
case's 512x512 crop (the centre a fit of the crop uses) against the reference moved into the crop.
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
    bad = seen = 0
    for r in rows:
        p = DATA / r["frame"]
        if not p.exists():
            continue
        seen += 1
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
    print(f"\n{seen - bad} of {seen} within tolerance ({len(rows) - seen} frames absent)")
    crops(rows)
    return 1 if bad else 0


def crops(rows: list[dict]) -> None:
    """The estimate on each dev case's crop (what a fit of the crop sees) against the frame's reference."""
    from dip_heal.beam import find_center
    from dip_heal.bench.cases import load_cases
    from dip_heal.bench.prepare import prepare_case

    cases_file = DATA / "cases-dev.json"
    if not cases_file.exists():
        return
    ref = {r["frame"]: r for r in rows}
    cases, _ = load_cases(cases_file)
    print("\n| dev case | crop (y0, x0) | reference in the crop (x, y) | estimate on the crop (x, y) | error (px) |")
    print("|---|---|---|---|---|")
    for case in cases:
        r = ref.get(case.file)
        if r is None or not (DATA / case.file).exists():
            continue
        prep = prepare_case(case, DATA)
        oy, ox = prep.offset
        est = find_center(prep.image, ~prep.heal)
        rx, ry = r["x"] - ox, r["y"] - oy
        print(f"| {case.name} | ({oy}, {ox}) | ({rx:.1f}, {ry:.1f}) | ({est.x:.1f}, {est.y:.1f}) | "
              f"{np.hypot(est.x - rx, est.y - ry):.1f} |")


if __name__ == "__main__":
    sys.exit(main())

"""Time the automatic mask of a PILATUS 6M frame (2527 x 2463), excluding file reading.

Usage::

    python benchmarks/bench_mask.py [FRAME] [--repeat N]

FRAME defaults to ``../shared/data/fabio_history/run2_1_00148.cbf.bz2``; without it a synthetic
PILATUS 6M frame is used. The first call includes loading pyFAI's detector catalogue (a one-off
import) and is reported apart; the figure that counts is the median of the warm calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "fabio_history" / "run2_1_00148.cbf.bz2"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("frame", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--holder", action="store_true", help="also propose the holder automatically")
    args = ap.parse_args(argv)

    from dip_heal.frame import Frame
    from dip_heal.masks import MaskSpec, build_mask_layers

    t0 = time.perf_counter()
    if Path(args.frame).exists():
        from dip_heal.io import read_image

        frame = read_image(args.frame)
        source = args.frame
    else:
        from dip_heal.synthetic import synthetic_frame

        frame = Frame.from_array(synthetic_frame(detector="Pilatus6M", seed=0).counts)
        source = "synthetic PILATUS 6M (real frame absent)"
    t_read = time.perf_counter() - t0
    spec = MaskSpec(holder="auto" if args.holder else "none")

    t0 = time.perf_counter()
    layers = build_mask_layers(frame, spec)
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        layers = build_mask_layers(frame, spec)
        times.append(time.perf_counter() - t0)
    heal = np.zeros(frame.shape, bool)
    for k, v in layers.items():
        if k != "ignore":
            heal |= v
    med = statistics.median(times)
    print(f"frame        {source}")
    print(f"shape        {frame.shape[0]} x {frame.shape[1]} ({frame.raw.dtype})")
    print(f"read         {t_read:.2f} s (not counted)")
    print(f"mask, first  {first:.3f} s (includes loading pyFAI's detector catalogue)")
    print(f"mask, warm   median {med:.3f} s, min {min(times):.3f} s over {len(times)} runs"
          f"{'  (holder proposal on)' if args.holder else ''}")
    print(f"masked       {int(heal.sum())} px: " + ", ".join(f"{k} {int(v.sum())}" for k, v in layers.items() if v.any()))
    print(f"under 1 s    {'yes' if med < 1.0 else 'NO'}")
    return 0 if med < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())

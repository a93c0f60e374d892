"""Peak memory and seconds per iteration of a full-frame fit at PILATUS 1M and 2M sizes.

Each size runs in a fresh subprocess (so peak RSS is that fit's own) on a synthetic frame with
the detector's real module gaps, for a few iterations of the chosen preset.

Usage::

    python benchmarks/bench_memory.py [--presets default,faithful] [--iters 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
from dip_heal.config import FitConfig
from dip_heal import fit
from dip_heal.synthetic import synthetic_frame
det, preset, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = synthetic_frame(detector=det, seed=0)
img = np.where(f.heal, np.nan, f.counts).astype(np.float32)
cfg = FitConfig.preset(preset, num_iter=iters + 1, snapshot_every=10**6, patience=0)
res = fit(img, f.heal, cfg, keep_snapshots=False)
t = [m["seconds"] for m in res.metrics]
print(json.dumps({"shape": list(img.shape), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "s_per_iter": float(np.median(np.diff(t))) if len(t) > 1 else t[0]}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="default,faithful")
    ap.add_argument("--detectors", default="Pilatus1M,Pilatus2M")
    ap.add_argument("--iters", type=int, default=3)
    args = ap.parse_args(argv)
    print("| detector | shape | preset | peak RSS (MB) | s/iteration |")
    print("|---|---|---|---|---|")
    for det in args.detectors.split(","):
        for preset in args.presets.split(","):
            out = subprocess.run([sys.executable, "-c", CHILD, det, preset, str(args.iters)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"| {det} | - | {preset} | failed: {out.stderr.strip().splitlines()[-1]} | - |")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {det} | {r['shape'][0]}x{r['shape'][1]} | {preset} | {r['peak_rss_mb']:.0f} | "
                  f"{r['s_per_iter']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

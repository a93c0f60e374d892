"""Iterations per second of ``dip_heal.fit`` against a notebook-style reference loop.

Both use the same network (the seed configuration, 2,157,697 parameters) and are measured in
the same run on this machine, at 224x288 (the seed project's frames) and 512x512. ``fit`` runs
with the ``faithful`` preset (the same work per iteration) and with the ``default`` preset.

Usage::

    python benchmarks/bench_fit.py [--iters 6] [--sizes 224x288,512x512]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def fit_seconds_per_iter(shape: tuple[int, int], preset: str, n_iter: int, warmup: int = 2) -> float:
    from dip_heal.config import FitConfig
    from dip_heal import fit

    rng = np.random.default_rng(0)
    img = rng.poisson(100, shape).astype(np.float32)
    heal = rng.random(shape) < 0.1
    cfg = FitConfig.preset(preset, num_iter=n_iter + warmup, snapshot_every=10**6, holdout_fraction=0.0, blend=False,
                           select="final", patience=0)
    res = fit(img, heal, cfg, keep_snapshots=False)
    t = [m["seconds"] for m in res.metrics]
    return float(np.median(np.diff(t[warmup - 1 : warmup + n_iter - 1])))


def main(argv: list[str] | None = None) -> int:
    import torch

    from _reference import reference_seconds_per_iter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--sizes", default="224x288,512x512")
    args = ap.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| size | reference loop (it/s) | fit, faithful (it/s) | ratio | fit, default (it/s) | ratio |")
    print("|---|---|---|---|---|---|")
    for shape in sizes:
        ref = reference_seconds_per_iter(shape, n_iter=args.iters)
        faithful = fit_seconds_per_iter(shape, "faithful", args.iters)
        default = fit_seconds_per_iter(shape, "default", args.iters)
        print(f"| {shape[0]}x{shape[1]} | {1/ref:.3f} | {1/faithful:.3f} | {ref/faithful:.2f} | "
              f"{1/default:.3f} | {ref/default:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Trial-iterations per second of K sweep trials batched into one grouped network.

Compares ``dip_heal.dip.batched.fit_batched`` with K = 1, 4, 8, 16 trials against K sequential fits
(``dip_heal.fit``) of the same trials, in the same run, on a 256x256 frame. The trials
differ in learning rate, noise and seed, as in a sweep.

Usage::

    python benchmarks/bench_batched.py [--preset default] [--iters 10] [--ks 1,4,8,16] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import torch

    from dip_heal.dip.batched import fit_batched
    from dip_heal.config import FitConfig
    from dip_heal import fit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--ks", default="1,4,8,16")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    img = rng.poisson(100, (args.size, args.size)).astype(np.float32)
    heal = rng.random(img.shape) < 0.1
    base = FitConfig.preset(args.preset, num_iter=args.iters, snapshot_every=10**6, holdout_fraction=0.0,
                            select="final", patience=0, polar_input=False, mirror_input=False, ema=0.0)
    lrs = [1e-4, 1e-3, 1e-2, 0.05, 0.1]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}x{args.size}, "
          f"preset {args.preset}, {args.iters} iterations")
    print("| K | sequential (trial-it/s) | batched (trial-it/s) | speed-up | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    import resource

    for k in [int(v) for v in args.ks.split(",")]:
        cfgs = [base.replace(lr=lrs[i % 5], seed=i, param_noise=bool(i % 2)) for i in range(k)]
        n_seq = min(k, 2)  # sequential cost is linear in K: time two trials and scale
        t = time.perf_counter()
        for c in cfgs[:n_seq]:
            fit(img, heal, c, device=args.device, keep_snapshots=False)
        seq = n_seq * args.iters / (time.perf_counter() - t)
        t = time.perf_counter()
        fit_batched(img, heal, cfgs, device=args.device)
        bat = k * args.iters / (time.perf_counter() - t)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {k} | {seq:.2f} | {bat:.2f} | {bat / seq:.2f}x | {rss:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

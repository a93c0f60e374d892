"""Does ``torch.compile`` pay for itself in a default fit on this CPU?

The default preset's network (bf16 autocast, channels-last, the meshgrid input) takes Adam steps
on a generated frame, once eager and once with its body wrapped in ``torch.compile`` (inductor),
in the same run. Compile time is counted: the compiled variant's first step (which traces and
compiles) is timed on its own, with a fresh inductor cache unless ``--warm-cache`` is given.

Printed per size: seconds per step eager and compiled (the median after the first steps), the
compile time, the ratio, and the iterations a fit would need before compiling breaks even (none
when the compiled step is not faster).

Usage::

    python benchmarks/bench_compile.py [--sizes 256x256] [--iters 40] [--threads 2] [--warm-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def time_steps(shape: tuple[int, int], n_iter: int, compiled: bool) -> tuple[float, float]:
    """(seconds of the first step, median seconds of the steps after the first three)."""
    import torch

    from dip_heal.config import FitConfig
    from dip_heal.dip.inputs import NetInputs, coordinate_input
    from dip_heal.dip.model import DipModel
    from dip_heal.dip.problem import Grid

    cfg = FitConfig.preset("default")
    dev = torch.device("cpu")
    torch.manual_seed(0)
    grid = Grid.for_frame(shape, cfg.depth)
    tensor = coordinate_input(cfg, grid.shape, dev)
    model = DipModel(cfg, NetInputs(tensor=tensor, base=None, guide_used="none", model_settings=None, center=None), dev)
    if compiled:
        model.body = torch.compile(model.body, dynamic=False)
    rng = np.random.default_rng(0)
    target = torch.from_numpy(rng.random((1, 1, *grid.shape), dtype=np.float32))
    weight = torch.from_numpy((rng.random((1, 1, *grid.shape)) > 0.1).astype(np.float32))

    def loss_fn(out: "torch.Tensor") -> "torch.Tensor":
        return ((out - target).abs() * weight).sum() / weight.sum()

    times = []
    for _ in range(n_iter):
        t = time.perf_counter()
        model.step(loss_fn)
        times.append(time.perf_counter() - t)
    return times[0], statistics.median(times[3:])


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256x256")
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--warm-cache", action="store_true", help="keep inductor's cache (compile time then excludes codegen)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.warm_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="dip-heal-inductor-")
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{'warm' if args.warm_cache else 'fresh'} inductor cache, {args.iters} steps")
    print("| size | eager (s/step) | compiled (s/step) | compile (s, first step) | ratio eager/compiled | break-even |")
    print("|---|---|---|---|---|---|")
    for shape in sizes:
        _, eager = time_steps(shape, args.iters, compiled=False)
        first, comp = time_steps(shape, args.iters, compiled=True)
        gain = eager - comp
        even = f"{(first - comp) / gain:.0f} iterations" if gain > 0 else "never"
        print(f"| {shape[0]}x{shape[1]} | {eager:.3f} | {comp:.3f} | {first:.1f} | {eager / comp:.2f} | {even} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

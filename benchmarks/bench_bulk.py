"""``dip-heal bulk`` throughput on PILATUS 1M frames, and the shipped model against biharmonic.

Speed: frames per second of :func:`dip_heal.blind.bulk.bulk` with the shipped model (or
``--model``) on PILATUS 1M frames (1043x981 int32 TIFF with -1 module gaps): the MIT-licensed
muscle frames of ``../shared/data/musclex`` when present, else synthetic frames, copied
``--frames`` times. It prints the frames per second, the per-frame time and the peak resident
memory of the process (``ru_maxrss``), and the peak memory added by healing (``tracemalloc`` of
numpy, plus torch's CPU allocator is not counted by tracemalloc, so RSS is the figure to read).

Quality (``--cases FILE``): mean L1 and Pearson r of the model and of biharmonic inpainting on
the benchmark's cases (``dip_heal.bench`` scoring: pasted gaps, normalised log space).

Usage::

    python benchmarks/bench_bulk.py [--frames 8] [--threads 1] [--batch 8] [--model DIR]
    python benchmarks/bench_bulk.py --cases ../shared/data/cases-dev.json [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_1M = ["musclex/P1_F1_tet_1_100_005_0001.tif", "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif"]


def _inputs(folder: Path, n: int) -> tuple[list[Path], str]:
    srcs = [SHARED / r for r in REAL_1M if (SHARED / r).is_file()]
    paths = []
    if srcs:
        for i in range(n):
            p = folder / f"frame_{i:03d}.tif"
            shutil.copy(srcs[i % len(srcs)], p)
            paths.append(p)
        return paths, "musclex PILATUS3 1M frames (" + ", ".join(s.name for s in srcs) + ")"
    from dip_heal.io import write_image
    from dip_heal.synthetic import synthetic_frame

    for i in range(n):
        f = synthetic_frame(detector="Pilatus1M", seed=i, kind=("saxs", "waxs", "fibre")[i % 3])
        paths.append(write_image(folder / f"frame_{i:03d}.tif", f.counts))
    return paths, "synthetic Pilatus1M frames"


def bench_speed(n: int, batch: int, model: str | None) -> None:
    import torch

    from dip_heal.blind.bulk import bulk
    from dip_heal.blind.model_dir import load_model

    m = load_model(model)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); model {m.path.name}: "
          f"{m.card['architecture']} {m.card['parameters']} parameters, tile {m.tile}, batch {batch}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        paths, what = _inputs(tmp / "in", n)
        # warm-up on one frame (imports, first-call allocations), not timed
        bulk(paths[:1], tmp / "warm", model_dir=model, batch=batch)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        s = bulk(paths, tmp / "out", model_dir=model, batch=batch)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if s.failed:
            print("failed:", s.failed)
    print(f"inputs: {n} x {what}")
    print("| frames | seconds | frames/s | s/frame | peak RSS (MiB) | peak RSS before the timed run (MiB) |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(s.written)} | {dt:.1f} | {len(s.written) / dt:.3f} | {dt / max(len(s.written), 1):.2f} | "
          f"{rss:.0f} | {rss0:.0f} |")


def bench_cases(cases: str, data: str, model: str | None) -> None:
    from dip_heal.bench import load_cases, prepare_case, run_case
    from dip_heal.methods import METHODS, register_method

    if "blind" not in METHODS:
        register_method("blind", "dip_heal.blind.bulk:heal_with_model", arg="model_dir")
    blind = f"blind:{model}" if model else "blind"
    case_list, rejected = load_cases(cases)
    rows = []
    print(f"| case | biharmonic L1 | {blind} L1 | biharmonic r | {blind} r | {blind} s |")
    print("|---|---|---|---|---|---|")
    for case in case_list:
        prep = prepare_case(case, data)
        scores, _ = run_case(prep, ["biharmonic", blind], data_dir=data)
        b, m = scores
        rows.append((b.l1, m.l1, b.r, m.r))
        print(f"| {case.name} | {b.l1 * 1e3:.2f}e-3 | {m.l1 * 1e3:.2f}e-3 | {b.r:.4f} | {m.r:.4f} | {m.seconds:.2f} |",
              flush=True)
    a = np.array(rows)
    print(f"| **mean** | **{a[:, 0].mean() * 1e3:.2f}e-3** | **{a[:, 1].mean() * 1e3:.2f}e-3** | "
          f"{a[:, 2].mean():.4f} | {a[:, 3].mean():.4f} | |")
    for name, why in rejected:
        print(f"skipped {name}: {why}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8, help="frames to heal (speed)")
    ap.add_argument("--batch", type=int, default=8, help="tiles per network call")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--cases", default=None, help="case file: score against biharmonic instead of timing")
    ap.add_argument("--data", default=str(SHARED), help="folder of the cases' frames")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.cases:
        bench_cases(args.cases, args.data, args.model)
    else:
        bench_speed(args.frames, args.batch, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The MVE385 grid pruned (successive halving on held-out L1) against the full grid (``--no-prune``).

For every crop (the 256x256 time-to-quality cases of ``../shared/data/ttq/``, by default
``fibre107`` and ``cr8f8``), in one run:

1. the full grid: ``run_sweep(..., prune=False)``, every point to ``--num-iter`` iterations;
2. the pruned grid: ``run_sweep(...)`` with ``[prune]`` from ``--pruner``, ``--min-resource``
   and ``--reduction-factor``;

both from the shipped ``sweeps/mve385-grid.toml``'s points and the default preset, snapshots
every ``--snapshot-every``. It prints, per sweep, the trial-iterations (the iterations every
trial ran, up to where it was pruned), the wall time, and the scored L1 (normalised log
intensity on the case's scored pixels against its truth, ``ttq/README.md``) of the sweep's
recommended pick (the best complete trial's lowest-held-out-L1 snapshot), and the oracle: the
best scored snapshot of the full grid. Acceptance (issue 17): pruned trial-iterations <= 25 % of
the full grid's; the pruned pick within 3 % of the full pick; the full pick within 5 % of the
oracle.

The full setting is 40 points x 400 iterations per crop (about 16,000 iterations, 40 minutes
per crop on the project's shared 2-core CPU). To fit a smaller budget: ``--points 20|10|5``
(fewer reg_noise_std / param_noise values, all five learning rates), ``--num-iter``, ``--size``
(a crop of the case: the window holding the most scored pixels), ``--crops``.

Usage::

    python benchmarks/bench_sweep.py [--crops fibre107,cr8f8] [--points 40] [--num-iter 400]
        [--snapshot-every 25] [--min-resource 25] [--reduction-factor 3] [--size 256] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE.parent.parent / "shared" / "data" / "ttq"

#: ``--points`` -> the grid's axes (all five learning rates every time)
AXES = {
    40: {"param_noise": [False, True], "reg_noise_std": [0.3, 0.03, 0.003, 0.0]},
    20: {"param_noise": [False], "reg_noise_std": [0.3, 0.03, 0.003, 0.0]},
    10: {"param_noise": [False], "reg_noise_std": [0.03, 0.0]},
    5: {"param_noise": [False], "reg_noise_std": [0.03]},
}


def score(healed: np.ndarray, case: dict) -> float:
    """L1 in normalised log intensity on the scored pixels (ttq/README.md)."""
    from bench_time_to_quality import score as ttq_score

    return ttq_score(healed, case)[0]


def crop_case(case: dict, size: int) -> dict:
    """The ``size`` x ``size`` window of the case holding the most scored pixels (the case itself at 256)."""
    n = case["image"].shape[0]
    if size >= n:
        return case
    best, where = -1, (0, 0)
    for y in range(0, n - size + 1, 16):
        for x in range(0, n - size + 1, 16):
            k = int(case["score"][y:y + size, x:x + size].sum())
            if k > best:
                best, where = k, (y, x)
    y, x = where
    return {k: v[y:y + size, x:x + size] for k, v in case.items()}


def sweep_toml(points: int, num_iter: int, every: int, prune: dict) -> str:
    """The shipped grid's learning rates with the axes of ``points``, the budgets and the pruning given."""
    from dip_heal.sweep import load_sweep

    shipped = load_sweep(HERE.parent / "sweeps" / "mve385-grid.toml")
    axes = {"lr": shipped.params["lr"]["choices"], **AXES[points], "seed": [0]}

    def val(v):
        return json.dumps(v)

    lines = ['sampler = "grid"', f"seed = {shipped.seed}", "[config]", f"num_iter = {num_iter}",
             f"snapshot_every = {every}", "holdout_fraction = 0.03", "[prune]"]
    lines += [f"{k} = {val(v)}" for k, v in prune.items()]
    lines += ["[params]"] + [f"{k} = {val(v)}" for k, v in axes.items()]
    return "\n".join(lines) + "\n"


def run_one(frame: Path, out: Path, sweep: Path, prune: bool) -> dict:
    """One sweep; its trial-iterations, wall time, pick and every trial's snapshots."""
    from dip_heal.pick import open_run
    from dip_heal.sweep import run_sweep

    t0 = time.perf_counter()
    summary = run_sweep(frame, out, sweep_file=sweep, prune=prune, progress=False)
    seconds = time.perf_counter() - t0
    run = open_run(out)
    best = run.best()
    return {"summary": summary, "seconds": seconds, "run": run, "best": best,
            "pick": run.load(best, best.best_iteration)}


def main(argv: list[str] | None = None) -> int:
    import logging

    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", default="fibre107,cr8f8")
    ap.add_argument("--points", type=int, choices=sorted(AXES), default=40)
    ap.add_argument("--num-iter", type=int, default=400)
    ap.add_argument("--snapshot-every", type=int, default=25)
    ap.add_argument("--pruner", default="halving", choices=["halving", "hyperband"])
    ap.add_argument("--min-resource", type=int, default=25)
    ap.add_argument("--reduction-factor", type=int, default=3)
    ap.add_argument("--size", type=int, default=256, help="crop of the 256x256 case (default: all of it)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    if not args.data.exists():
        print(f"no ttq data at {args.data}; nothing to measure")
        return 0
    prune = {"pruner": args.pruner, "min_resource": args.min_resource, "reduction_factor": args.reduction_factor}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.points} points x {args.num_iter} "
          f"iterations, a snapshot every {args.snapshot_every}, {args.size}x{args.size}; pruned: {json.dumps(prune)}")
    work = Path(tempfile.mkdtemp(prefix="bench_sweep-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for name in args.crops.split(","):
            case = crop_case(dict(np.load(args.data / f"{name}.npz")), args.size)
            frame = work / f"{name}.npy"
            np.save(frame, np.where(case["heal"], np.nan, case["image"]).astype(np.float32))
            sweep = work / f"{name}.toml"
            sweep.write_text(sweep_toml(args.points, args.num_iter, args.snapshot_every, prune))
            full = run_one(frame, work / f"{name}-full", sweep, prune=False)
            pruned = run_one(frame, work / f"{name}-pruned", sweep, prune=True)
            oracle, where = np.inf, None
            for t in full["run"].trials():
                for s in t.snapshots:
                    l1 = score(full["run"].load(t, s["iteration"]), case)
                    if l1 < oracle:
                        oracle, where = l1, (t.number, s["iteration"])
            f_l1, p_l1 = score(full["pick"], case), score(pruned["pick"], case)
            it_f, it_p = full["summary"].trial_iterations, pruned["summary"].trial_iterations
            rows.append((name, it_f, it_p, full["seconds"], pruned["seconds"], f_l1, p_l1, oracle,
                         pruned["summary"].n_pruned, full["best"], pruned["best"], where))
            print(f"  {name}: full {it_f} it {full['seconds']:.0f} s pick L1 {f_l1 * 1e3:.3f}e-3 "
                  f"(trial {full['best'].number} it {full['best'].best_iteration}); pruned {it_p} it "
                  f"{pruned['seconds']:.0f} s pick L1 {p_l1 * 1e3:.3f}e-3 (trial {pruned['best'].number} it "
                  f"{pruned['best'].best_iteration}, {pruned['summary'].n_pruned} pruned); oracle {oracle * 1e3:.3f}e-3 "
                  f"(trial {where[0]} it {where[1]})", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| crop | full: trial-iterations | pruned: trial-iterations | ratio | full: wall (s) | pruned: wall (s) | "
          "full pick L1 (x1e-3) | pruned pick L1 (x1e-3) | pruned vs full | oracle L1 (x1e-3) | full vs oracle | "
          "pruned trials |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for name, it_f, it_p, s_f, s_p, f_l1, p_l1, oracle, n_pr, *_ in rows:
        ratio, vs_full, vs_oracle = it_p / it_f, p_l1 / f_l1 - 1, f_l1 / oracle - 1
        ok &= ratio <= 0.25 and vs_full <= 0.03 and vs_oracle <= 0.05
        print(f"| {name} | {it_f} | {it_p} | {ratio:.1%} | {s_f:.0f} | {s_p:.0f} | {f_l1 * 1e3:.3f} | "
              f"{p_l1 * 1e3:.3f} | {vs_full:+.1%} | {oracle * 1e3:.3f} | {vs_oracle:+.1%} | {n_pr} |")
    print(f"\nacceptance (pruned <= 25 % of the iterations, pick within 3 % of the full pick, full pick within "
          f"5 % of the oracle): {'holds' if ok else 'does not hold'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The default ``dip-heal fit FRAME --mask M --grid`` on a 512x512 dev crop, against one default fit.

Issue 17's wall-time target: the shipped grid (``sweeps/mve385-grid.toml``: 40 points, the default
preset's 1000 iterations, pruned by successive halving) finishes in at most 60 minutes on the
project's 2-core CPU. In one run this script

1. writes the dev case (``cases-dev.json``, by default ``fibre107``: its 512x512 crop with the
   pasted gaps, the gaps and invalid pixels as the heal mask) as a float32 TIFF and a mask TIFF;
2. runs the reference: one default fit, ``dip-heal fit FRAME --mask M``, as a user would;
3. runs the grid, ``dip-heal fit FRAME --mask M --grid`` (or ``--sweep FILE``), then
   ``dip-heal pick RUN --best``;

each as its own process (its wall time, from the call to the written frame, and its peak RSS).
It prints the trial-iterations, pruned trials, the wall time of both and their ratio, and the
scored L1 / Pearson r (normalised log intensity on the pasted-gap pixels, the dev bench's own
scoring) of the single fit, the grid's pick, and the best scored snapshot of the grid (the oracle).

Usage::

    python benchmarks/bench_grid_default.py [--case fibre107] [--sweep FILE] [--no-reference]
        [--keep DIR]

The full setting takes about an hour on the 2-core CPU (the grid 47 min at a4664d1). For a quick
check of the script itself: ``--sweep`` a small grid, e.g. two points of 50 iterations.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"


def timed(cmd: list[str], log: Path) -> tuple[float, float]:
    """Run ``cmd`` (its output into ``log``); wall seconds and the child's peak RSS in MiB."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - t0
    if proc.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise SystemExit(f"{' '.join(cmd)} failed (rc {proc.returncode}): {tail}; see {log}")
    # ru_maxrss of the children is the largest of all children so far: run the reference first
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    import tifffile

    from dip_heal.bench.cases import load_cases
    from dip_heal.bench.prepare import prepare_case
    from dip_heal.bench.score import score_healed
    from dip_heal.io import read_image
    from dip_heal.pick import open_run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="fibre107")
    ap.add_argument("--cases", type=Path, default=DATA / "cases-dev.json")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sweep", type=Path, default=None, help="sweep TOML (default: the shipped grid)")
    ap.add_argument("--no-reference", action="store_true", help="skip the single default fit")
    ap.add_argument("--keep", type=Path, default=None, help="keep the frame and run folders here")
    args = ap.parse_args(argv)
    if not args.cases.exists():
        print(f"no case file at {args.cases}; nothing to measure")
        return 0
    cases, _ = load_cases(args.cases)
    found = [c for c in cases if c.name == args.case]
    if not found:
        raise SystemExit(f"--case {args.case}: not in {args.cases}; expected one of {[c.name for c in cases]}")
    prep = prepare_case(found[0], args.data)
    work = Path(tempfile.mkdtemp(prefix="bench_grid-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-c", "from dip_heal.cli import main; main()"]

    def scored(healed: np.ndarray) -> tuple[float, float]:
        return score_healed(np.asarray(healed, np.float64), prep.truth, prep.score, prep.scale)

    try:
        frame, mask = work / f"{args.case}.tif", work / f"{args.case}_mask.tif"
        tifffile.imwrite(frame, np.where(prep.heal, -1, prep.image).astype(np.float32))
        tifffile.imwrite(mask, prep.heal.astype(np.uint8))
        print(f"{args.case}: {prep.image.shape[0]}x{prep.image.shape[1]}, {int(prep.heal.sum())} pixels to heal, "
              f"{int(prep.score.sum())} scored; load {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        if not args.no_reference:
            ref = work / "fit"
            s_ref, rss_ref = timed(exe + ["fit", str(frame), "--mask", str(mask), "--out", str(ref),
                                          "--no-progress"], work / "fit.log")
            record = json.loads((ref / "config.json").read_text())
            its = f"{record.get('stopped_at') or record['config']['num_iter']} (returned: {record['iteration']})"
            rows.append(("one default fit", s_ref, rss_ref, "", its, *scored(read_image(ref / record["healed"]).raw)))
        run = work / "grid"
        grid_cmd = exe + ["fit", str(frame), "--mask", str(mask), "--grid", "--out", str(run), "--no-progress"]
        if args.sweep is not None:
            grid_cmd += ["--sweep", str(args.sweep)]
        s_grid, rss_grid = timed(grid_cmd, work / "grid.log")
        t0 = time.perf_counter()
        timed(exe + ["pick", str(run), "--best", "--out", str(work / "pick")], work / "pick.log")
        s_grid += time.perf_counter() - t0
        sweep = open_run(run)
        trials = sweep.trials(("COMPLETE", "PRUNED"))
        best = sweep.best()
        n_pruned = sum(t.state == "PRUNED" for t in trials)
        trial_its = sum(int(t.stopped_at or (t.snapshots[-1]["iteration"] if t.snapshots else 0)) for t in trials)
        oracle, where = (np.inf, 0.0), None
        for t in trials:
            for s in t.snapshots:
                sc = scored(sweep.load(t, s["iteration"]))
                if sc[0] < oracle[0]:
                    oracle, where = sc, (t.number, s["iteration"])
        rows.append((f"grid, pick: trial {best.number} it {best.best_iteration}", s_grid, rss_grid,
                     f"{trial_its} ({n_pruned} of {len(trials)} pruned)", "", *scored(sweep.load(best, best.best_iteration))))
        rows.append((f"grid oracle: trial {where[0]} it {where[1]}", float("nan"), float("nan"), "", "", *oracle))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| run | wall (s) | peak RSS (MiB) | trial-iterations | iterations | L1 (x1e-3) / r |")
    print("|---|---|---|---|---|---|")
    for name, s, rss, ti, its, l1, r in rows:
        wall = "" if np.isnan(s) else f"{s:.0f}"
        mem = "" if np.isnan(rss) else f"{rss:.0f}"
        print(f"| {name} | {wall} | {mem} | {ti} | {its} | {l1 * 1e3:.2f} / {r:.4f} |")
    ratio = "" if args.no_reference else f"grid / one fit wall time: {s_grid / rows[0][1]:.1f}x; "
    verdict = ("not the shipped grid, no verdict" if args.sweep is not None
               else "holds" if s_grid <= 3600 else "does not hold")
    print(f"\n{ratio}the grid: {s_grid / 60:.1f} min (issue 17, the shipped grid: at most 60): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

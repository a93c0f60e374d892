"""Series mode against independent fits of every frame, measured in one run.

Cases:

- ``generated``: :func:`dip_heal.synthetic.synthetic_series`: one sample on a PILATUS 300k crop
  drifting in intensity, turning a few degrees and with a ring growing, 8 frames; healed: the
  module gaps, the beamstop and two pasted gap rows, scored against the noise-free truth in the
  gaps and the pasted rows;
- ``pilatus1m`` (when ``../shared/data`` is there): crops of the two PILATUS3 1M frames of
  ``musclex/`` (two samples on one detector) with gap rows pasted into measured pixels and scored
  against the measured counts there; a changed pattern should fall back to a full fit.

For each case every frame is fitted on its own with ``dip-heal fit``'s code
(:func:`dip_heal.runs.fit_to_run`), then the whole series with ``fit --series``
(:func:`dip_heal.runs.series.fit_series`), same configuration and machine, one after the other.
Scores: L1 and Pearson r in normalised log intensity (as ``dip-heal bench``) of the healed frame
each run folder holds.

Usage::

    python benchmarks/bench_series.py [--cases generated,pilatus1m] [--frames 8] [--shape 256]
        [--preset default] [--set key=value ...] [--policy key=value ...] [--threads N] [--out DIR]
        [--reuse-independent]
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
DATA = HERE.parent.parent / "shared" / "data"


def score(healed: np.ndarray, truth: np.ndarray, known: np.ndarray, scored: np.ndarray) -> tuple[float, float]:
    """L1 and Pearson r in normalised log intensity (scale: the log of the brightest measured pixel)."""
    scale = np.log1p(np.clip(truth[known], 0, None)).max()
    a = np.log1p(np.clip(healed[scored].astype(np.float64), 0, None)) / scale
    b = np.log1p(np.clip(truth[scored].astype(np.float64), 0, None)) / scale
    return float(np.abs(a - b).mean()), float(np.corrcoef(a, b)[0, 1])


def generated_case(n: int, shape: int, folder: Path) -> dict:
    from dip_heal.synthetic import synthetic_series

    frames = synthetic_series(n, (shape, shape), detector="Pilatus300k", kind="saxs", seed=7)
    rows = np.zeros((shape, shape), bool)
    rows[int(shape * 0.30): int(shape * 0.30) + 7, :] = True
    rows[:, int(shape * 0.65): int(shape * 0.65) + 7] = True
    heal = frames[0].gaps | frames[0].beamstop | rows
    scored = (frames[0].gaps | rows) & ~frames[0].beamstop
    paths, truths = [], []
    for k, f in enumerate(frames):
        counts = f.counts.copy()
        counts[rows] = -1  # pasted: what a gap would hide
        p = folder / f"gen_{k:02d}.npy"
        np.save(p, counts)
        paths.append(p)
        truths.append(f.truth)
    np.save(folder / "gen_mask.npy", heal)
    return {"name": "generated", "frames": paths, "mask": folder / "gen_mask.npy", "truths": truths,
            "scored": scored, "known": ~heal}


def pilatus_case(shape: int, folder: Path) -> dict | None:
    import fabio

    names = ["musclex/P1_F1_tet_1_100_005_0001.tif", "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif"]
    if not all((DATA / n).exists() for n in names):
        return None
    raws = [np.asarray(fabio.open(str(DATA / n)).data) for n in names]
    # the same crop of both: beside the beam, with modules and their gaps
    y0, x0 = 350, 250
    crops = [r[y0:y0 + shape, x0:x0 + shape].astype(np.int32) for r in raws]
    invalid = np.zeros((shape, shape), bool)
    for c in crops:
        invalid |= c < 0
    rows = np.zeros((shape, shape), bool)
    rows[int(shape * 0.55): int(shape * 0.55) + 7, :] = True
    scored = rows & ~invalid
    heal = invalid | rows
    paths, truths = [], []
    for k, c in enumerate(crops):
        truths.append(c.astype(np.float32))
        out = c.copy()
        out[rows] = -1
        p = folder / f"p1m_{k:02d}.npy"
        np.save(p, out)
        paths.append(p)
    np.save(folder / "p1m_mask.npy", heal)
    return {"name": "pilatus1m", "frames": paths, "mask": folder / "p1m_mask.npy", "truths": truths,
            "scored": scored, "known": ~heal}


def healed_of(folder: Path) -> np.ndarray:
    return np.load(next(folder.glob("healed.npy"))).astype(np.float32)


def independent_fits(case: dict, cfg, out: Path, reuse: bool) -> tuple[list[tuple], float]:
    """Every frame fitted on its own: (seconds, L1, r, iterations) per frame, and the total seconds.

    With ``reuse``, the figures an earlier run of the same configuration kept in ``out`` (its
    ``NAME_independent.json``): for trying series policies against one set of independent fits.
    The acceptance figures come from runs without it.
    """
    from dip_heal.runs import fit_to_run

    record = out / f"{case['name']}_independent.json"
    if reuse and record.exists():
        kept = json.loads(record.read_text())
        if kept["config"] == json.loads(json.dumps(cfg.to_dict())) and len(kept["frames"]) == len(case["frames"]):
            print(f"  {case['name']}: independent fits reused from {record} (an earlier run, same configuration)")
            return [tuple(f) for f in kept["frames"]], kept["seconds"]
    indep = []
    t_all = time.perf_counter()
    for k, p in enumerate(case["frames"]):
        t0 = time.perf_counter()
        s = fit_to_run(p, out / f"{case['name']}_indep_{k:02d}", cfg, mask_path=case["mask"], force=True)
        sec = time.perf_counter() - t0
        l1, r = score(healed_of(s.run_dir), case["truths"][k], case["known"], case["scored"])
        indep.append((sec, l1, r, s.iterations_run))
        print(f"  {case['name']} independent {k}: {sec:.1f} s, L1 {l1 * 1e3:.2f}e-3, r {r:.4f}, "
              f"{s.iterations_run} it", flush=True)
    t_indep = time.perf_counter() - t_all
    record.write_text(json.dumps({"config": cfg.to_dict(), "frames": indep, "seconds": t_indep}) + "\n")
    return indep, t_indep


def run_case(case: dict, cfg, out: Path, policy=None, reuse: bool = False) -> list[tuple]:
    from dip_heal.runs.series import fit_series

    indep, t_indep = independent_fits(case, cfg, out, reuse)
    t0 = time.perf_counter()
    where = out / f"{case['name']}_series"
    ser = fit_series(case["frames"], where, cfg, mask_path=case["mask"], policy=policy, force=where.exists())
    t_series = time.perf_counter() - t0
    rows = []
    for k, row in enumerate(ser.rows):
        folder = where / "frames" / f"{k:04d}_{case['frames'][k].stem}"
        l1, r = score(healed_of(folder), case["truths"][k], case["known"], case["scored"])
        si, li, ri, iti = indep[k]
        rows.append((case["name"], k, si, li, ri, iti, row["seconds"], l1, r, row["iterations"], row["start"]))
        print(f"  {case['name']} series {k}: {row['seconds']:.1f} s, L1 {l1 * 1e3:.2f}e-3 ({l1 / li:.3f}x), "
              f"{row['iterations']} it, {row['start']}", flush=True)
    print(f"  {case['name']}: independent total {t_indep:.1f} s, series total {t_series:.1f} s = "
          f"{t_series / indep[0][0]:.2f}x one independent fit of the first frame "
          f"({t_indep / t_series:.1f}x faster than all independent)", flush=True)
    rows.append((case["name"], "total", t_indep, None, None, None, t_series, None, None, None, f"{t_series / indep[0][0]:.2f}x first"))
    return rows


def main(argv: list[str] | None = None) -> int:
    import torch

    from dip_heal.config import FitConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="generated,pilatus1m")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--shape", type=int, default=256)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--set", nargs="*", default=[], help="FitConfig overrides key=value (JSON values)")
    ap.add_argument("--policy", nargs="*", default=[], help="SeriesPolicy fields key=value (JSON values)")
    ap.add_argument("--reuse-independent", action="store_true",
                    help="take the independent fits an earlier run kept in --out (same configuration)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="keep the run folders here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    changes = {}
    for it in args.set:
        k, _, v = it.partition("=")
        try:
            changes[k] = json.loads(v)
        except json.JSONDecodeError:
            changes[k] = v
    from dip_heal.runs.series import SeriesPolicy

    cfg = FitConfig.preset(args.preset, **changes)
    policy = SeriesPolicy(**{k: json.loads(v) for k, _, v in (p.partition("=") for p in args.policy)})
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_series."))
    out.mkdir(parents=True, exist_ok=True)
    print(f"preset {args.preset} {changes or ''}; {policy}; torch threads {torch.get_num_threads()}; folders in {out}")
    cases = []
    if "generated" in args.cases:
        cases.append(generated_case(args.frames, args.shape, out))
    if "pilatus1m" in args.cases:
        c = pilatus_case(args.shape, out)
        if c is None:
            print("  pilatus1m: ../shared/data absent, skipped")
        else:
            cases.append(c)
    rows = []
    for case in cases:
        rows += run_case(case, cfg, out, policy, args.reuse_independent)
    print()
    print("| case | frame | independent (s) | independent L1 (x1e-3) / r | it | series (s) | series L1 (x1e-3) / r "
          "| L1 ratio | it | start |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, k, si, li, ri, iti, ss, ls, rs, its, start in rows:
        if k == "total":
            print(f"| {name} | **total** | {si:.1f} | | | {ss:.1f} | | | | {start} |")
        else:
            print(f"| {name} | {k} | {si:.1f} | {li * 1e3:.2f} / {ri:.4f} | {iti} | {ss:.1f} | {ls * 1e3:.2f} / {rs:.4f} "
                  f"| {ls / li:.3f} | {its} | {start} |")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

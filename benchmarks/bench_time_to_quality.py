"""Time-to-quality of ``dip_heal.fit`` against the original DIP code's reference curves.

Cases: the 256x256 files of ``../shared/data/ttq/`` with a ``<case>.reference.json`` curve.
For each case:

- reference quality = the curve's final L1; reference iteration = the first curve point at or
  below it; reference time = that iteration x the seconds per iteration of the notebook-style
  loop (``_reference.py``) measured in this same run at 256x256;
- ``fit`` runs with the chosen preset; at every snapshot the output it would return then (the
  snapshot its own selection rule, ``dip_heal.dip.SnapshotSelector``, holds at that point) is
  scored; the time to quality is the fit's wall time when that output first reaches the
  reference quality.

Usage::

    python benchmarks/bench_time_to_quality.py [--preset default] [--set key=value ...] [--cases duke,...]

Prints a Markdown table and the median speed-up.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = HERE.parent.parent / "shared" / "data" / "ttq"


def score(healed: np.ndarray, case: dict) -> tuple[float, float]:
    """L1 and Pearson r in normalised log intensity on the scored pixels (ttq/README.md)."""
    image, known, score_px, truth = case["image"], case["known"], case["score"], case["truth"]
    scale = np.log1p(np.clip(image, 0, None))[known].max()
    y_hat = np.log1p(np.clip(healed, 0, None)) / scale
    y_true = np.log1p(np.clip(truth, 0, None)) / scale
    d = y_hat[score_px] - y_true[score_px]
    return float(np.abs(d).mean()), float(np.corrcoef(y_hat[score_px], y_true[score_px])[0, 1])


def parse_set(items: list[str]) -> dict:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from _reference import reference_seconds_per_iter

    from dip_heal.config import FitConfig
    from dip_heal import fit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--set", nargs="*", default=[], help="FitConfig overrides key=value (JSON values)")
    ap.add_argument("--cases", default=None, help="comma-separated case names (default: all with a curve)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--ref-seconds", type=float, default=None, help="skip measuring the reference loop")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.data.exists():
        print(f"no ttq data at {args.data}; nothing to measure")
        return 0
    cfg = FitConfig.preset(args.preset, **parse_set(args.set))
    names = sorted(p.name.split(".")[0] for p in args.data.glob("*.reference.json"))
    if args.cases:
        names = [n for n in names if n in args.cases.split(",")]
    sec_ref = args.ref_seconds or reference_seconds_per_iter((256, 256))
    print(f"reference loop: {sec_ref:.3f} s/iteration at 256x256 (torch threads {torch.get_num_threads()})")
    print(f"config: {json.dumps({k: v for k, v in cfg.to_dict().items() if v != getattr(FitConfig(), k)})}")
    rows = []
    for name in names:
        ref = json.loads((args.data / f"{name}.reference.json").read_text())
        case = dict(np.load(args.data / f"{name}.npz"))
        q_ref = ref["final"]["L1"]
        it_ref = next(i for i, l1, _ in ref["curve"] if l1 <= q_ref)
        t_ref = it_ref * sec_ref
        state = {"t_hit": None, "snaps": {}, "scoring": 0.0}

        def cb(snap, rec, case=case, q_ref=q_ref, state=state):
            # score the snapshot the fit would return if it stopped here (rec["returned"], its own rule)
            t0 = time.perf_counter()
            state["snaps"][snap.iteration] = snap
            l1, _ = score(state["snaps"][rec.get("returned", snap.iteration)].healed, case)
            if state["t_hit"] is None and l1 <= q_ref:
                state["t_hit"] = snap.seconds - state["scoring"]
            state["scoring"] += time.perf_counter() - t0

        image = np.where(case["heal"], np.nan, case["image"]).astype(np.float32)
        t0 = time.perf_counter()
        res = fit(image, case["heal"], cfg, callback=cb, keep_snapshots=False)
        total = time.perf_counter() - t0 - state["scoring"]
        l1, r = score(res.healed, case)
        hit = state["t_hit"]
        rows.append((name, q_ref, it_ref, t_ref, hit, t_ref / hit if hit else None, l1, r, res.iteration, total))
        print(f"  {name}: ref {q_ref*1e3:.2f}e-3 at it {it_ref} ({t_ref:.0f} s); ours final {l1*1e3:.2f}e-3 r {r:.4f} "
              f"(it {res.iteration}, {total:.1f} s), hit {hit if hit is None else round(hit, 1)} s", flush=True)
    print()
    print("| case | reference L1 (x1e-3) | reference iter | reference time (s) | time to reference L1 (s) | speed-up | final L1 (x1e-3) | final r | returned iter | total time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, q, it, tr, hit, sp, l1, r, rit, tot in rows:
        print(f"| {name} | {q*1e3:.2f} | {it} | {tr:.0f} | {'not reached' if hit is None else f'{hit:.1f}'} | "
              f"{'-' if sp is None else f'{sp:.1f}x'} | {l1*1e3:.2f} | {r:.4f} | {rit} | {tot:.1f} |")
    sps = [row[5] or 0.0 for row in rows]
    if sps:
        print(f"\nmedian speed-up over {len(sps)} cases: {np.median(sps):.1f}x "
              f"(not reached counts as 0); final L1 no worse than reference on "
              f"{sum(r[6] <= r[1] for r in rows)}/{len(rows)} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

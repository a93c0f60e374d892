"""The counting-noise bound of the photon-counting dev cases, against the bench's floor.

For a PILATUS-like case the scored truth is a Poisson draw the methods never saw. Given its exact
rate lambda, no predictor has a lower expected L1 (in normalised log intensity) than the median of
Poisson(lambda), and that expected L1 is ``sum_k P(k; lambda) |log1p(k) - log1p(median)| / scale``.
The rate is taken from the truth smoothed with a Gaussian of ``sigma`` px (several sigmas, to show
the bound does not hang on that choice). Printed per case beside the bench's floor
(``dip_heal.bench.floor``: the best per pixel of three truth-reading predictors), which can lie
below the bound because a per-pixel minimum over noisy predictors selects the lucky ones.

Usage::

    python benchmarks/floor_bayes.py [--cases hdpe2m,saxslab300k]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    from scipy import ndimage, stats

    from dip_heal.bench.cases import load_cases
    from dip_heal.bench.floor import noise_floor
    from dip_heal.bench.prepare import prepare_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="hdpe2m,saxslab300k")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    if not (args.data / "cases-dev.json").exists():
        print(f"no cases-dev.json under {args.data}; nothing to measure")
        return 0
    cases, _ = load_cases(args.data / "cases-dev.json")
    wanted = set(args.cases.split(","))
    print("| case | bench floor (x1e-3) | bound, sigma 1.5 | sigma 3 | sigma 6 | mean rate |")
    print("|---|---|---|---|---|---|")
    for case in cases:
        if case.name not in wanted:
            continue
        prep = prepare_case(case, args.data)
        truth = np.clip(np.nan_to_num(prep.truth), 0, None)
        valid = prep.valid.astype(np.float64)
        bounds, rate = [], 0.0
        for sigma in (1.5, 3.0, 6.0):
            lam = (ndimage.gaussian_filter(truth * valid, sigma)
                   / np.maximum(ndimage.gaussian_filter(valid, sigma), 1e-9))[prep.score]
            k = np.arange(0, int(lam.max() * 3 + 50))
            pk = stats.poisson.pmf(k[None, :], lam[:, None])
            med = stats.poisson.median(lam)
            expected = (pk * np.abs(np.log1p(k)[None, :] - np.log1p(med)[:, None])).sum(axis=1) / prep.scale
            bounds.append(1e3 * float(expected.mean()))
            rate = float(lam.mean())
        floor = noise_floor(prep.truth, prep.score, prep.valid, prep.scale, counting=prep.counting)
        print(f"| {case.name} | {1e3 * floor.l1:.2f} | " + " | ".join(f"{b:.2f}" for b in bounds) + f" | {rate:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

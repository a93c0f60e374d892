"""The azimuthal fills with the shipped PONIs against the estimated beam centre (issue 18).

Usage::

    python benchmarks/bench_poni.py [--data ../shared/data] [--cases benchmarks/cases-dev-poni.json]

Runs ``pyfai`` (pyFAI's azimuthal inpainting) and ``azimuthal`` (dip-heal's ring model as a fill)
on every case of the case file twice: with the case's ``poni`` (benchmarks/poni/*.poni, see
benchmarks/poni/README.md) and without it (the beam centre estimated from the crop by
:func:`dip_heal.beam.estimate_center`), and prints the L1 (x 1e-3, normalised log intensity on
the pasted-gap pixels, as ``dip-heal bench``) and the ratio PONI / estimate (below 1: the PONI is
better).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from dip_heal.bench.cases import load_cases
    from dip_heal.bench.prepare import prepare_case
    from dip_heal.bench.run import run_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--cases", type=Path, default=REPO / "benchmarks" / "cases-dev-poni.json")
    ap.add_argument("--methods", default="pyfai,azimuthal")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.data.is_dir():
        print(f"no data folder {args.data}", file=sys.stderr)
        return 1
    cases, rejected = load_cases(args.cases)
    for name, why in rejected:
        print(f"skipped {name}: {why}", file=sys.stderr)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    print("| case | method | L1 with the PONI (x 1e-3) | L1 with the estimated centre (x 1e-3) | ratio |")
    print("|---|---|---|---|---|")
    for case in cases:
        if case.poni is None:
            continue
        scores = {}
        for label, c in (("poni", case), ("estimate", dataclasses.replace(case, poni=None, center=None))):
            prep = prepare_case(c, args.data)
            got, _ = run_case(prep, methods, data_dir=args.data)
            scores[label] = {s.method: s.l1 for s in got}
        for m in methods:
            a, b = scores["poni"].get(m), scores["estimate"].get(m)
            if a is None or b is None:
                print(f"| {case.name} | {m} | {a} | {b} | - |")
                continue
            print(f"| {case.name} | {m} | {a * 1e3:.3f} | {b * 1e3:.3f} | {a / b:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

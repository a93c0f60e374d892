"""Does the real-pair case type rank the healing methods as the pasted-gap cases do?

A generated scene (``dip_heal.synthetic``, rings on a power-law background) is "measured" twice
with independent Poisson noise: frame A, and frame B with the detector moved by ``shift`` pixels,
both with a PILATUS 300K's module-gap row and the beamstop shadow as invalid pixels (-1/-2).
Two bench cases are built from them:

- ``pair``: A's own invalid pixels healed and scored against B's measured counts there (the
  real-pair protocol of ``dip_heal.bench``: no truth but another measurement);
- ``pasted``: frame A with PILATUS-like gaps pasted over measured pixels (the dev cases' protocol).

The script writes both frames and the case file to a temporary folder, runs ``run_bench`` with
the chosen methods on both cases and prints the table and the two rankings (best first).

Usage::

    python benchmarks/bench_pair_synthetic.py [--methods biharmonic,ns,telea,pyfai,dip] [--size 256]
        [--kinds waxs,saxs] [--seed 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np


def make_pair(folder: Path, size: int, kind: str, seed: int, shift: tuple[int, int]) -> list[dict]:
    """Write frames A and B of one generated scene and return their two bench cases."""
    from dip_heal.synthetic import synthetic_frame

    dy, dx = shift
    h = w = size
    scene = synthetic_frame((h + dy, w + dx), detector=None, kind=kind, seed=seed,
                            center=((w + dx) / 2.0 + 7.3, (h + dy) / 2.0 - 5.1), holder=True)
    gaps = synthetic_frame((h, w), detector="Pilatus300k", kind=kind, seed=seed).gaps
    rng = np.random.default_rng(seed + 1000)
    for name, (y0, x0) in (("a", (0, 0)), ("b", (dy, dx))):
        lam = scene.truth[y0:y0 + h, x0:x0 + w].astype(np.float64)
        counts = rng.poisson(np.maximum(lam, 0)).astype(np.int32)
        counts[scene.beamstop[y0:y0 + h, x0:x0 + w]] = -2  # the beamstop stays with the beam
        counts[gaps] = -1  # the module gaps move with the detector
        np.save(folder / f"{kind}_{name}.npy", counts)
    cx, cy = scene.center
    stem = f"{kind}_s{seed}"
    return [
        {"name": f"{stem}_pair", "kind": "pair", "file": f"{kind}_a.npy", "file_b": f"{kind}_b.npy",
         "shift": [dy, dx], "invalid": "negative", "center": [cx, cy]},
        {"name": f"{stem}_pasted", "file": f"{kind}_a.npy", "crop": [0, 0, h, w], "invalid": "negative",
         "seed": seed, "center": [cx, cy]},
    ]


def ranking(result, case: str) -> list[tuple[str, float]]:
    """Methods on ``case`` ordered by L1, best first."""
    rows = [(s.method, s.l1) for s in result.scores if s.case == case and s.ok]
    return sorted(rows, key=lambda t: t[1])


def main(argv: list[str] | None = None) -> int:
    from dip_heal.bench import markdown_table, run_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="biharmonic,ns,telea,pyfai,dip")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--kinds", default="waxs")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--shift", default="40,0", help="detector move dy,dx in pixels (default 40,0)")
    ap.add_argument("--out", type=Path, default=None, help="also write the bench report here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    shift = tuple(int(v) for v in args.shift.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = []
        for kind in args.kinds.split(","):
            cases += make_pair(folder, args.size, kind, args.seed, shift)  # type: ignore[arg-type]
        (folder / "cases.json").write_text(json.dumps(cases, indent=1))
        result = run_bench(folder / "cases.json", folder, args.methods.split(","), out=args.out)
    print(markdown_table(result))
    for i in range(0, len(cases), 2):
        pair, pasted = cases[i]["name"], cases[i + 1]["name"]
        rp, rq = ranking(result, pair), ranking(result, pasted)
        print(f"{pair}:   " + " < ".join(f"{m} {v * 1e3:.2f}" for m, v in rp))
        print(f"{pasted}: " + " < ".join(f"{m} {v * 1e3:.2f}" for m, v in rq))
        order_p, order_q = [m for m, _ in rp], [m for m, _ in rq]
        print(f"same ordering: {order_p == order_q}; same best method: {order_p[:1] == order_q[:1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

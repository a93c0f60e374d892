"""Train the DIP's pretrained starting weights (``FitConfig.init = 'pretrained'``) by Reptile.

Reptile (Nichol et al. 2018; the meta-learned start of MetaDIP, arXiv 2209.08452): for each task
(one frame with holes) run ``--inner`` Adam steps of the ordinary fit from the current start
``theta``, then move ``theta`` a step ``eps`` towards where the fit ended. ``eps`` decays linearly
to 0. The start is thereby one from which a few hundred steps of the usual per-image fit go far.

Tasks never use a frame that is scored (``../shared/data/cases-dev.json``, the ``ttq/`` crops of
the same frames, and ``bornagain/galaxi_data.tif.gz``, kept for a GISAXS case):

- frames the project generates (:func:`dip_heal.synthetic.synthetic_frame`: SAXS, WAXS, fibre
  both ways and GISAXS, PILATUS 300k gaps, beamstop and holder, counting noise);
- crops of the real frames listed in :data:`REAL` (when ``../shared/data`` is there);

each with its invalid pixels plus pasted gap rows and columns (7 to 17 px) as the holes.

Usage::

    python benchmarks/train_dip_init.py [--tasks 200] [--inner 25] [--size 256] [--seed 0]
        [--out dip_heal/models/dip-init-default]

Writes ``model.safetensors`` and ``card.json`` (data, seed, time, commit, settings) in ``--out``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"

#: real frames used for training (none is in cases-dev.json or ttq/)
REAL = [
    "musclex/P1_F1_tet_1_100_005_0001.tif",
    "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif",
    "pywaxs/LaB6_5.6m_12.7keV_corrected_1150.1s_x-1.601_th0.500_5.00s_1116949_maxs.tiff",
    "fabio_history/run2_1_00148.cbf.bz2",
    "sasdata/BAM_2D.h5",
]


def _real_frames() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, counts, valid) of the real training frames present."""
    from dip_heal.io import read_image

    out = []
    for rel in REAL:
        p = DATA / rel
        if not p.exists():
            continue
        f = read_image(p)
        data = np.asarray(f.data, np.float32)
        out.append((rel, data, np.asarray(f.valid, bool) & np.isfinite(data)))
    return out


def _pasted(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    holes = np.zeros(shape, bool)
    for _ in range(int(rng.integers(1, 4))):
        w = int(rng.integers(7, 18))
        if rng.random() < 0.6:
            y = int(rng.integers(0, shape[0] - w))
            holes[y: y + w, :] = True
        else:
            x = int(rng.integers(0, shape[1] - w))
            holes[:, x: x + w] = True
    return holes


def make_task(rng: np.random.Generator, size: int, real: list) -> tuple[str, np.ndarray, np.ndarray]:
    """One frame with holes: (what it is, image with NaN holes, heal mask)."""
    from dip_heal.synthetic import synthetic_frame

    if real and rng.random() < 0.5:
        name, data, valid = real[int(rng.integers(len(real)))]
        for _ in range(20):
            y0 = int(rng.integers(0, data.shape[0] - size + 1))
            x0 = int(rng.integers(0, data.shape[1] - size + 1))
            v = valid[y0:y0 + size, x0:x0 + size]
            if v.mean() > 0.7:
                break
        img = data[y0:y0 + size, x0:x0 + size].copy()
        heal = ~v | _pasted(rng, img.shape)
        what = f"{name}[{y0}:{y0 + size},{x0}:{x0 + size}]"
    else:
        kind = ["saxs", "waxs", "fibre", "gisaxs"][int(rng.integers(4))]
        axis = "horizontal" if rng.random() < 0.5 else "vertical"
        f = synthetic_frame((size, size), detector="Pilatus300k", kind=kind, seed=int(rng.integers(1 << 30)),
                            counts=float(10 ** rng.uniform(2, 5)), fibre_axis=axis)
        img = f.counts.astype(np.float32)
        heal = f.heal | _pasted(rng, img.shape)
        what = f"synthetic {kind}"
    return what, np.where(heal, np.nan, img).astype(np.float32), heal


def main(argv: list[str] | None = None) -> int:
    import torch

    from dip_heal.config import FitConfig
    from dip_heal.dip import fit
    from dip_heal.dip.pretrained import save_pretrained

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--inner", type=int, default=25, help="Adam steps per task")
    ap.add_argument("--eps", type=float, default=0.5, help="first outer step (decays linearly to 0)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=HERE.parent / "dip_heal" / "models" / "dip-init-default")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    real = _real_frames()
    default = FitConfig.preset("default")
    inner = default.replace(num_iter=args.inner, snapshot_every=args.inner, blend=False, holdout_fraction=0.0,
                            select="final", patience=0, val_tol=0.0, ema=0.0, time_limit=0.0, seed=args.seed)
    theta = None
    t0 = time.perf_counter()
    used: dict[str, int] = {}
    for k in range(args.tasks):
        what, img, heal = make_task(rng, args.size, real)
        used[what.split("[")[0]] = used.get(what.split("[")[0], 0) + 1
        res = fit(img, heal, inner.replace(seed=args.seed + k), init_state=theta)
        new = res.net_state["net"]
        eps = args.eps * (1.0 - k / args.tasks)
        if theta is None:
            theta = {"net": {n: v.clone() for n, v in new.items()}}
        else:
            for n, v in theta["net"].items():
                if v.is_floating_point():
                    v.add_(new[n] - v, alpha=eps)
                else:
                    v.copy_(new[n])
        loss = res.metrics[-1]["loss"]
        print(f"task {k + 1}/{args.tasks}: {what}, final loss {loss:.4g}, eps {eps:.3f}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "unknown"
    n_in = 2 + 3 * default.polar_input + 2 * default.mirror_input
    card = {"name": args.out.name, "method": "Reptile over masked frames (inner Adam steps of the default fit)",
            "tasks": args.tasks, "inner_steps": args.inner, "eps": args.eps, "size": args.size, "seed": args.seed,
            "data": {"real": [r for r, _, _ in real], "synthetic": "dip_heal.synthetic (saxs, waxs, fibre, gisaxs)",
                     "tasks_by_source": used},
            "excluded": "cases-dev.json frames, ttq crops, bornagain/galaxi_data.tif.gz",
            "seconds": round(seconds, 1), "torch_threads": torch.get_num_threads(), "commit": commit,
            "script": "benchmarks/train_dip_init.py"}
    save_pretrained(args.out, theta["net"], default, n_in, card)
    print(f"wrote {args.out} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

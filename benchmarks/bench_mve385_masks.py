"""The automatic mask of the MVE385 renders against the seed project's own hand-made masks.

For each of the seven colour-map renders in ``../shared/data/mve385/`` (``NAME.png`` with the
seed's ``NAME_mask.png``, 0 = masked), ``dip-heal mask NAME.png`` is built twice, with the
defaults and with ``--auto-holder``, and compared with the seed's mask on the full render's
coordinates (the mask is written in those; the image area is only where the finders look):

- IoU with the seed's mask;
- gap-stripe coverage: the seed's gap stripes are its rows and columns masked across the whole
  image area; the share of their pixels we mask, counting the figure frame pixels the seed also
  painted (which we never mask) and, in brackets, counting only the image area;
- frame pixels masked: pixels we mark to heal that are not data (figure frame, axes, tick marks).
  The overlay of the layers is written to ``--out`` when given.

Run ``python benchmarks/bench_mve385_masks.py`` (a few seconds per render on 2 cores); it prints a
Markdown table, and skips (exit 0) when ``../shared/data/mve385`` is absent.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DIP_HEAL_SHARED_DATA", REPO.parent / "shared" / "data")) / "mve385"
NAMES = ("HDPE_85_low", "MD2_MV_bulk_2", "MD2_MV_bulk_3", "MD2_MV_edge_2", "MD2_MV_edge_3", "MD2_MV_shear_2",
         "MD2_MV_shear_3")


def seed_mask(path: Path) -> np.ndarray:
    """The seed's mask, True = masked (its PNG: 0 = masked)."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("L"))
    return a <= 127


def score(ours: np.ndarray, seed: np.ndarray, data: np.ndarray, area: tuple[int, int, int, int]) -> dict[str, float]:
    """IoU, gap-stripe coverage (all / image area) and not-data pixels masked."""
    r0, r1, c0, c1 = area
    inner = np.zeros(seed.shape, bool)
    inner[r0 : r1 + 1, c0 : c1 + 1] = True
    rows = np.flatnonzero((seed | ~inner)[r0 : r1 + 1].all(axis=1)) + r0  # masked across the image area
    cols = np.flatnonzero((seed | ~inner)[:, c0 : c1 + 1].all(axis=0)) + c0
    stripes = np.zeros(seed.shape, bool)
    stripes[rows, :] = True
    stripes[:, cols] = True
    stripes &= seed
    return {
        "iou": float((ours & seed).sum() / max(1, (ours | seed).sum())),
        "cover": float((ours & stripes).sum() / max(1, stripes.sum())),
        "cover_area": float((ours & stripes & inner).sum() / max(1, (stripes & inner).sum())),
        "frame": int((ours & ~data).sum()),
        "n_ours": int(ours.sum()),
        "n_seed": int(seed.sum()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="folder for the overlays (default: none written)")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent")
        return 0
    logging.basicConfig(level=logging.ERROR)
    from dip_heal.io import read_image
    from dip_heal.masks import CAUSES, MaskSpec, build_mask_layers, write_overlay

    rows = []
    for name in NAMES:
        png, ref = DATA / f"{name}.png", DATA / f"{name}_mask.png"
        if not png.exists() or not ref.exists():
            continue
        seed = seed_mask(ref)
        out = {}
        for label, spec in (("default", MaskSpec()), ("auto_holder", MaskSpec(holder="auto"))):
            t0 = time.perf_counter()
            frame = read_image(png)
            layers = build_mask_layers(frame, spec)
            ours = np.zeros(frame.shape, bool)
            for k in CAUSES:
                ours |= layers[k]
            out[label] = score(ours, seed, frame.valid, frame.meta["render"]["area"])
            out[label]["seconds"] = time.perf_counter() - t0
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                write_overlay(args.out / f"{name}.{label}.overlay.png", frame.data, layers, frame.valid)
        out["colormap"] = frame.meta["render"]["colormap"]
        rows.append((name, out))
    if not rows:
        print(f"skipped: no render with its seed mask in {DATA}")
        return 0
    print("| render | map | seed px | IoU (defaults) | IoU (--auto-holder) | gap-stripe pixels covered "
          "(image area) | frame pixels masked | s (both masks) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, o in rows:
        d, h = o["default"], o["auto_holder"]
        print(f"| {name} | {o['colormap']} | {d['n_seed']} | {d['iou']:.3f} | {h['iou']:.3f} | "
              f"{100 * d['cover']:.1f} % ({100 * d['cover_area']:.1f} %) | {max(d['frame'], h['frame'])} | "
              f"{d['seconds'] + h['seconds']:.1f} |")
    print(f"\nlowest IoU: {min(o['default']['iou'] for _, o in rows):.3f} with the defaults, "
          f"{min(o['auto_holder']['iou'] for _, o in rows):.3f} with --auto-holder")
    return 0


if __name__ == "__main__":
    sys.exit(main())

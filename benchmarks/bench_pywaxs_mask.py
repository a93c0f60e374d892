"""dip-heal's default mask of pyWAXS's LaB6 frame against pyWAXS's own beamline mask.

Usage::

    python benchmarks/bench_pywaxs_mask.py

Prints agreement, IoU, false positives (masked by dip-heal, not by pyWAXS) and missed pixels for
the default mask and with ``--hot-pixels``; then what the missed pixels are: their counts, and
whether pyWAXS masks *every* measured pixel at those counts (a global threshold) and whether such
counts are improbable against their neighbours (the Poisson share expected at the local level).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "pywaxs"
FRAME = DATA / "LaB6_5.6m_12.7keV_corrected_1150.1s_x-1.601_th0.500_5.00s_1116949_maxs.tiff"
MASK = DATA / "LaB6_SRM660c_Calib_Mask.edf"


def main() -> int:
    import fabio
    from scipy import ndimage, stats

    from dip_heal.io import read_image
    from dip_heal.masks import MaskSpec, build_mask, build_mask_layers

    if not FRAME.exists():
        print("../shared/data/pywaxs absent")
        return 0
    fr = read_image(FRAME)
    ref = fabio.open(str(MASK)).data.astype(bool)
    print("| mask | agreement | IoU | false positives | missed |")
    print("|---|---|---|---|---|")
    for name, spec in (("default", MaskSpec()), ("--hot-pixels", MaskSpec(hot_pixels=True))):
        m = build_mask(fr, spec)
        print(f"| {name} | {100 * (m == ref).mean():.3f} % | {(m & ref).sum() / (m | ref).sum():.4f} | "
              f"{int((m & ~ref).sum())} | {int((~m & ref).sum())} |")
    layers = build_mask_layers(fr, MaskSpec())
    ours = np.zeros(fr.shape, bool)
    for v in layers.values():
        ours |= v
    measured = ~ours & np.isfinite(fr.data)
    a = np.asarray(fr.raw, np.float64)
    miss = ref & ~ours
    vals, counts = np.unique(a[miss], return_counts=True)
    print("\nmissed pixels by count: " + ", ".join(f"{int(v)}: {c}" for v, c in zip(vals, counts)))
    low = measured & (a <= 1)
    print(f"measured pixels with counts <= 1: {int(low.sum())}, of which pyWAXS masks {int((low & ref).sum())}; "
          f"measured pixels with counts >= 2 pyWAXS masks: {int((measured & (a >= 2) & ref).sum())}")
    # the level about them: mean of the valid pixels in the 7 x 7 neighbourhood
    w = measured.astype(float)
    lam = ndimage.uniform_filter(np.where(measured, a, 0), 7) / np.maximum(ndimage.uniform_filter(w, 7), 1e-9)
    lm = lam[low]
    print(f"their neighbourhood level (7 x 7 mean): median {np.median(lm):.1f}, 90th percentile "
          f"{np.percentile(lm, 90):.1f} counts")
    expected = float((stats.poisson.cdf(1, lam[measured])).sum())
    print(f"counts <= 1 expected from Poisson statistics at the local level over all measured pixels: "
          f"{expected:.0f} (found {int(low.sum())})")
    col = miss[:, 486]
    print(f"column 486 (beside the dead module, rows {np.flatnonzero(col).min()}-{np.flatnonzero(col).max()}): "
          f"{int(col.sum())} missed, mean count {a[col, 486].mean():.2f} against "
          f"{a[col, 482:485][measured[col, 482:485]].mean():.1f} in columns 482-484")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The reference beam centres of the real frames in ``../shared/data`` (``benchmarks/centres.json``).

Usage::

    python benchmarks/reference_centres.py [--write]

Every frame with rings or a beamstop gets a centre found by a careful, frame-specific method,
independent of :func:`dip_heal.beam.estimate_center`:

- ``rings``: points on one or more hand-chosen rings (the peak of the smoothed log image along
  720 rays from a hand-picked hint, inside a hand-chosen radius window), a circle fitted to each
  ring (algebraic fit, 3-sigma outlier rejection, then a geometric least-squares fit), the
  centres averaged (weights 1/sigma^2), iterated three times from the new centre;
- ``beamstop``: a circle fitted to the edge of the dark beamstop shadow at the hint (the
  shadow's edge pixels at the half level between its floor and its rim; the holder arm's edge
  pixels dropped by the robust fit);
- ``concentric``: for dense spotty rings seen on one side, the centre of best ring concentricity
  (band-passed radial-profile variance) in an annulus;
- ``radial``: for weak isotropic SAXS, the centre of best radial-profile fit of the smooth image;
- ``symmetry``: for patterns with neither rings nor a round shadow, the point of best 180-degree
  symmetry of the smoothed log image at full resolution in a window about the hint, with the
  beamstop and the pixels outside the active area excluded.

The hints and radius windows were read off log-scaled views of each frame; the fitted circles
were checked on those views. ``uncertainty_px`` is the spread of the per-ring centres (or the
fit's standard error with one ring). Only the hints are hand-made; the centres are fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks" / "centres.json"

#: frame -> (method, hint (x, y), radius windows for ``rings``, note)
FRAMES: dict[str, tuple[str, tuple[float, float], list[tuple[float, float]], str]] = {
    "mve385/HDPE_85_low.counts.tif": ("rings", (716, 690), [(338, 362), (386, 410), (494, 518), (609, 633)],
                                      "PILATUS 2M WAXS, HDPE arcs; the beamstop sits ~25 px from the ring centre; "
                                      "hint from the arcs' crossings of column 720 and row 680"),
    "musclex/P1_F1_tet_1_100_005_0001.tif": ("beamstop", (416, 515), [], "PILATUS3 1M fibre"),
    "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif": ("rings", (303, 530), [(140, 160), (215, 240)],
                                                                "PILATUS3 1M, two broad rings"),
    "musclex/107.tif": ("beamstop", (489, 567), [(0, 60)], "CCD fibre; symmetry gives (489.5, 566.5)"),
    "bioxtasraw/saxslab_image.tiff": ("rings", (267, 359), [(63, 83), (138, 158), (212, 232)],
                                      "PILATUS3 300K, AgBeh-like rings"),
    "bioxtasraw/GI2_A9_19_001_0000.tiff": ("radial", (483, 93), [(-60, 200), (-50, 50)], "PILATUS 100K weak SAXS; stop at the edge"),
    "fabio_history/corkcont2_H_0089.mccd.bz2": ("symmetry", (1021, 1040), [(0, 600)],
                                                "MarCCD anisotropic SAXS (cork); hint from a coarse search; the shadow's "
                                                "own centre is ~(1003, 1040) and whole-frame symmetry "
                                                "(FFT, overlap >= 50 %) gives (1009, 1041.5): +-10 px"),
    "fabio_history/F2K_Seb_Lyso0675.edf.bz2": ("concentric", (1895, 910), [],
                                              "FReLoN 2K powder rings, centre near the right edge, ~80 px left of "
                                              "the beamstop's centre; ray-peak circle fits follow any hint here"),
    "fabio_history/Cr8F8140k103.0026.bz2": ("rings", (260, 265), [(20, 40), (66, 86)], "Bruker diffuse rings"),
    "fabio_history/run2_1_00148.cbf.bz2": ("beamstop", (1320, 1302), [(0, 25)], "PILATUS 6M MX; the CBF header's Beam_xy (1230.1, 1310.5) "
                                           "is ~90 px from the visible shadow (a stale header)"),
    "dials_data_files/DLS_I03_smargon_0001.cbf.gz": ("beamstop", (1226, 1202), [(0, 25)], "PILATUS 6M MX, very weak; the CBF header's "
                                                      "Beam_xy (1229.3, 1200.5) agrees within 3 px"),
    "scikit_beam_examples/duke_img.npy": ("rings", (141, 134), [(15, 35), (38, 58)], "colloid SAXS rings"),
    "sasdata/BAM_2D.h5": ("radial", (510, 405), [(-20, 20), (-20, 20)],
                          "EIGER 1M SAXS (reduced); its beamstop is in the file's Imask"),
    "pywaxs/LaB6_5.6m_12.7keV_corrected_1150.1s_x-1.601_th0.500_5.00s_1116949_maxs.tiff": (
        "rings", (575.5, 653.8), [(314, 338), (459, 483), (578, 602), (686, 710), (789, 813)],
        "PILATUS 1M LaB6; hint from a first fit of the 471-px ring"),
}


def load(rel: str) -> tuple[np.ndarray, np.ndarray]:
    """The frame's counts and its measured pixels (gaps, sentinels, file masks, stripes and the
    zero border outside a round active area excluded), as dip-heal's mask layers find them."""
    from dip_heal.io import read_image
    from dip_heal.masks import MaskSpec, build_mask_layers

    fr = read_image(DATA / rel)
    layers = build_mask_layers(fr, MaskSpec(beamstop="none", holder="none"))
    bad = layers["ignore"].copy()
    for k in ("gaps", "sentinel", "file_mask", "stripes"):
        bad |= layers[k]
    a = np.asarray(fr.data, float)
    valid = np.isfinite(a) & ~bad
    if rel.endswith("duke_img.npy"):
        valid &= a > 0  # masked with 0 by its authors
    return a, valid


def smooth_log(a: np.ndarray, valid: np.ndarray, s: float) -> np.ndarray:
    from scipy import ndimage

    f = np.log1p(np.clip(np.where(valid, a, 0), 0, None))
    w = valid.astype(float)
    num, den = ndimage.gaussian_filter(f * w, s), ndimage.gaussian_filter(w, s)
    return np.where(den > 0.2, num / np.maximum(den, 1e-9), 0.0)


def _bin(a: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k x k block mean of ``a`` over ``w`` and the blocks' valid fraction."""
    m, n = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    aw = (a[:m, :n] * w[:m, :n]).reshape(m // k, k, n // k, k).sum(axis=(1, 3))
    ww = w[:m, :n].reshape(m // k, k, n // k, k).sum(axis=(1, 3))
    return np.divide(aw, ww, out=np.zeros_like(aw, dtype=float), where=ww > 0), ww / (k * k)


def ring_points(f: np.ndarray, valid: np.ndarray, c: tuple[float, float], lo: float, hi: float) -> np.ndarray:
    """(x, y) of the ring's peak along 720 rays from ``c`` between radii ``lo`` and ``hi``."""
    from scipy import ndimage

    rr = np.arange(lo, hi, 0.5)
    M, N = f.shape
    pts = []
    for th in np.linspace(0, 2 * np.pi, 720, endpoint=False):
        x, y = c[0] + rr * np.cos(th), c[1] + rr * np.sin(th)
        inb = (x >= 0) & (x <= N - 1) & (y >= 0) & (y <= M - 1)
        xi, yi = np.rint(x).astype(int).clip(0, N - 1), np.rint(y).astype(int).clip(0, M - 1)
        v = inb & valid[yi, xi]
        if v.mean() < 0.6:
            continue
        vals = np.where(v, ndimage.map_coordinates(f, [y.clip(0, M - 1), x.clip(0, N - 1)], order=1), np.nan)
        i = int(np.nanargmax(vals))
        if i < 2 or i > len(rr) - 3 or not np.isfinite(vals[i - 2 : i + 3]).all():
            continue
        base = np.nanpercentile(vals, 20)
        if vals[i] - base < 0.3 * (np.nanmax(vals) - np.nanmin(vals)):
            continue
        w = np.clip(vals[i - 2 : i + 3] - base, 0, None)
        rp = float((rr[i - 2 : i + 3] * w).sum() / w.sum())
        pts.append((c[0] + rp * np.cos(th), c[1] + rp * np.sin(th)))
    return np.array(pts).reshape(-1, 2)


def fit_circle(pts: np.ndarray) -> tuple[float, float, float, float, float]:
    """Robust circle fit: (cx, cy, R, standard error of the centre, rms residual)."""
    from scipy import optimize

    x, y = pts[:, 0], pts[:, 1]
    keep = np.ones(len(x), bool)
    for _ in range(5):
        A = np.c_[2 * x[keep], 2 * y[keep], np.ones(keep.sum())]
        (cx, cy, k), *_ = np.linalg.lstsq(A, x[keep] ** 2 + y[keep] ** 2, rcond=None)
        R = np.sqrt(k + cx * cx + cy * cy)
        res = np.hypot(x - cx, y - cy) - R
        keep = np.abs(res) < max(3 * 1.4826 * np.median(np.abs(res[keep])), 0.5)

    def resid(p: np.ndarray) -> np.ndarray:
        return np.hypot(x[keep] - p[0], y[keep] - p[1]) - p[2]

    sol = optimize.least_squares(resid, [cx, cy, R])
    r = resid(sol.x)
    cov = np.linalg.pinv(sol.jac.T @ sol.jac) * (r**2).sum() / max(keep.sum() - 3, 1)
    return float(sol.x[0]), float(sol.x[1]), float(sol.x[2]), float(np.sqrt(cov[0, 0] + cov[1, 1])), float(r.std())


def by_rings(a, valid, hint, windows):
    f = smooth_log(a, valid, 1.5)
    c = hint
    for _ in range(3):
        fits = [fit for lo, hi in windows if len(p := ring_points(f, valid, c, lo, hi)) >= 20
                and lo - 5 <= (fit := fit_circle(p))[2] <= hi + 5]  # a circle of another radius: a wrong fit
        if not fits:
            raise RuntimeError(f"no ring points about {c}")
        F = np.array(fits)
        w = 1 / np.maximum(F[:, 3], 0.05) ** 2
        c = (float((F[:, 0] * w).sum() / w.sum()), float((F[:, 1] * w).sum() / w.sum()))
    unc = float(np.hypot(F[:, 0].std(), F[:, 1].std())) if len(F) > 1 else float(F[0, 3])
    detail = "; ".join(f"R={R:.0f}: ({x:.1f}, {y:.1f}) rms {rs:.1f}" for x, y, R, _, rs in F)
    return c, max(unc, float(np.min(F[:, 3]))), detail


def by_beamstop(a, valid, hint, rmax):
    """Circle fitted to the shadow's edge: pixels at the half level between floor and rim, within
    ``rmax`` of the hint."""
    from scipy import ndimage

    f = smooth_log(a, valid, 2.0)
    x0, y0 = int(round(hint[0])), int(round(hint[1]))
    r = np.hypot(*np.mgrid[-y0 : a.shape[0] - y0, -x0 : a.shape[1] - x0])
    floor = float(np.median(f[(r < 4) & valid]))
    rim = float(np.percentile(f[(r < rmax) & valid], 90))
    dark = (f < 0.5 * (floor + rim)) & valid & (r < rmax)
    lab, _ = ndimage.label(dark)
    comp = lab == lab[y0, x0] if lab[y0, x0] else None
    if comp is None:
        raise RuntimeError("no shadow at the hint")
    edge = comp & ~ndimage.binary_erosion(comp) & (r < rmax - 2)
    # only edge pixels next to measured, bright pixels (not the frame edge, not a gap)
    edge &= ndimage.binary_dilation(valid & ~dark, iterations=2)
    ys, xs = np.nonzero(edge)
    cx, cy, R, se, rs = fit_circle(np.c_[xs, ys].astype(float))
    return (cx, cy), max(se, rs / np.sqrt(len(xs))), f"shadow radius {R:.1f}, rms {rs:.1f}, {len(xs)} edge px"


def by_symmetry(a, valid, hint, radius=600, search=120, k=4):
    """Best 180-degree symmetry of the smoothed log image about each candidate centre within
    ``search`` px of the hint, compared over the same disk of ``radius`` px for every candidate
    (binned by ``k``, the shadow and the ignored pixels excluded; candidates every k/2 px)."""
    cb, wb = _bin(np.where(valid, np.clip(a, 0, None), 0), valid.astype(float), k)
    vb = wb > 0.5
    f = np.log1p(cb)
    hx, hy = hint[0] / k, hint[1] / k
    yy, xx = np.mgrid[0 : f.shape[0], 0 : f.shape[1]]
    vb &= ~((np.hypot(xx - hx, yy - hy) < 40 * 4 / k) & (f < np.median(f[vb]) - 1.0))
    R, S = radius / k, search / k
    best = (np.inf, None)
    for py in np.arange(round(2 * (hy - S)), round(2 * (hy + S)) + 1):
        for px in np.arange(round(2 * (hx - S)), round(2 * (hx + S)) + 1):
            cx, cy = px / 2, py / 2
            m = (np.hypot(xx - cx, yy - cy) < R) & vb
            ry, rx = (py - yy).astype(int), (px - xx).astype(int)
            inb = (ry >= 0) & (ry < f.shape[0]) & (rx >= 0) & (rx < f.shape[1])
            m &= inb
            m[m] &= vb[ry[m], rx[m]]
            if m.sum() < 0.5 * np.pi * R * R:
                continue
            u, w = f[m], f[ry[m], rx[m]]
            d = 1 - np.corrcoef(u, w)[0, 1]
            if d < best[0]:
                best = (d, (cx, cy))
    cx, cy = best[1]
    return (cx * k + (k - 1) / 2, cy * k + (k - 1) / 2), k / 2, (f"disk of {radius} px, binned {k}, "
                                                                 f"1 - r = {best[0]:.4f}")


def by_radial(a, valid, hint, search=(-60, 200, -50, 50)):
    """For weak isotropic SAXS (no ring, a stop cut by the edge): the centre about which a radial
    profile explains the most variance of the smoothed log image (a grid every 2 px over
    ``hint + search``, then every 0.5 px about the best), the shadow excluded."""
    f = smooth_log(a, valid, 3.0)
    v = valid & (f > np.percentile(f[valid], 5))
    yy, xx = np.nonzero(v)
    vals = f[yy, xx]
    tot = ((vals - vals.mean()) ** 2).sum()

    def score(cx, cy):
        b = np.rint(np.hypot(xx - cx, yy - cy)).astype(int)
        n = np.bincount(b)
        m = np.bincount(b, vals) / np.maximum(n, 1)
        return ((vals - m[b]) ** 2).sum() / tot

    x0, x1, y0, y1 = search
    grid = [(score(hint[0] + dx, hint[1] + dy), hint[0] + dx, hint[1] + dy)
            for dx in np.arange(x0, x1 + 1, 2.0) for dy in np.arange(y0, y1 + 1, 2.0)]
    _, bx, by = min(grid)
    fine = [(score(bx + dx, by + dy), bx + dx, by + dy) for dx in np.arange(-2, 2.1, 0.5) for dy in np.arange(-2, 2.1, 0.5)]
    s, bx, by = min(fine)
    return (float(bx), float(by)), 3.0, f"unexplained variance {s:.3f}"


def by_concentric(a, valid, hint, annulus=(250, 800), search=60, k=2):
    """For dense, spotty rings seen on one side only (where ray peaks jump between neighbouring
    rings): the centre about which a radial profile (half-binned-pixel bins) explains most of the
    variance of the band-passed log image (sigma 0.7 minus sigma 4 binned px) in ``annulus``,
    on a grid every 3 px within ``search`` px of the hint, then every 0.5 px; the frame's dark
    offset subtracted, binned by ``k``. The spread of the centres found in three annuli
    (250-500, 500-800, 800-1200 px) is the uncertainty (the rings are not exactly concentric:
    detector tilt)."""
    from scipy import ndimage

    from dip_heal.beam import background_level

    off = background_level(a, valid)
    cb, wb = _bin(np.where(valid, np.clip(a - off, 0, None), 0), valid.astype(float), k)
    vb = wb > 0.99
    f, w = np.log1p(cb), vb.astype(float)

    def sm(g, s):
        return ndimage.gaussian_filter(g * w, s) / np.maximum(ndimage.gaussian_filter(w, s), 1e-6)

    hp = sm(f, 0.7) - sm(f, 4)
    yy, xx = np.nonzero(vb)

    def score(cx, cy, lo, hi):
        r = np.hypot(xx - (cx - (k - 1) / 2) / k, yy - (cy - (k - 1) / 2) / k)
        m = (r > lo / k) & (r < hi / k)
        b, vals = (r[m] * 2).astype(int), hp[yy[m], xx[m]]
        n, s = np.bincount(b), np.bincount(b, vals)
        return ((s * s / np.maximum(n, 1)).sum() - vals.sum() ** 2 / vals.size) / ((vals - vals.mean()) ** 2).sum()

    def best(c, half, step, lo, hi):
        return max((score(x, y, lo, hi), x, y) for x in np.arange(c[0] - half, c[0] + half + 0.01, step)
                   for y in np.arange(c[1] - half, c[1] + half + 0.01, step))

    s0, x, y = best(hint, search, 3.0, *annulus)
    s1, x, y = best((x, y), 3.0, 0.5, *annulus)
    parts = [best((x, y), 12.0, 1.0, lo, hi)[1:] for lo, hi in ((250, 500), (500, 800), (800, 1200))]
    P = np.array(parts)
    unc = float(np.hypot(*P.std(axis=0)))
    detail = f"explained {s1:.3f}; by annulus " + ", ".join(f"({px:.0f}, {py:.0f})" for px, py in parts)
    return (float(x), float(y)), unc, detail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(REPO)}")
    args = ap.parse_args(argv)
    rows = []
    for rel, (method, hint, windows, note) in FRAMES.items():
        if not (DATA / rel).exists():
            print(f"skip {rel} (absent)", file=sys.stderr)
            continue
        a, valid = load(rel)
        if method == "rings":
            c, unc, detail = by_rings(a, valid, hint, windows)
        elif method == "beamstop":
            c, unc, detail = by_beamstop(a, valid, hint, windows[0][1] if windows else 80)
        elif method == "concentric":
            c, unc, detail = by_concentric(a, valid, hint)
        elif method == "radial":
            c, unc, detail = by_radial(a, valid, hint, (*windows[0], *windows[1]))
        else:
            c, unc, detail = by_symmetry(a, valid, hint, radius=windows[0][1], search=24, k=4)
        M, N = a.shape
        on = bool(0 <= c[0] <= N - 1 and 0 <= c[1] <= M - 1)
        rows.append({"frame": rel, "shape": [M, N], "x": round(c[0], 2), "y": round(c[1], 2),
                     "uncertainty_px": round(unc, 2), "method": method, "hint": list(hint),
                     "detail": detail, "on_detector": on, "note": note})
        print(f"| {rel} | {c[0]:.1f} | {c[1]:.1f} | {unc:.2f} | {method} | {detail} |")
    if args.write:
        OUT.write_text(json.dumps({"about": "reference beam centres (x = column, y = row, pixels; pixel centres "
                                   "at integers); benchmarks/reference_centres.py", "frames": rows}, indent=1) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

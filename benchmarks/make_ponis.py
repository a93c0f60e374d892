"""PONI files for the dev frames whose geometry the frames themselves establish (issue 18).

Usage::

    python benchmarks/make_ponis.py [--write]

None of these frames comes with a calibration (no ``.poni``, no calibrant named in
``../shared/data/SOURCES.md`` or in the headers), so the beam centre is found by a ring fit:

1. points on hand-chosen rings: from a hint, the peak of the smoothed log image (masked
   Gaussian, sigma 1.5 px) along 720 rays inside each ring's radius window, refined to a
   sub-pixel peak by a parabola through the three samples about the maximum, kept where the
   maximum lies inside the window (above both its ends) on measured pixels; the rings are the
   most prominent peaks of the radial profile of the high-passed log image (the smoothed log
   minus its sigma-8 background) in a hand-chosen radius range;
2. a least-squares fit of concentric circles (one centre, one radius per ring; scipy's
   ``least_squares`` with a soft-L1 loss), then the points more than 3 robust sigmas off their
   circle dropped and the fit redone;
3. steps 1-2 repeated three times from the new centre;
4. the tilt checked: an ellipse with a free axis ratio and orientation, fitted to each ring, has
   an axis ratio within ``1 +- 2e-3`` of a circle on all three frames, so the PONIs are written
   untilted.

The PONI is written with pyFAI (``AzimuthalIntegrator.setFit2D``) on a generic detector of the
frame's shape. Distance, pixel size and wavelength are **nominal** (0.1 m, 100 um, 1 A): with
no calibrant they cannot be established from the frame, and for an untilted detector they do not
change 2theta's ordering of the pixels, hence not the azimuthal model dip-heal builds (its radius
is ``distance * tan(2theta) / pixel``, the pixel distance from the beam). The table printed
gives the centre, its uncertainty (the spread of the per-ring centres), the points used and the
fit's RMS residual.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "benchmarks" / "poni"

#: name -> (frame, hint (x, y), radius range searched for rings (px), rings used, half width of a
#: ring's window (px), smoothing sigma (px), note). Hints read off log-scaled views of each frame
#: (as benchmarks/reference_centres.py's); the rings are the most prominent peaks of the radial
#: profile of the high-passed log image in the range, found again about every new centre.
FRAMES: dict[str, tuple[str, tuple[float, float], tuple[float, float], int, float, float, str]] = {
    "f2k_rings": ("fabio_history/F2K_Seb_Lyso0675.edf.bz2", (1895.0, 910.0), (300, 1100), 8, 5.0, 1.5,
                  "FReLoN 2K (ESRF ID11, 2005) powder rings, centre near the right edge"),
    "cr8f8": ("fabio_history/Cr8F8140k103.0026.bz2", (260.0, 265.0), (15, 120), 2, 10.0, 2.5,
              "Bruker 512x512, two diffuse rings"),
    "duke": ("scikit_beam_examples/duke_img.npy", (141.0, 134.0), (15, 80), 4, 4.0, 1.0,
             "colloid SAXS rings (scikit-beam example)"),
}

NOMINAL_DISTANCE_M = 0.1
NOMINAL_PIXEL_M = 100e-6
NOMINAL_WAVELENGTH_M = 1e-10


def load(rel: str) -> tuple[np.ndarray, np.ndarray]:
    """The frame's counts and its measured pixels (dip-heal's mask layers, beamstop and holder off)."""
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


def smoothed_log(a: np.ndarray, valid: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Masked Gaussian smoothing of log1p(counts) (normalised by the smoothed weights)."""
    from scipy import ndimage

    lg = np.where(valid, np.log1p(np.clip(a, 0, None)), 0.0)
    w = ndimage.gaussian_filter(valid.astype(float), sigma)
    return ndimage.gaussian_filter(lg, sigma) / np.maximum(w, 1e-6)


def high_pass(a: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """The smoothed log image minus its broad background (sigma 8 px): rings stand out of the slope."""
    return smoothed_log(a, valid, sigma) - smoothed_log(a, valid, 8.0)


def ring_windows(img: np.ndarray, valid: np.ndarray, center: tuple[float, float], rng: tuple[float, float],
                 n_rings: int, half: float) -> list[tuple[float, float]]:
    """Windows about the ``n_rings`` most prominent peaks of the radial profile of ``img`` in ``rng``."""
    from scipy.signal import find_peaks

    yy, xx = np.nonzero(valid)
    r = np.hypot(xx - center[0], yy - center[1])
    rb = np.rint(r).astype(int)
    cnt = np.bincount(rb)
    prof = np.bincount(rb, weights=img[valid]) / np.maximum(cnt, 1)
    lo, hi = int(rng[0]), min(int(rng[1]), len(prof) - 1)
    seg = prof[lo:hi]
    ok = cnt[lo:hi] > 20
    seg = np.where(ok, seg, np.nan)
    seg = np.nan_to_num(seg, nan=float(np.nanmedian(seg)))
    peaks, props = find_peaks(seg, prominence=0, distance=int(2 * half))
    best = peaks[np.argsort(props["prominences"])[::-1][:n_rings]] + lo
    return [(float(p - half), float(p + half)) for p in sorted(best)]


def ring_points(img: np.ndarray, valid: np.ndarray, center: tuple[float, float], window: tuple[float, float],
                n_rays: int = 720, step: float = 0.25) -> np.ndarray:
    """(x, y) of the ring's peak along each ray from ``center`` inside ``window`` (N, 2)."""
    from scipy import ndimage

    cx, cy = center
    radii = np.arange(window[0], window[1] + step, step)
    phi = np.linspace(-np.pi, np.pi, n_rays, endpoint=False)
    xs = cx + radii[None, :] * np.cos(phi)[:, None]
    ys = cy + radii[None, :] * np.sin(phi)[:, None]
    m, n = img.shape
    inside = (xs >= 0) & (xs <= n - 1) & (ys >= 0) & (ys <= m - 1)
    prof = ndimage.map_coordinates(img, [ys, xs], order=1, mode="nearest")
    ok = ndimage.map_coordinates(valid.astype(float), [ys, xs], order=1, mode="nearest") > 0.99
    use = inside & ok
    good_ray = use.mean(axis=1) >= 0.7  # most of the window measured (gaps, beamstop arm)
    pts = []
    for i in np.flatnonzero(good_ray):
        p = np.where(use[i], prof[i], -np.inf)
        k = int(np.argmax(p))
        if k == 0 or k == len(p) - 1 or not np.isfinite(p[k - 1: k + 2]).all():
            continue  # the maximum at the window's edge or beside a gap: no clean ring peak on this ray
        ends = p[np.isfinite(p)][[0, -1]]
        if p[k] <= ends.max():
            continue  # not a peak inside the window
        a, b, c = p[k - 1], p[k], p[k + 1]
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if den < 0 else 0.0
        r = radii[k] + off * step
        pts.append((cx + r * np.cos(phi[i]), cy + r * np.sin(phi[i])))
    return np.asarray(pts, float).reshape(-1, 2)


def fit_circles(rings: list[np.ndarray], center: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, float, list]:
    """Concentric circles: centre, radii, RMS residual and the points kept per ring."""
    from scipy.optimize import least_squares

    keep = [np.ones(len(p), bool) for p in rings]
    for _ in range(2):
        def resid(q: np.ndarray) -> np.ndarray:
            c = q[:2]
            return np.concatenate([np.hypot(*(p[k] - c).T) - q[2 + j] for j, (p, k) in enumerate(zip(rings, keep))])

        r0 = [float(np.median(np.hypot(*(p - np.asarray(center)).T))) for p in rings]
        sol = least_squares(resid, np.r_[center, r0], loss="soft_l1", f_scale=0.5)
        c = sol.x[:2]
        for j, p in enumerate(rings):
            d = np.hypot(*(p - c).T) - sol.x[2 + j]
            s = 1.4826 * np.median(np.abs(d - np.median(d))) + 1e-9
            keep[j] = np.abs(d - np.median(d)) < 3 * s
    res = resid(sol.x)
    return sol.x[:2], sol.x[2:], float(np.sqrt(np.mean(res ** 2))), [p[k] for p, k in zip(rings, keep)]


def _integrator(shape: tuple[int, int], q: np.ndarray) -> "object":
    """pyFAI's integrator for (distance m, poni1 m, poni2 m, rot1, rot2) on the nominal detector."""
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    det = Detector(pixel1=NOMINAL_PIXEL_M, pixel2=NOMINAL_PIXEL_M, max_shape=tuple(shape))
    return AzimuthalIntegrator(dist=q[0], poni1=q[1], poni2=q[2], rot1=q[3], rot2=q[4], rot3=0.0,
                               detector=det, wavelength=NOMINAL_WAVELENGTH_M)


def fit_tilted(rings: list[np.ndarray], center: tuple[float, float], shape: tuple[int, int],
               ) -> tuple[tuple[float, float], np.ndarray, float]:
    """Cones of constant 2theta (one per ring) on a tilted detector, fitted with pyFAI's geometry.

    Free: distance, PONI, rot1, rot2 (|rot| < 10 degrees) and every ring's 2theta; the pixel is
    the nominal one, so the distance is in those units. The residual is the pixel distance
    ``dist * (tan(2theta_point) - tan(2theta_ring)) / pixel``. Returns the direct-beam centre
    (x, y), the parameters and the RMS residual in pixels.
    """
    from scipy.optimize import least_squares

    d1 = np.concatenate([p[:, 1] for p in rings])
    d2 = np.concatenate([p[:, 0] for p in rings])
    ring_of = np.concatenate([np.full(len(p), j) for j, p in enumerate(rings)])
    px = NOMINAL_PIXEL_M
    r0 = np.array([np.median(np.hypot(p[:, 0] - center[0], p[:, 1] - center[1])) for p in rings])
    q0 = np.r_[NOMINAL_DISTANCE_M, (center[1] + 0.5) * px, (center[0] + 0.5) * px, 0.0, 0.0,
               np.arctan(r0 * px / NOMINAL_DISTANCE_M)]
    lim = np.deg2rad(10.0)
    lo = np.r_[0.2 * NOMINAL_DISTANCE_M, -np.inf, -np.inf, -lim, -lim, np.zeros(len(rings))]
    hi = np.r_[20 * NOMINAL_DISTANCE_M, np.inf, np.inf, lim, lim, np.full(len(rings), np.pi / 2)]

    def resid(q: np.ndarray) -> np.ndarray:
        ai = _integrator(shape, q)
        tth = np.asarray(ai.tth(d1, d2))
        return q[0] * (np.tan(tth) - np.tan(q[5 + ring_of])) / px

    sol = least_squares(resid, q0, bounds=(lo, hi), loss="soft_l1", f_scale=0.5, x_scale="jac")
    ai = _integrator(shape, sol.x)
    f2d = ai.getFit2D()
    rms = float(np.sqrt(np.mean(resid(sol.x) ** 2)))
    return (float(f2d["centerX"]) - 0.5, float(f2d["centerY"]) - 0.5), sol.x, rms


def variance_fit(name: str, half: float = 8.0) -> dict:
    """The centre that minimises the spread of the log intensity about its ring average.

    For frames whose rings are too broad to pick peaks from: dip-heal's azimuthal model
    (:func:`dip_heal.polar.azimuthal_model`, 90 bins, smoothing 1) of the measured pixels (the
    beamstop and holder masked by dip-heal's finders) about a trial centre, and the mean squared
    difference between the frame and the model; a 1-px grid of +-``half`` px about the hint,
    then Nelder-Mead from the best grid point.
    """
    from scipy.optimize import minimize

    from dip_heal.io import read_image
    from dip_heal.masks import MaskSpec, build_mask_layers
    from dip_heal.polar import azimuthal_model

    rel, hint = FRAMES[name][0], FRAMES[name][1]
    fr = read_image(DATA / rel)
    layers = build_mask_layers(fr, MaskSpec(holder="auto"))
    bad = layers["ignore"].copy()
    for k, v in layers.items():
        bad |= v
    a = np.asarray(fr.data, float)
    known = np.isfinite(a) & ~bad
    y = np.where(known, np.log1p(np.clip(a, 0, None)), 0.0)

    def cost(c: np.ndarray) -> float:
        m = azimuthal_model(y, known, (float(c[0]), float(c[1])), n_azim=90, smooth=1.0)
        return float(np.mean((m[known] - y[known]) ** 2))

    grid = [(hint[0] + dx, hint[1] + dy) for dy in np.arange(-half, half + 1) for dx in np.arange(-half, half + 1)]
    costs = [cost(np.asarray(g)) for g in grid]
    start = np.asarray(grid[int(np.argmin(costs))])
    sol = minimize(cost, start, method="Nelder-Mead", options={"xatol": 0.05, "fatol": 1e-9})
    return {"center": (float(sol.x[0]), float(sol.x[1])), "cost": float(sol.fun), "cost_at_hint": cost(np.asarray(hint))}


def ring_fit(name: str) -> dict:
    rel, hint, rng, n_rings, half, sigma, note = FRAMES[name]
    a, valid = load(rel)
    img = high_pass(a, valid, sigma)
    center = hint
    for _ in range(3):
        windows = ring_windows(img, valid, center, rng, n_rings, half)
        rings = [ring_points(img, valid, center, w) for w in windows]
        rings = [p for p in rings if len(p) >= 8]
        c, radii, rms, kept = fit_circles(rings, center)
        center = (float(c[0]), float(c[1]))
    per_ring = []
    for p in kept:
        cj, _, _, _ = fit_circles([p], center)
        per_ring.append(cj)
    spread = float(np.max(np.hypot(*(np.asarray(per_ring) - np.asarray(center)).T))) if len(kept) > 1 else float("nan")
    t_center, t_params, t_rms = fit_tilted(kept, center, a.shape)
    tilted = t_rms < 0.7 * rms  # the tilt is kept only where it explains the rings clearly better
    return {"name": name, "file": rel, "shape": a.shape, "center": center, "radii": [float(r) for r in radii],
            "windows": windows, "rms": rms, "points": [len(p) for p in kept], "spread": spread, "note": note,
            "tilted_center": t_center, "tilted_params": t_params, "tilted_rms": t_rms, "tilted": tilted}


def write_poni(fit: dict, path: Path) -> None:
    """The PONI (pyFAI) of a ring fit: the tilted fit where it won, else untilted circles; nominal
    pixel and wavelength (and distance for circles)."""
    from pyFAI.detectors import Detector
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    if fit["tilted"]:
        ai = _integrator(tuple(fit["shape"]), fit["tilted_params"])
    else:
        det = Detector(pixel1=NOMINAL_PIXEL_M, pixel2=NOMINAL_PIXEL_M, max_shape=tuple(fit["shape"]))
        ai = AzimuthalIntegrator(detector=det, wavelength=NOMINAL_WAVELENGTH_M)
        cx, cy = fit["center"]
        # dip-heal's (x, y) are pixel centres; pyFAI's Fit2D centre counts from the corner
        ai.setFit2D(NOMINAL_DISTANCE_M * 1e3, cx + 0.5, cy + 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    ai.save(str(tmp))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write the PONI files into {OUT}")
    ap.add_argument("names", nargs="*", default=list(FRAMES))
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"no shared data at {DATA}", file=sys.stderr)
        return 1
    print("| case | frame | circles: centre x, y (px) | per-ring spread (px) | ring radii (px) | points | RMS (px) "
          "| tilted: direct beam x, y (px) | tilt (deg) | RMS (px) | written |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.names:
        f = ring_fit(name)
        print(f"| {name} | `{f['file']}` | {f['center'][0]:.2f}, {f['center'][1]:.2f} | {f['spread']:.2f} | "
              f"{', '.join(f'{r:.1f}' for r in f['radii'])} | {'+'.join(map(str, f['points']))} | {f['rms']:.2f} | "
              f"{f['tilted_center'][0]:.2f}, {f['tilted_center'][1]:.2f} | "
              f"{np.degrees(np.hypot(*f['tilted_params'][3:5])):.2f} | {f['tilted_rms']:.2f} | "
              f"{'tilted' if f['tilted'] else 'circles'} |")
        if args.write:
            write_poni(f, OUT / f"{name}.poni")
    return 0


if __name__ == "__main__":
    sys.exit(main())

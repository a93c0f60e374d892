"""``dip-heal bulk`` throughput on PILATUS 1M frames, against Telea in the same run, and the shipped model against biharmonic.

Speed: frames per second of :func:`dip_heal.blind.bulk.bulk` on PILATUS 1M frames (1043x981
int32 TIFF with -1 module gaps: the musclex and pyWAXS frames of ``../shared/data`` when
present, else synthetic frames, copied ``--frames`` times), each configuration in a fresh
process (so its peak resident memory, ``ru_maxrss``, is its own) after one untimed warm-up
frame: Telea's whole-frame fill (the reference; also on two Dask workers), the shipped blind model (or ``--model``) on its
holes only in float32 and in bfloat16, and the blind path as it was before issue 21 (the plain
forward, the whole frame tiled, the full-frame pre-fill pass) on ``--previous-frames`` frames.
It prints frames/s with the ratio to Telea's, the seconds of each step on one frame, and the
largest difference between the fast outputs and the previous path's.

Quality (``--cases FILE``): mean L1 and Pearson r of the model and of biharmonic inpainting on
the benchmark's cases (``dip_heal.bench`` scoring: pasted gaps, normalised log space).

Usage::

    python benchmarks/bench_bulk.py [--frames 8] [--threads 2] [--batch 8] [--model DIR] [--configs telea,blind]
    python benchmarks/bench_bulk.py --cases ../shared/data/cases-dev.json [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_1M = ["musclex/P1_F1_tet_1_100_005_0001.tif", "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif",
           "pywaxs/LaB6_5.6m_12.7keV_corrected_1150.1s_x-1.601_th0.500_5.00s_1116949_maxs.tiff"]


def _inputs(folder: Path, n: int) -> tuple[list[Path], str]:
    srcs = [SHARED / r for r in REAL_1M if (SHARED / r).is_file()]
    paths = []
    if srcs:
        for i in range(n):
            p = folder / f"frame_{i:03d}.tif"
            shutil.copy(srcs[i % len(srcs)], p)
            paths.append(p)
        return paths, "PILATUS 1M frames, 1043x981 int32 (" + ", ".join(s.name[:24] for s in srcs) + ")"
    from dip_heal.io import write_image
    from dip_heal.synthetic import synthetic_frame

    for i in range(n):
        f = synthetic_frame(detector="Pilatus1M", seed=i, kind=("saxs", "waxs", "fibre")[i % 3])
        paths.append(write_image(folder / f"frame_{i:03d}.tif", f.counts))
    return paths, "synthetic Pilatus1M frames"


CONFIGS = {
    # name: (method, precision, context, the previous code path, Dask workers)
    "telea": ("telea", "-", None, False, 0),
    "telea-workers2": ("telea", "-", None, False, 2),
    "blind": ("blind", "float32", 32, False, 0),
    "blind-bf16": ("blind", "bfloat16", 32, False, 0),
    "blind-workers2": ("blind", "float32", 32, False, 2),
    "blind-previous": ("blind", "float32", None, True, 0),
}


def _previous_path() -> None:
    """This process heals as bulk did before issue 21: the plain forward, the whole frame tiled, the full-frame prefill pass."""
    import dip_heal.blind.bulk as bulk_mod
    from dip_heal.blind import prefill

    def plain(net, *, residual=False, dtype=None):
        return lambda t: net(t) + t[:, :1] if residual else net(t)

    bulk_mod.inference_fn = plain
    prefill._one_pass = prefill._one_pass_full


def _warm_worker(model: str | None) -> None:
    """On a Dask worker: import the healing code and load the model (what its first task would pay)."""
    from dip_heal.blind.bulk import _blind_model_dir, _cached_model  # noqa: PLC0415

    _cached_model(str(_blind_model_dir("blind", model)))


def run_one(config: str, folder: str, n: int, batch: int, model: str | None, threads: int, out: str) -> dict:
    """One configuration in this (fresh) process: warm-up frame, then ``n`` frames timed; peak RSS."""
    import torch

    from dip_heal.blind.bulk import bulk

    torch.set_num_threads(threads)
    method, precision, context, previous, workers = CONFIGS[config]
    if previous:
        _previous_path()
    paths = sorted(Path(folder).glob("frame_*.tif"))[:n]
    kw = dict(method=method, model_dir=model, batch=batch)
    if method == "blind":
        kw.update(context=context, dtype=precision)
    cluster = None
    if workers:  # a local cluster started (and warmed up) before the clock starts; 1 thread per worker
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        kw.update(scheduler=cluster.scheduler_address)
        threads = 1
        from distributed import Client

        with Client(cluster) as client:  # every worker imports dip-heal and loads the model before the clock
            client.run(_warm_worker, model)
    bulk(paths[:workers or 1], Path(out) / "warm", **kw)  # imports, first-call allocations: not timed
    t0 = time.perf_counter()
    s = bulk(paths, Path(out) / "out", **kw)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cluster is not None:  # the workers' peak RSS, each
        from distributed import Client

        with Client(cluster) as client:
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        rss = max(peaks.values())
        cluster.close()
    return {"config": config, "frames": len(s.written), "failed": len(s.failed), "seconds": dt, "rss": rss,
            "threads": threads, "workers": workers}


def _stages(path: Path, model: str | None, threads: int) -> list[tuple[str, float]]:
    """Seconds of each step of one blind heal on one frame (best of 2)."""
    import torch

    from dip_heal.blind.bulk import frame_heal_mask, mask_center
    from dip_heal.blind.crops import log_normalise
    from dip_heal.blind.infer import inference_fn
    from dip_heal.blind.model_dir import load_model
    from dip_heal.blind.prefill import AZIMUTHAL, azimuthal_channel, model_inputs
    from dip_heal.blind.tiling import predict_holes, predict_tiled
    from dip_heal.fills import heal_telea
    from dip_heal.io import read_image

    torch.set_num_threads(threads)
    m = load_model(model)
    frame = read_image(path)
    heal = frame_heal_mask(frame)
    known = frame.valid & ~heal
    y, _ = log_normalise(frame.data.astype(np.float32), known)
    az, center = None, mask_center(frame)  # bulk's: the centre the heal mask found the beamstop about
    if m.inputs in AZIMUTHAL:
        az, _ = azimuthal_channel(y, known, frame.data, center=center)
    x = torch.from_numpy(model_inputs(y, ~known, m.inputs, azimuthal=az))
    size, overlap = m.tile
    fast = inference_fn(m.net, residual=m.residual)
    bf16 = inference_fn(m.net, residual=m.residual, dtype=torch.bfloat16)

    def plain(t):
        return m.net(t) + t[:, :1] if m.residual else m.net(t)

    steps = {
        "read": lambda: read_image(path),
        "heal mask (automatic)": lambda: frame_heal_mask(frame),
        "azimuthal model at the mask's centre (azimuthal inputs)": lambda: (
            azimuthal_channel(y, known, frame.data, center=center) if az is not None else None),
        "pre-fill": lambda: model_inputs(y, ~known, m.inputs, azimuthal=az),
        "network, holes only (float32)": lambda: predict_holes(fast, x, heal, context=32, tile=size, overlap=overlap),
        "network, holes only (bfloat16)": lambda: predict_holes(bf16, x, heal, context=32, tile=size, overlap=overlap),
        "network, whole frame (float32)": lambda: predict_tiled(fast, x, tile=size, overlap=overlap),
        "network, whole frame, plain forward (before)": lambda: predict_tiled(plain, x, tile=size, overlap=overlap),
        "Telea fill (whole frame)": lambda: heal_telea(frame.data, heal),
    }
    rows = []
    with torch.inference_mode():
        for name, fn in steps.items():
            times = []
            for _ in range(2 if "before" not in name else 1):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            rows.append((name, min(times)))
    return rows


def _max_diff(a_dir: Path, b_dir: Path) -> tuple[float, int, int]:
    """Max |a - b| over the outputs both folders hold, the pixels that differ, the pixels compared."""
    import tifffile

    dmax, ndiff, n = 0.0, 0, 0
    for p in sorted(a_dir.glob("*_healed.tif")):
        q = b_dir / p.name
        if not q.exists():
            continue
        a, b = tifffile.imread(p).astype(np.float64), tifffile.imread(q).astype(np.float64)
        d = np.abs(a - b)
        dmax, ndiff, n = max(dmax, float(d.max())), ndiff + int((d > 0).sum()), n + d.size
    return dmax, ndiff, n


def bench_speed(n: int, batch: int, model: str | None, threads: int, configs: list[str], previous_frames: int,
                stages: bool = True) -> None:
    import json
    import os
    import subprocess

    import torch

    from dip_heal.blind.model_dir import load_model

    m = load_model(model)
    load0 = os.getloadavg()
    print(f"torch {torch.__version__}; model {m.path.name}: {m.card['architecture']} {m.card['parameters']} parameters, "
          f"tile {m.tile}, batch {batch}; load average {load0[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        paths, what = _inputs(tmp / "in", n)
        print(f"inputs: {n} x {what}", flush=True)
        results = {}
        for config in configs:
            k = previous_frames if config == "blind-previous" else n
            cmd = [sys.executable, __file__, "--one", config, "--folder", str(tmp / "in"), "--frames", str(k),
                   "--batch", str(batch), "--threads", str(threads), "--out", str(tmp / config)]
            if model:
                cmd += ["--model", model]
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                print(f"{config} failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}")
                continue
            results[config] = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"  {config}: {results[config]}", flush=True)
        steps = _stages(paths[0], model, threads) if stages else []
        load1 = os.getloadavg()
        telea = results.get("telea")
        ref = telea["frames"] / telea["seconds"] if telea else float("nan")
        print()
        print("| method | precision | processes x torch threads | frames | seconds | frames/s | s/frame | "
              "x Telea's frames/s | peak RSS (MiB, per process) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for config, r in results.items():
            method, precision, context, previous, workers = CONFIGS[config]
            label = {"telea": "telea (whole frame)", "telea-workers2": "telea (whole frame), bulk --workers 2",
                     "blind": "blind, holes only",
                     "blind-bf16": "blind, holes only", "blind-workers2": "blind, holes only, bulk --workers 2",
                     "blind-previous": "blind, before (whole frame, plain forward)"}[config]
            fps = r["frames"] / r["seconds"]
            print(f"| {label} | {precision} | {max(workers, 1)} x {r['threads']} | {r['frames']} | {r['seconds']:.1f} | "
                  f"{fps:.2f} | {r['seconds'] / max(r['frames'], 1):.2f} | {fps / ref:.2f}x | {r['rss']:.0f} |")
        print()
        if steps:
            print("| step (frame 0, best of 2) | seconds |")
            print("|---|---|")
        for name, sec in steps:
            print(f"| {name} | {sec:.3f} |")
        print()
        for config in ("blind", "blind-bf16", "blind-workers2"):
            if config in results and "blind-previous" in results:
                dmax, nd, npx = _max_diff(tmp / config / "out", tmp / "blind-previous" / "out")
                print(f"{config} against the previous path on the frames both healed: max |difference| {dmax:g} counts, "
                      f"{nd} of {npx} pixels differ")
        print(f"load average {load1[0]:.2f} at the end ({os.cpu_count()} CPUs)")


def bench_cases(cases: str, data: str, model: str | None) -> None:
    from dip_heal.bench import load_cases, prepare_case, run_case
    from dip_heal.methods import METHODS, register_method

    if "blind" not in METHODS:
        register_method("blind", "dip_heal.blind.bulk:heal_with_model", arg="model_dir")
    blind = f"blind:{model}" if model else "blind"
    case_list, rejected = load_cases(cases)
    rows = []
    print(f"| case | biharmonic L1 | {blind} L1 | biharmonic r | {blind} r | {blind} s |")
    print("|---|---|---|---|---|---|")
    for case in case_list:
        prep = prepare_case(case, data)
        scores, _ = run_case(prep, ["biharmonic", blind], data_dir=data)
        b, m = scores
        rows.append((b.l1, m.l1, b.r, m.r))
        print(f"| {case.name} | {b.l1 * 1e3:.2f}e-3 | {m.l1 * 1e3:.2f}e-3 | {b.r:.4f} | {m.r:.4f} | {m.seconds:.2f} |",
              flush=True)
    a = np.array(rows)
    print(f"| **mean** | **{a[:, 0].mean() * 1e3:.2f}e-3** | **{a[:, 1].mean() * 1e3:.2f}e-3** | "
          f"{a[:, 2].mean():.4f} | {a[:, 3].mean():.4f} | |")
    for name, why in rejected:
        print(f"skipped {name}: {why}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8, help="frames to heal (speed)")
    ap.add_argument("--previous-frames", type=int, default=2, help="frames for the previous (slow) path")
    ap.add_argument("--batch", type=int, default=8, help="tiles per network call")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: every core)")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-step table")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    ap.add_argument("--cases", default=None, help="case file: score against biharmonic instead of timing")
    ap.add_argument("--data", default=str(SHARED), help="folder of the cases' frames")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.one:
        import json

        print(json.dumps(run_one(args.one, args.folder, args.frames, args.batch, args.model, args.threads, args.out)))
    elif args.cases:
        bench_cases(args.cases, args.data, args.model)
    else:
        bench_speed(args.frames, args.batch, args.model, args.threads, args.configs.split(","), args.previous_frames,
                    not args.no_stages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Golden outputs of seeded tiny runs, for refactors that must leave results unchanged (issue 15).

Record them at a commit, then compare any later code with them bit for bit::

    python tests/golden/make_golden.py tests/data/golden            # write every golden
    python tests/golden/make_golden.py OUT --only fit_default      # some of them
    python tests/golden/make_golden.py tests/data/golden --check   # compare, print what differs
    python -m pytest tests/test_golden.py --runslow                # compare (bit-identical)

Each recipe builds its own small generated input (``dip_heal.synthetic``) in a temporary folder,
runs dip-heal through entry points meant to survive a restructuring (the ``dip-heal`` command
line through click's ``CliRunner``, and the documented API: ``dip_heal.fit``, ``FitConfig``,
``read_image``; the batched-trials path has no other entry point than
``dip_heal.dip.batched.fit_batched``) and returns a :class:`Golden`: named arrays, saved in
``OUT/NAME.npz``, and JSON values (``OUT/NAME.json``). Everything that depends on the clock, the
machine or the temporary paths (``seconds`` columns and keys, versions, input paths, artifact
ids) is left out; snapshots other than the returned heal are kept as SHA-256 digests of their
bytes, to stay small. Torch runs on one thread (set here, restored after): the fits are
reproducible at a given thread count, but 2 threads give other bits (the DIP goldens all differ).

The goldens are CPU results of one kind of machine and torch build: bf16 autocast and the
float32 kernels round differently on another CPU (an AMD EPYC and an Intel CPU with AMX give
other bits for every DIP recipe) or torch version. So a set is kept per machine kind,
``OUT/<machine_key()>/``, with a ``machine.json`` saying where and at which commit it was
recorded. On a kind with a set, a recipe is compared with its golden bit for bit; a recipe with
no golden for this kind (a kind never seen, or a golden dropped when a result changed on purpose
and the set could not be recorded again on that kind) is run twice and must reproduce itself bit
for bit (:func:`check_recipe`)::

    python tests/golden/make_golden.py tests/data/golden --record   # this machine's set
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["Golden", "RECIPES", "SLOW", "run_recipe", "save_golden", "load_golden", "compare", "machine_key",
           "machine_folder", "check_recipe", "main"]

#: the CPU features that choose the kernels (and so the rounding) of torch's CPU build
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_bf16", "amx_tile")


@dataclass
class Golden:
    """One recipe's outputs: arrays compared with ``np.array_equal``, JSON values with ``==``."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """Torch on one thread; the thread count and the ``dip_heal`` logger (the CLI sets it up)
    restored after."""
    import logging

    import torch

    n = torch.get_num_threads()
    log = logging.getLogger("dip_heal")
    level, handlers = log.level, list(log.handlers)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
        for h in list(log.handlers):
            if h not in handlers:
                log.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in log.handlers:
                log.addHandler(h)
        log.setLevel(level)


def _cli(args: list[str]) -> str:
    """Run ``dip-heal ARGS`` in this process; raise with its output when it fails."""
    from click.testing import CliRunner

    from dip_heal.cli import main

    res = CliRunner().invoke(main, ["-q", *(str(a) for a in args)])
    if res.exit_code != 0:
        import traceback

        tb = "".join(traceback.format_exception(*res.exc_info)) if res.exc_info else ""
        raise RuntimeError(f"dip-heal {' '.join(map(str, args))} exited {res.exit_code}:\n{res.output}\n{tb}")
    return res.output


def _sha(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def _plain(obj: Any) -> Any:
    """JSON-ready copy without clock-dependent ``seconds`` entries (floats kept exactly)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and obj != obj:
        return "nan"
    return obj


def _frame(tmp: Path, shape: tuple[int, int] = (64, 64), seed: int = 7) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A float32 SAXS frame (NaN in the holes) and its heal mask, written as NPY files.

    The holes: the beamstop with its holder arm (centrosymmetric about the beam, so the Friedel
    prior acts), a 3-row band and a 2-column band. Float32 so the healed frame is written at full
    precision; NaN and an explicit mask so any sentinel rule heals the same pixels.
    """
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame(shape, detector=None, kind="saxs", seed=seed)
    heal = f.beamstop.copy()
    heal[40:43, :] = True
    heal[:, 20:22] = True
    image = np.where(heal, np.nan, f.counts.astype(np.float32)).astype(np.float32)
    frame, mask = tmp / "frame.npy", tmp / "mask.npy"
    np.save(frame, image)
    np.save(mask, heal)
    return frame, mask, image, heal


def _read_metrics(path: Path) -> dict[str, Any]:
    """metrics.csv without its wall-time column, as the strings written."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    keep = [i for i, h in enumerate(header) if h != "seconds" and "time" not in h]
    return {"header": [header[i] for i in keep], "rows": [[r[i] for i in keep] for r in rows[1:]]}


_RECORD_KEYS = ("config", "seed", "shape", "n_heal", "iteration", "stopped_at", "center", "blend", "members", "scale",
                "healed")


def _fit_run(tmp: Path, options: list[str]) -> Golden:
    """``dip-heal fit frame.npy --mask mask.npy OPTIONS``: the run folder's results."""
    frame, mask, _, _ = _frame(tmp)
    run = tmp / "run"
    _cli(["fit", frame, "--mask", mask, "--out", run, "--no-progress", "--device", "cpu", *options])
    record = json.loads((run / "config.json").read_text())
    g = Golden()
    g.arrays["healed"] = np.load(run / record["healed"])
    g.arrays["heal_mask"] = np.load(run / "heal_mask.npy")
    g.values["metrics_csv"] = _read_metrics(run / "metrics.csv")
    g.values["record"] = _plain({k: record.get(k) for k in _RECORD_KEYS})
    g.values["snapshots_sha256"] = {p.name: _sha(np.load(p)) for p in sorted((run / "snapshots").glob("*.npy"))}
    return g


# ----------------------------------------------------------------------------------- recipes
def fit_default(tmp: Path) -> Golden:
    """The default preset (its network, bf16, guides, blend, EMA, best_val), 8 iterations."""
    return _fit_run(tmp, ["--preset", "default", "--iters", "8", "--snapshot-every", "2", "--seed", "1"])


def fit_faithful(tmp: Path) -> Golden:
    """``--preset faithful`` (5 x 128 net, fp32, MSE, no hold-out), 4 iterations."""
    return _fit_run(tmp, ["--preset", "faithful", "--iters", "4", "--snapshot-every", "2", "--seed", "2"])


def fit_ensemble(tmp: Path) -> Golden:
    """The default preset with ``--ensemble 2`` (two seeds, median heal, the time limit shared)."""
    return _fit_run(tmp, ["--preset", "default", "--ensemble", "2", "--iters", "6", "--snapshot-every", "2",
                          "--seed", "3"])


def fit_ensemble_faithful(tmp: Path) -> Golden:
    """``--preset faithful --ensemble 2``: two plain DIP heals, so the median combines distinct
    values (with the default preset's blend, so few iterations give both members the same fill)."""
    return _fit_run(tmp, ["--preset", "faithful", "--ensemble", "2", "--iters", "4", "--snapshot-every", "2",
                          "--seed", "6"])


def fit_priors(tmp: Path) -> Golden:
    """The default preset with the azimuthal and Friedel penalties on at fixed weights (``--config``),
    without the blend, so the healed pixels are the network's (after 6 iterations the blend would
    pick the fills alone)."""
    from dip_heal import FitConfig

    cfg = FitConfig.preset("default", azim_weight=0.5, friedel_weight=0.5, prior_scaling="fixed", blend=False,
                           num_iter=6, snapshot_every=2, seed=4)
    cfg.to_json(tmp / "priors.json")
    return _fit_run(tmp, ["--config", tmp / "priors.json"])


def _api_fit():
    """``dip_heal.fit``, the function.

    ``dip_heal.fit`` is resolved lazily, and once the submodule ``dip_heal.fit`` is imported (the
    command line imports it) the package attribute is that module, not the function.
    """
    import dip_heal

    f = dip_heal.fit
    return f if callable(f) else f.fit


def _api_golden(res: Any) -> Golden:
    g = Golden()
    g.arrays["healed"] = res.healed
    g.arrays["output"] = res.output
    if res.holdout is not None:
        g.arrays["holdout"] = res.holdout
    g.values["iteration"] = res.iteration
    g.values["seed"] = res.seed
    g.values["scale"] = res.scale
    g.values["metrics"] = _plain(res.metrics)
    g.values["snapshots"] = [{"iteration": s.iteration, "val_l1": _plain(s.val_l1), "loss": _plain(s.loss),
                              "weights": _plain(getattr(s, "weights", None)), "sha256": _sha(s.healed)}
                             for s in res.snapshots]
    g.values["extra"] = _plain({k: v for k, v in res.extra.items() if k != "device"})
    return g


def api_default(tmp: Path) -> Golden:
    """``dip_heal.fit`` with the default preset as fit_default runs it: also the network's raw
    output (the CLI's healed frame may be the blend's fills alone after so few iterations)."""
    from dip_heal import FitConfig

    _, _, image, heal = _frame(tmp)
    cfg = FitConfig.preset("default", num_iter=8, snapshot_every=2, seed=1)
    return _api_golden(_api_fit()(image, heal, cfg, device="cpu"))


def api_light(tmp: Path) -> Golden:
    """``dip_heal.fit`` with the light preset on a small net, noise input and weight noise."""
    from dip_heal import FitConfig

    _, _, image, heal = _frame(tmp, seed=8)
    cfg = FitConfig.preset("light", depth=3, channels=(8, 16, 16), num_iter=6, snapshot_every=2, seed=5,
                           net_input="noise", input_depth=4, param_noise=True)
    return _api_golden(_api_fit()(image, heal, cfg, device="cpu"))


def fit_batched(tmp: Path) -> Golden:
    """Two sweep trials fitted together as one grouped network (``dip_heal.dip.batched.fit_batched``)."""
    from dip_heal import FitConfig
    from dip_heal.dip.batched import fit_batched as run_batched

    _, _, image, heal = _frame(tmp, seed=9)
    base = FitConfig.preset("faithful", depth=3, channels=8, num_iter=6, snapshot_every=3, holdout_fraction=0.05)
    configs = [base.replace(seed=0, lr=1e-3, reg_noise_std=0.0),
               base.replace(seed=1, lr=1e-2, reg_noise_std=0.03, param_noise=True)]
    results = run_batched(image, heal, configs, device="cpu")
    g = Golden()
    g.arrays["holdout"] = results[0].holdout
    for i, r in enumerate(results):
        g.arrays[f"trial{i}_healed"] = r.healed
        g.arrays[f"trial{i}_output"] = r.output
        g.values[f"trial{i}"] = {
            "iteration": r.iteration, "seed": r.seed, "scale": r.scale, "metrics": _plain(r.metrics),
            "snapshots": [{"iteration": s.iteration, "val_l1": _plain(s.val_l1), "sha256": _sha(s.healed)}
                          for s in r.snapshots],
        }
    return g


_SWEEP_TOML = """\
description = "golden: 2-point grid"
sampler = "grid"
seed = 0
[config]
num_iter = 4
snapshot_every = 2
[params]
lr = [1e-3, 1e-2]
seed = [0]
"""


def sweep_grid(tmp: Path) -> Golden:
    """``dip-heal fit --preset light --sweep`` (a 2-point grid, 4 iterations; the light preset has no
    blend, so the held-out L1 is the network's), then
    ``dip-heal pick --best``: every trial's params, value and per-snapshot held-out L1, the
    held-out pixels, and the picked frame."""
    import optuna

    frame, mask, _, _ = _frame(tmp, seed=10)
    (tmp / "s.toml").write_text(_SWEEP_TOML)
    run = tmp / "sweep"
    _cli(["fit", frame, "--mask", mask, "--preset", "light", "--sweep", tmp / "s.toml", "--out", run, "--no-progress",
          "--device", "cpu"])
    rec = json.loads((run / "sweep.json").read_text())
    storage = rec.get("storage") or f"sqlite:///{run / 'study.db'}"
    name = rec.get("study_name") or rec.get("study")
    study = optuna.load_study(study_name=name, storage=storage)
    trials = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        ua = t.user_attrs
        trials.append(_plain({
            "number": t.number, "state": t.state.name, "params": dict(t.params), "value": t.value,
            "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
            "point": ua.get("point"), "seed": ua.get("seed"), "config": ua.get("config"),
            "best_iteration": ua.get("best_iteration"), "best_val_l1": ua.get("best_val_l1"),
            "snapshots": [{"iteration": s["iteration"], "val_l1": s["val_l1"]} for s in ua.get("snapshots", [])],
        }))
    g = Golden()
    g.values["trials"] = trials
    g.arrays["holdout"] = np.load(run / "holdout.npy")
    g.arrays["heal_mask"] = np.load(run / "heal_mask.npy")
    picked = tmp / "picked"
    _cli(["pick", run, "--best", "--out", picked])
    outs = sorted(p for p in picked.iterdir() if p.suffix == ".npy")
    if len(outs) != 1:
        raise RuntimeError(f"dip-heal pick wrote {[p.name for p in picked.iterdir()]}; expected one .npy frame")
    g.arrays["picked"] = np.load(outs[0])
    return g


def bench_classical(tmp: Path) -> Golden:
    """``dip-heal bench`` with biharmonic, ns, telea, pyfai on a 128 x 128 crop of a generated
    frame with pasted gaps: results.csv without its seconds column."""
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame((160, 160), detector=None, kind="waxs", seed=11, center=(84.0, 78.0))
    counts = f.counts.copy()
    counts[f.beamstop] = -1
    np.save(tmp / "frame.npy", counts)
    cases = [{"name": "waxs", "file": "frame.npy", "crop": [16, 16, 128, 128], "seed": 3, "center": [84.0, 78.0]}]
    (tmp / "cases.json").write_text(json.dumps(cases))
    out = tmp / "bench"
    _cli(["bench", tmp / "cases.json", "--data", tmp, "--methods", "biharmonic,ns,telea,pyfai", "--out", out,
          "--no-panels"])
    g = Golden()
    g.values["results_csv"] = _read_metrics(out / "results.csv")
    return g


def bulk_shipped(tmp: Path) -> Golden:
    """``dip-heal bulk`` with the shipped model on an int32 PILATUS-like frame (automatic mask)."""
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame((240, 96), detector="Pilatus300k", kind="saxs", seed=12, center=(50.0, 100.0))
    src = tmp / "in"
    src.mkdir()
    np.save(src / "frame.npy", f.counts)
    out = tmp / "out"
    _cli(["bulk", src / "frame.npy", "--out", out, "--no-progress", "--device", "cpu"])
    outs = sorted(p for p in out.iterdir() if p.suffix == ".npy" and not p.name.endswith(".heal_mask.npy"))
    if len(outs) != 1:
        raise RuntimeError(f"dip-heal bulk wrote {[p.name for p in out.iterdir()]}; expected one .npy frame")
    g = Golden()
    g.arrays["healed"] = np.load(outs[0])
    g.values["healed_file"] = outs[0].name
    return g


RECIPES: dict[str, Callable[[Path], Golden]] = {
    "fit_default": fit_default,
    "fit_faithful": fit_faithful,
    "fit_ensemble": fit_ensemble,
    "fit_ensemble_faithful": fit_ensemble_faithful,
    "fit_priors": fit_priors,
    "api_default": api_default,
    "api_light": api_light,
    "fit_batched": fit_batched,
    "sweep_grid": sweep_grid,
    "bench_classical": bench_classical,
    "bulk_shipped": bulk_shipped,
}

#: Recipes over about 10 s on the 2-core CPU (marked slow in tests/test_golden.py).
SLOW: set[str] = set()


# ----------------------------------------------------------------------------------- running
def run_recipe(name: str) -> Golden:
    """Run one recipe in a fresh temporary folder, torch on one thread."""
    tmp = Path(tempfile.mkdtemp(prefix=f"dipheal-golden-{name}-"))
    try:
        with _isolated():
            return RECIPES[name](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_golden(out: Path, name: str, g: Golden) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if g.arrays:
        p = out / f"{name}.npz"
        np.savez_compressed(p, **g.arrays)
        paths.append(p)
    p = out / f"{name}.json"
    p.write_text(json.dumps(g.values, indent=1, sort_keys=True) + "\n")
    paths.append(p)
    return paths


def load_golden(folder: Path, name: str) -> Golden:
    g = Golden()
    npz = folder / f"{name}.npz"
    if npz.exists():
        with np.load(npz, allow_pickle=False) as z:
            g.arrays = {k: z[k] for k in z.files}
    g.values = json.loads((folder / f"{name}.json").read_text())
    return g


def _first_diff(a: Any, b: Any, where: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where}: keys differ: only golden {sorted(set(a) - set(b))}, only now {sorted(set(b) - set(a))}"
        for k in a:
            d = _first_diff(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: length {len(a)} (golden) != {len(b)} (now)"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_diff(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    if type(a) is not type(b) or a != b:
        return f"{where}: golden {a!r} != now {b!r}"
    return None


def compare(name: str, golden: Golden, now: Golden) -> list[str]:
    """Every difference between a stored golden and a new run, one line each (empty: identical)."""
    now_values = json.loads(json.dumps(now.values))  # the stored form (tuples -> lists)
    problems = []
    if set(golden.arrays) != set(now.arrays):
        problems.append(f"{name}: arrays {sorted(golden.arrays)} (golden) != {sorted(now.arrays)} (now)")
    for k in sorted(set(golden.arrays) & set(now.arrays)):
        a, b = golden.arrays[k], np.asarray(now.arrays[k])
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}.npz[{k}]: {a.dtype}{a.shape} (golden) != {b.dtype}{b.shape} (now)")
        elif not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            diff = a != b
            if a.dtype.kind in "fc":
                diff &= ~(np.isnan(a) & np.isnan(b))
            idx = np.argwhere(diff)
            i = tuple(idx[0])
            with np.errstate(invalid="ignore"):
                dmax = float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64))))
            problems.append(f"{name}.npz[{k}]: {int(diff.sum())} of {a.size} elements differ (max |diff| {dmax:.3g}; "
                            f"first at {list(map(int, i))}: golden {a[i]!r}, now {b[i]!r})")
    for k in sorted(set(golden.values) | set(now_values)):
        if k not in golden.values or k not in now_values:
            problems.append(f"{name}.json: value {k!r} only in {'now' if k in now_values else 'golden'}")
            continue
        d = _first_diff(golden.values[k], now_values[k], f"{name}.json:{k}")
        if d:
            problems.append(d)
    return problems


# ----------------------------------------------------------------------------------- machine kinds
def _cpuinfo() -> tuple[str, set[str], str]:
    vendor, flags, model = "unknown", set(), ""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        import platform

        return platform.machine() or "unknown", set(), platform.processor()
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and vendor == "unknown":
            vendor = val.strip()
        elif key == "flags" and not flags:
            flags = set(val.split())
        elif key == "model name" and not model:
            model = val.strip()
    return vendor, flags, model


def machine_key() -> str:
    """This machine's kind for the goldens: CPU vendor, the kernel-choosing CPU features, torch version.

    E.g. ``AuthenticAMD-avx2+avx512_bf16+avx512_vnni+avx512f-torch2.13.0+cpu``.
    """
    import torch

    vendor, flags, _ = _cpuinfo()
    feats = "+".join(sorted(f for f in KERNEL_FLAGS if f in flags)) or "none"
    return f"{vendor}-{feats}-torch{torch.__version__}".replace("/", "_")


def machine_folder(root: Path) -> Path:
    """The golden set of this machine's kind under ``root`` (it may not exist)."""
    return root / machine_key()


def check_recipe(root: Path, name: str) -> tuple[str, list[str]]:
    """Run ``name`` and check it: ``("golden", problems)`` against this kind's golden when there is
    one, else ``("rerun", problems)``: run again, and the two runs must be bit-identical."""
    folder = machine_folder(root)
    now = run_recipe(name)
    if (folder / f"{name}.json").exists():
        return "golden", compare(name, load_golden(folder, name), now)
    return "rerun", compare(name, run_recipe(name), now)


def record_machine(root: Path, names: list[str]) -> Path:
    """Record ``names`` as this machine's golden set, with its ``machine.json``."""
    import subprocess

    folder = machine_folder(root)
    vendor, _, model = _cpuinfo()
    try:
        repo = Path(__file__).resolve().parents[2]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=repo, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "dip_heal"], capture_output=True,
                                    text=True, cwd=repo).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    for name in names:
        save_golden(folder, name, run_recipe(name))
    label = commit + (" with uncommitted dip_heal changes" if dirty else "")
    old = folder / "machine.json"
    if old.exists() and set(names) < set(RECIPES):  # some recipes again: the others keep their commit
        label = f"{json.loads(old.read_text())['commit']}; {', '.join(names)} at {label}"
    meta = {"key": machine_key(), "vendor": vendor, "model": model, "commit": label,
            "date": time.strftime("%Y-%m-%d"), "recipes": sorted(p.stem for p in folder.glob("*.json") if p.stem != "machine")}
    (folder / "machine.json").write_text(json.dumps(meta, indent=1) + "\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="The goldens' root folder (a set per machine kind beneath it)")
    ap.add_argument("--only", nargs="+", choices=sorted(RECIPES), default=None, help="Just these recipes")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="Compare with this machine's goldens instead of writing")
    mode.add_argument("--record", action="store_true", help="Write this machine kind's set (the default)")
    args = ap.parse_args(argv)
    import dip_heal

    print(f"dip_heal from {Path(dip_heal.__file__).parent}; machine {machine_key()}", file=sys.stderr)
    names = args.only or list(RECIPES)
    if not args.check:
        folder = record_machine(args.out, names)
        print(f"recorded {len(names)} golden(s) in {folder}")
        return 0
    bad = 0
    for name in names:
        t0 = time.perf_counter()
        how, problems = check_recipe(args.out, name)
        bad += bool(problems)
        print(f"{name}: {'identical' if not problems else 'DIFFERS'} ({how}, {time.perf_counter() - t0:.1f} s)")
        for p in problems:
            print("  " + p)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

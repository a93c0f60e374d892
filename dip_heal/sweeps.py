"""Hyperparameter sweeps: TOML sweep files, Optuna studies, snapshots as artifacts, resume.

A sweep fits one frame many times with different :class:`~dip_heal.config.FitConfig` settings
and scores every snapshot on a held-out set of known pixels, so the snapshot to keep can be
recommended instead of chosen by eye alone.

Sweep files
-----------
A sweep is a TOML file (``sweeps/*.toml``)::

    description = "the MVE385 grid"   # optional
    sampler = "grid"                  # grid | random | tpe
    seed = 0                          # seeds the sampler and the held-out pixels
    trials = 12                       # random and tpe only
    [config]                          # FitConfig fields shared by every trial
    num_iter = 3000
    snapshot_every = 600
    [params]                          # FitConfig fields that vary
    lr = [1e-4, 1e-3, 1e-2, 0.05, 0.1]          # a list: grid axis / categorical choices
    reg_noise_std = {low = 0.001, high = 0.3, log = true}   # a range (random, tpe)
    seed = [0]                                  # the fit seed is part of every trial

A grid runs every combination of its lists exactly once (in file order, the last key varying
fastest). A random sweep draws its ``trials`` points up front from ``seed``. Both are queued in
the study as waiting trials, which a worker claims atomically, so several workers (processes or
machines sharing one PostgreSQL study) run each point exactly once. A TPE sweep asks Optuna's
``TPESampler`` for one point at a time until ``trials`` trials are complete.

Options given on the command line (``--iters``, ``--lr``, ...) win over the file's ``[config]``,
which wins over the preset. Without a ``seed`` parameter every trial uses the config's seed.

Held-out pixels
---------------
``holdout_fraction`` (default 3 %) of the known pixels, drawn once per sweep from ``seed`` as
short segments shaped like the frame's gaps (:func:`dip_heal.dip.make_holdout`), are withheld
from the loss of every trial. Their L1 (normalised log intensity) at every snapshot is the
trial's ``trial.report`` value; the trial's objective is its lowest one, and that snapshot is
the trial's recommended snapshot. The held-out pixels are measured pixels: every snapshot and
every picked output keeps their measured values, so ``dip-heal pick`` refits nothing.

Run folder
----------
``RUN/`` holds:

- ``sweep.json``: input and mask paths, the sweep, the resolved base config, storage URL
  (without password), study name, versions;
- ``study.db``: the Optuna study (SQLite, the default storage);
- ``artifacts/``: a ``FileSystemArtifactStore`` with, per snapshot, ``.npy`` (float32 composite
  in the input's units) and ``.png`` (log-scale preview, limits shared across the sweep);
- ``heal_mask.npy`` (True = healed) and ``holdout.npy`` (True = held out);
- ``picks.json`` and ``picked/`` after ``dip-heal pick``; ``sheet*.png`` after ``dip-heal sheet``.

Every trial's user attributes hold ``config`` (the full FitConfig), ``seed``, ``point`` (grid
or random index), ``snapshots`` (``iteration``, ``val_l1``, ``npy`` and ``png`` artifact ids),
``best_iteration`` and ``best_val_l1``. Browse them with::

    optuna-dashboard sqlite:///RUN/study.db --artifact-dir RUN/artifacts

Resume
------
Running the same command again continues the study: complete trials are kept, a trial that
was interrupted (Ctrl-C) or whose worker died (no heartbeat for ``grace_period`` seconds) is
retried with the same parameters and seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import PRESETS, FitConfig
from .errors import DipHealError, NothingToHeal
from .outputs import check_not_input, mark_dir

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = [
    "SweepSpec",
    "SweepSummary",
    "load_sweep",
    "parse_sweep",
    "default_sweep_path",
    "resolve_config",
    "run_sweep",
    "open_storage",
    "SAMPLERS",
]

logger = logging.getLogger(__name__)

SAMPLERS = ("grid", "random", "tpe")
#: The shipped sweep files (package data; the source tree's ``sweeps/`` links to them).
SWEEPS_DIR = Path(__file__).resolve().parent / "data" / "sweeps"
_DEFAULT_FILES = {"grid": "mve385-grid.toml", "random": "random.toml", "tpe": "tpe.toml"}
_TOP_KEYS = {"description", "sampler", "seed", "trials", "config", "params"}
_RANGE_KEYS = {"low", "high", "log"}
_ATTR = "dip_heal"  # study user attr holding the sweep's fingerprint
_ATTR_QUEUED = "dip_heal_queued"  # study user attr set once every point is queued


# ----------------------------------------------------------------------------------- sweep files
@dataclass(frozen=True)
class SweepSpec:
    """A sweep definition (the parsed TOML file).

    Attributes
    ----------
    name : str
        The file's stem (used in the default study name).
    sampler : {'grid', 'random', 'tpe'}
    params : dict
        FitConfig field -> ``{"choices": [...]}`` or ``{"low": a, "high": b, "log": bool,
        "int": bool}``.
    config : dict
        FitConfig fields shared by every trial.
    trials : int or None
        Number of trials of a random or TPE sweep (None for a grid).
    seed : int
        Seeds the sampler and the held-out pixels.
    description : str
    """

    name: str
    sampler: str
    params: dict[str, dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    trials: int | None = None
    seed: int = 0
    description: str = ""

    def n_points(self) -> int:
        """Points of a grid (product of its axes) or trials of a random/TPE sweep."""
        if self.sampler == "grid":
            return math.prod(len(p["choices"]) for p in self.params.values())
        return int(self.trials or 0)

    def points(self) -> list[dict[str, Any]]:
        """The parameter sets of a grid (all combinations) or a random sweep (drawn from ``seed``).

        A TPE sweep has no points up front (its sampler proposes them one by one).
        """
        names = list(self.params)
        if self.sampler == "grid":
            axes = [self.params[n]["choices"] for n in names]
            return [dict(zip(names, combo)) for combo in itertools.product(*axes)]
        if self.sampler == "random":
            rng = np.random.default_rng(self.seed)
            return [{n: _draw(self.params[n], rng) for n in names} for _ in range(int(self.trials or 0))]
        return []

    def search_space(self) -> dict[str, list[Any]]:
        """The grid as Optuna's ``GridSampler`` takes it."""
        return {n: list(p["choices"]) for n, p in self.params.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sampler": self.sampler, "params": self.params, "config": self.config,
                "trials": self.trials, "seed": self.seed, "description": self.description}


def _draw(p: dict[str, Any], rng: np.random.Generator) -> Any:
    if "choices" in p:
        return p["choices"][int(rng.integers(len(p["choices"])))]
    lo, hi = p["low"], p["high"]
    if p.get("int"):
        if p.get("log"):
            return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
        return int(rng.integers(lo, hi + 1))
    if p.get("log"):
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def default_sweep_path(sampler: str | None = None) -> Path:
    """The shipped sweep file for a sampler (``sweeps/mve385-grid.toml`` for a grid).

    Raises
    ------
    DipHealError
        An unknown sampler, or an installation without its package data.
    """
    name = _DEFAULT_FILES.get(sampler or "grid")
    if name is None:
        raise DipHealError(f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    path = SWEEPS_DIR / name
    if not path.exists():
        raise DipHealError(
            f"the default sweep file {path} is not installed; expected it in dip-heal's package data; "
            "reinstall dip-heal or pass a sweep file with --sweep FILE"
        )
    return path


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read and check a sweep TOML file (see the module docstring for its form).

    Raises
    ------
    DipHealError
        Missing file, invalid TOML, an unknown key, an empty grid, a value FitConfig refuses.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    p = Path(path)
    if not p.is_file():
        raise DipHealError(f"no such sweep file: {p}; expected a TOML file such as sweeps/mve385-grid.toml")
    try:
        data = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DipHealError(f"{p}: not valid TOML ({exc}); expected a sweep file like sweeps/mve385-grid.toml") from None
    return parse_sweep(data, name=p.stem, where=str(p))


def parse_sweep(data: dict[str, Any], *, name: str = "sweep", where: str = "sweep") -> SweepSpec:
    """Check a sweep given as a dict (the TOML file's content) and build the :class:`SweepSpec`."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise DipHealError(
            f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(_TOP_KEYS))}"
        )
    sampler = data.get("sampler", "grid")
    if sampler not in SAMPLERS:
        raise DipHealError(f"{where}: sampler = {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DipHealError(f"{where}: seed = {seed!r}; expected an integer >= 0")
    trials = data.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise DipHealError(f"{where}: trials = {trials!r}; expected a positive integer")
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise DipHealError(f"{where}: [config] must be a table of FitConfig fields, got {type(config).__name__}")
    try:
        base = FitConfig().replace(**config)
    except DipHealError as exc:
        raise DipHealError(f"{where} [config]: {exc}") from None
    except TypeError as exc:
        raise DipHealError(f"{where} [config]: {exc}; check the value types") from None
    raw_params = data.get("params")
    if not isinstance(raw_params, dict) or not raw_params:
        raise DipHealError(
            f"{where}: no [params] table (got {raw_params!r}); expected at least one FitConfig field to vary, "
            "e.g. lr = [1e-3, 1e-2]"
        )
    known = set(FitConfig().to_dict()) - {"preset_name", "preset"}
    bad = sorted(set(raw_params) - known)
    if bad:
        raise DipHealError(
            f"{where} [params]: unknown key(s) {', '.join(bad)}; expected FitConfig fields such as "
            "lr, reg_noise_std, param_noise, seed, channels, depth"
        )
    params: dict[str, dict[str, Any]] = {}
    for key, value in raw_params.items():
        params[key] = _parse_param(key, value, base, where)
    desc = data.get("description", "")
    spec = SweepSpec(name=name, sampler=sampler, params=params, config=dict(config), trials=trials, seed=seed,
                     description=str(desc))
    return _check_sampler(spec, where)


def _parse_param(key: str, value: Any, base: FitConfig, where: str) -> dict[str, Any]:
    if isinstance(value, list):
        if not value:
            raise DipHealError(f"{where} [params]: {key} = [] is an empty grid axis; expected at least one value")
        choices = value
    elif isinstance(value, dict):
        extra = sorted(set(value) - _RANGE_KEYS)
        if extra or "low" not in value or "high" not in value:
            raise DipHealError(
                f"{where} [params]: {key} = {value!r}; expected a list of values or a range "
                "{low = a, high = b, log = true|false}"
            )
        lo, hi, log = value["low"], value["high"], bool(value.get("log", False))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) or not lo < hi:
            raise DipHealError(f"{where} [params]: {key} range {lo!r}..{hi!r}; expected numbers with low < high")
        if log and lo <= 0:
            raise DipHealError(f"{where} [params]: {key} log range starts at {lo!r}; expected low > 0 for log = true")
        is_int = isinstance(lo, int) and isinstance(hi, int) and isinstance(getattr(base, key), int) \
            and not isinstance(getattr(base, key), bool)
        for v in (lo, hi):
            _check_value(key, v if is_int else float(v), base, where)
        return {"low": lo if is_int else float(lo), "high": hi if is_int else float(hi), "log": log, "int": is_int}
    else:
        choices = [value]
    if len({json.dumps(c) for c in choices}) != len(choices):
        raise DipHealError(f"{where} [params]: {key} = {choices!r} repeats a value; expected distinct values")
    for c in choices:
        _check_value(key, c, base, where)
    return {"choices": list(choices)}


def _check_value(key: str, value: Any, base: FitConfig, where: str) -> None:
    if isinstance(value, (dict, list)):
        raise DipHealError(f"{where} [params]: {key} holds {value!r}; expected plain values")
    try:
        base.replace(**{key: value})
    except DipHealError as exc:
        raise DipHealError(f"{where} [params]: {exc}") from None


def _check_sampler(spec: SweepSpec, where: str) -> SweepSpec:
    if spec.sampler == "grid":
        ranges = [k for k, p in spec.params.items() if "choices" not in p]
        if ranges:
            raise DipHealError(
                f"{where}: a grid needs lists of values, but {', '.join(ranges)} is a range; "
                "give a list, or use sampler = \"random\" or \"tpe\""
            )
        if spec.trials is not None:
            raise DipHealError(
                f"{where}: trials = {spec.trials} does not apply to a grid (it runs each of its "
                f"{spec.n_points()} points once); remove it or use sampler = \"random\""
            )
    elif spec.trials is None:
        raise DipHealError(f"{where}: a {spec.sampler} sweep needs trials = N; add it (or pass --trials N)")
    return spec


def with_overrides(spec: SweepSpec, sampler: str | None = None, trials: int | None = None) -> SweepSpec:
    """The sweep with the command line's ``--sampler`` and ``--trials`` applied (and checked)."""
    new_sampler = sampler or spec.sampler
    if trials is not None and new_sampler == "grid":
        raise DipHealError(
            f"--trials {trials} does not apply to a grid (it runs each of its points once); "
            "drop --trials or pass --sampler random|tpe"
        )
    new_trials = trials if trials is not None else (spec.trials if new_sampler != "grid" else None)
    if new_sampler != "grid" and new_trials is None:
        new_trials = spec.n_points() if spec.sampler == "grid" else None
    out = SweepSpec(name=spec.name, sampler=new_sampler, params=spec.params, config=spec.config,
                    trials=new_trials, seed=spec.seed, description=spec.description)
    return _check_sampler(out, spec.name)


def resolve_config(base: FitConfig, spec: SweepSpec, overrides: dict[str, Any] | None = None) -> FitConfig:
    """The config every trial starts from: preset, then the sweep's ``[config]``, then the
    command line's options.

    The command line's options are ``overrides`` when given; otherwise the fields of ``base``
    that differ from its preset (so an option given with the preset's own value cannot be told
    apart and the sweep file's value is used). ``holdout_fraction`` is set to 0.03 when it is 0
    (a sweep needs held-out pixels).
    """
    name = getattr(base, "preset_name", None)
    preset = FitConfig.preset(name) if isinstance(name, str) and name in PRESETS else FitConfig()
    ref = json.loads(json.dumps(preset.to_dict()))
    user = {k: v for k, v in base.to_dict().items() if json.loads(json.dumps(v)) != ref[k]}
    if overrides:
        user.update(overrides)
    cfg = preset.replace(**spec.config).replace(**user)
    if cfg.holdout_fraction <= 0:
        cfg = cfg.replace(holdout_fraction=0.03)
    return cfg


# ----------------------------------------------------------------------------------- storage
def _redact(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        return u.render_as_string(hide_password=True) if u.password else url
    except Exception:
        return url


def _with_driver(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg2://`` when psycopg (3), SQLAlchemy 2.1's default
    driver, is missing and psycopg2 is there.

    Raises
    ------
    DipHealError
        A PostgreSQL URL without any driver installed.
    """
    import importlib.util

    if not url.startswith(("postgresql://", "postgres://")):
        return url
    if importlib.util.find_spec("psycopg") is not None:
        return url
    if importlib.util.find_spec("psycopg2") is None:
        raise DipHealError(
            f"no PostgreSQL driver for {_redact(url)}; expected psycopg2 or psycopg; "
            "install it with pip install 'dip-heal[postgres]'"
        )
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def open_storage(url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None,
                 ) -> "optuna.storages.RDBStorage":
    """Open an Optuna RDB storage (SQLite or PostgreSQL/MySQL URL) with a one-line error.

    Raises
    ------
    DipHealError
        A URL that is not a database URL, or a server that cannot be reached.
    """
    import optuna

    given, url = url, _with_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):
        engine_kwargs = {"connect_args": {"connect_timeout": 10}}
    try:
        from sqlalchemy.exc import IntegrityError, ProgrammingError

        for attempt in range(6):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(
                        url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                    )
            except (IntegrityError, ProgrammingError):
                # workers starting together on an empty database race to create Optuna's tables
                if attempt == 5:
                    raise
                time.sleep(0.2 + 0.3 * attempt + 0.2 * np.random.default_rng().random())
        raise AssertionError("unreachable")  # pragma: no cover
    except Exception as exc:  # sqlalchemy's ArgumentError, OperationalError, ImportError of a driver ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.replace("(psycopg2.OperationalError) ", "")
        raise DipHealError(
            f"cannot open the Optuna storage {_redact(given)} ({type(exc).__name__}: {reason}); expected a reachable "
            "database URL such as postgresql://user@host:5432/db or sqlite:///path/study.db; check the server, "
            "host, port and credentials, or omit --storage to use RUN/study.db"
        ) from None


# ----------------------------------------------------------------------------------- the sweep
@dataclass
class SweepSummary:
    """What :func:`run_sweep` did."""

    run_dir: Path
    study_name: str
    storage: str
    n_points: int
    n_complete: int
    best_trial: int | None
    best_iteration: int | None
    best_val_l1: float | None
    best_params: dict[str, Any]
    seconds: float

    def __str__(self) -> str:
        head = (f"sweep {self.run_dir}: {self.n_complete}/{self.n_points} trials complete in {self.seconds:.1f} s "
                f"(study {self.study_name!r} in {self.storage})")
        if self.best_trial is None:
            return head
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in self.best_params.items())
        return (f"{head}; recommended: trial {self.best_trial} ({params}) at iteration {self.best_iteration}, "
                f"held-out L1 {self.best_val_l1:.4g}; next: dip-heal sheet {self.run_dir}; "
                f"dip-heal pick {self.run_dir} --best")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


@dataclass
class _Context:
    """Everything a trial needs, loaded once per worker."""

    image: np.ndarray
    heal: np.ndarray
    holdout: np.ndarray
    limits: tuple[float, float]
    config: FitConfig
    spec: SweepSpec
    points: list[dict[str, Any]]
    store: Any
    device: str | None
    progress: bool
    grace_period: int
    tmp_root: Path | None = None


def _frame_digest(image: np.ndarray, heal: np.ndarray, holdout: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.nan_to_num(image, nan=-1.0)).tobytes())
    h.update(np.packbits(heal).tobytes())
    h.update(np.packbits(holdout).tobytes())
    return h.hexdigest()[:16]


def run_sweep(
    image: str | os.PathLike,
    out: str | os.PathLike,
    *,
    base_config: FitConfig | None = None,
    mask_path: str | os.PathLike | None = None,
    mask_convention: str | None = None,
    sweep_file: str | os.PathLike | None = None,
    sampler: str | None = None,
    trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    device: str | None = None,
    progress: bool = False,
    heartbeat_interval: int = 5,
    grace_period: int = 20,
    max_trials: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> SweepSummary:
    """Run (or resume, or join) a hyperparameter sweep of one frame.

    Parameters
    ----------
    image : path-like
        The frame (any format :func:`dip_heal.io.read_image` reads).
    out : path-like
        The run folder (created; reused when it holds the same sweep).
    base_config : FitConfig, optional
        The command line's config; its fields that differ from its preset win over the sweep
        file's ``[config]`` (see :func:`resolve_config`).
    mask_path : path-like, optional
        Pixels to heal; default: the frame's invalid pixels.
    mask_convention : str, optional
        How to read the mask file.
    sweep_file : path-like, optional
        The sweep TOML; default the shipped file for ``sampler`` (``sweeps/mve385-grid.toml``).
    sampler : {'grid', 'random', 'tpe'}, optional
        Overrides the file's sampler (a grid file's lists become categorical choices).
    trials : int, optional
        Overrides the file's number of trials (random and TPE only).
    storage : str, optional
        Optuna storage URL; default ``sqlite:///RUN/study.db``. With a PostgreSQL URL, workers
        on several machines running the same command share the sweep.
    study_name : str, optional
        Default: ``<sweep name>-<image stem>``.
    device : str, optional
    progress : bool
        A progress bar per trial.
    heartbeat_interval, grace_period : int
        Seconds between a running trial's heartbeats, and without one before the trial counts as
        dead (its worker was killed) and is retried.
    max_trials : int, optional
        Stop this worker after running this many trials (the sweep can be resumed).
    overrides : dict, optional
        The FitConfig fields the command line set explicitly; they win over the sweep file's
        ``[config]`` even where they equal the preset's value.

    Returns
    -------
    SweepSummary

    Raises
    ------
    DipHealError
        Bad sweep file or options, an unreachable storage, a study or run folder that holds
        another sweep, a frame without pixels to heal.
    """
    import optuna

    t0 = time.perf_counter()
    run = Path(out)
    base_config = base_config if base_config is not None else FitConfig.preset("default")
    spec = load_sweep(sweep_file if sweep_file is not None else default_sweep_path(sampler))
    if trials is not None and (sampler or spec.sampler) == "grid":
        # a grid's points are fixed: --trials N runs N of them now, the same command runs the rest
        max_trials = trials if max_trials is None else min(max_trials, trials)
        logger.info("grid sweep: running at most %d of its %d points now; run the same command again to "
                    "continue", trials, spec.n_points())
        trials = None
    spec = with_overrides(spec, sampler, trials)
    config = resolve_config(base_config, spec, overrides)
    if config.ensemble > 1:
        raise DipHealError(f"the sweep's configuration has ensemble = {config.ensemble}; a sweep fits one network "
                           "per trial (expected ensemble = 1); set ensemble to 1 and average trials afterwards "
                           "with `dip-heal pick RUN --average K`")
    if run.exists() and not run.is_dir():
        raise DipHealError(f"--out {run} is a file; expected a run folder path; choose another --out")

    from .report import log_limits
    from .runs import load_frame_and_mask, versions, write_json

    frame, heal = load_frame_and_mask(image, mask_path, mask_convention=mask_convention)
    if not heal.any():
        raise NothingToHeal(f"{image}: the mask selects no pixel to heal and the frame has no invalid pixel")
    if heal.all():
        raise DipHealError(f"{mask_path or image}: the mask heals every pixel; expected some measured pixels to fit; "
                           "check the mask polarity (--mask-convention)")
    from .dip import make_holdout

    data = np.where(heal, np.nan, frame.data).astype(np.float32)
    holdout = make_holdout(~heal, heal, config.holdout_fraction, spec.seed)
    if not holdout.any():
        raise DipHealError(f"{image}: no pixel was held out (holdout_fraction {config.holdout_fraction}); "
                           "expected a frame with enough measured pixels; raise holdout_fraction")

    study_name = study_name or f"{spec.name}-{Path(str(image)).name.split('.')[0]}"
    url = storage or f"sqlite:///{(run / 'study.db').resolve()}"
    record = {
        "input": str(Path(image).resolve()),
        "mask": str(Path(mask_path).resolve()) if mask_path is not None else None,
        "mask_convention": mask_convention,
        "shape": list(frame.shape),
        "sweep": spec.to_dict(),
        "sweep_file": str(Path(sweep_file).resolve()) if sweep_file is not None else None,
        "config": config.to_dict(),
        "storage": _redact(url),
        "study": study_name,
        "artifacts": "artifacts",
        "digest": _frame_digest(data, heal, holdout),
        "versions": versions(),
    }
    record = json.loads(json.dumps(record))  # tuples -> lists, as read back from sweep.json
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is not None:  # a server: check it answers before writing anything
        rdb = open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    _check_run_dir(run, record)
    check_not_input(run, [image, mask_path, sweep_file])
    run.mkdir(parents=True, exist_ok=True)
    mark_dir(run, command="fit --grid", entries=["sweep.json", "heal_mask.npy", "holdout.npy", "artifacts",
                                                  "study.db", ".tmp"])
    if storage is None:
        rdb = open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    store_dir = run / "artifacts"
    store_dir.mkdir(exist_ok=True)
    if not (run / "sweep.json").exists():
        np.save(run / "heal_mask.npy", heal)
        np.save(run / "holdout.npy", holdout)
        write_json(run / "sweep.json", record)

    fingerprint = {"sweep": {k: v for k, v in spec.to_dict().items() if k != "description"},
                   "config": config.to_dict(), "digest": record["digest"]}
    study = _create_or_join(rdb, study_name, spec, fingerprint)
    ctx = _Context(
        image=data, heal=heal, holdout=holdout,
        limits=log_limits(np.where(heal, np.nan, frame.data)),
        config=config, spec=spec, points=spec.points(), store=artifact_store(store_dir),
        device=device, progress=progress, grace_period=grace_period, tmp_root=run / ".tmp",
    )
    logger.info("sweep %s: %s sampler, %d %s, study %r in %s", run, spec.sampler, spec.n_points(),
                "points" if spec.sampler == "grid" else "trials", study_name, _redact(url))
    _drive(study, ctx, heartbeat_interval, max_trials, rdb)
    return _summary(study, run, study_name, _redact(url), spec, time.perf_counter() - t0)


def _check_run_dir(run: Path, record: dict[str, Any]) -> None:
    rec = run / "sweep.json"
    if run.is_dir() and any(run.iterdir()) and not rec.exists():
        raise DipHealError(f"--out {run} exists and holds no sweep (no sweep.json); expected a new or a sweep run "
                           "folder; choose another --out")
    if rec.exists():
        old = json.loads(rec.read_text())
        for key in ("digest", "sweep", "config", "study", "storage"):
            if old.get(key) != record[key]:
                raise DipHealError(
                    f"run folder {run} holds another sweep (its {key} differs); expected the same image, mask, "
                    "sweep and options to resume it; choose another --out"
                )


def artifact_store(path: Path) -> Any:
    from optuna.artifacts import FileSystemArtifactStore

    return FileSystemArtifactStore(str(path))


def _make_sampler(spec: SweepSpec, n_existing: int) -> "optuna.samplers.BaseSampler":
    import optuna

    if spec.sampler == "grid":
        return optuna.samplers.GridSampler(spec.search_space(), seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a different seed per (re)start, so a resumed TPE sweep does not replay its first proposals
        return optuna.samplers.TPESampler(seed=spec.seed + n_existing, constant_liar=True,
                                          n_startup_trials=min(10, max(2, (spec.trials or 10) // 3)))


def _create_or_join(storage: Any, name: str, spec: SweepSpec, fingerprint: dict[str, Any]) -> "optuna.Study":
    import optuna

    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="minimize",
                                    sampler=_make_sampler(spec, 0), pruner=optuna.pruners.NopPruner())
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        n = len(optuna.load_study(study_name=name, storage=storage).trials)
        study = optuna.load_study(study_name=name, storage=storage, sampler=_make_sampler(spec, n),
                                  pruner=optuna.pruners.NopPruner())
        created = False
    if created:
        study.set_user_attr(_ATTR, fingerprint)
        _queue(study, spec, range(spec.n_points()) if spec.sampler != "tpe" else range(0))
        study.set_user_attr(_ATTR_QUEUED, True)
        logger.info("created study %r (%d points queued)", name, spec.n_points() if spec.sampler != "tpe" else 0)
        return study
    # another worker (or an earlier run) created it: wait for its fingerprint and queue
    deadline = time.monotonic() + 30
    while _ATTR not in study.user_attrs or _ATTR_QUEUED not in study.user_attrs:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    theirs = study.user_attrs.get(_ATTR)
    if theirs is None:
        raise DipHealError(f"study {name!r} exists but was not made by a dip-heal sweep; expected a dip-heal "
                           "study; choose another --study")
    if theirs != json.loads(json.dumps(fingerprint)):
        ours = json.loads(json.dumps(fingerprint))
        diff = sorted(k for k in ("sweep", "config", "digest") if theirs.get(k) != ours[k])
        what = {"sweep": "sweep file", "config": "fit options", "digest": "frame, mask or held-out pixels"}
        raise DipHealError(
            f"study {name!r} holds another sweep (its {', '.join(what[d] for d in diff)} differ); expected the "
            "same image, mask, sweep and options to resume or join it; choose another --study (or --out)"
        )
    if _ATTR_QUEUED not in study.user_attrs and spec.sampler != "tpe":
        logger.warning("study %r was never fully queued (its creator stopped early); queueing the missing points", name)
        _queue_missing(study, spec)
        study.set_user_attr(_ATTR_QUEUED, True)
    logger.info("joined study %r (%d trials so far)", name, len(study.trials))
    return study


def _queue(study: "optuna.Study", spec: SweepSpec, indices: Any, retry_of: dict[int, int] | None = None) -> None:
    points = spec.points()
    for i in indices:
        attrs: dict[str, Any] = {"point": int(i)}
        if retry_of and i in retry_of:
            attrs["retry_of"] = retry_of[i]
        study.enqueue_trial(points[i], user_attrs=attrs)


def _queue_missing(study: "optuna.Study", spec: SweepSpec) -> int:
    """Queue again the points that have no complete, running or waiting trial; returns how many."""
    trials = study.get_trials(deepcopy=False)
    covered: set[int] = set()
    last_fail: dict[int, int] = {}
    for t in trials:
        p = t.user_attrs.get("point")
        if p is None or t.user_attrs.get("duplicate_of") is not None:
            continue
        if t.state.name in ("COMPLETE", "PRUNED", "RUNNING", "WAITING"):
            covered.add(int(p))
        elif t.state.name == "FAIL":
            last_fail[int(p)] = t.number
    missing = [i for i in range(spec.n_points()) if i not in covered]
    if missing:
        logger.info("retrying %d point(s) whose trial failed or was interrupted: %s", len(missing),
                    ", ".join(f"point {i} (trial {last_fail[i]})" if i in last_fail else f"point {i}" for i in missing))
        _queue(study, spec, missing, retry_of=last_fail)
    return len(missing)


def _fail_stale(study: "optuna.Study", rdb: Any = None, no_beat_after: float | None = None) -> None:
    """Mark dead trials FAIL: heartbeat older than the grace period (Optuna's check), or, for a
    worker killed before its first heartbeat, no heartbeat at all ``no_beat_after`` seconds
    after the trial started."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if rdb is None or no_beat_after is None:
        return
    import datetime as _dt

    import sqlalchemy

    try:
        with rdb.engine.connect() as con:
            rows = con.execute(sqlalchemy.text(
                "SELECT t.trial_id, t.number, t.datetime_start FROM trials t LEFT JOIN trial_heartbeats h "
                "ON h.trial_id = t.trial_id WHERE t.study_id = :sid AND t.state = 'RUNNING' AND h.trial_id IS NULL"
            ), {"sid": rdb.get_study_id_from_name(study.study_name)}).fetchall()
    except Exception as exc:  # pragma: no cover - a schema Optuna may change; the heartbeat check still runs
        logger.debug("no-heartbeat check skipped: %s", exc)
        return
    now = _dt.datetime.now()
    for trial_id, number, start in rows:
        if start is None or (now - start.replace(tzinfo=None)).total_seconds() < no_beat_after:
            continue
        try:
            if rdb.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL):
                logger.info("trial %d started %s and never sent a heartbeat: marked failed", number, start)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


def _remove_orphans(study: "optuna.Study", ctx: _Context) -> None:
    """Delete the snapshots and temporary files of failed (killed, interrupted) trials.

    Their points are queued again and run from scratch, so what they left is never read: their
    artifacts would only be orphans in ``artifacts/`` and their temporary folders leftovers.
    """
    for t in study.get_trials(deepcopy=False, states=None):
        if t.state.name != "FAIL":
            continue
        n_removed = 0
        for snap in t.user_attrs.get("snapshots", []):
            for key in ("npy", "png"):
                if snap.get(key) is None:
                    continue
                try:
                    ctx.store.remove(snap[key])
                    n_removed += 1
                except Exception:  # already removed (by us or another worker): ArtifactNotFound
                    pass
        if ctx.tmp_root is not None and ctx.tmp_root.is_dir():
            for left in ctx.tmp_root.glob(f"trial{t.number:05d}-*"):
                shutil.rmtree(left, ignore_errors=True)
        if n_removed:
            logger.info("removed %d snapshot file(s) of failed trial %d (its point is run again)", n_removed, t.number)


def _drive(study: "optuna.Study", ctx: _Context, heartbeat_interval: int, max_trials: int | None,
           rdb: Any = None) -> None:
    """Run trials until every point (grid, random) or ``trials`` trials (TPE) are complete."""
    spec = ctx.spec
    ran = 0
    waited_for: set[int] = set()
    current: dict[str, Any] = {}

    def objective(trial: "optuna.Trial") -> float:
        current["trial"] = trial
        return _objective(trial, ctx)

    while True:
        _fail_stale(study, rdb, 2 * ctx.grace_period + heartbeat_interval)
        _remove_orphans(study, ctx)
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        running = [t for t in trials if t.state.name == "RUNNING"]
        waiting = [t for t in trials if t.state.name == "WAITING"]
        if spec.sampler == "tpe":
            if len(complete) >= spec.n_points():
                break
            if not waiting and len(complete) + len(running) >= spec.n_points():
                _wait(running, waited_for, heartbeat_interval)
                continue
        else:
            done = {int(t.user_attrs["point"]) for t in trials if "point" in t.user_attrs
                    and (t.state.name == "COMPLETE" or (t.state.name == "PRUNED"
                                                        and t.user_attrs.get("duplicate_of") is None))}
            if len(done) >= spec.n_points():
                break
            if not waiting:
                if _queue_missing(study, spec):
                    continue
                _wait(running, waited_for, heartbeat_interval)
                continue
        if max_trials is not None and ran >= max_trials:
            logger.info("stopping after %d trials (max_trials); run the same command again to continue", ran)
            break
        try:
            study.optimize(objective, n_trials=1, catch=(), gc_after_trial=False)
        except KeyboardInterrupt:
            _requeue_interrupted(study, current.get("trial"), spec)
            raise
        ran += 1


def _wait(running: list[Any], waited_for: set[int], heartbeat_interval: int) -> None:
    new = [t.number for t in running if t.number not in waited_for]
    if new:
        logger.info("waiting for trial(s) %s running elsewhere (or dead: retried once their heartbeat is older "
                    "than the grace period)", ", ".join(map(str, new)))
        waited_for.update(new)
    time.sleep(max(0.5, heartbeat_interval / 2))


def _requeue_interrupted(study: "optuna.Study", trial: Any, spec: SweepSpec) -> None:
    """After Ctrl-C: queue the interrupted trial again (same parameters and seed)."""
    if trial is None:
        return
    try:
        frozen = study._storage.get_trial(trial._trial_id)
    except Exception:  # pragma: no cover - the storage went away with the interrupt
        return
    if frozen.state.name != "FAIL" or frozen.user_attrs.get("duplicate_of") is not None:
        return
    attrs = {"retry_of": frozen.number}
    if "point" in frozen.user_attrs:
        attrs["point"] = frozen.user_attrs["point"]
    study.enqueue_trial(dict(frozen.params), user_attrs=attrs)
    logger.info("trial %d was interrupted; it will be retried when the sweep is run again", frozen.number)


def _suggest(trial: "optuna.Trial", name: str, p: dict[str, Any]) -> Any:
    if "choices" in p:
        return trial.suggest_categorical(name, p["choices"])
    if p.get("int"):
        return trial.suggest_int(name, p["low"], p["high"], log=p.get("log", False))
    return trial.suggest_float(name, p["low"], p["high"], log=p.get("log", False))


class TrialReporter:
    """A fit callback for one sweep trial: every snapshot stored as Optuna artifacts and reported.

    The snapshot's ``.npy`` and ``.png`` (:func:`dip_heal.runs.write_snapshot`) are uploaded to
    ``store``, listed in the trial's ``snapshots`` user attribute, and its held-out L1 reported
    with ``trial.report``; a pruner's verdict raises ``optuna.TrialPruned``.
    """

    def __init__(self, trial: "optuna.Trial", store: Any, limits: Any, tmp: Path) -> None:
        self.trial, self.store, self.limits, self.tmp = trial, store, limits, Path(tmp)
        self.snapshots: list[dict[str, Any]] = []

    def __call__(self, snap: Any, state: dict[str, Any]) -> None:
        import optuna
        from optuna.artifacts import upload_artifact

        from .runs import write_snapshot

        trial = self.trial
        stem = self.tmp / f"trial{trial.number:05d}_iter{snap.iteration:06d}"
        write_snapshot(stem, snap.healed, self.limits)
        ids = {}
        for ext, mime in (("npy", "application/octet-stream"), ("png", "image/png")):
            ids[ext] = upload_artifact(artifact_store=self.store, file_path=str(stem.with_suffix("." + ext)),
                                       study_or_trial=trial, mimetype=mime)
            stem.with_suffix("." + ext).unlink()
        val = float(snap.val_l1)
        self.snapshots.append({"iteration": int(snap.iteration), "val_l1": val, "npy": ids["npy"],
                               "png": ids["png"], "seconds": round(float(snap.seconds), 3)})
        trial.set_user_attr("snapshots", self.snapshots)
        trial.report(val, int(snap.iteration))
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at iteration {snap.iteration} (held-out L1 {val:.4g})")


def _objective(trial: "optuna.Trial", ctx: _Context) -> float:
    import optuna

    from .dip import fit

    spec = ctx.spec
    if spec.sampler != "tpe" and "point" not in trial.user_attrs:
        # the queue ran dry between our look and Optuna's ask: this trial is surplus
        trial.set_user_attr("duplicate_of", -1)
        raise optuna.TrialPruned("surplus trial (every point is taken)")
    params = {name: _suggest(trial, name, p) for name, p in spec.params.items()}
    point = trial.user_attrs.get("point")
    if point is not None:
        for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                                optuna.trial.TrialState.RUNNING)):
            if t.number != trial.number and t.user_attrs.get("point") == point \
                    and t.user_attrs.get("duplicate_of") is None:
                trial.set_user_attr("duplicate_of", t.number)
                raise optuna.TrialPruned(f"point {point} is already {t.state.name.lower()} in trial {t.number}")
    cfg = ctx.config.replace(**params)
    trial.set_user_attr("config", cfg.to_dict())
    trial.set_user_attr("seed", cfg.seed)
    trial.set_user_attr("torch_threads", _torch_threads())
    trial.set_user_attr("snapshots", [])
    if ctx.tmp_root is not None:
        ctx.tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"trial{trial.number:05d}-", dir=ctx.tmp_root))
    label = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())
    logger.info("trial %d: %s", trial.number, label)

    reporter = TrialReporter(trial, ctx.store, ctx.limits, tmp)
    try:
        result = fit(ctx.image, ctx.heal, cfg, device=ctx.device, progress=ctx.progress, callback=reporter,
                     holdout=ctx.holdout, keep_snapshots=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    snapshots = reporter.snapshots
    best = min(snapshots, key=lambda s: s["val_l1"])
    trial.set_user_attr("best_iteration", best["iteration"])
    trial.set_user_attr("best_val_l1", best["val_l1"])
    trial.set_user_attr("seconds", round(result.seconds, 3))
    trial.set_user_attr("device", result.extra.get("device"))
    logger.info("trial %d done in %.1f s: best held-out L1 %.4g at iteration %d", trial.number, result.seconds,
                best["val_l1"], best["iteration"])
    return best["val_l1"]


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _summary(study: "optuna.Study", run: Path, name: str, url: str, spec: SweepSpec, seconds: float) -> SweepSummary:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    best = min(complete, key=lambda t: t.value) if complete else None
    return SweepSummary(
        run_dir=run, study_name=name, storage=url, n_points=spec.n_points(), n_complete=len(complete),
        best_trial=best.number if best else None,
        best_iteration=best.user_attrs.get("best_iteration") if best else None,
        best_val_l1=best.value if best else None,
        best_params=dict(best.params) if best else {}, seconds=seconds,
    )

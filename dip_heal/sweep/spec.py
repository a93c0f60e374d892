"""Sweep files: the TOML form of a sweep, checked, and the config every trial starts from.

A sweep is a TOML file (``sweeps/*.toml``)::

    description = "the MVE385 grid"   # optional
    sampler = "grid"                  # grid | random | tpe
    seed = 0                          # seeds the sampler and the held-out pixels
    trials = 12                       # random and tpe only
    time_budget = 3600                # optional: wall seconds; no trial starts once they are spent
    poni = "beamline.poni"            # optional: a pyFAI calibration (relative to this file; or --poni)
    [config]                          # FitConfig fields shared by every trial
    num_iter = 1000
    snapshot_every = 25
    [params]                          # FitConfig fields that vary
    lr = [1e-4, 1e-3, 1e-2, 0.05, 0.1]          # a list: grid axis / categorical choices
    reg_noise_std = {low = 0.001, high = 0.3, log = true}   # a range (random, tpe)
    seed = [0]                                  # the fit seed is part of every trial
    [prune]                           # successive halving on the snapshots' held-out L1 (default)
    pruner = "halving"                # halving | hyperband | none
    min_resource = 100                # iterations before the first cut (default: num_iter / factor**2)
    reduction_factor = 3              # keep the best 1/3 at every rung

Options given on the command line (``--iters``, ``--lr``, ...) win over the file's ``[config]``,
which wins over the preset. Without a ``seed`` parameter every trial uses the config's seed.
A sweep's trials are budgeted in iterations: they do not inherit a preset's ``time_limit`` (the
default preset's 840 s), and a ``time_limit`` in ``[config]`` is refused.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import PRESETS, FitConfig
from ..errors import DipHealError

__all__ = ["SweepSpec", "SAMPLERS", "SWEEPS_DIR", "PRUNERS", "default_sweep_path", "load_sweep", "parse_sweep",
           "with_overrides", "resolve_config", "resolve_prune", "format_value"]

logger = logging.getLogger(__name__)

SAMPLERS = ("grid", "random", "tpe")
#: The shipped sweep files (package data; the source tree's ``sweeps/`` links to them).
SWEEPS_DIR = Path(__file__).resolve().parent.parent / "data" / "sweeps"
_DEFAULT_FILES = {"grid": "mve385-grid.toml", "random": "random.toml", "tpe": "tpe.toml"}
_TOP_KEYS = {"description", "sampler", "seed", "trials", "config", "params", "prune", "time_budget", "poni"}
#: ``[prune] pruner`` values: Optuna's asynchronous successive halving, Hyperband, or none.
PRUNERS = ("halving", "hyperband", "none")
_PRUNE_KEYS = {"pruner", "min_resource", "reduction_factor"}
_DEFAULT_PRUNE: dict[str, Any] = {"pruner": "halving", "min_resource": None, "reduction_factor": 3}
_RANGE_KEYS = {"low", "high", "log"}


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
    prune : dict
        ``pruner`` (one of :data:`PRUNERS`), ``min_resource`` (iterations before the first
        cut; None until :func:`resolve_prune` sets it from the config) and ``reduction_factor``.
    time_budget : float or None
        Sweep-wide wall-time budget in seconds: no trial starts once it is spent (a started
        trial runs to its end). Not part of the sweep's identity: a resumed sweep may change it.
    poni : str or None
        A pyFAI calibration of the detector (``poni = "..."``, relative to the TOML file): the beam
        centre, 2theta and chi of every trial's polar inputs and azimuthal model.
    """

    name: str
    sampler: str
    params: dict[str, dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    trials: int | None = None
    seed: int = 0
    description: str = ""
    prune: dict[str, Any] = field(default_factory=lambda: dict(_DEFAULT_PRUNE))
    time_budget: float | None = None
    poni: str | None = None

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
        """The sweep's identity (``time_budget`` left out: it may change between runs)."""
        out = {"name": self.name, "sampler": self.sampler, "params": self.params, "config": self.config,
               "trials": self.trials, "seed": self.seed, "description": self.description, "prune": self.prune}
        if self.poni is not None:
            out["poni"] = self.poni
        return out

    @property
    def pruned(self) -> bool:
        """Whether trials are pruned (``[prune] pruner`` is not ``"none"``)."""
        return self.prune.get("pruner", "none") != "none"


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
    spec = parse_sweep(data, name=p.stem, where=str(p))
    if spec.poni is not None and not Path(spec.poni).is_absolute():
        spec = replace(spec, poni=str((p.parent / spec.poni).resolve()))
    return spec


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
    if "time_limit" in config:
        raise DipHealError(
            f"{where} [config]: time_limit = {config['time_limit']!r}; a sweep's trials are budgeted in iterations "
            "(expected num_iter and snapshot_every only); remove it, and set a sweep-wide wall budget with "
            "time_budget = SECONDS (or --time-budget)"
        )
    desc = data.get("description", "")
    spec = SweepSpec(name=name, sampler=sampler, params=params, config=dict(config), trials=trials, seed=seed,
                     description=str(desc), prune=_parse_prune(data.get("prune", {}), where),
                     time_budget=_parse_time_budget(data.get("time_budget"), where))
    poni = data.get("poni")
    if poni is not None:
        if not isinstance(poni, str) or not poni:
            raise DipHealError(f"{where}: poni = {poni!r}; expected the path of a .poni file (a string)")
        spec = replace(spec, poni=poni)
    return _check_sampler(spec, where)


def _parse_prune(table: Any, where: str) -> dict[str, Any]:
    """The ``[prune]`` table, checked, with the defaults filled in."""
    if not isinstance(table, dict):
        raise DipHealError(f"{where}: prune must be a table ([prune] pruner = ..., min_resource = ..., "
                           f"reduction_factor = ...), got {table!r}")
    extra = sorted(set(table) - _PRUNE_KEYS)
    if extra:
        raise DipHealError(f"{where} [prune]: unknown key(s) {', '.join(extra)}; expected some of "
                           f"{', '.join(sorted(_PRUNE_KEYS))}")
    out = {**_DEFAULT_PRUNE, **table}
    if out["pruner"] not in PRUNERS:
        raise DipHealError(f"{where} [prune]: pruner = {out['pruner']!r}; expected one of {', '.join(PRUNERS)}")
    m = out["min_resource"]
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
        raise DipHealError(f"{where} [prune]: min_resource = {m!r}; expected iterations, an integer >= 1")
    f = out["reduction_factor"]
    if isinstance(f, bool) or not isinstance(f, int) or f < 2:
        raise DipHealError(f"{where} [prune]: reduction_factor = {f!r}; expected an integer >= 2")
    return out


def _parse_time_budget(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise DipHealError(f"{where}: time_budget = {value!r}; expected seconds > 0 (or no time_budget)")
    return float(value)


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
                    trials=new_trials, seed=spec.seed, description=spec.description, prune=spec.prune,
                    time_budget=spec.time_budget, poni=spec.poni)
    return _check_sampler(out, spec.name)


def resolve_prune(spec: SweepSpec, config: FitConfig, prune: bool = True,
                  time_budget: float | None = None) -> SweepSpec:
    """The sweep with its pruning settled for ``config`` (and the command line's ``--no-prune``
    and ``--time-budget`` applied).

    ``min_resource`` left unset becomes ``num_iter / reduction_factor**2`` rounded up to a
    multiple of ``snapshot_every`` (at least one snapshot): with the default factor 3, a third of
    the trials pass the first rung at a ninth of the budget.

    A ``min_resource`` not below ``num_iter`` (e.g. ``--iters 50`` with the shipped grid's 100)
    turns pruning off, with a warning: no trial could be cut.

    Raises
    ------
    DipHealError
        A time budget that is not a positive number of seconds.
    """
    p = dict(spec.prune)
    if not prune:
        p = {"pruner": "none", "min_resource": None, "reduction_factor": p["reduction_factor"]}
    elif p["pruner"] != "none":
        every, n = config.snapshot_every, config.num_iter
        if p["min_resource"] is None:
            want = n / p["reduction_factor"] ** 2
            p["min_resource"] = int(min(max(every, math.ceil(want / every) * every), n))
        if p["min_resource"] >= n:
            logger.warning("%s [prune]: min_resource = %d iterations is not below num_iter = %d, so no trial can be "
                           "cut: every point runs to the end (lower min_resource to prune)", spec.name,
                           p["min_resource"], n)
            p = {"pruner": "none", "min_resource": None, "reduction_factor": p["reduction_factor"]}
    budget = time_budget if time_budget is not None else spec.time_budget
    if budget is not None and not budget > 0:
        raise DipHealError(f"--time-budget {budget!r}; expected seconds > 0")
    return SweepSpec(name=spec.name, sampler=spec.sampler, params=spec.params, config=spec.config,
                     trials=spec.trials, seed=spec.seed, description=spec.description, prune=p, time_budget=budget,
                     poni=spec.poni)


def resolve_config(base: FitConfig, spec: SweepSpec, overrides: dict[str, Any] | None = None) -> FitConfig:
    """The config every trial starts from: preset, then the sweep's ``[config]``, then the
    command line's options.

    The command line's options are ``overrides`` when given; otherwise the fields of ``base``
    that differ from its preset (so an option given with the preset's own value cannot be told
    apart and the sweep file's value is used). ``holdout_fraction`` is set to 0.03 when it is 0
    (a sweep needs held-out pixels). ``time_limit`` is 0: trials are budgeted in iterations
    (see :func:`resolve_prune` for the sweep-wide wall budget).

    Raises
    ------
    DipHealError
        A ``time_limit`` given on the command line.
    """
    name = getattr(base, "preset_name", None)
    preset = FitConfig.preset(name) if isinstance(name, str) and name in PRESETS else FitConfig()
    ref = json.loads(json.dumps(preset.to_dict()))
    user = {k: v for k, v in base.to_dict().items() if json.loads(json.dumps(v)) != ref[k]}
    if overrides:
        user.update(overrides)
    if user.get("time_limit"):
        raise DipHealError(
            f"--time-limit {user['time_limit']:g} applies to one fit; a sweep's trials are budgeted in iterations "
            "(expected --iters); drop --time-limit, and use --time-budget SECONDS for a sweep-wide wall budget"
        )
    cfg = preset.replace(**spec.config).replace(**user).replace(time_limit=0.0)
    if cfg.holdout_fraction <= 0:
        cfg = cfg.replace(holdout_fraction=0.03)
    return cfg


def format_value(v: Any) -> str:
    """A parameter value for a log line: floats as ``%g``."""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)

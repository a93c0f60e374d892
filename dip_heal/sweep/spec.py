"""Sweep files: the TOML form of a sweep, checked, and the config every trial starts from.

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

Options given on the command line (``--iters``, ``--lr``, ...) win over the file's ``[config]``,
which wins over the preset. Without a ``seed`` parameter every trial uses the config's seed.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import PRESETS, FitConfig
from ..errors import DipHealError

__all__ = ["SweepSpec", "SAMPLERS", "SWEEPS_DIR", "default_sweep_path", "load_sweep", "parse_sweep",
           "with_overrides", "resolve_config", "format_value"]

SAMPLERS = ("grid", "random", "tpe")
#: The shipped sweep files (package data; the source tree's ``sweeps/`` links to them).
SWEEPS_DIR = Path(__file__).resolve().parent.parent / "data" / "sweeps"
_DEFAULT_FILES = {"grid": "mve385-grid.toml", "random": "random.toml", "tpe": "tpe.toml"}
_TOP_KEYS = {"description", "sampler", "seed", "trials", "config", "params"}
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


def format_value(v: Any) -> str:
    """A parameter value for a log line: floats as ``%g``."""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)

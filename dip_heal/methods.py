"""The healing methods behind one registry: the classical fills and the Deep Image Prior.

Every method has the signature ``heal(image, heal_mask, **opts) -> (M, N) float32`` (see
:mod:`dip_heal.fills`). Methods are looked up by name with :func:`heal_method`; a ``name:arg``
form passes ``arg`` to the method's argument keyword (``dip:fast`` picks the ``fast`` preset,
``dip:config.json`` a saved configuration, ``dip:RUN_DIR`` a sweep's recommended trial and
snapshot, ``blind:MODEL_DIR`` a trained blind model). Nothing in the DIP imports this module.

Methods
-------
``biharmonic``, ``ns``, ``telea``, ``pyfai``, ``azimuthal``
    The classical fills of :mod:`dip_heal.fills` (``azimuthal``: the DIP's ring model as a fill; not
    in the benchmark's default set).
``fold``, ``mirror``
    The symmetry fills of :mod:`dip_heal.fills`: a fibre's quadrant fold, a GISAXS frame's
    left-right mirror about its specular plane (not in the default set).
``dip``
    :func:`dip_heal.fit` with a preset (default ``default``) or a FitConfig JSON file.
``blind``
    A trained blind model (:func:`dip_heal.blind.bulk.heal_with_model`); ``blind:MODEL_DIR``
    picks the model folder (default: the shipped model). Imported on first use.
"""

from __future__ import annotations

import functools
import importlib
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._intensity import composite
from .errors import DipHealError
from .fills import (CLASSICAL, check_inputs, heal_azimuthal, heal_biharmonic, heal_fold, heal_mirror, heal_ns,
                    heal_pyfai, heal_telea)

__all__ = ["METHODS", "METHOD_ARG", "CLASSICAL", "heal_method", "register_method", "method_names", "heal_dip"]

logger = logging.getLogger(__name__)

HealFunc = Callable[..., np.ndarray]


def heal_dip(image: np.ndarray, heal_mask: np.ndarray, *, preset: str = "default", num_iter: int | None = None,
             device: str | None = None, info: dict[str, Any] | None = None, poni: Any = None,
             center: tuple[float, float] | None = None, offset: tuple[int, int] = (0, 0),
             **changes: Any) -> np.ndarray:
    """Heal with the Deep Image Prior (:func:`dip_heal.fit`).

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    preset : str
        A :meth:`FitConfig.preset` name, the path of a FitConfig JSON file, or a sweep's run
        folder (``sweep.json`` inside): then the best trial's configuration, run for its
        recommended number of iterations (the snapshot with the lowest held-out L1) on all known
        pixels (``select='final'``; a blending configuration keeps its held-out pixels to weigh
        the fills, and a best snapshot at iteration 0 is replayed as one iteration).
    num_iter : int, optional
        Iteration budget (default: the preset's).
    device : str, optional
        ``cpu``, ``cuda``, ...; default as :func:`dip_heal.fit`.
    info : dict, optional
        Filled with ``iterations`` (run), ``snapshot`` (iteration of the returned composite),
        ``num_iter`` (the budget), ``seconds`` and ``preset`` of the fit (for the benchmark table).
    poni : path-like or Geometry, optional
        A pyFAI calibration (:mod:`dip_heal.geometry`) for the polar inputs and the azimuthal model.
    center : (x, y), optional
        The beam centre in the pixels of the frame ``image`` was cut from (``offset`` is
        subtracted), as the other geometric fills take it; ignored with ``poni``. Default:
        estimated by :func:`dip_heal.fit`.
    offset : (row, col)
        Where ``image`` starts in the calibrated detector or frame (a benchmark crop's corner).
    **changes
        Other FitConfig fields to change.

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        Unknown preset or config file, bad FitConfig fields, or bad image and mask.
    """
    from .config import FitConfig
    from .dip import fit
    from .polar import crop_center

    image, heal = check_inputs(image, heal_mask)
    p = Path(preset)
    if p.is_dir():
        config, name = _sweep_config(p)
    elif p.suffix.lower() == ".json" or p.is_file():
        if not p.is_file():
            raise DipHealError(f"no such FitConfig file: {p}; expected a preset name or a JSON config file")
        config = FitConfig.from_json(p)
        name = p.name
    else:
        config = FitConfig.preset(preset)
        name = preset
    if num_iter is not None:
        changes["num_iter"] = int(num_iter)
    if changes:
        config = config.replace(**changes)
    t0 = time.perf_counter()
    geometry = None
    if poni is not None:
        from .geometry import load_geometry

        geometry = load_geometry(poni, image.shape, offset, crop=True)
    center = None if geometry is not None or center is None else crop_center(center, offset)
    result = fit(image, heal, config, device=device, keep_snapshots=False, geometry=geometry, center=center)
    if info is not None:
        ran = result.extra.get("stopped_at") if isinstance(result.extra, dict) else None
        if ran is None:
            ran = result.metrics[-1]["iteration"] if result.metrics else result.iteration
        info.update(iterations=int(ran), snapshot=int(result.iteration), seconds=time.perf_counter() - t0,
                    preset=name, num_iter=int(config.num_iter))
    return composite(image, heal, np.asarray(result.healed, dtype=np.float64))


def _sweep_config(run_dir: Path) -> tuple[Any, str]:
    """The best trial's FitConfig of a sweep run folder, cut at its recommended iteration."""
    from .config import FitConfig
    from .pick import open_run  # looked up here, on dip_heal.pick (tests stand in for it there)
    from .runs.layout import SWEEP_JSON

    if not (run_dir / SWEEP_JSON).is_file():
        raise DipHealError(f"{run_dir} is a folder without sweep.json; expected a sweep's run folder, a preset "
                           "name or a FitConfig JSON file")
    best = open_run(run_dir).best()
    if not best.config or best.best_iteration is None:
        raise DipHealError(f"{run_dir}: trial {best.number} has no recorded config or recommended snapshot; "
                           "expected a sweep run by dip-heal")
    config = FitConfig.from_dict(best.config)
    it = int(best.best_iteration)
    # a blend needs its held-out pixels to weigh the fills; a plain fit uses every known pixel.
    # A trial whose best snapshot is iteration 0 (the fills alone) is replayed for one
    # iteration, keeping the better of iterations 0 and 1 on the held-out pixels.
    config = config.replace(num_iter=max(1, it), select="best_val" if it == 0 else "final", patience=0,
                            holdout_fraction=config.holdout_fraction if config.blend or it == 0 else 0.0)
    return config, f"{run_dir.name} trial {best.number}"


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------

#: name -> heal function, or ``"module:function"`` resolved on first use (keeps imports lazy).
METHODS: dict[str, HealFunc | str] = {
    "biharmonic": heal_biharmonic,
    "ns": heal_ns,
    "telea": heal_telea,
    "pyfai": heal_pyfai,
    "azimuthal": heal_azimuthal,
    "fold": heal_fold,
    "mirror": heal_mirror,
    "dip": heal_dip,
    "blind": "dip_heal.blind.bulk:heal_with_model",
}

#: name -> the keyword that receives ``arg`` in the ``name:arg`` form.
METHOD_ARG: dict[str, str] = {"dip": "preset", "blind": "model_dir"}


def register_method(name: str, func: HealFunc | str, *, arg: str | None = None) -> None:
    """Add a method to the registry.

    Parameters
    ----------
    name : str
        Registry name (no ``:``).
    func : callable or str
        ``heal(image, heal_mask, **opts) -> (M, N) float32``, or ``"module:function"`` to import
        on first use.
    arg : str, optional
        Keyword that receives ``ARG`` of the ``name:ARG`` form (e.g. ``model_dir``).

    Raises
    ------
    DipHealError
        A name with ``:`` or that is empty, or a ``func`` that is neither callable nor a string.
    """
    if not name or ":" in name:
        raise DipHealError(f"got method name {name!r}; expected a non-empty name without ':'")
    if not (callable(func) or (isinstance(func, str) and ":" in func)):
        raise DipHealError(f"got {func!r} for method {name!r}; expected a callable or 'module:function'")
    METHODS[name] = func
    if arg is not None:
        METHOD_ARG[name] = arg


def method_names() -> list[str]:
    """Registered method names (the ``name:arg`` forms take the names listed)."""
    return sorted(METHODS)


def _resolve(name: str) -> HealFunc:
    entry = METHODS[name]
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        try:
            func = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise DipHealError(f"method {name!r} is not available here ({exc}); choose another method") from None
        METHODS[name] = func
        entry = func
    return entry


def heal_method(name: str) -> HealFunc:
    """The heal function registered as ``name`` (or ``name:arg``).

    Parameters
    ----------
    name : str
        A registered name (see :func:`method_names`), optionally ``name:ARG`` to pass ``ARG``
        to the method's argument keyword (``dip:fast``, ``dip:sweep/best.json``).

    Returns
    -------
    heal : callable
        ``heal(image, heal_mask, **opts) -> (M, N) float32``.

    Raises
    ------
    DipHealError
        An unknown name (the message lists the known ones), or ``:ARG`` on a method that takes none.

    Examples
    --------
    >>> heal_method("telea").__name__
    'heal_telea'
    """
    base, sep, arg = str(name).strip().partition(":")
    if base not in METHODS:
        raise DipHealError(f"unknown method {base!r}; expected one of: {', '.join(method_names())}")
    func = _resolve(base)
    if not sep:
        return func
    key = METHOD_ARG.get(base)
    if key is None or not arg:
        raise DipHealError(
            f"method {base!r} takes no ':ARG' (got {name!r}); "
            f"methods that take one: {', '.join(sorted(METHOD_ARG)) or 'none'}"
        )
    part = functools.partial(func, **{key: arg})
    functools.update_wrapper(part, func)
    return part

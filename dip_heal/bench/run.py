"""Running the benchmark: every method on every case, timed and scored."""

from __future__ import annotations

import inspect
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..methods import CLASSICAL, heal_method
from ..errors import DipHealError
from .cases import Case, load_cases
from .floor import noise_floor
from .figures import panel_figure, save_figure, write_outputs
from .prepare import PreparedCase, prepare_case, resolve_data_path
from .result import BenchResult, MethodScore
from .score import score_healed

__all__ = ["run_case", "run_bench"]

logger = logging.getLogger(__name__)


def _method_opts(method: str, func: Callable[..., np.ndarray], prep: PreparedCase, data_dir: Path,
                 opts: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Keyword options for one call: the user's, the case's geometry for pyfai, an info dict."""
    base = method.partition(":")[0]
    kw: dict[str, Any] = dict(opts.get(base, {}))
    kw.update(opts.get(method, {}))
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params = {}
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    case = prep.case
    if base == "pyfai":
        kw.setdefault("offset", prep.offset)
        if case.poni is not None:
            kw.setdefault("poni", str(resolve_data_path(data_dir, case.poni)))
        if case.center is not None:
            kw.setdefault("center", case.center)
        if case.pixel_size is not None:
            kw.setdefault("pixel_size", case.pixel_size)
    elif base in ("fold", "mirror", "blind"):  # issues 19, 21: the case's beam centre, in full-frame pixels
        kw.setdefault("offset", prep.offset)
        if case.center is not None:
            kw.setdefault("center", case.center)
    elif base in ("azimuthal", "dip"):  # issues 18, 19: the case's PONI or centre for the ring model and polar inputs
        kw.setdefault("offset", prep.offset)
        if case.poni is not None:
            kw.setdefault("poni", str(resolve_data_path(data_dir, case.poni)))
        if case.center is not None:
            kw.setdefault("center", case.center)
    info: dict[str, Any] | None = None
    if "info" in params or accepts_any:
        info = {}
        kw["info"] = info
    if not accepts_any:
        kw = {k: v for k, v in kw.items() if k in params}
    return kw, info


def run_case(prep: PreparedCase, methods: Sequence[str], *, data_dir: str | os.PathLike = ".",
             method_opts: dict[str, dict[str, Any]] | None = None,
             bar: Any = None) -> tuple[list[MethodScore], dict[str, np.ndarray]]:
    """Heal one prepared case with every method and score it.

    Parameters
    ----------
    prep : PreparedCase
    methods : sequence of str
        Registry names (``name`` or ``name:arg``).
    data_dir : path-like
        Folder of the case's relative paths (PONI files).
    method_opts : dict, optional
        Extra keyword options per method name (or base name), e.g. ``{"dip": {"num_iter": 500}}``.
    bar : tqdm, optional
        A progress bar: it shows the case and method running and advances by one per method.

    Returns
    -------
    scores : list of MethodScore
    healed : dict of str to (h, w) ndarray of float32
        Every successful method's output.
    """
    opts = method_opts or {}
    scores: list[MethodScore] = []
    healed: dict[str, np.ndarray] = {}
    for m in methods:
        if bar is not None:
            bar.set_postfix_str(f"{prep.case.name}: {m}")
        try:
            _heal_and_score(prep, m, data_dir, opts, scores, healed)
        finally:
            if bar is not None:
                bar.update(1)
    return scores, healed


def _heal_and_score(prep: PreparedCase, m: str, data_dir: str | os.PathLike, opts: dict[str, dict[str, Any]],
                    scores: list[MethodScore], healed: dict[str, np.ndarray]) -> None:
    """Run method ``m`` on ``prep``, append its score to ``scores`` and its output to ``healed``."""
    n = int(prep.score.sum())
    func = heal_method(m)
    kw, info = _method_opts(m, func, prep, Path(data_dir), opts)
    t0 = time.perf_counter()
    try:
        out = np.asarray(func(prep.image.copy(), prep.heal.copy(), **kw), dtype=np.float32)
        seconds = time.perf_counter() - t0
        if out.shape != prep.image.shape:
            raise DipHealError(f"method returned shape {out.shape}; expected {prep.image.shape}")
        l1, r = score_healed(out, prep.truth, prep.score, prep.scale)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one failing method must not stop the benchmark
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logger.warning("case %s: method %s failed: %s", prep.case.name, m, msg)
        logger.debug("traceback", exc_info=True)
        scores.append(MethodScore(prep.case.name, m, error=msg, n_scored=n))
        return
    iterations = snapshot = None
    label = None
    if info:
        iterations = info.get("iterations")
        snapshot = info.get("snapshot")
        if "seconds" in info:
            seconds = float(info["seconds"])
        budget = info.get("num_iter", iterations)
        if budget is not None:
            label = f"{m} ({info.get('preset', 'default')}, {budget} it)"
    healed[m] = out
    scores.append(MethodScore(prep.case.name, m, l1=l1, r=r, seconds=seconds, n_scored=n,
                              iterations=iterations, snapshot=snapshot, label=label))
    logger.info("case %s: %s L1 %.2fe-3 r %.4f in %.2f s", prep.case.name, m, l1 * 1e3, r, seconds)


def _check_method_arg(method: str) -> None:
    """Refuse, before any work, a method argument that names a missing file or folder."""
    base, sep, arg = method.partition(":")
    if not sep or not arg:
        return
    if base == "blind" and not (Path(arg) / "card.json").is_file():
        raise DipHealError(f"--methods {method}: {arg} is not a model folder (no card.json); expected a folder "
                           "written by dip-heal train; check the path")
    if base == "dip" and (arg.endswith(".json") or "/" in arg or os.sep in arg) and not Path(arg).exists():
        raise DipHealError(f"--methods {method}: no such config file or sweep folder {arg}; expected a FitConfig "
                           "JSON, a sweep run folder or a preset name; check the path")


def run_bench(cases: str | os.PathLike | Sequence[Case], data_dir: str | os.PathLike,
              methods: Sequence[str] = CLASSICAL, *, out: str | os.PathLike | None = None,
              method_opts: dict[str, dict[str, Any]] | None = None, panels: bool = True,
              progress: bool = False) -> BenchResult:
    """Run the benchmark: every method on every case; write the report when ``out`` is given.

    Parameters
    ----------
    cases : path-like or sequence of Case
        A case file or parsed cases.
    data_dir : path-like
        Folder the cases' file paths start from.
    methods : sequence of str
        Registry names; default the classical methods.
    out : path-like, optional
        Folder for ``table.md``, ``results.csv``, ``bars.png`` and ``panels/<case>.png``
        (written atomically; panels as each case finishes).
    method_opts : dict, optional
        Extra keyword options per method (e.g. ``{"dip": {"num_iter": 500}}``).
    panels : bool
        Write the difference-map panels (needs ``out``).
    progress : bool
        A tqdm bar (on stderr) over method x case, naming the case and method running.

    Returns
    -------
    BenchResult

    Raises
    ------
    DipHealError
        An unknown method (the message lists the known ones), a missing data folder or an
        unreadable case file. A case whose file is missing or whose crop exceeds the frame is
        reported in the result and skipped.
    """
    methods = list(dict.fromkeys(str(m).strip() for m in methods if str(m).strip()))
    if not methods:
        raise DipHealError("no method given; expected at least one, e.g. biharmonic,ns,telea,pyfai")
    for m in methods:
        heal_method(m)  # unknown names fail before any work
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise DipHealError(f"--out {out} is a file; expected a folder for the bench's table and figures; "
                           "choose another --out")
    for m in methods:
        _check_method_arg(m)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DipHealError(f"data folder {data_dir} does not exist; expected the folder of the case files' frames")
    rejected: list[tuple[str, str]] = []
    if isinstance(cases, (str, os.PathLike)):
        case_list, rejected = load_cases(cases)
    else:
        case_list = list(cases)
    result = BenchResult(methods=methods, cases=[], skipped=list(rejected))
    for name, reason in rejected:
        logger.warning("case %s skipped: %s", name, reason)
    _run_cases(case_list, methods, data_dir, result, out=out, method_opts=method_opts, panels=panels,
               progress=progress)  # issue 20: the bar
    if not result.cases:  # before anything is written: no table for a bench that did not run
        where = f"{cases}: " if isinstance(cases, (str, os.PathLike)) else ""
        raise DipHealError(
            f"{where}no case could be run ({len(result.skipped)} skipped: "
            + "; ".join(f"{n}: {r}" for n, r in result.skipped[:3]) + "); check the case file and --data"
        )
    if out is not None:
        write_outputs(result, out)
    return result


def _bar(total: int, initial: int = 0) -> Any:
    """The bench's progress bar over method x case (tqdm writes to stderr)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="bench", unit="run", file=sys.stderr)


def _run_cases(case_list: Sequence[Case], methods: Sequence[str], data_dir: Path, result: BenchResult, *,
               out: str | os.PathLike | None, method_opts: dict[str, dict[str, Any]] | None, panels: bool,
               progress: bool) -> None:
    """Prepare, heal and score every case into ``result``; panels as each case finishes.

    With ``progress``, the bar starts at the first case that runs (a bench that runs nothing
    shows none, only its one-line error).
    """
    lazy = _LazyBar(len(case_list) * len(methods)) if progress else None
    try:
        for case in case_list:
            _run_one(case, methods, data_dir, result, out=out, method_opts=method_opts, panels=panels, bar=lazy)
    finally:
        if lazy is not None:
            lazy.close()


class _LazyBar:
    """The bench's bar, shown from the first case that runs on; skipped cases before it count as done."""

    def __init__(self, total: int) -> None:
        self.total, self.skipped, self.bar = total, 0, None

    def skip(self, n: int) -> None:
        if self.bar is None:
            self.skipped += n
        else:
            self.bar.update(n)

    def start(self) -> Any:
        if self.bar is None:
            self.bar = _bar(self.total, initial=self.skipped)
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_one(case: Case, methods: Sequence[str], data_dir: Path, result: BenchResult, *,
             out: str | os.PathLike | None, method_opts: dict[str, dict[str, Any]] | None, panels: bool,
             bar: _LazyBar | None) -> None:
    """Prepare, heal and score one case into ``result`` (a case that cannot be prepared is skipped)."""
    try:
        prep = prepare_case(case, data_dir)
    except Exception as exc:  # an unreadable case is reported and skipped; the run goes on
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, (DipHealError, OSError)):
            msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        logger.warning("case %s skipped: %s", case.name, msg)
        result.skipped.append((case.name, msg))
        if bar is not None:
            bar.skip(len(methods))
        return
    logger.info("case %s: %dx%d, %d pixels to heal, %d scored", case.name, *prep.image.shape,
                int(prep.heal.sum()), int(prep.score.sum()))
    scores, healed = run_case(prep, methods, data_dir=data_dir, method_opts=method_opts,
                              bar=bar.start() if bar is not None else None)
    result.cases.append(case.name)
    result.scores.extend(scores)
    result.floors[case.name] = floor = noise_floor(prep.truth, prep.score, prep.valid, prep.scale,
                                                   counting=prep.counting)
    logger.info("case %s: noise floor L1 %.2fe-3, r ceiling %.4f%s", case.name, floor.l1 * 1e3, floor.r,
                " (Poisson predictor)" if floor.counting else "")
    if out is not None and panels and healed:
        fig = panel_figure(prep, healed)
        save_figure(fig, Path(out) / "panels" / f"{case.name}.png")

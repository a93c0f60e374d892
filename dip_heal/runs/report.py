"""A single fit's ``report.png`` (:data:`dip_heal.runs.layout.REPORT`): the fit's arrays to :func:`dip_heal.plot.fit_report`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_report", "report_title"]

logger = logging.getLogger(__name__)


def report_title(name: str, frame: Any, heal: np.ndarray, result: Any) -> str:
    """The report's title: the frame, its detector and shape, how far the fit ran, what healed it."""
    det = frame.meta.get("detector") or "detector unknown"
    ran = result.extra.get("stopped_at")
    blend = result.extra.get("blend") or {}
    how = ", ".join(f"{k} {v:.2f}" for k, v in blend.items() if v > 0)
    return (f"{name}  ({det}, {heal.shape[0]}x{heal.shape[1]}): {int(heal.sum())} pixels healed; "
            f"{ran if ran is not None else '?'} iterations, returned iteration {result.iteration}"
            + (f"; blend {how}" if how else ""))


def write_report(path: str | os.PathLike, frame: Any, heal: np.ndarray, result: Any,
                 limits: tuple[float, float] | None = None, *, title: str | None = None) -> Path | None:
    """Draw a fit's report and write it as a PNG; a failure is logged, never raised (the heal is written).

    Parameters
    ----------
    path : path-like
        The PNG to write.
    frame : Frame
        The input frame.
    heal : (M, N) ndarray of bool
        The healed pixels.
    result : FitResult
        The fit (its ``healed``, ``metrics`` and returned ``iteration``).
    limits : tuple of float, optional
        ``log1p`` display limits shared with the previews.
    title : str, optional
        The frame's name for the title.

    Returns
    -------
    Path or None
        The file written, None when drawing failed.
    """
    from ..plot import fit_report, save_figure

    loss = getattr(result.config, "loss", "l1")
    loss_name = "training loss (L1 on the fitted pixels)" if loss == "l1" else f"training loss ({loss})"
    try:
        fig = fit_report(frame.data, heal, result.healed, result.metrics, returned=result.iteration,
                         valid=frame.valid, limits=limits, loss_name=loss_name,
                         title=report_title(title or "frame", frame, heal, result))
        return save_figure(fig, path)
    except Exception as exc:  # a picture must never cost the heal
        logger.warning("could not draw %s (%s: %s); the healed frame is written", Path(path).name,
                       type(exc).__name__, exc)
        logger.debug("traceback", exc_info=True)
        return None

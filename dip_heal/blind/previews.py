"""``bulk --previews``: a before/after PNG per healed frame and a summary sheet of them all.

``OUT/previews/<stem>.png`` (:func:`dip_heal.plot.before_after`, healed pixels outlined) as each
frame is healed, and ``OUT/previews/summary.png`` (:func:`dip_heal.plot.thumbnail_sheet`, a grid
of thumbnails) at the end. Drawing never stops a bulk run: a failure is logged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PREVIEWS", "SUMMARY", "Previews"]

logger = logging.getLogger(__name__)

PREVIEWS = "previews"
SUMMARY = "summary.png"


class Previews:
    """Collects the previews of one bulk run.

    Parameters
    ----------
    out_dir : Path
        The bulk output folder; the pictures go to its ``previews/``.
    max_frames : int
        At most this many thumbnails on the summary sheet (the first ones).
    """

    def __init__(self, out_dir: Path, *, max_frames: int = 60) -> None:
        self.folder = Path(out_dir) / PREVIEWS
        self.max_frames = max_frames
        self.thumbs: list[tuple[np.ndarray, np.ndarray]] = []
        self.names: list[str] = []
        self.total = 0

    def add(self, stem: str, frame: Any, healed: np.ndarray, heal: np.ndarray) -> Path | None:
        """Write ``previews/<stem>.png`` and keep a thumbnail; the file, or None when drawing failed."""
        from ..plot import before_after, save_figure, thumbnail

        self.total += 1
        try:
            if len(self.thumbs) < self.max_frames:
                self.thumbs.append(thumbnail(healed, heal))
                self.names.append(stem)
            det = frame.meta.get("detector") or "detector unknown"
            fig = before_after(frame.data, healed, heal, valid=frame.valid,
                               title=f"{stem} ({det}, {heal.shape[0]}x{heal.shape[1]})")
            return save_figure(fig, self.folder / f"{stem}.png")
        except Exception as exc:  # a picture must never stop the run
            logger.warning("%s: no preview (%s: %s)", stem, type(exc).__name__, exc)
            return None

    def finish(self) -> Path | None:
        """Write ``previews/summary.png`` (when any frame was healed); the file or None."""
        from ..plot import save_figure, thumbnail_sheet

        if not self.thumbs:
            return None
        more = f", the first {len(self.thumbs)} of {self.total}" if self.total > len(self.thumbs) else ""
        try:
            fig = thumbnail_sheet(self.thumbs, self.names,
                                  title=f"{self.total} healed frames{more} (each on its own log scale; "
                                        "healed pixels outlined)")
            path = save_figure(fig, self.folder / SUMMARY)
        except Exception as exc:  # pragma: no cover - a picture must never stop the run
            logger.warning("no summary sheet (%s: %s)", type(exc).__name__, exc)
            return None
        logger.info("wrote %s", path)
        return path

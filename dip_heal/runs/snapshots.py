"""Snapshot files: a composite as ``.npy`` and its ``.png`` preview; the fit callback writing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .layout import snapshot_stem

__all__ = ["write_snapshot", "SnapshotWriter"]


def write_snapshot(stem: Path, healed: np.ndarray, limits: Any) -> None:
    """A snapshot composite as ``STEM.npy`` (float32) and ``STEM.png`` (log-scale preview)."""
    from ..report import save_preview

    np.save(stem.with_suffix(".npy"), healed.astype(np.float32), allow_pickle=False)
    save_preview(stem.with_suffix(".png"), healed, limits=limits, outline=False)


class SnapshotWriter:
    """A fit callback streaming every snapshot into a run's ``snapshots/`` folder.

    ``iter_NNNNNN.npy`` and ``.png`` (``memberK_iter_NNNNNN`` for an ensemble's members).
    """

    def __init__(self, folder: Path, limits: Any) -> None:
        self.folder = Path(folder)
        self.limits = limits

    def __call__(self, snap: Any, state: dict[str, Any]) -> None:
        stem = snapshot_stem(snap.iteration, state.get("member"))
        write_snapshot(self.folder / stem, snap.healed, self.limits)

"""The editor's model: the mask layers under a list of edits, with undo, redo and component
toggles, and the :class:`~dip_heal.masks.MaskSpec` that reproduces them. No drawing here: the
window (:mod:`dip_heal.masks.editor`) calls :meth:`MaskEdits._refresh` after every change."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from .layers import CAUSES, build_mask_layers
from .shapes import apply_shape
from .spec import MaskSpec

__all__ = ["MaskEdits", "TOGGLES"]

# automatic components: layer name -> (spec field, value when on, value when off)
TOGGLES = {
    "gaps": ("gaps", True, False),
    "sentinel": ("sentinels", True, False),
    "file_mask": ("file_masks", True, False),
    "stripes": ("stripes", True, False),
    "beamstop": ("beamstop", "auto", "none"),
    "holder": ("holder", "auto", "none"),
    "hot": ("hot_pixels", True, False),
}


class MaskEdits:
    """The mask of ``frame`` as automatic components plus edits.

    Parameters
    ----------
    frame : Frame
        The frame to mask.
    spec : MaskSpec
        The starting recipe; its automatic components are computed once (the holder proposal
        too, used only when toggled on), its ``edits`` replayed.

    Attributes
    ----------
    edits : list of dict
        The edit operations so far (JSON-able, as in ``MaskSpec.edits``).
    enabled : dict of str to bool
        Which automatic components are on.
    layers : dict of str to (M, N) ndarray of bool
        The current layers (as :func:`dip_heal.masks.build_mask_layers` returns them).
    """

    def __init__(self, frame: Frame, spec: MaskSpec | None = None) -> None:
        spec = spec or MaskSpec()
        self.frame = frame
        self.spec = spec
        base_spec = spec.replace(
            edits=(), gaps=True, sentinels=True, file_masks=True, stripes=True, beamstop="auto", holder="auto",
            hot_pixels=True,
        )
        self._base = build_mask_layers(frame, base_spec)
        self.enabled = {k: bool(getattr(spec, f) == on) for k, (f, on, _) in TOGGLES.items()}
        self.edits: list[dict] = []
        self._undo: list[tuple[dict, dict]] = []  # (edit, diff)
        self._redo: list[dict] = []
        self.layers: dict[str, np.ndarray] = {}
        self._rebuild()
        for e in spec.edits:
            self.apply(e)

    def _rebuild(self) -> None:
        """Layers = enabled automatic components, then every edit replayed (records the diffs)."""
        shape = self.frame.shape
        self._measured = np.isfinite(self.frame.data)
        for k in ("gaps", "sentinel", "file_mask", "stripes"):
            if self.enabled[k]:
                self._measured &= ~self._base[k]
        self.layers = {k: (self._base[k].copy() if self.enabled.get(k, True) else np.zeros(shape, bool))
                       for k in CAUSES}
        self.layers["ignore"] = self._base["ignore"].copy()
        edits, self.edits, self._undo = list(self.edits), [], []
        for e in edits:
            self._apply_no_redo(e)

    def _apply_no_redo(self, edit: dict) -> None:
        before = {k: v.copy() for k, v in self.layers.items()}
        apply_shape(self.layers, edit, self.frame.data, self._measured)
        if self._base["ignore"].any():
            for k in CAUSES:
                self.layers[k] &= ~self._base["ignore"]
        diff = {}
        for k, v in self.layers.items():
            changed = np.flatnonzero(v != before[k])
            if changed.size:
                diff[k] = changed
        self.edits.append(dict(edit))
        self._undo.append((dict(edit), diff))

    def apply(self, edit: dict) -> None:
        """Apply one edit (a shape or an operation, see :func:`dip_heal.masks.apply_shape`)."""
        self._apply_no_redo(edit)
        self._redo.clear()
        self._refresh()

    def undo(self) -> bool:
        """Undo the last edit; False when there is none."""
        if not self._undo:
            return False
        edit, diff = self._undo.pop()
        self.edits.pop()
        for k, idx in diff.items():
            flat = self.layers[k].reshape(-1)
            flat[idx] = ~flat[idx]
        self._redo.append(edit)
        self._refresh()
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; False when there is none."""
        if not self._redo:
            return False
        self._apply_no_redo(self._redo.pop())
        self._refresh()
        return True

    def toggle(self, cause: str) -> None:
        """Switch an automatic component on or off (the edits are replayed on top)."""
        if cause not in TOGGLES:
            raise DipHealError(f"no automatic component {cause!r}; expected one of {', '.join(TOGGLES)}")
        self.enabled[cause] = not self.enabled[cause]
        self._show_toggle(cause)
        self._rebuild()
        self._redo.clear()
        self._refresh()

    @property
    def heal(self) -> np.ndarray:
        """The current mask, (M, N) bool, True = heal."""
        out = np.zeros(self.frame.shape, bool)
        for k in CAUSES:
            out |= self.layers[k]
        return out

    def current_spec(self) -> MaskSpec:
        """The spec that reproduces the current mask with ``build_mask``."""
        changes: dict[str, Any] = {f: (on if self.enabled[k] else off) for k, (f, on, off) in TOGGLES.items()}
        return self.spec.replace(edits=tuple(self.edits), **changes)

    def _refresh(self) -> None:
        """Called after every change (the window redraws; nothing to do here)."""

    def _show_toggle(self, cause: str) -> None:
        """Called when a component is toggled, before the layers are rebuilt (the window ticks its box)."""

"""The Deep Image Prior fit, in layers.

- :mod:`~dip_heal.dip.problem`: the checked frame, known and held-out pixels, the padded grid
- :mod:`~dip_heal.dip.inputs`: the network's input and guide channels, the azimuthal model
- :mod:`~dip_heal.dip.model`, :mod:`~dip_heal.dip.losses`: the network, its step, the data term
- :mod:`~dip_heal.dip.engine`: the loop, ~40 lines; :mod:`~dip_heal.dip.callbacks`: EMA, the
  held-out score, snapshot selection and early stop, time limit, progress, the user's callback;
  :mod:`~dip_heal.dip.blend`: the blend with the classical fills
- :mod:`~dip_heal.dip.single`, :mod:`~dip_heal.dip.ensemble`, :mod:`~dip_heal.dip.api`:
  one network, several, and :func:`fit` choosing between them
- :mod:`~dip_heal.dip.batched`: K sweep trials as one grouped network
- :mod:`~dip_heal.dip.frame_setup`: the frame-dependent set-up (beam centre, azimuthal model, the
  blend's fills) computed once and shared by a sweep's fits (``fit(..., setup=)``)

Intensity model
---------------
Counts are fitted in normalised log intensity, ``y = log1p(max(I, 0)) / scale`` with
``scale = max(log1p(I))`` over the known, valid pixels, so ``y`` lies in [0, 1], the range of
the network's sigmoid (:mod:`dip_heal._intensity`). The output is mapped back with
``I = expm1(y * scale)``. Negative intensities (reduced data) are fitted as 0; measured pixels
always keep their own value.

Importing this package loads numpy only; torch loads when a fit runs.
"""

from __future__ import annotations

from .api import fit
from .callbacks import Callback, FitState, SnapshotSelector
from .problem import make_holdout
from .result import FitResult, Snapshot

__all__ = ["fit", "FitResult", "Snapshot", "make_holdout", "SnapshotSelector", "Callback", "FitState"]

"""Healing-quality benchmark: cases with ground truth, classical baselines, the DIP, one table.

Protocol (Chavez et al. 2022; ``../shared/data/SOURCES.md``)
-------------------------------------------------------------
A *pasted* case takes a crop ``[y0, x0, h, w]`` of a real frame and pastes artificial module gaps
over measured pixels: 17-pixel rows every 212 + 17 = 229 pixels and 7-pixel columns every
494 + 7 = 501 pixels, their offsets drawn from the case's ``seed`` (first gap row at
``40 + U{0..211}``, first gap column at ``U{60..w-21}``, ``numpy.random.default_rng(seed)``, rows
first; this reproduces the 256 x 256 centre crops in ``ttq/``). Pixels that are not measurements
in the original (the case's ``invalid`` rule) are healed too but neither scored nor used as
truth. The score pixels are the pasted-gap pixels valid in the original.

A *pair* case (``"kind": "pair"``) takes two frames of one sample with the detector moved by a
known ``shift = [dy, dx]`` pixels: the scattering seen at pixel ``(y, x)`` of frame A is seen at
``(y - dy, x - dx)`` of frame B. A's own invalid pixels (its module gaps) are healed and scored
against B's measured values there, after a least-squares intensity scale
``s = sum(a b) / sum(b b)`` over the pixels measured in both.

Scores, in normalised log intensity: ``y = log1p(max(I, 0)) / scale`` with ``scale`` the maximum
of ``log1p(max(I, 0))`` over the known pixels of the crop; ``L1 = mean |y_hat - y_true|`` and the
Pearson ``r`` of ``y_hat`` and ``y_true``, both over the score pixels.

Case files are JSON lists of objects::

    {"name": "corkcont2", "file": "fabio_history/corkcont2_H_0089.mccd.bz2",
     "crop": [848, 890, 512, 512], "invalid": "negative", "seed": 100}

with optional ``kind`` (``pasted`` or ``pair``), ``file_b`` and ``shift`` (pairs), ``center``
(``[x, y]`` beam centre in the full frame), ``poni`` (a pyFAI calibration of the full frame,
relative to the data folder or to the case file's folder) and ``pixel_size`` (metres), which the
``pyfai`` method uses; ``azimuthal`` and ``dip`` use ``poni`` (and ``azimuthal`` ``center``) too.

``invalid`` rules: ``negative`` = value < 0, non-finite, or >= 2**32 - 1; ``zero_is_gap`` = also
0; ``pilatus2m`` = ``negative`` plus the PILATUS 2M module-gap rows and columns (rows
``195..211 + 212 k``, columns ``487..493 + 494 k`` of the full frame); ``pilatus1m`` = the same for a
PILATUS 1M (its module pitch is the 2M's).

Every case also gets a noise floor estimated from its truth (:mod:`~dip_heal.bench.floor`: the
best per pixel of predictors that read the truth's neighbours, and a CC*-style ceiling of r); the
tables give each method's excess above it (negative counted 0) and its sum over the cases.

Modules: :mod:`~dip_heal.bench.cases` (case files), :mod:`~dip_heal.bench.gaps` (pasted gaps,
invalid rules), :mod:`~dip_heal.bench.score` (metrics), :mod:`~dip_heal.bench.prepare` (a case
ready to heal), :mod:`~dip_heal.bench.run` (the run), :mod:`~dip_heal.bench.result` (scores,
Markdown, CSV), :mod:`~dip_heal.bench.figures` (figures and output files), :mod:`~dip_heal.bench.floor` (the noise floor).
"""

from __future__ import annotations

from .._intensity import normalised_log
from .cases import KINDS, Case, load_cases, parse_case
from .figures import bars_figure, panel_figure, write_outputs
from .floor import Floor, excess, noise_floor
from .gaps import COL_GAP, COL_MODULE, INVALID_RULES, ROW_GAP, ROW_MODULE, invalid_pixels, paste_gaps, paste_offsets
from .prepare import PreparedCase, prepare_case
from .result import BenchResult, MethodScore, markdown_table
from .run import run_bench, run_case
from .score import l1_pearson, log_scale, lsq_scale, score_healed

__all__ = [
    "Case",
    "PreparedCase",
    "MethodScore",
    "BenchResult",
    "INVALID_RULES",
    "KINDS",
    "ROW_GAP",
    "ROW_MODULE",
    "COL_GAP",
    "COL_MODULE",
    "load_cases",
    "parse_case",
    "invalid_pixels",
    "paste_gaps",
    "normalised_log",
    "l1_pearson",
    "score_healed",
    "lsq_scale",
    "prepare_case",
    "run_case",
    "run_bench",
    "write_outputs",
    "panel_figure",
    "bars_figure",
    "paste_offsets",
    "log_scale",
    "markdown_table",
    "Floor",
    "noise_floor",
    "excess",
]

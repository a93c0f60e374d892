"""A case read, cropped, its gaps pasted (or its pair aligned): what to heal and what to score."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DipHealError
from .cases import Case
from .floor import is_photon_counting
from .gaps import invalid_pixels, paste_gaps
from .score import log_scale, lsq_scale

__all__ = ["PreparedCase", "prepare_case", "resolve_data_path"]

logger = logging.getLogger(__name__)


@dataclass
class PreparedCase:
    """A case ready to heal and score.

    Attributes
    ----------
    case : Case
    image : (h, w) ndarray of float64
        The input the methods get: the crop with every pixel to heal set to 0.
    heal : (h, w) ndarray of bool
        Pixels to heal: pasted gaps plus the crop's invalid pixels (pairs: A's invalid pixels).
    score : (h, w) ndarray of bool
        Pixels scored.
    truth : (h, w) ndarray of float64
        Ground truth on ``score`` (elsewhere the original crop, for display).
    scale : float
        Normalisation of the scores (from ``image``'s known pixels).
    offset : (row, col)
        The crop's corner in the full frame.
    full_shape : (M, N)
        The full frame's shape.
    pair_scale : float or None
        The least-squares intensity factor applied to frame B (pairs).
    counting : bool
        A photon-counting detector (PILATUS, EIGER; from the header or the full frame's shape):
        the noise floor adds its Poisson predictor (:mod:`dip_heal.bench.floor`).
    """

    case: Case
    image: np.ndarray
    heal: np.ndarray
    score: np.ndarray
    truth: np.ndarray
    scale: float
    offset: tuple[int, int]
    full_shape: tuple[int, int]
    pair_scale: float | None = None
    counting: bool = False

    @property
    def valid(self) -> np.ndarray:
        """Pixels whose ``truth`` is a measurement: the scored ones and the measured input."""
        return self.score | ~self.heal


def _read_raw(path: Path, header: dict | None = None) -> np.ndarray:
    """The frame's values as stored (via :func:`dip_heal.io.read_image`); its header into ``header``."""
    if not path.is_file():
        raise DipHealError(f"no such file: {path}; expected an existing frame; check --data and the case's file")
    from ..io import read_image

    frame = read_image(path)
    if header is not None:
        header.update(dict(frame.meta.get("header") or {}))
        if frame.meta.get("detector"):
            header["_detector"] = str(frame.meta["detector"])
    return np.asarray(frame.raw)


def resolve_data_path(data_dir: Path, rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else data_dir / p


def _crop_box(case: Case, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    if case.crop is None:
        return 0, 0, int(shape[0]), int(shape[1])
    y0, x0, h, w = case.crop
    if y0 + h > shape[0] or x0 + w > shape[1]:
        raise DipHealError(
            f"case {case.name!r}: crop [{y0}, {x0}, {h}, {w}] exceeds the frame {tuple(shape)}; "
            "expected y0 + h <= rows and x0 + w <= columns"
        )
    return y0, x0, h, w


def prepare_case(case: Case, data_dir: str | os.PathLike) -> PreparedCase:
    """Read a case's frame(s), crop, build the heal and score masks and the truth.

    Parameters
    ----------
    case : Case
    data_dir : path-like
        Folder the case's relative paths start from.

    Returns
    -------
    PreparedCase

    Raises
    ------
    DipHealError
        A missing or unreadable file, a crop that exceeds the frame, two pair frames of
        different shapes, or no pixel to score.
    """
    data_dir = Path(data_dir)
    header: dict = {}
    raw = _read_raw(resolve_data_path(data_dir, case.file), header)
    if raw.ndim != 2:
        raise DipHealError(f"case {case.name!r}: got a frame of shape {raw.shape}; expected a 2-D frame")
    y0, x0, h, w = _crop_box(case, raw.shape)
    crop = raw[y0:y0 + h, x0:x0 + w]
    invalid = invalid_pixels(crop, case.invalid, (y0, x0))
    values = crop.astype(np.float64)
    pair_scale = None
    if case.kind == "pasted":
        gaps = paste_gaps((h, w), case.seed)
        heal = gaps | invalid
        score = gaps & ~invalid
        truth = np.where(invalid, 0.0, values)
    else:
        raw_b = _read_raw(resolve_data_path(data_dir, case.file_b or ""))
        if raw_b.shape != raw.shape:
            raise DipHealError(f"case {case.name!r}: frames of shapes {raw.shape} and {raw_b.shape}; "
                               "expected two frames of one detector")
        dy, dx = case.shift
        b_vals = np.zeros((h, w))
        b_ok = np.zeros((h, w), bool)
        # A (y, x) <-> B (y - dy, x - dx)
        ys, xs = np.arange(y0, y0 + h) - dy, np.arange(x0, x0 + w) - dx
        iy = (ys >= 0) & (ys < raw_b.shape[0])
        ix = (xs >= 0) & (xs < raw_b.shape[1])
        if iy.any() and ix.any():
            ry, rx = ys[iy], xs[ix]
            sub = raw_b[ry.min():ry.max() + 1, rx.min():rx.max() + 1]
            sub_inv = invalid_pixels(sub, case.invalid, (int(ry.min()), int(rx.min())))
            b_vals[np.ix_(iy, ix)] = sub.astype(np.float64)
            b_ok[np.ix_(iy, ix)] = ~sub_inv
        heal = invalid
        both = ~invalid & b_ok
        pair_scale = lsq_scale(values, b_vals, both)
        score = heal & b_ok
        truth = np.where(score, pair_scale * b_vals, np.where(invalid, 0.0, values))
        logger.info("case %s: pair scale %.4g over %d pixels", case.name, pair_scale, int(both.sum()))
    if not score.any():
        raise DipHealError(f"case {case.name!r}: no pixel to score (no pasted gap or overlap on valid pixels); "
                           "expected a larger crop or another seed/shift")
    if heal.all():
        raise DipHealError(f"case {case.name!r}: every pixel of the crop is to heal; expected measured pixels")
    image = np.where(heal, 0.0, values)
    scale = log_scale(image, ~heal)
    return PreparedCase(case=case, image=image, heal=heal, score=score, truth=truth, scale=scale,
                        offset=(y0, x0), full_shape=(int(raw.shape[0]), int(raw.shape[1])), pair_scale=pair_scale,
                        counting=is_photon_counting(header, raw.shape,
                                                    detector=header.get("_detector")))

"""The beamline's geometry from a pyFAI calibration (a PONI file): the one place dip-heal reads it.

A :class:`Geometry` holds pyFAI's integrator for the calibrated detector and what dip-heal needs
of it: the beam centre in the frame's pixel coordinates (column, row of pixel centres, the
convention of ``--center``), and per-pixel polar coordinates of any grid around the frame (a
padded network grid, a crop of the calibrated detector) from pyFAI's own 2theta and chi, so tilted
detectors and centres off the detector are handled as pyFAI handles them. When a geometry is
given it overrides the estimated beam centre everywhere (masks, fills, the DIP's inputs).

The polar radius is given in *pixel equivalents*, ``distance * tan(2theta) / pixel``: for an
untilted detector it is the distance in pixels from the beam, on a tilted one it is constant
along every (elliptical) Debye-Scherrer ring, so the azimuthal model keeps one radial bin per
pixel either way.

pyFAI is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DipHealError

__all__ = ["Geometry", "load_geometry"]

logger = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _array_center(ai: Any, shape: tuple[int, int] | None) -> tuple[float, float]:
    """The (x, y) pixel-centre coordinates of the direct beam in the stored array (uncropped)."""
    f2d = ai.getFit2D()
    cx, cy = float(f2d["centerX"]) - 0.5, float(f2d["centerY"]) - 0.5
    cands = [(cx, cy)]
    if shape is not None:
        m, n = shape
        cands += [(n - 1 - cx, cy), (cx, m - 1 - cy), (n - 1 - cx, m - 1 - cy)]
    tth = [abs(float(np.asarray(ai.tth(np.array([y]), np.array([x])))[0])) for x, y in cands]
    return cands[int(np.argmin(tth))]


class Geometry:
    """A pyFAI calibration applied to a frame (or to a crop of the calibrated detector).

    Build it with :meth:`from_poni` (or :func:`load_geometry`); :meth:`for_frame` checks it
    against a frame's shape.

    Attributes
    ----------
    path : Path or None
        The PONI file read.
    sha256 : str or None
        Its SHA-256 (recorded in run folders and mask recipes).
    offset : (int, int)
        (row, column) of the frame's first pixel in the calibrated detector (a crop's corner).
    shape : (int, int) or None
        The frame's shape once :meth:`for_frame` has checked it.
    """

    def __init__(self, ai: Any, *, path: Path | None = None, sha256: str | None = None,
                 offset: tuple[int, int] = (0, 0), shape: tuple[int, int] | None = None) -> None:
        self._ai = ai
        self.path = path
        self.sha256 = sha256
        self.offset = (int(offset[0]), int(offset[1]))
        self.shape = None if shape is None else (int(shape[0]), int(shape[1]))
        self._cache: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._center: tuple[float, float] | None = None

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_poni(cls, path: str | os.PathLike) -> "Geometry":
        """Read a PONI file with pyFAI.

        Raises
        ------
        DipHealError
            A missing file, or one pyFAI cannot read as a calibration (one line).
        """
        p = Path(path)
        if not p.is_file():
            raise DipHealError(f"no such PONI file: {p}; expected a pyFAI calibration (.poni); check the path")
        import pyFAI

        try:
            ai = pyFAI.load(str(p))
            dist, px1, px2 = float(ai.dist), float(ai.detector.pixel1), float(ai.detector.pixel2)
        except Exception as exc:  # pyFAI raises assorted errors on garbled files
            msg = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise DipHealError(f"cannot read PONI file {p} ({msg}); expected a pyFAI .poni calibration "
                               "(pyFAI-calib2 writes one); check the file") from None
        if not (np.isfinite(dist) and dist > 0 and px1 > 0 and px2 > 0):
            raise DipHealError(f"PONI file {p} gives distance {dist!r} m and pixel size {px1!r} x {px2!r} m; "
                               "expected positive numbers; check the file")
        return cls(ai, path=p, sha256=_sha256(p))

    @classmethod
    def from_integrator(cls, ai: Any) -> "Geometry":
        """Wrap a pyFAI ``AzimuthalIntegrator`` (or ``Geometry``) built in code."""
        return cls(ai)

    @property
    def detector_shape(self) -> tuple[int, int] | None:
        """The calibrated detector's shape, or None for a detector of no fixed size."""
        det = self._ai.detector
        shp = getattr(det, "max_shape", None) or getattr(det, "shape", None)
        return None if shp is None else (int(shp[0]), int(shp[1]))

    @property
    def detector_name(self) -> str:
        """pyFAI's name of the calibrated detector (``"Detector"`` for a generic one)."""
        return type(self._ai.detector).__name__

    def for_frame(self, shape: tuple[int, int], offset: tuple[int, int] = (0, 0), *,
                  crop: bool = False) -> "Geometry":
        """This calibration for a frame of ``shape`` starting at ``offset`` of the calibrated detector.

        Parameters
        ----------
        shape : (int, int)
            The frame's shape.
        offset : (row, col)
            Where the frame starts in the calibrated detector (a crop's corner; (0, 0) for the
            whole frame).

        Returns
        -------
        Geometry
            A checked copy (the same pyFAI integrator).

        Raises
        ------
        DipHealError
            The frame (at ``offset``) does not fit the PONI's detector (one line).
        """
        m, n = int(shape[0]), int(shape[1])
        r0, c0 = int(offset[0]), int(offset[1])
        det = self.detector_shape
        if det is not None:
            whole = (r0, c0) == (0, 0) and not crop
            if (whole and (m, n) != det) or not (0 <= r0 and 0 <= c0 and r0 + m <= det[0] and c0 + n <= det[1]):
                where = "" if whole else f" at offset ({r0}, {c0})"
                raise DipHealError(
                    f"PONI {self.path or '(in memory)'} is for a {det[0]}x{det[1]} {self.detector_name}, the frame "
                    f"is {m}x{n}{where}; expected the calibrated detector's shape; give the PONI of this detector"
                )
        g = Geometry(self._ai, path=self.path, sha256=self.sha256, offset=(r0, c0), shape=(m, n))
        return g

    # -- what dip-heal uses ------------------------------------------------------------------
    @property
    def integrator(self) -> Any:
        """pyFAI's integrator (the calibrated detector's coordinates: mind :attr:`offset`)."""
        return self._ai

    def frame_integrator(self) -> Any:
        """A pyFAI integrator whose pixel (0, 0) is the frame's (for pyFAI's own fills on a crop).

        The whole frame gets the calibration's integrator itself; a crop gets a copy on a generic
        detector of the crop's shape with the PONI shifted by :attr:`offset` (pixel size, distance,
        tilts and wavelength kept).
        """
        if self.offset == (0, 0) and (self.shape is None or self.shape == self.detector_shape):
            return self._ai
        import copy

        from pyFAI.detectors import Detector

        ai = copy.deepcopy(self._ai)
        px1, px2 = float(ai.detector.pixel1), float(ai.detector.pixel2)
        ai.detector = Detector(pixel1=px1, pixel2=px2, max_shape=self.shape)
        ai.poni1 = float(self._ai.poni1) - self.offset[0] * px1
        ai.poni2 = float(self._ai.poni2) - self.offset[1] * px2
        ai.reset()
        return ai

    @property
    def pixel_size(self) -> float:
        """Geometric mean of the pixel's two sides, in metres."""
        return math.sqrt(float(self._ai.detector.pixel1) * float(self._ai.detector.pixel2))

    @property
    def center(self) -> tuple[float, float]:
        """The direct beam's (x, y) in the frame's pixel coordinates (column, row of pixel centres).

        pyFAI's Fit2D centre counts from the detector's corner (a pixel centre is at
        ``index + 0.5``) in the detector's own orientation; a detector stored flipped (pyFAI's
        ``orientation`` other than 3) has the centre mirrored, so the candidate where pyFAI's
        2theta vanishes is taken. The crop's :attr:`offset` is subtracted.
        """
        if self._center is None:
            self._center = _array_center(self._ai, self.detector_shape)
        cx, cy = self._center
        return (cx - self.offset[1], cy - self.offset[0])

    def polar(self, shape: tuple[int, int], pads: tuple[int, int, int, int] = (0, 0, 0, 0),
              ) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel polar coordinates of the (padded) grid of a ``shape`` frame, from pyFAI.

        Parameters
        ----------
        shape : (int, int)
            The frame's shape.
        pads : (top, bottom, left, right)
            Extra rows/columns around the frame (evaluated beyond the detector's edge, as pyFAI's
            flat-detector model extends).

        Returns
        -------
        radius : (M + top + bottom, N + left + right) ndarray of float64
            ``distance * tan(2theta) / pixel_size``: pixels from the beam on an untilted detector,
            constant along each ring on a tilted one.
        chi : ndarray of float64, same shape
            pyFAI's azimuth in radians, in (-pi, pi] (0 along +x, +pi/2 along +rows).
        """
        key = (tuple(shape), tuple(pads))
        if key not in self._cache:
            pt, pb, pl, pr = (int(p) for p in pads)
            m, n = int(shape[0]), int(shape[1])
            d1, d2 = np.mgrid[-pt: m + pb, -pl: n + pr].astype(np.float64)
            d1 += self.offset[0]
            d2 += self.offset[1]
            ai = self._ai
            tth = np.asarray(ai.tth(d1, d2), dtype=np.float64).reshape(d1.shape)
            chi = np.asarray(ai.chi(d1, d2), dtype=np.float64).reshape(d1.shape)
            radius = float(ai.dist) * np.tan(np.clip(tth, 0.0, np.pi / 2 - 1e-6)) / self.pixel_size
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = (radius, chi)
        radius, chi = self._cache[key]
        return radius, chi

    def record(self) -> dict[str, Any]:
        """The calibration as a JSON-able dict (run folders' config and provenance, mask recipes)."""
        ai = self._ai
        f2d = ai.getFit2D()
        wl = getattr(ai, "wavelength", None)
        cx, cy = self.center
        return {
            "poni": None if self.path is None else str(self.path),
            "sha256": self.sha256,
            "detector": self.detector_name,
            "detector_shape": None if self.detector_shape is None else list(self.detector_shape),
            "pixel1_m": float(ai.detector.pixel1),
            "pixel2_m": float(ai.detector.pixel2),
            "distance_m": float(ai.dist),
            "poni1_m": float(ai.poni1),
            "poni2_m": float(ai.poni2),
            "rot1_rad": float(ai.rot1),
            "rot2_rad": float(ai.rot2),
            "rot3_rad": float(ai.rot3),
            "wavelength_m": None if wl is None else float(wl),
            "tilt_deg": float(f2d["tilt"]),
            "tilt_plan_rotation_deg": float(f2d["tiltPlanRotation"]),
            "offset": list(self.offset),
            "center_xy": [cx, cy],
        }

    def __repr__(self) -> str:
        cx, cy = self.center
        return (f"Geometry({self.path.name if self.path else 'in memory'}: {self.detector_name}, "
                f"beam x={cx:.2f} y={cy:.2f}, distance {float(self._ai.dist) * 1e3:.1f} mm)")


def load_geometry(poni: "str | os.PathLike | Geometry | None", shape: tuple[int, int] | None = None,
                  offset: tuple[int, int] = (0, 0), *, crop: bool = False,
                  center: tuple[float, float] | None = None) -> Geometry | None:
    """A :class:`Geometry` from a PONI path (or one given), checked against ``shape`` when given.

    Parameters
    ----------
    poni : path-like, Geometry or None
        None gives None (no geometry: the beam centre is estimated or given).
    shape : (int, int), optional
        The frame's shape; a PONI of another detector is refused.
    offset : (row, col)
        The frame's corner in the calibrated detector (a crop).
    crop : bool
        The frame is a crop of the calibrated detector (see :meth:`Geometry.for_frame`).
    center : (x, y), optional
        A beam centre the caller was also given: refused together with a PONI, which holds one.

    Returns
    -------
    Geometry or None

    Raises
    ------
    DipHealError
        A missing or garbled PONI, one for a detector of another shape, or a PONI with a centre.
    """
    if poni is None:
        return None
    if center is not None:
        raise DipHealError(f"got both a beam centre {tuple(center)} (--center) and a PONI {poni} (--poni); expected "
                           "one (the PONI holds the beam centre); drop the centre")
    geo = poni if isinstance(poni, Geometry) else Geometry.from_poni(poni)
    if shape is not None and geo.shape == tuple(shape) and tuple(offset) == (0, 0):
        return geo  # already checked for this frame (a crop keeps its offset)
    if shape is not None:
        geo = geo.for_frame(shape, offset, crop=crop)
    return geo

"""The classical fills, pure functions: biharmonic, Navier-Stokes, Telea and pyFAI's azimuthal inpainting.

Every fill has the signature ``heal(image, heal_mask, **opts) -> (M, N) float32`` and returns
the healed frame in the image's own units: measured pixels are the input's values, the pixels of
``heal_mask`` are filled. The method registry (:mod:`dip_heal.methods`) names them; the DIP's
blend uses :func:`heal_telea`.

Intensity space
---------------
Scattering intensities span decades, so the fills work by default in normalised log
intensity, ``y = log1p(max(I, 0)) / scale`` with ``scale`` the maximum of ``log1p`` over the
known pixels (``space="log"``, :func:`dip_heal._intensity.to_log`); the fill is mapped back with
``I = expm1(y * scale)``. This is the space the benchmark scores in and the one the DIP fits in.
``space="linear"`` fills the counts themselves.

Methods
-------
``biharmonic``
    :func:`skimage.restoration.inpaint_biharmonic` on float64 (never on integers, which
    scikit-image would rescale).
``ns``, ``telea``
    :func:`cv2.inpaint` (Navier-Stokes, Telea) through its 16-bit path: the values are scaled
    into the uint16 range, inpainted with radius 3 and scaled back. OpenCV's float path
    misbehaves on count data.
``pyfai``
    pyFAI's azimuthal ``inpainting`` (interpolation along rings in polar coordinates) with a
    geometry from a PONI file, or from a beam centre (given, or estimated from the pattern with
    :func:`dip_heal.beam.estimate_center`) and the pixel size.
``azimuthal``
    The DIP's azimuthal model (:func:`dip_heal.polar.azimuthal_model`) as a fill: the ring
    average of the known pixels, about a beam centre or along a PONI's 2theta and chi rings.
``fold``, ``mirror``
    Symmetry fills (:func:`dip_heal.priors.symmetry_fill`): a fibre's quadrant fold about the
    fibre axis found from the measured pixels (MuscleX's quadrant folding: the mean of the
    measured mirror images about the meridian and the equator), and a GISAXS frame's left-right
    mirror about the specular plane found the same way; pixels without a measured image get
    Telea. Not in the benchmark's default set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._intensity import composite, from_log, to_log
from .errors import DipHealError
from .frame import check_image_and_mask

__all__ = [
    "CLASSICAL",
    "check_inputs",
    "heal_biharmonic",
    "heal_ns",
    "heal_telea",
    "heal_pyfai",
    "heal_azimuthal",
    "heal_fold",
    "heal_mirror",
]

logger = logging.getLogger(__name__)

#: The classical methods, the default set of the benchmark.
CLASSICAL: tuple[str, ...] = ("biharmonic", "ns", "telea", "pyfai")

_SPACES = ("log", "linear")


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


def check_inputs(image: np.ndarray, heal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert: float64 image, bool mask of the same 2-D shape."""
    image, heal = check_image_and_mask(image, heal, numeric_mask=True)
    image = image.astype(np.float64)
    heal = heal | ~np.isfinite(image)
    if heal.all():
        raise DipHealError(
            "the heal mask covers every pixel; expected some measured pixels to fill from; "
            "check the mask polarity (True = heal)"
        )
    return image, heal


def _check_space(space: str) -> None:
    if space not in _SPACES:
        raise DipHealError(f"got space={space!r}; expected one of {', '.join(_SPACES)}")


def _in_space(
    image: np.ndarray, heal: np.ndarray, space: str, fill: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Run ``fill(values with holes set to 0) -> filled values`` in the chosen space; composite."""
    _check_space(space)
    known = ~heal
    if space == "log":
        y, scale = to_log(image, known)
        y[heal] = 0.0
        filled = from_log(fill(y), scale)
    else:
        v = np.where(heal, 0.0, image)
        filled = fill(v)
    return composite(image, heal, filled)


# --------------------------------------------------------------------------------------------
# the classical methods
# --------------------------------------------------------------------------------------------


def heal_biharmonic(image: np.ndarray, heal_mask: np.ndarray, *, space: str = "log",
                    split_into_regions: bool = False) -> np.ndarray:
    """Biharmonic fill (scikit-image ``inpaint_biharmonic``), on float64 values.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    space : {'log', 'linear'}
        Fill normalised log intensity (default) or the counts.
    split_into_regions : bool
        Solve each connected hole separately (less memory, sometimes slower).

    Returns
    -------
    healed : (M, N) ndarray of float32
        The image with the holes filled, in its own units.

    Raises
    ------
    DipHealError
        Not a 2-D image, a mask of another shape, a mask that covers everything, a bad ``space``.
    """
    from skimage.restoration import inpaint_biharmonic

    image, heal = check_inputs(image, heal_mask)
    if not heal.any():
        return image.astype(np.float32)

    def fill(v: np.ndarray) -> np.ndarray:
        return inpaint_biharmonic(v.astype(np.float64), heal, split_into_regions=split_into_regions)

    return _in_space(image, heal, space, fill)


def _heal_cv2(image: np.ndarray, heal_mask: np.ndarray, flag_name: str, space: str, radius: float) -> np.ndarray:
    import cv2

    image, heal = check_inputs(image, heal_mask)
    if not heal.any():
        return image.astype(np.float32)
    if not radius > 0:
        raise DipHealError(f"got radius={radius!r}; expected a positive inpainting radius in pixels (e.g. 3)")
    flag = getattr(cv2, flag_name)
    mask8 = heal.astype(np.uint8) * 255

    def fill(v: np.ndarray) -> np.ndarray:
        vmax = float(v[~heal].max()) if (~heal).any() else 0.0
        factor = 65535.0 / vmax if vmax > 0 else 1.0
        src = np.clip(np.rint(np.clip(v, 0.0, None) * factor), 0, 65535).astype(np.uint16)
        out = cv2.inpaint(src, mask8, float(radius), flag)
        return out.astype(np.float64) / factor

    return _in_space(image, heal, space, fill)


def heal_ns(image: np.ndarray, heal_mask: np.ndarray, *, space: str = "log", radius: float = 3) -> np.ndarray:
    """OpenCV Navier-Stokes fill through the 16-bit path.

    The values (normalised log intensity, or counts with ``space='linear'``) are scaled so the
    largest known value maps to 65535, rounded to uint16, inpainted and scaled back. Negative
    values count as 0.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    space : {'log', 'linear'}
    radius : float
        Neighbourhood radius of the fast marching method, in pixels.

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        As :func:`heal_biharmonic`, or a radius that is not positive.
    """
    return _heal_cv2(image, heal_mask, "INPAINT_NS", space, radius)


def heal_telea(image: np.ndarray, heal_mask: np.ndarray, *, space: str = "log", radius: float = 3) -> np.ndarray:
    """OpenCV Telea fill through the 16-bit path (see :func:`heal_ns`).

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    space : {'log', 'linear'}
    radius : float
        Neighbourhood radius in pixels.

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        As :func:`heal_ns`.
    """
    return _heal_cv2(image, heal_mask, "INPAINT_TELEA", space, radius)


def _pyfai_integrator(shape: tuple[int, int], *, poni: str | Path | None, center: tuple[float, float] | None,
                      pixel_size: float, distance: float, offset: tuple[int, int]) -> Any:
    """An AzimuthalIntegrator on a generic detector of ``shape`` (or the PONI's, :mod:`dip_heal.geometry`)."""
    from pyFAI.detectors import Detector

    if poni is not None:
        from .geometry import load_geometry

        # the frame may be a crop starting at ``offset`` (rows, cols) of the calibrated detector
        return load_geometry(poni, shape, offset, crop=True).frame_integrator()
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    if center is None:
        raise DipHealError("pyfai needs a geometry; got neither a PONI file nor a beam centre; pass poni= or center=")
    cx, cy = (float(c) for c in center)
    if not (pixel_size > 0 and distance > 0):
        raise DipHealError(
            f"got pixel_size={pixel_size!r} m and distance={distance!r} m; expected positive numbers"
        )
    det = Detector(pixel1=pixel_size, pixel2=pixel_size, max_shape=shape)
    ai = AzimuthalIntegrator(detector=det)
    # pyFAI's Fit2D centre counts from the detector's corner, ours from the first pixel's centre
    # (dip_heal.geometry: centre = Fit2D centre - 0.5)
    ai.setFit2D(distance * 1000.0, cx - offset[1] + 0.5, cy - offset[0] + 0.5)
    ai.wavelength = 1e-10
    return ai


def heal_pyfai(image: np.ndarray, heal_mask: np.ndarray, *, poni: str | Path | None = None,
               center: tuple[float, float] | None = None, pixel_size: float = 172e-6,
               distance: float = 1.0, offset: tuple[int, int] = (0, 0), space: str = "log",
               npt_azim: int = 360, grow_mask: int = 3) -> np.ndarray:
    """pyFAI's azimuthal inpainting: interpolate along rings in polar coordinates.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    poni : path-like, optional
        A pyFAI calibration of the detector; wins over ``center``.
    center : (x, y), optional
        Beam centre in pixels of the full frame (x along columns). Default: estimated from the
        pattern with :func:`dip_heal.beam.estimate_center`.
    pixel_size : float
        Pixel size in metres (used without a PONI file; PILATUS: 172e-6).
    distance : float
        Sample-detector distance in metres (without a PONI file; the polar interpolation
        hardly depends on it for an untilted detector).
    offset : (row, col)
        Where ``image`` starts in the frame the geometry refers to (a crop's corner).
    space : {'log', 'linear'}
    npt_azim : int
        Azimuthal bins of the polar image; radial bins are one per pixel of the largest radius.
    grow_mask : int
        Azimuthal dilation of the polar holes (pyFAI's parameter).

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        As :func:`heal_biharmonic`, a missing or unreadable PONI file, non-positive pixel size
        or distance, or no beam centre and no estimator available.
    """
    image, heal = check_inputs(image, heal_mask)
    if not heal.any():
        return image.astype(np.float32)
    if poni is None and center is None:
        try:
            from .beam import estimate_center
        except ImportError:  # pragma: no cover - beam.py ships with the package
            raise DipHealError("pyfai needs a beam centre and no estimator is available; pass center=(x, y)") from None
        cx, cy = estimate_center(np.where(heal, 0.0, image), ~heal)
        center = (cx + offset[1], cy + offset[0])
        logger.info("pyfai: estimated beam centre x=%.1f y=%.1f", center[0], center[1])
    ai = _pyfai_integrator(image.shape, poni=poni, center=center, pixel_size=pixel_size,
                           distance=distance, offset=offset)
    # one radial bin per pixel out to the farthest corner
    r = ai.array_from_unit(shape=image.shape, unit="r_m")
    px = float(min(ai.detector.pixel1, ai.detector.pixel2))
    npt_rad = int(max(16, np.ceil(float(np.nanmax(r)) / px)))

    def fill(v: np.ndarray) -> np.ndarray:
        # pyFAI marks holes with the dummy -1 (delta 0.9): keep real values clear of it
        v = np.clip(v, 0.0, None)
        out = ai.inpainting(v.astype(np.float32), heal.astype(np.int8), npt_rad=npt_rad,
                            npt_azim=int(npt_azim), unit="r_m", grow_mask=int(grow_mask))
        out = np.asarray(out, dtype=np.float64)
        # pixels the polar image could not reach keep a dummy; fall back to the nearest fill
        bad = heal & ~(np.isfinite(out) & (out > -0.5))
        if bad.any():
            logger.debug("pyfai left %d pixels unfilled; nearest known value used", int(bad.sum()))
            from scipy import ndimage

            good = ~bad & (~heal | np.isfinite(out))
            idx = ndimage.distance_transform_edt(~good, return_distances=False, return_indices=True)
            out = np.where(bad, np.where(~heal, v, out)[tuple(idx)], out)
        return out

    return _in_space(image, heal, space, fill)


def heal_azimuthal(image: np.ndarray, heal_mask: np.ndarray, *, poni: Any = None,
                   center: tuple[float, float] | None = None, offset: tuple[int, int] = (0, 0),
                   n_azim: int = 90, smooth: float = 1.0, space: str = "log") -> np.ndarray:
    """The azimuthal model of the known pixels (the DIP's guide) as a fill.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    poni : path-like or Geometry, optional
        A pyFAI calibration (:mod:`dip_heal.geometry`): rings of pyFAI's 2theta and chi; wins over
        ``center``.
    center : (x, y), optional
        Beam centre in pixels of the full frame (x along columns). Default: estimated from the
        pattern with :func:`dip_heal.beam.estimate_center`.
    offset : (row, col)
        Where ``image`` starts in the frame the geometry refers to (a crop's corner).
    n_azim : int
        Azimuthal bins.
    smooth : float
        Smoothing along the azimuth, in bins.
    space : {'log', 'linear'}

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        As :func:`heal_biharmonic`, or a missing, garbled or mismatched PONI file.
    """
    from .polar import azimuthal_model

    image, heal = check_inputs(image, heal_mask)
    if not heal.any():
        return image.astype(np.float32)
    geometry = None
    if poni is not None:
        from .geometry import load_geometry

        geometry = load_geometry(poni, image.shape, offset, crop=True)
        c = None
    else:
        c = _center_of(image, heal, center, offset, "azimuthal")

    def fill(v: np.ndarray) -> np.ndarray:
        return azimuthal_model(v, ~heal, c, n_azim=int(n_azim), smooth=float(smooth), geometry=geometry)

    return _in_space(image, heal, space, fill)


def _center_of(image: np.ndarray, heal: np.ndarray, center: tuple[float, float] | None,
               offset: tuple[int, int], what: str) -> tuple[float, float]:
    """``center`` (full-frame pixels) in the image's own pixels, or the beam centre estimated."""
    from .polar import crop_center

    if center is not None:
        return crop_center(center, offset)
    from .beam import estimate_center

    c = estimate_center(np.where(heal, 0.0, image), ~heal)
    logger.info("%s: estimated beam centre x=%.1f y=%.1f", what, c[0] + offset[1], c[1] + offset[0])
    return float(c[0]), float(c[1])


def _heal_symmetry(image: np.ndarray, heal_mask: np.ndarray, kind: str, center: tuple[float, float] | None,
                   offset: tuple[int, int], info: dict[str, Any] | None) -> np.ndarray:
    from .priors import symmetry_fill

    image, heal = check_inputs(image, heal_mask)
    if not heal.any():
        return image.astype(np.float32)
    c = _center_of(image, heal, center, offset, kind)
    y, scale = to_log(image, ~heal)
    y[heal] = 0.0
    vals, ok, sym = symmetry_fill(y, ~heal, heal, kind, center=c)
    if info is not None:
        info["symmetry"] = {kind: sym}
    logger.info("%s: score %.2f, %d of %d pixels from a measured image", kind, sym["score"], int(ok.sum()),
                int(heal.sum()))
    y[ok] = vals[ok]
    healed = from_log(y, scale)
    rest = heal & ~ok
    if rest.any():  # the pixels no image reaches: Telea from the measured and mirrored ones
        healed[rest] = np.asarray(heal_telea(healed, rest), dtype=np.float64)[rest]
    return composite(image, heal, healed)


def heal_fold(image: np.ndarray, heal_mask: np.ndarray, *, center: tuple[float, float] | None = None,
              offset: tuple[int, int] = (0, 0), info: dict[str, Any] | None = None) -> np.ndarray:
    """A fibre's quadrant fold as a fill: the mean of the measured mirror images about meridian and equator.

    The fibre axis is the one the measured pixels obey best (:func:`dip_heal.priors.fibre_axis`);
    pixels none of whose three images is measured get Telea. Filled in normalised log intensity.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    center : (x, y), optional
        Beam centre in pixels of the full frame; default estimated
        (:func:`dip_heal.beam.estimate_center`).
    offset : (row, col)
        Where ``image`` starts in the full frame (a crop's corner).
    info : dict, optional
        Filled with ``symmetry``: ``{"fold": {"score", "angle", "meridian", "equator"}}``.

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        As :func:`heal_biharmonic`.
    """
    return _heal_symmetry(image, heal_mask, "fold", center, offset, info)


def heal_mirror(image: np.ndarray, heal_mask: np.ndarray, *, center: tuple[float, float] | None = None,
                offset: tuple[int, int] = (0, 0), info: dict[str, Any] | None = None) -> np.ndarray:
    """A GISAXS frame's left-right mirror about the specular plane as a fill.

    The plane is the vertical line the measured pixels obey best near the beam centre
    (:func:`dip_heal.priors.specular_axis`); pixels whose image is not measured get Telea.

    Parameters
    ----------
    image : (M, N) ndarray
        Intensities (counts).
    heal_mask : (M, N) ndarray of bool
        True = pixel to heal.
    center : (x, y), optional
        Beam centre in pixels of the full frame; default estimated.
    offset : (row, col)
        Where ``image`` starts in the full frame.
    info : dict, optional
        Filled with ``symmetry``: ``{"mirror": {"score", "x"}}``.

    Returns
    -------
    healed : (M, N) ndarray of float32

    Raises
    ------
    DipHealError
        As :func:`heal_biharmonic`.
    """
    return _heal_symmetry(image, heal_mask, "mirror", center, offset, info)

"""Detector geometry and raw-value conventions, taken from pyFAI's detector catalogue.

Module gaps come from pyFAI (``detector_factory(name).calc_mask()``), so every modular detector
pyFAI knows (PILATUS 100K-6M, PILATUS3, PILATUS4, EIGER/EIGER2 500K-16M, CdTe variants,
Jungfrau) is covered. The detector is named by the user, read from the file header
(``# Detector: PILATUS 6M``), or recognised from the frame shape.

PILATUS writes gaps as 0 by default (-1 only with gap flagging on) and bad pixels as -2; EIGER
writes ``2**bits - 1`` into every pixel flagged in its ``pixel_mask``. A mask builder must therefore
use the geometry, not only the values.

pyFAI is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Mapping

import numpy as np

from .errors import DipHealError

__all__ = [
    "known_detectors",
    "canonical_name",
    "detector_from_shape",
    "detector_from_header",
    "detector_name",
    "resolve_detector",
    "detector_family",
    "gap_mask",
    "sentinel_mask",
    "PILATUS_OVERFLOW",
    "NXMX_BITS",
]

logger = logging.getLogger(__name__)

#: PILATUS 20-bit counter overflow value written into int32 frames.
PILATUS_OVERFLOW = 2**20 - 1

#: NeXus NXmx ``pixel_mask`` bits (NXdetector), name -> bit number.
NXMX_BITS: dict[str, int] = {
    "gap": 0,
    "dead": 1,
    "under": 2,
    "over": 3,
    "noisy": 4,
    "cluster": 6,
    "user": 8,
    "virtual": 31,
}

# Families whose geometry has module gaps, in the order shape recognition prefers them
# (plain silicon sensors before CdTe variants, which also mask 3 mid-module columns).
_MODULAR_PREFIXES = ("Pilatus", "Eiger", "Jungfrau")


def _norm(name: str) -> str:
    """Lower-case key without spaces, dashes, underscores or a 'dectris' prefix."""
    s = name.strip().lower()
    s = re.sub(r"^dectris\s*", "", s)
    s = s.replace("pilatus3", "pilatus").replace("pilatus 3", "pilatus")
    return re.sub(r"[\s_\-]", "", s)


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """(normalised alias -> class name, class name -> MAX_SHAPE) for modular detectors."""
    from pyFAI.detectors import ALL_DETECTORS

    aliases: dict[str, str] = {}
    shapes: dict[str, tuple[int, int]] = {}
    for key, cls in ALL_DETECTORS.items():
        name = cls.__name__
        if not name.startswith(_MODULAR_PREFIXES) or getattr(cls, "MODULE_SIZE", None) is None:
            continue
        shape = getattr(cls, "MAX_SHAPE", None)
        if shape is None:
            continue
        shapes[name] = tuple(int(v) for v in shape)  # type: ignore[assignment]
        aliases[_norm(key)] = name
        aliases[_norm(name)] = name
        for alias in getattr(cls, "aliases", ()) or ():
            aliases[_norm(alias)] = name
    return aliases, shapes


@functools.lru_cache(maxsize=1)
def _partial_modules() -> frozenset[str]:
    """Detectors smaller than one module (e.g. EIGER2 250k, 512 x 512): not recognised by shape,
    since common CCD frames share their shape and they have no gaps anyway."""
    from pyFAI.detectors import ALL_DETECTORS

    out = set()
    for cls in ALL_DETECTORS.values():
        ms, sh = getattr(cls, "MODULE_SIZE", None), getattr(cls, "MAX_SHAPE", None)
        if ms is not None and sh is not None and (sh[0] < ms[0] or sh[1] < ms[1]):
            out.add(cls.__name__)
    return frozenset(out)


def known_detectors() -> list[str]:
    """Names of the modular detectors whose gaps dip-heal can mask (pyFAI class names).

    Returns
    -------
    names : list of str
        Sorted, e.g. ``['Eiger16M', 'Eiger1M', ..., 'Pilatus1M', ..., 'Pilatus6M', ...]``.
    """
    return sorted(_catalogue()[1])


def canonical_name(name: str) -> str:
    """Resolve a detector name as users write it to pyFAI's class name.

    Parameters
    ----------
    name : str
        ``"PILATUS3 1M"``, ``"pilatus_1m"``, ``"Eiger2 9M"``, ``"EIGER2 CdTe 4M"``, ...

    Returns
    -------
    str
        The pyFAI class name, e.g. ``"Pilatus1M"``.

    Raises
    ------
    DipHealError
        The name is not a modular detector of pyFAI's catalogue; the message lists the known ones.
    """
    aliases, _ = _catalogue()
    key = _norm(name)
    if key in aliases:
        return aliases[key]
    # "eiger2cdte4m" vs "eiger2_cdte_4m" are covered by _norm; try "eiger2cdte" -> "eiger2_cdte"
    raise DipHealError(
        f"unknown detector {name!r}; expected one of {', '.join(known_detectors())}; "
        "name one of these (--detector) or 'none' for no module gaps"
    )


def detector_from_shape(shape: tuple[int, int]) -> str | None:
    """The modular detector whose full frame has this shape, or None.

    Silicon-sensor models are preferred over CdTe variants of the same shape, and PILATUS over
    EIGER/Jungfrau (no two of those share a shape).

    Examples
    --------
    >>> detector_from_shape((1043, 981))
    'Pilatus1M'
    >>> detector_from_shape((100, 100)) is None
    True
    """
    _, shapes = _catalogue()
    hits = [n for n, s in shapes.items() if s == tuple(shape) and n not in _partial_modules()]
    if not hits:
        return None
    def rank(n: str) -> tuple:
        fam = next(i for i, p in enumerate(_MODULAR_PREFIXES) if n.startswith(p))
        return ("cdte" in n.lower(), fam, n)

    hits.sort(key=rank)
    return hits[0]


_HEADER_RE = re.compile(
    r"(PILATUS\s*[34]?|EIGER\s*2?|JUNGFRAU)((?:[\s_\-]*(?:CdTe|Si|XE|R|S|X)\b)*)[\s_\-]*(\d+(?:\.\d+)?\s*[MK])(?:[\s_\-]?(W)\b)?",
    re.IGNORECASE,
)


def detector_from_header(header: Mapping[str, object] | None) -> str | None:
    """Detector named in a file header (CBF/TIFF ``# Detector: PILATUS 6M``, NeXus description).

    Parameters
    ----------
    header : mapping of str to str, or None
        The file's header fields.

    Returns
    -------
    str or None
        pyFAI class name, or None when no known detector is named.

    Examples
    --------
    >>> detector_from_header({"_array_data.header_contents": "# Detector: PILATUS 6M, 60-0001"})
    'Pilatus6M'
    """
    if not header:
        return None
    aliases, _ = _catalogue()
    for value in header.values():
        for m in _HEADER_RE.finditer(str(value)):
            family = re.sub(r"\s", "", m.group(1)).lower()
            if family == "pilatus3":
                family = "pilatus"
            cdte = "cdte" if "cdte" in (m.group(2) or "").lower() else ""
            size = re.sub(r"\s", "", m.group(3)).lower()
            wide = "w" if m.group(4) else ""
            for key in (f"{family}{cdte}{size}{wide}", f"{family}{size}{wide}"):
                if key in aliases:
                    return aliases[key]
    return None


def detector_name(text: str | None) -> str | None:
    """pyFAI detector name for a header's detector description, or None.

    The one reader of detector names: :func:`detector_from_header` for the modular detectors of
    pyFAI's catalogue (PILATUS, EIGER, Jungfrau), then FReLoN and mar345 by name.

    Examples
    --------
    >>> detector_name("# Detector: PILATUS3 6M, S/N 60-0126")
    'Pilatus6M'
    >>> detector_name("Dectris EIGER2 Si 9M")
    'Eiger2_9M'
    >>> detector_name("PILATUS3 300K, S/N 3-0327")
    'Pilatus300k'
    >>> detector_name("a camera") is None
    True
    """
    if not text:
        return None
    found = detector_from_header({"text": text})
    if found is not None:
        return found
    low = text.lower()
    if "frelon" in low:
        return "FReLoN"
    if re.search(r"\bmar\s*345\b", low):
        return "Mar345"
    return None


def resolve_detector(
    name: str | None, shape: tuple[int, int], header: Mapping[str, object] | None = None,
    meta_detector: str | None = None,
) -> str | None:
    """Pick the detector: the given name, else the file's, else the header's, else the shape's.

    A detector named by the file (reader or header) whose shape is not the frame's (a crop, a
    binned frame) is not used: a one-line warning is logged and the frame's shape decides (no
    module-gap geometry when no detector has that shape).

    Parameters
    ----------
    name : str or None
        ``None`` or ``"auto"`` to detect, ``"none"`` for no modular geometry, or a detector name.
    shape : (int, int)
        Frame shape.
    header : mapping, optional
        File header.
    meta_detector : str, optional
        Detector already named by the reader (``frame.meta["detector"]``).

    Returns
    -------
    str or None
        pyFAI class name, or None.
    """
    if name is not None and name.lower() not in ("auto", ""):
        if name.lower() == "none":
            return None
        return canonical_name(name)
    _, shapes = _catalogue()
    named = None
    for cand in (meta_detector, ):
        if cand:
            try:
                named = canonical_name(cand)
            except DipHealError:
                logger.debug("reader named detector %r, not a modular one", cand)
    found = detector_from_header(header)
    for cand in (named, found):
        if cand is not None and shapes[cand] == tuple(shape):
            return cand
    mismatch = named or found
    by_shape = detector_from_shape(shape)
    if mismatch is not None:
        # issue 18: a crop (or a binned frame) keeps its detector's header; never fail on it
        logger.warning("the file names detector %s %s but the frame is %s (a crop or binned?): %s", mismatch,
                       shapes[mismatch], tuple(shape),
                       f"using {by_shape}, found by the shape" if by_shape else "no module-gap geometry used")
    return by_shape


def detector_family(name: str | None) -> str:
    """``"pilatus"``, ``"eiger"``, ``"jungfrau"`` or ``"other"``."""
    if not name:
        return "other"
    low = name.lower()
    for fam in ("pilatus", "eiger", "jungfrau"):
        if low.startswith(fam):
            return fam
    return "other"


@functools.lru_cache(maxsize=16)
def gap_mask_cached(name: str) -> np.ndarray:
    import pyFAI

    det = pyFAI.detector_factory(name)
    m = det.calc_mask()
    if m is None:
        m = np.zeros(det.shape, np.int8)
    out = np.asarray(m).astype(bool)
    out.setflags(write=False)
    return out


def gap_mask(detector_name: str, shape: tuple[int, int]) -> np.ndarray:
    """Module-gap pixels of a detector, from pyFAI's geometry.

    Parameters
    ----------
    detector_name : str
        Any name :func:`canonical_name` accepts.
    shape : (int, int)
        The frame shape; must equal the detector's full shape.

    Returns
    -------
    gaps : (M, N) ndarray of bool
        True = gap pixel (no sensor).

    Raises
    ------
    DipHealError
        Unknown detector, or the frame shape differs from the detector's.

    Examples
    --------
    >>> int(gap_mask("Pilatus300k", (619, 487)).sum())
    16558
    """
    name = canonical_name(detector_name)
    _, shapes = _catalogue()
    if shapes[name] != tuple(shape):
        raise DipHealError(
            f"detector {name} has shape {shapes[name]}, the frame is {tuple(shape)}; "
            "name the right detector (--detector) or 'none' for a cropped/binned frame"
        )
    return gap_mask_cached(name).copy()


def sentinel_mask(
    raw: np.ndarray,
    *,
    detector: str | None = None,
    header: Mapping[str, object] | None = None,
    overflow: bool = True,
    hdf5: bool = False,
) -> np.ndarray:
    """Pixels whose raw value is a format sentinel, not a measurement: the one rule of dip-heal.

    :func:`dip_heal.io.read_image` sets ``Frame.valid`` from it (``overflow=False``), so a fit
    without a mask heals these pixels; :func:`dip_heal.masks.build_mask` (``dip-heal mask``,
    ``dip-heal bulk``) masks them as its ``sentinel`` layer, adding the overflow pixels by default.

    Sentinels:

    - NaN and inf;
    - negative values of signed integers (-1 gap, -2 bad pixel on PILATUS);
    - exactly -1 or -2 in float data (a PILATUS frame saved as float), unless the frame has other
      negative values (background-subtracted data, where -1 and -2 are measurements too);
    - ``2**bits - 1`` of unsigned integers of 32 bits or more (PILATUS/EIGER flagged pixels), and
      of any unsigned data from HDF5 files (EIGER's 16-bit flagged pixels).

    Overflow (``overflow=True``): PILATUS's 20-bit overflow ``2**20 - 1``, values at or above the
    header's ``Count_cutoff``, and ``2**bits - 1`` of 8- and 16-bit data from other files (a
    saturated CCD pixel: a measurement whose true value is unknown).

    Parameters
    ----------
    raw : (M, N) ndarray
        The frame as stored.
    detector : str, optional
        pyFAI class name (for the PILATUS overflow rule).
    header : mapping, optional
        File header (``Count_cutoff``).
    overflow : bool
        Also mask overflow and saturated values.
    hdf5 : bool
        The frame comes from an HDF5 file (EIGER's 16-bit sentinel).

    Returns
    -------
    (M, N) ndarray of bool

    Examples
    --------
    >>> sentinel_mask(np.array([[0, -1], [-2, 5]], dtype=np.int32)).astype(int)
    array([[0, 1],
           [1, 0]])
    >>> sentinel_mask(np.array([[1, 4294967295]], dtype=np.uint32)).astype(int)
    array([[0, 1]])
    >>> sentinel_mask(np.array([[-1.0, 3.0], [-0.5, 2.0]], dtype=np.float32)).astype(int)
    array([[0, 0],
           [0, 0]])
    """
    raw = np.asarray(raw)
    dt = raw.dtype
    if dt == bool:
        return np.zeros(raw.shape, bool)
    if np.issubdtype(dt, np.complexfloating):
        return ~np.isfinite(raw)
    if np.issubdtype(dt, np.floating):
        out = ~np.isfinite(raw)
        flagged = (raw == -1) | (raw == -2)
        if flagged.any() and not ((raw < 0) & ~flagged).any():  # NaN compares False: ignored
            out |= flagged
    elif np.issubdtype(dt, np.signedinteger):
        out = raw < 0
    elif np.issubdtype(dt, np.unsignedinteger):
        top = raw == np.iinfo(dt).max
        out = top if (dt.itemsize >= 4 or hdf5) else np.zeros(raw.shape, bool)
        if overflow and not (dt.itemsize >= 4 or hdf5):
            out = out | top  # a saturated CCD pixel
    else:
        raise DipHealError(f"got a frame of dtype {dt}; expected numbers; convert the frame to int or float")
    if overflow and np.issubdtype(dt, np.integer):
        if detector_family(detector) == "pilatus" and np.iinfo(dt).max > PILATUS_OVERFLOW:
            out |= raw == PILATUS_OVERFLOW
        cutoff = _count_cutoff(header)
        if cutoff is not None:
            out |= raw >= cutoff
    return out


def _count_cutoff(header: Mapping[str, object] | None) -> int | None:
    if not header:
        return None
    for value in header.values():
        m = re.search(r"Count_cutoff\s*[:=]?\s*(\d+)", str(value))
        if m:
            return int(m.group(1))
    return None

"""Masks of pixels to heal: the recipe (:class:`MaskSpec`), the builder, and mask files.

Convention everywhere in dip-heal: a mask is a bool (M, N) array, **True = pixel to heal**.
Pixels to *ignore* (outside the detector's active area: neither measured nor worth healing) are
kept apart in the ``"ignore"`` layer and never count as pixels to heal, as pyFAI's inpainting keeps
``topaint`` apart from ``mask``.

A :class:`MaskSpec` is a JSON recipe: which automatic components to use (module gaps from the
detector geometry, format sentinels, masks stored in the file, empty stripes, beamstop, holder,
hot pixels), a dilation margin, user shapes (rectangle, circle, polygon, thick line, flood fill,
threshold) and the exact edits made in the interactive editor. Applying the same spec to a
series re-detects the beamstop on every frame.

Mask files state their polarity: NPY (bool, True = heal) and PNG (0 = heal, 255 = keep) get a
sidecar ``<file>.json``; EDF and TIFF (uint8, pyFAI's 1 = masked) carry it in the header too;
HDF5 stores it as attributes; Fit2D ``.msk`` is bit set = masked by definition.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import DipHealError
from .frame import Frame, atomic_path, check_mask_shape

__all__ = [
    "MaskSpec",
    "build_mask",
    "build_mask_layers",
    "apply_shape",
    "shape_mask",
    "read_mask",
    "write_mask",
    "overlay_rgb",
    "write_overlay",
    "mask_frame_files",
    "CAUSES",
    "MASK_FORMATS",
    "CONVENTIONS",
]

logger = logging.getLogger(__name__)

#: Layers of pixels to heal, in overlay order, with their overlay colours (RGB).
CAUSES: dict[str, tuple[int, int, int]] = {
    "gaps": (60, 120, 255),
    "sentinel": (255, 60, 60),
    "file_mask": (200, 60, 255),
    "stripes": (255, 160, 0),
    "beamstop": (0, 230, 90),
    "holder": (0, 220, 220),
    "hot": (255, 255, 0),
    "user": (255, 80, 200),
}
_IGNORE_COLOUR = (90, 90, 90)
# overlay drawing order: where causes overlap, the later (more specific) colour shows
_DRAW_ORDER = ("ignore", "sentinel", "file_mask", "stripes", "hot", "gaps", "holder", "beamstop", "user")

#: File formats ``write_mask`` writes, by extension.
MASK_FORMATS: dict[str, str] = {
    ".npy": "npy",
    ".png": "png",
    ".edf": "edf",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".msk": "msk",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".nxs": "hdf5",
}

#: Mask polarity conventions ``read_mask`` understands.
CONVENTIONS: dict[str, str] = {
    "heal": "nonzero = pixel to heal (dip-heal NPY/HDF5)",
    "pyfai": "nonzero = masked (pyFAI, silx, Dioptas, Fit2D, NXmx pixel_mask, NXcanSAS Imask)",
    "dioptas": "nonzero = masked, stored upside down (Dioptas); flipped on reading",
    "keep": "zero = masked, nonzero = valid (PNG masks, SciAnalysis, scikit-beam, pySimpleMask, BioXTAS RAW)",
}

_SHAPE_KINDS = ("rect", "circle", "polygon", "line", "fill", "threshold", "grow", "shrink", "invert", "clear")
_SHAPE_CAUSES = ("beamstop", "holder", "user")


# --------------------------------------------------------------------------------------------
# the recipe


@dataclass(frozen=True)
class MaskSpec:
    """A reproducible mask recipe (JSON round-trip with :meth:`to_json` / :meth:`from_json`).

    Attributes
    ----------
    detector : str
        ``"auto"`` (reader's name, then header, then frame shape), ``"none"`` (no module
        geometry) or a detector name pyFAI knows (``"Pilatus2M"``, ``"PILATUS3 1M"``, ...).
    gaps : bool
        Mask the detector's module gaps (pyFAI geometry); PILATUS stores them as 0 by default.
    sentinels : bool
        Mask format sentinels: negative integers (-1 gap, -2 bad), ``2**bits - 1`` of unsigned
        data (EIGER), NaN/inf, exact -1/-2 in float data.
    overflow : bool
        Also mask PILATUS overflow ``2**20 - 1`` and values at/above the header's Count_cutoff.
    file_masks : bool
        Mask pixels flagged by masks stored in the file (NXmx ``pixel_mask`` bits, NXcanSAS
        ``Imask``).
    pixel_mask_bits : int
        NXmx bits that mean "heal" (default 0xFFFF: gap, dead, under/over-responding, noisy,
        cluster, user, as NXmx asks software to ignore).
    stripes : bool
        Mask rows/columns that are (nearly) all zero (the seed project's rule) or flat
        (constant filler, e.g. the border rows of reduced data).
    stripe_fraction : float
        A row/column is empty when fewer than this fraction of its valid pixels are non-zero
        (and it looks like a gap, see ``_empty_stripes``).
    beamstop : str
        ``"auto"`` (find the dark region at the beam, per frame) or ``"none"``.
    beam_center : (x, y) or None
        Beam position for the beamstop search; None = estimated from the pattern.
    beamstop_margin : int
        Pixels added around the automatic beamstop (penumbra).
    holder : str
        ``"auto"`` (propose a thin dark band from the beamstop to the edge) or ``"none"``.
    hot_pixels : bool
        Mask isolated pixels far above their 3x3 neighbourhood median.
    hot_sigma : float
        Threshold of the hot-pixel test, in Poisson standard deviations of the local median.
    dilate : int
        Margin in pixels added around every masked region (before ``edits``).
    shapes : tuple of dict
        User shapes applied before the dilation (see :func:`apply_shape` for the keys).
    edits : tuple of dict
        Editor operations applied last, exactly as drawn (no dilation).
    ignore_zero_border : bool
        Put zero-valued pixels outside the convex hull of the non-zero ones (outside a round
        CCD's active area) in the ``"ignore"`` layer instead of healing them.
    """

    detector: str = "auto"
    gaps: bool = True
    sentinels: bool = True
    overflow: bool = True
    file_masks: bool = True
    pixel_mask_bits: int = 0xFFFF
    stripes: bool = True
    stripe_fraction: float = 0.01
    beamstop: str = "auto"
    beam_center: tuple[float, float] | None = None
    beamstop_margin: int = 1
    holder: str = "none"
    hot_pixels: bool = False
    hot_sigma: float = 8.0
    dilate: int = 0
    shapes: tuple[dict, ...] = field(default_factory=tuple)
    edits: tuple[dict, ...] = field(default_factory=tuple)
    ignore_zero_border: bool = False

    def __post_init__(self) -> None:
        if self.beamstop not in ("auto", "none"):
            raise DipHealError(f"beamstop={self.beamstop!r}; expected 'auto' or 'none'; draw shapes for a fixed one")
        if self.holder not in ("auto", "none"):
            raise DipHealError(f"holder={self.holder!r}; expected 'auto' or 'none'; draw a polygon for a fixed one")
        if self.dilate < 0 or self.beamstop_margin < 0:
            raise DipHealError(
                f"dilate={self.dilate}, beamstop_margin={self.beamstop_margin}; expected >= 0; use 0 for none"
            )
        if not 0 <= self.stripe_fraction < 1:
            raise DipHealError(f"stripe_fraction={self.stripe_fraction}; expected 0 <= f < 1; try 0.01")
        if self.beam_center is not None:
            bc = tuple(float(v) for v in self.beam_center)
            if len(bc) != 2:
                raise DipHealError(f"beam_center={self.beam_center!r}; expected (x, y); give two numbers")
            object.__setattr__(self, "beam_center", bc)
        object.__setattr__(self, "shapes", tuple(_check_shape(s) for s in self.shapes))
        object.__setattr__(self, "edits", tuple(_check_shape(s) for s in self.edits))
        if self.detector.lower() not in ("auto", "none", ""):
            from .detectors import canonical_name

            canonical_name(self.detector)  # raises, listing the known detectors

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["shapes"] = [dict(s) for s in self.shapes]
        d["edits"] = [dict(s) for s in self.edits]
        d["beam_center"] = list(self.beam_center) if self.beam_center is not None else None
        return {"dip_heal_mask_spec": 1, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MaskSpec":
        """Build from :meth:`to_dict` output; unknown keys raise, listing the known ones."""
        d = dict(d)
        d.pop("dip_heal_mask_spec", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise DipHealError(
                f"unknown mask-spec keys {unknown}; expected some of {sorted(names)}; fix the spec file"
            )
        for k in ("shapes", "edits"):
            if k in d:
                d[k] = tuple(d[k] or ())
        if d.get("beam_center") is not None:
            d["beam_center"] = tuple(d["beam_center"])
        return cls(**d)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The spec as JSON text; also written (atomically) to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with atomic_path(path) as tmp:
                tmp.write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> "MaskSpec":
        """Read a spec from JSON text or a ``.json`` file."""
        s = str(text_or_path)
        where = ""
        if not s.lstrip().startswith("{"):
            p = Path(s)
            if not p.exists():
                p = shipped_spec_path(s)
            where = f"{p}: "
            s = p.read_text()
        try:
            d = json.loads(s)
        except json.JSONDecodeError as exc:
            raise DipHealError(f"{where}mask spec is not valid JSON ({exc}); expected a JSON object; fix the file") from None
        if not isinstance(d, dict):
            raise DipHealError(f"{where}mask spec is a JSON {type(d).__name__}; expected an object; fix the file")
        try:
            return cls.from_dict(d)
        except DipHealError as exc:
            raise DipHealError(f"{where}{exc}") from None

    def replace(self, **changes: Any) -> "MaskSpec":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: The shipped mask specs (package data; the source tree's ``masks/`` links to them).
SPECS_DIR = Path(__file__).resolve().parent / "data" / "masks"


def shipped_specs() -> list[str]:
    """Names of the mask specs shipped with dip-heal (``dip-heal mask --spec NAME``)."""
    return sorted(p.stem for p in SPECS_DIR.glob("*.json"))


def shipped_spec_path(name: str) -> Path:
    """The shipped spec called ``name`` (with or without ``.json``).

    Raises
    ------
    DipHealError
        Neither a file nor a shipped spec of that name.
    """
    stem = name[:-5] if name.endswith(".json") else name
    p = SPECS_DIR / f"{stem}.json"
    if "/" in name or os.sep in name or not p.is_file():
        raise DipHealError(f"no such spec file: {name}; expected a JSON mask spec or a shipped spec name "
                           f"({', '.join(shipped_specs())}); check the path")
    return p


def _check_shape(s: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one shape/edit dict (frame-independent checks)."""
    if not isinstance(s, Mapping):
        raise DipHealError(f"shape {s!r} is not an object; expected e.g. {{'kind': 'rect', ...}}; fix the spec")
    s = dict(s)
    kind = s.get("kind")
    if kind not in _SHAPE_KINDS:
        raise DipHealError(f"shape kind {kind!r}; expected one of {', '.join(_SHAPE_KINDS)}; fix the spec")
    mode = s.setdefault("mode", "mask")
    if mode not in ("mask", "unmask"):
        raise DipHealError(f"shape mode {mode!r}; expected 'mask' or 'unmask'; fix the spec")
    cause = s.setdefault("cause", "user")
    if cause not in _SHAPE_CAUSES:
        raise DipHealError(f"shape cause {cause!r}; expected one of {', '.join(_SHAPE_CAUSES)}; fix the spec")

    def need(*keys: str) -> None:
        miss = [k for k in keys if k not in s]
        if miss:
            raise DipHealError(f"{kind} shape lacks {miss}; expected keys {list(keys)}; fix the spec")

    if kind == "rect":
        need("x0", "y0", "x1", "y1")
    elif kind == "circle":
        need("x", "y", "r")
        if float(s["r"]) <= 0:
            raise DipHealError(f"circle radius {s['r']}; expected > 0; give a positive radius")
    elif kind in ("polygon", "line"):
        need("points")
        pts = np.asarray(s["points"], float)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise DipHealError(f"{kind} points {s['points']!r}; expected a list of [x, y]; fix the points")
        if kind == "polygon" and len(pts) < 3:
            raise DipHealError(
                f"polygon with {len(pts)} points; expected at least 3; add points (x,y;x,y;x,y)"
            )
        if kind == "line":
            need("width")
            if len(pts) < 1 or float(s["width"]) <= 0:
                raise DipHealError(f"line of {len(pts)} points, width {s['width']}; expected >= 1 point and width > 0")
        s["points"] = [[float(x), float(y)] for x, y in pts]
    elif kind == "fill":
        need("x", "y")
    elif kind == "threshold":
        if "below" not in s and "above" not in s:
            raise DipHealError("threshold shape lacks 'below' and 'above'; expected at least one; fix the spec")
    elif kind in ("grow", "shrink"):
        need("r")
        if float(s["r"]) < 0:
            raise DipHealError(f"{kind} by {s['r']} px; expected >= 0; give a positive number")
    return s


# --------------------------------------------------------------------------------------------
# rasterising shapes


def shape_mask(shape_spec: Mapping[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None = None,
               valid: np.ndarray | None = None, current: np.ndarray | None = None) -> np.ndarray:
    """Pixels a geometric shape covers (pixel centres at integer x = column, y = row).

    Parameters
    ----------
    shape_spec : dict
        ``{"kind": "rect", "x0", "y0", "x1", "y1", ["below"]}`` (inclusive bounds; with ``below``
        only pixels darker than it, in counts, or ``"auto"`` for the geometric midpoint of the
        box's 2nd and 98th percentiles: the seed rule), ``{"kind": "circle", "x", "y", "r"}``,
        ``{"kind": "polygon", "points": [[x, y], ...]}``, ``{"kind": "line", "points", "width"}``
        (thick polyline with round caps: a brush stroke or a holder arm), ``{"kind": "fill",
        "x", "y", ["below"]}`` (the dark 8-connected region at the click), ``{"kind":
        "threshold", "below"|"above"}`` (counts).
    frame_shape : (int, int)
    image, valid : (M, N) ndarray, optional
        Needed by ``fill``, ``threshold`` and ``rect`` with ``below``.
    current : (M, N) ndarray of bool, optional
        Unused for shapes; accepted for a uniform signature.

    Returns
    -------
    (M, N) ndarray of bool

    Raises
    ------
    DipHealError
        A shape entirely outside the frame, a polygon with < 3 points, a fill outside the frame.

    Examples
    --------
    >>> shape_mask({"kind": "rect", "x0": 1, "y0": 0, "x1": 2, "y1": 1}, (3, 4)).astype(int)
    array([[0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    s = _check_shape(shape_spec)
    M, N = frame_shape
    kind = s["kind"]
    out = np.zeros((M, N), bool)
    if kind == "rect":
        x0, x1 = sorted((float(s["x0"]), float(s["x1"])))
        y0, y1 = sorted((float(s["y0"]), float(s["y1"])))
        if x1 < -0.5 or y1 < -0.5 or x0 > N - 0.5 or y0 > M - 0.5:
            raise DipHealError(
                f"rectangle x {x0:g}..{x1:g}, y {y0:g}..{y1:g} is outside the frame "
                f"(x 0..{N - 1}, y 0..{M - 1}); give corners inside the frame (x0,y0,x1,y1)"
            )
        c0, c1 = max(0, int(np.ceil(x0 - 0.5))), min(N - 1, int(np.floor(x1 + 0.5)))
        r0, r1 = max(0, int(np.ceil(y0 - 0.5))), min(M - 1, int(np.floor(y1 + 0.5)))
        out[r0 : r1 + 1, c0 : c1 + 1] = True
        if s.get("below") is not None:
            _need_image(image, kind)
            sub = np.asarray(image[r0 : r1 + 1, c0 : c1 + 1], float)
            v = valid[r0 : r1 + 1, c0 : c1 + 1] if valid is not None else np.isfinite(sub)
            below = s["below"]
            if below == "auto":  # geometric midpoint between the dark and bright ends of the box
                lg = np.log1p(np.maximum(sub[v], 0))
                if lg.size == 0:
                    return out
                lo, hi = np.percentile(lg, [2, 98])
                below = float(np.expm1(0.5 * (lo + hi)))
            out[r0 : r1 + 1, c0 : c1 + 1] = (sub < float(below)) | ~v
        return out
    if kind == "circle":
        x, y, r = float(s["x"]), float(s["y"]), float(s["r"])
        _inside_or_raise(kind, x - r, x + r, y - r, y + r, M, N)
        r0, r1 = max(0, int(np.floor(y - r))), min(M - 1, int(np.ceil(y + r)))
        c0, c1 = max(0, int(np.floor(x - r))), min(N - 1, int(np.ceil(x + r)))
        yy, xx = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
        out[r0 : r1 + 1, c0 : c1 + 1] = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
        return out
    if kind == "polygon":
        pts = np.asarray(s["points"], float)
        _inside_or_raise(kind, pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max(), M, N)
        import cv2

        # boundary-inclusive fill: a pixel whose centre lies on an edge is inside (1/16 px precision)
        buf = np.zeros((M, N), np.uint8)
        cv2.fillPoly(buf, [np.rint(np.clip(pts, -1e6, 1e6) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        return buf.astype(bool)
    if kind == "line":
        pts = np.asarray(s["points"], float)
        hw = float(s["width"]) / 2
        _inside_or_raise(kind, pts[:, 0].min() - hw, pts[:, 0].max() + hw, pts[:, 1].min() - hw,
                         pts[:, 1].max() + hw, M, N)
        if len(pts) == 1:
            pts = np.vstack([pts, pts])
        for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:]):
            r0, r1 = max(0, int(np.floor(min(ya, yb) - hw))), min(M - 1, int(np.ceil(max(ya, yb) + hw)))
            c0, c1 = max(0, int(np.floor(min(xa, xb) - hw))), min(N - 1, int(np.ceil(max(xa, xb) + hw)))
            if r0 > r1 or c0 > c1:
                continue
            yy, xx = np.mgrid[r0 : r1 + 1, c0 : c1 + 1].astype(float)
            dx, dy = xb - xa, yb - ya
            L2 = dx * dx + dy * dy
            t = np.clip(((xx - xa) * dx + (yy - ya) * dy) / L2, 0, 1) if L2 > 0 else 0.0
            d2 = (xx - xa - t * dx) ** 2 + (yy - ya - t * dy) ** 2
            out[r0 : r1 + 1, c0 : c1 + 1] |= d2 <= hw * hw
        return out
    if kind == "fill":
        _need_image(image, kind)
        x, y = int(round(float(s["x"]))), int(round(float(s["y"])))
        if not (0 <= x < N and 0 <= y < M):
            raise DipHealError(f"fill seed ({x}, {y}) is outside the frame (x 0..{N - 1}, y 0..{M - 1}); click inside")
        return _flood(image, valid, x, y, s.get("below"))
    if kind == "threshold":
        _need_image(image, kind)
        img = np.asarray(image, float)
        v = valid if valid is not None else np.isfinite(img)
        sel = np.ones((M, N), bool)
        if s.get("below") is not None:
            sel &= img < float(s["below"])
        if s.get("above") is not None:
            sel &= img > float(s["above"])
        return sel & v
    raise DipHealError(f"{kind} is an operation, not a shape; use apply_shape")


def _need_image(image: np.ndarray | None, kind: str) -> None:
    if image is None:
        raise DipHealError(f"a {kind} shape needs the frame's intensities; pass image=")


def _inside_or_raise(kind: str, x0: float, x1: float, y0: float, y1: float, M: int, N: int) -> None:
    if x1 < -0.5 or y1 < -0.5 or x0 > N - 0.5 or y0 > M - 0.5:
        raise DipHealError(
            f"{kind} spans x {x0:g}..{x1:g}, y {y0:g}..{y1:g}, outside the frame (x 0..{N - 1}, y 0..{M - 1}); "
            "give coordinates inside the frame"
        )


def _flood(image: np.ndarray, valid: np.ndarray | None, x: int, y: int, below: float | None) -> np.ndarray:
    """The 8-connected region at (x, y) whose counts are below ``below``, holes filled.

    Default ``below``: the geometric midpoint between the seed's 3x3 median and the 90th
    percentile of the valid pixels around it (a 31 x 31 window), so a click inside a shadow picks
    the shadow.
    """
    from scipy import ndimage

    img = np.asarray(image, np.float32)
    v = valid if valid is not None else np.isfinite(img)
    f = np.where(v, np.log1p(np.maximum(img, 0)), 0).astype(np.float32)
    if below is None:
        y0, y1 = max(0, y - 15), y + 16
        x0, x1 = max(0, x - 15), x + 16
        around = f[y0:y1, x0:x1][v[y0:y1, x0:x1]]
        seed = float(np.median(f[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2]))
        hi = float(np.percentile(around, 90)) if around.size else seed
        thr = 0.5 * (seed + hi)
    else:
        thr = float(np.log1p(max(float(below), 0)))
    dark = (f <= thr) | ~v
    lab, _ = ndimage.label(dark, structure=np.ones((3, 3)))
    if lab[y, x] == 0:
        return np.zeros(img.shape, bool)
    return ndimage.binary_fill_holes(lab == lab[y, x])


def apply_shape(
    layers: dict[str, np.ndarray],
    shape_spec: Mapping[str, Any],
    image: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Apply one shape or operation to the mask layers, in place; returns ``layers``.

    ``mode="mask"`` adds the shape's pixels to the layer named by ``cause`` (``beamstop``,
    ``holder`` or ``user``); ``mode="unmask"`` removes them from every layer. Operations act on
    the union: ``grow`` by ``r`` px (new pixels go to ``user``), ``shrink`` by ``r`` px, ``invert``
    (the result goes to ``user``), ``clear``.
    """
    s = _check_shape(shape_spec)
    kind = s["kind"]
    some = next(iter(layers.values()))
    shape = some.shape
    heal_keys = [k for k in layers if k != "ignore"]
    if kind in ("grow", "shrink", "invert", "clear"):
        from .beam import grow, shrink

        union = np.zeros(shape, bool)
        for k in heal_keys:
            union |= layers[k]
        if kind == "grow":
            new = grow(union, float(s["r"])) & ~union
            layers["user"] = layers.get("user", np.zeros(shape, bool)) | new
        elif kind == "shrink":
            keep = shrink(union, float(s["r"]))
            for k in heal_keys:
                layers[k] &= keep
        elif kind == "invert":
            inv = ~union
            for k in heal_keys:
                layers[k] = np.zeros(shape, bool)
            layers["user"] = inv
        else:
            for k in heal_keys:
                layers[k] = np.zeros(shape, bool)
        return layers
    m = shape_mask(s, shape, image, valid)
    if s["mode"] == "unmask":
        for k in heal_keys:
            layers[k] &= ~m
    else:
        cause = s["cause"]
        layers[cause] = layers.get(cause, np.zeros(shape, bool)) | m
    return layers


# --------------------------------------------------------------------------------------------
# building


def _empty_stripes(raw: np.ndarray, valid: np.ndarray, fraction: float, flat: float = 1e-3) -> np.ndarray:
    """Rows/columns that are (nearly) all zero, or flat, among measured ones.

    A row is empty when fewer than ``fraction`` of its valid pixels are non-zero; it is flat when
    the mean absolute difference between pixels 4 apart along it is below ``flat`` times the
    median of that over all rows (constant filler, e.g. the border of reduced EIGER data). A run
    of empty rows counts only when it looks like a gap: at most max(40, 5 %) rows, not at the
    frame edge, with rows on both sides that are at least 20 % non-zero (so weak, sparse regions
    of a pattern stay data). Flat rows count anywhere in runs of at most 3 at the edge. Same for
    columns.
    """
    raw = np.asarray(raw)
    nz = (raw != 0) & valid
    out = np.zeros(raw.shape, bool)
    for axis in (1, 0):
        nv = valid.sum(axis=axis)
        has = nv > 0
        frac = np.divide(nz.sum(axis=axis), nv, out=np.zeros(nv.shape, np.float64), where=has)
        empty = has & (frac < fraction)
        # neighbour differences along the line, on every 4th pair (a flat line is flat there too)
        if axis == 1:
            a, b = raw[:, 4::4], raw[:, :-4:4][:, : raw[:, 4::4].shape[1]]
            pair = valid[:, 4::4] & valid[:, :-4:4][:, : a.shape[1]]
        else:
            a, b = raw[4::4], raw[:-4:4][: raw[4::4].shape[0]]
            pair = valid[4::4] & valid[:-4:4][: a.shape[0]]
        d = np.abs(a.astype(np.float32) - b.astype(np.float32))
        n = pair.sum(axis=axis)
        act = np.divide(np.where(pair, d, 0).sum(axis=axis), n, out=np.zeros(n.shape, np.float64), where=n > 0)
        ref = float(np.median(act[n > 0])) if (n > 0).any() else 0.0
        flat_lines = (n > 0) & (act <= flat * ref) & (ref > 0) & (frac >= fraction)  # constant, not zero
        lines = _gap_like_runs(empty, has, frac) | _gap_like_runs(flat_lines, has, None, edge_run=3)
        if axis == 1:
            out[lines, :] = True
        else:
            out[:, lines] = True
    return out


def _gap_like_runs(lines: np.ndarray, has_valid: np.ndarray, frac: np.ndarray | None,
                   edge_run: int = 0) -> np.ndarray:
    """Keep the runs of ``lines`` that look like gaps (see :func:`_empty_stripes`)."""
    out = np.zeros_like(lines)
    n = len(lines)
    idx = np.flatnonzero(has_valid)
    if idx.size == 0:
        return out
    e = lines[idx]
    edges = np.flatnonzero(np.diff(np.r_[0, e.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):  # e[a:b] is a run
        lo, hi = idx[a], idx[b - 1]
        at_edge = a == 0 or b == len(idx)
        if hi - lo + 1 > max(40, 0.05 * n):
            continue
        if at_edge:
            if b - a > edge_run:
                continue
        elif frac is not None:
            before = frac[idx[max(0, a - 5) : a]]
            after = frac[idx[b : b + 5]]
            if before.mean() < 0.2 or after.mean() < 0.2:
                continue
        out[lo : hi + 1] = True
    return out


def _hot_pixels(data: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Isolated pixels far above their 3x3 median: ``I - med > sigma * sqrt(med + 1)`` and > 4 med."""
    from scipy import ndimage

    d = np.where(valid, data, 0).astype(np.float32)
    med = ndimage.median_filter(d, size=3)
    return valid & (d - med > sigma * np.sqrt(np.maximum(med, 0) + 1)) & (d > 4 * np.maximum(med, 1))


def _zero_border(raw: np.ndarray) -> np.ndarray:
    """Zero pixels outside the convex hull of the non-zero ones (a round CCD's dead corners)."""
    import cv2

    nz = np.asarray(raw) != 0
    rows = np.flatnonzero(nz.any(axis=1))
    if rows.size == 0:
        return np.zeros(raw.shape, bool)
    first = nz[rows].argmax(axis=1)
    last = nz.shape[1] - 1 - nz[rows, ::-1].argmax(axis=1)
    pts = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)]).astype(np.int32)
    hull = cv2.convexHull(pts)
    inside = np.zeros(raw.shape, np.uint8)
    cv2.fillConvexPoly(inside, hull, 1)
    return ~inside.astype(bool) & ~nz


def build_mask_layers(frame: Frame, spec: MaskSpec | None = None) -> dict[str, np.ndarray]:
    """Every cause of the mask as its own layer (for overlays and the editor).

    Parameters
    ----------
    frame : Frame
        The frame (``raw``, ``data``, ``valid``, ``meta``, ``masks``).
    spec : MaskSpec, optional
        The recipe; default ``MaskSpec()``.

    Returns
    -------
    layers : dict of str to (M, N) ndarray of bool
        Keys of :data:`CAUSES` (True = heal for that cause) plus ``"ignore"`` (not measured and not
        to heal). The detector, beam centre and holder polygon used are logged and stored in
        ``frame.meta["mask_info"]``.

    Raises
    ------
    DipHealError
        Unknown detector, a detector of another shape, a frame with no valid pixels, a file mask
        or a shape that does not fit the frame.
    """
    from . import detectors as dets
    from .beam import estimate_center, find_beamstop, find_holder, grow

    spec = spec or MaskSpec()
    raw = np.asarray(frame.raw)
    if raw.ndim != 2:
        raise DipHealError(f"got a frame of shape {raw.shape}; expected a 2-D frame (M, N); select one frame")
    shape = raw.shape
    info: dict[str, Any] = {}
    z = lambda: np.zeros(shape, bool)  # noqa: E731
    layers: dict[str, np.ndarray] = {k: z() for k in CAUSES}
    header = frame.meta.get("header") or {}
    # issue 22: a colour-map render (dip_heal.renders) has its own finders (dip_heal.render_masks)
    render = frame.meta.get("render") is not None
    if render and spec.detector.lower() in ("auto", ""):
        det = None  # a render's pixels are not the detector's: no module geometry unless named
    else:
        det = dets.resolve_detector(spec.detector, shape, header, frame.meta.get("detector"))
    info["detector"] = det
    if spec.gaps and det is not None:
        layers["gaps"] = dets.gap_mask(det, shape)
    if spec.sentinels:
        layers["sentinel"] = dets.sentinel_mask(raw, detector=det, header=header, overflow=spec.overflow)
    if spec.file_masks:
        for name, m in (frame.masks or {}).items():
            m = np.asarray(m)
            check_mask_shape(m, shape, f"file mask {name}")
            if name == "pixel_mask" or np.issubdtype(m.dtype, np.unsignedinteger) and m.dtype.itemsize >= 4:
                layers["file_mask"] |= (m.astype(np.uint64) & int(spec.pixel_mask_bits)) != 0
            else:
                layers["file_mask"] |= m.astype(bool)
    measured = np.isfinite(frame.data) & ~layers["sentinel"] & ~layers["gaps"] & ~layers["file_mask"]
    ignore = _zero_border(raw) & ~layers["gaps"] if spec.ignore_zero_border else z()
    if render:  # issue 22: figure frame, axes, tick marks, labels: not data, not to heal
        ignore = ignore | ~frame.valid
    if ignore.any():
        measured &= ~ignore
    if spec.stripes and render:  # issue 22: gaps sit at the map's lowest level, not at zero
        from .render_masks import minimum_stripes

        layers["stripes"] = minimum_stripes(frame.data, measured) & measured
        measured &= ~layers["stripes"]
    elif spec.stripes:
        layers["stripes"] = _empty_stripes(raw, measured, spec.stripe_fraction) & measured
        measured &= ~layers["stripes"]
    if not measured.any():
        raise DipHealError(
            f"the frame {shape} has no valid pixels (all gaps, sentinels or empty); expected measured pixels; "
            "check the file, or the detector (--detector none)"
        )
    if spec.beamstop == "auto" or spec.holder == "auto":
        if spec.beam_center is not None:
            from .polar import check_center

            check_center(spec.beam_center, shape, what="--center")
        center = spec.beam_center or estimate_center(frame.data, measured)
        info["center"] = tuple(float(c) for c in center)
        if render:  # issue 22: the shadow at the map's lowest level, and a dark band to the edge
            from .render_masks import find_band_holder, find_dark_beamstop

            bs = find_dark_beamstop(frame.data, measured, center, margin=spec.beamstop_margin)
        else:
            bs = find_beamstop(frame.data, measured, center, margin=spec.beamstop_margin)
        if spec.beamstop == "auto":
            layers["beamstop"] = bs
        if spec.holder == "auto" and render:
            poly = find_band_holder(frame.data, measured & ~bs, center, beamstop=bs)
            info["holder_polygon"] = poly
            if poly is not None:
                layers["holder"] = shape_mask({"kind": "polygon", "points": poly}, shape)
        elif spec.holder == "auto" and bs.any():
            poly = find_holder(frame.data, measured, bs)
            info["holder_polygon"] = poly
            if poly is not None:
                layers["holder"] = shape_mask({"kind": "polygon", "points": poly}, shape)
    if spec.hot_pixels:
        layers["hot"] = _hot_pixels(frame.data, measured, spec.hot_sigma)
    for s in spec.shapes:
        apply_shape(layers, s, frame.data, measured)
    if spec.dilate > 0:
        for k in CAUSES:
            if layers[k].any():
                layers[k] = grow(layers[k], spec.dilate)
    for s in spec.edits:
        apply_shape(layers, s, frame.data, measured)
    if ignore.any():
        for k in CAUSES:
            layers[k] &= ~ignore
    layers["ignore"] = ignore
    frame.meta["mask_info"] = info
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "mask: detector %s; %s", det,
            ", ".join(f"{k} {int(v.sum())}" for k, v in layers.items() if v.any()) or "nothing",
        )
    return layers


def build_mask(frame: Frame, spec: MaskSpec | None = None) -> np.ndarray:
    """The mask of pixels to heal for one frame.

    Parameters
    ----------
    frame : Frame
        The frame, e.g. from :func:`dip_heal.io.read_image`.
    spec : MaskSpec, optional
        The recipe; default ``MaskSpec()`` (gaps, sentinels, file masks, empty stripes and the
        automatic beamstop).

    Returns
    -------
    heal : (M, N) ndarray of bool
        True = pixel to heal. Pixels to ignore (see :func:`build_mask_layers`) are False.

    Raises
    ------
    DipHealError
        See :func:`build_mask_layers`.

    Examples
    --------
    >>> raw = np.full((8, 8), 5, dtype=np.int32); raw[2, 3] = -2; raw[:, 6] = 0
    >>> heal = build_mask(Frame.from_array(raw), MaskSpec(beamstop="none"))
    >>> int(heal.sum()), bool(heal[2, 3]), bool(heal[0, 6])
    (9, True, True)
    """
    layers = build_mask_layers(frame, spec)
    out = np.zeros(frame.shape, bool)
    for k in CAUSES:
        out |= layers[k]
    return out


# --------------------------------------------------------------------------------------------
# files


def _fmt_for(path: Path, fmt: str | None) -> str:
    if fmt:
        f = fmt.lower().lstrip(".")
        f = {"tif": "tiff", "h5": "hdf5", "nxs": "hdf5", "fit2d": "msk"}.get(f, f)
        if f not in set(MASK_FORMATS.values()):
            raise DipHealError(
                f"mask format {fmt!r}; expected one of {sorted(set(MASK_FORMATS.values()))}; choose one (--format)"
            )
        return f
    ext = path.suffix.lower()
    if ext not in MASK_FORMATS:
        raise DipHealError(
            f"mask file {path.name} has extension {ext!r}; expected one of {sorted(MASK_FORMATS)}; "
            "rename it or give --format"
        )
    return MASK_FORMATS[ext]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


_POLARITY = {
    "npy": ("heal", "bool: True = pixel to heal"),
    "png": ("keep", "uint8: 0 = pixel to heal, 255 = keep"),
    "edf": ("pyfai", "uint8: 1 = masked (pixel to heal), 0 = keep (pyFAI convention)"),
    "tiff": ("pyfai", "uint8: 1 = masked (pixel to heal), 0 = keep (pyFAI convention)"),
    "msk": ("pyfai", "Fit2D bit mask: bit set = masked (pixel to heal)"),
    "hdf5": ("heal", "uint8 dataset 'mask': 1 = pixel to heal (pyFAI: 1 = masked)"),
}


def write_mask(
    path: str | os.PathLike,
    heal: np.ndarray,
    *,
    format: str | None = None,
    flip_vertical: bool = False,
    protect: Iterable[str | os.PathLike] = (),
    ignore: np.ndarray | None = None,
) -> Path:
    """Write a mask file that states its polarity.

    Parameters
    ----------
    path : path-like
        Output file; the format follows the extension (``.npy .png .edf .tif .msk .h5``) or
        ``format``.
    heal : (M, N) ndarray of bool
        True = pixel to heal.
    format : str, optional
        ``npy``, ``png``, ``edf``, ``tiff``, ``msk`` (Fit2D) or ``hdf5``.
    flip_vertical : bool
        Store upside down (Dioptas/Fit2D orientation); recorded in the sidecar.
    protect : paths
        Inputs that must not be overwritten.
    ignore : (M, N) ndarray of bool, optional
        Pixels to ignore (HDF5 only: written as dataset ``ignore``).

    Returns
    -------
    Path
        The mask file. A sidecar ``<file>.json`` records format, polarity, shape and flip.
    """
    path = Path(path)
    fmt = _fmt_for(path, format)
    heal = np.asarray(heal)
    if heal.ndim != 2:
        raise DipHealError(f"got a mask of shape {heal.shape}; expected (M, N); pass one 2-D mask")
    heal = heal.astype(bool)
    data = np.flipud(heal) if flip_vertical else heal
    conv, text = _POLARITY[fmt]
    with atomic_path(path, protect=tuple(protect)) as tmp:
        if fmt == "npy":
            with open(tmp, "wb") as fh:
                np.save(fh, data)
        elif fmt == "png":
            from PIL import Image

            Image.fromarray(np.where(data, 0, 255).astype(np.uint8), mode="L").save(tmp, format="PNG")
        elif fmt == "edf":
            import fabio.edfimage

            hdr = {"masked_value": "nonzero", "dip_heal_polarity": text, "program_name": "dip-heal",
                   "flip_vertical": str(bool(flip_vertical))}
            fabio.edfimage.EdfImage(data=data.astype(np.uint8), header=hdr).write(str(tmp))
        elif fmt == "tiff":
            from PIL import Image

            desc = json.dumps({"dip_heal_mask": 1, "polarity": text, "convention": conv,
                               "flip_vertical": bool(flip_vertical)})
            img = Image.fromarray(data.astype(np.uint8), mode="L")
            img.save(tmp, format="TIFF", compression="tiff_deflate", tiffinfo={270: desc})
        elif fmt == "msk":
            import fabio.fit2dmaskimage

            fabio.fit2dmaskimage.Fit2dMaskImage(data=data.astype(np.uint8)).write(str(tmp))
        elif fmt == "hdf5":
            import h5py

            with h5py.File(tmp, "w") as h5:
                ds = h5.create_dataset("mask", data=data.astype(np.uint8), compression="gzip")
                ds.attrs["polarity"] = text
                ds.attrs["convention"] = conv
                ds.attrs["flip_vertical"] = bool(flip_vertical)
                if ignore is not None:
                    check_mask_shape(np.asarray(ignore), heal.shape, "ignore mask")
                    di = h5.create_dataset("ignore", data=np.asarray(ignore, np.uint8), compression="gzip")
                    di.attrs["polarity"] = "uint8: 1 = not measured, not to heal (ignore)"
    side = {"dip_heal_mask": 1, "format": fmt, "convention": conv, "polarity": text,
            "shape": list(heal.shape), "flip_vertical": bool(flip_vertical)}
    with atomic_path(_sidecar(path)) as tmp:
        tmp.write_text(json.dumps(side, indent=1) + "\n")
    return path


def read_mask(
    path: str | os.PathLike,
    shape: tuple[int, int] | None = None,
    *,
    convention: str | None = None,
    flip_vertical: bool = False,
) -> np.ndarray:
    """Read a mask file as bool, True = pixel to heal.

    Parameters
    ----------
    path : path-like
        ``.npy`` (bool True = heal; integers: nonzero = heal), ``.png`` (0 = heal, 255 = keep; the
        red channel of colour PNGs, as SciAnalysis), ``.edf``/``.tif`` (pyFAI: nonzero =
        masked), ``.mask`` (Dioptas TIFF: 1 = masked, upside down), ``.msk`` (Fit2D, bit set =
        masked), ``.h5``/``.nxs`` (dataset ``mask``, NXmx
        ``pixel_mask`` (nonzero & 0xFFFF), or NXcanSAS ``Imask``; ``file.h5::/path`` picks one).
        A sidecar ``<file>.json`` written by dip-heal fixes the polarity and orientation.
    shape : (int, int), optional
        The frame's shape; a mask of another shape is refused (never cropped or padded).
    convention : str, optional
        Override the polarity: one of :data:`CONVENTIONS` (``"heal"``, ``"pyfai"``,
        ``"dioptas"``, ``"keep"``).
    flip_vertical : bool
        Flip the rows (files stored in Dioptas/Fit2D orientation).

    Returns
    -------
    heal : (M, N) ndarray of bool

    Raises
    ------
    DipHealError
        Missing file, unknown format or convention, not 2-D, or a shape other than ``shape``
        (naming both shapes).
    """
    spath = str(path)
    dataset = None
    if "::" in spath:
        spath, dataset = spath.split("::", 1)
    p = Path(spath)
    if not p.exists():
        raise DipHealError(f"no such mask file: {p}; expected an existing mask; check the path")
    if p.is_dir():
        raise DipHealError(f"mask {p} is a folder; expected a mask file; name one file")
    if convention is not None and convention not in CONVENTIONS:
        raise DipHealError(
            f"mask convention {convention!r}; expected one of {', '.join(CONVENTIONS)}; see masks/README.md"
        )
    dioptas_file = p.suffix.lower() == ".mask"  # Dioptas: TIFF, 1 = masked, stored upside down
    fmt = "tiff" if dioptas_file else _fmt_for(p, None)
    side: dict[str, Any] = {}
    if _sidecar(p).exists():
        try:
            side = json.loads(_sidecar(p).read_text())
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring unreadable sidecar %s", _sidecar(p))
    default_conv = side.get("convention")
    arr: np.ndarray
    if fmt == "npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DipHealError(f"mask {p}: cannot read it as .npy ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                               "expected a bool or integer array saved with np.save; save a plain 2-D mask") from None
        if arr.dtype.kind not in "biuf":
            raise DipHealError(f"mask {p}: array of dtype {arr.dtype}; expected bool or integer values; "
                               "save a plain 2-D bool mask")
        default_conv = default_conv or "heal"
        _refuse_frame_like(arr, p, convention or side.get("convention"))
    elif fmt == "png":
        from PIL import Image

        with Image.open(p) as im:
            a = np.asarray(im)
        arr = a[..., 0] if a.ndim == 3 else a
        default_conv = default_conv or "keep"
        _refuse_frame_like(arr, p, convention or side.get("convention"))
        if convention is None and default_conv == "keep":
            arr = arr > 127  # keep where bright (SciAnalysis threshold)
    elif fmt in ("edf", "tiff", "msk"):
        import fabio

        try:
            img = fabio.open(str(p))
        except Exception as exc:  # fabio raises many types for files it cannot parse
            raise DipHealError(f"mask {p}: cannot read it as {fmt} ({type(exc).__name__}); expected a mask image; "
                               "check the file") from None
        arr = np.asarray(img.data)
        hdr = {str(k): str(v) for k, v in (img.header or {}).items()}
        if not any('"convention"' in v for v in hdr.values()):
            _refuse_frame_like(arr, p, convention or side.get("convention"))
        if default_conv is None:
            for v in hdr.values():
                if '"convention"' in v:
                    try:
                        default_conv = json.loads(v).get("convention")
                        side.setdefault("flip_vertical", json.loads(v).get("flip_vertical", False))
                    except (json.JSONDecodeError, AttributeError):
                        pass
            if hdr.get("flip_vertical") == "True":
                side.setdefault("flip_vertical", True)
        default_conv = default_conv or ("dioptas" if dioptas_file else "pyfai")
    else:  # hdf5
        import h5py

        try:
            import hdf5plugin  # noqa: F401
        except ImportError:  # pragma: no cover
            pass
        with h5py.File(p, "r") as h5:
            ds = None
            if dataset:
                if dataset not in h5:
                    raise DipHealError(f"{p} has no dataset {dataset}; expected an existing path; check the selector")
                ds = h5[dataset]
            else:
                found: list[str] = []
                h5.visititems(lambda n, o: found.append(n) if hasattr(o, "shape") else None)
                for want in ("mask", "pixel_mask", "Imask"):
                    hits = [n for n in found if n.split("/")[-1] == want]
                    if hits:
                        ds = h5[hits[0]]
                        break
                if ds is None:
                    raise DipHealError(
                        f"{p} has no dataset named mask, pixel_mask or Imask; expected one; "
                        "select it with file.h5::/path/to/mask"
                    )
            arr = np.asarray(ds[()])
            name = ds.name.split("/")[-1]
            conv_attr = ds.attrs.get("convention")
            if isinstance(conv_attr, bytes):
                conv_attr = conv_attr.decode()
            if conv_attr:
                default_conv = str(conv_attr)
            if name == "pixel_mask":
                arr = (arr.astype(np.uint64) & 0xFFFF) != 0
                default_conv = default_conv or "pyfai"
            default_conv = default_conv or ("pyfai" if name == "Imask" else "heal")
            if ds.attrs.get("flip_vertical", False):
                side.setdefault("flip_vertical", True)
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise DipHealError(f"mask {p} has shape {arr.shape}; expected a 2-D (M, N) mask; select one 2-D mask")
    conv = convention or default_conv
    if conv == "keep":
        heal = arr == 0
    else:
        heal = arr != 0
    if side.get("flip_vertical"):
        heal = np.flipud(heal)
    if flip_vertical or conv == "dioptas":
        heal = np.flipud(heal)
    if shape is not None:
        check_mask_shape(heal, tuple(shape), f"mask {p.name}")
    return np.ascontiguousarray(heal)


_MAX_MASK_LEVELS = 16


def _refuse_frame_like(arr: np.ndarray, path: Path, convention: str | None) -> None:
    """Refuse a "mask" with many distinct values (a detector frame given as --mask) unless its convention is given."""
    if convention is not None or arr.size == 0:
        return
    sample = np.asarray(arr).ravel()
    if sample.size > 1_000_000:
        sample = sample[:: sample.size // 1_000_000 + 1]
    levels = np.unique(sample)
    if levels.size > _MAX_MASK_LEVELS:
        raise DipHealError(
            f"mask {path} holds {levels.size} distinct values, like a detector frame, not a mask; expected a few "
            "levels (0/1, 0/255); give the mask file (dip-heal mask IMAGE), or --mask-convention to use it anyway"
        )


# --------------------------------------------------------------------------------------------
# overlay


def overlay_rgb(
    image: np.ndarray,
    layers: Mapping[str, np.ndarray],
    valid: np.ndarray | None = None,
    *,
    alpha: float = 0.6,
    max_size: int | None = 2048,
) -> np.ndarray:
    """Log-scaled grey frame with masked pixels tinted by cause.

    Parameters
    ----------
    image : (M, N) ndarray
    layers : dict of str to (M, N) ndarray of bool
        As returned by :func:`build_mask_layers`.
    valid : (M, N) ndarray of bool, optional
        Pixels used for the grey scale limits.
    alpha : float
        Tint opacity.
    max_size : int, optional
        Larger frames are subsampled (every k-th pixel) to at most this size.

    Returns
    -------
    rgb : (m, n, 3) ndarray of uint8
    """
    img = np.asarray(image, np.float32)
    k = 1
    if max_size and max(img.shape) > max_size:
        k = int(np.ceil(max(img.shape) / max_size))
    img = img[::k, ::k]
    v = (valid[::k, ::k] if valid is not None else np.isfinite(img)) & np.isfinite(img)
    lg = np.log1p(np.maximum(np.where(v, img, 0), 0))
    if v.any():
        lo, hi = np.percentile(lg[v], [1, 99.8])
    else:
        lo, hi = 0.0, 1.0
    g = np.clip((lg - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.repeat((g * 255)[..., None], 3, axis=2).astype(np.float32)
    colours = dict(CAUSES)
    colours["ignore"] = _IGNORE_COLOUR
    order = [k for k in _DRAW_ORDER if k in layers] + [k for k in layers if k not in _DRAW_ORDER]
    for name in order:
        m = layers[name]
        if name not in colours:
            continue
        mm = np.asarray(m)[::k, ::k]
        if mm.any():
            rgb[mm] = (1 - alpha) * rgb[mm] + alpha * np.asarray(colours[name], np.float32)
    return rgb.astype(np.uint8)


def write_overlay(path: str | os.PathLike, image: np.ndarray, layers: Mapping[str, np.ndarray],
                  valid: np.ndarray | None = None, *, protect: Iterable[str | os.PathLike] = ()) -> Path:
    """Write :func:`overlay_rgb` as a PNG (atomically)."""
    from PIL import Image

    rgb = overlay_rgb(image, layers, valid)
    path = Path(path)
    with atomic_path(path, protect=tuple(protect)) as tmp:
        Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG")
    return path


# --------------------------------------------------------------------------------------------
# one frame -> files (what `dip-heal mask` does per frame)


def mask_frame_files(
    image_path: str | os.PathLike,
    spec: MaskSpec,
    out: str | os.PathLike,
    *,
    format: str | None = None,
    flip_vertical: bool = False,
    overlay: bool = True,
    spec_out: str | os.PathLike | None = None,
    frame: Frame | None = None,
) -> dict[str, Path]:
    """Read a frame, build its mask and write the mask, its spec JSON and an overlay PNG.

    Parameters
    ----------
    image_path : path-like
        The frame.
    spec : MaskSpec
        The recipe.
    out : path-like
        The mask file (format from the extension or ``format``).
    format : str, optional
        Mask format (see :func:`write_mask`).
    flip_vertical : bool
        Write the mask upside down (Dioptas orientation).
    overlay : bool
        Also write ``<out stem>.overlay.png``.
    spec_out : path-like, optional
        Where the spec goes; default ``<out>.spec.json``.
    frame : Frame, optional
        An already-read frame (skips reading).

    Returns
    -------
    dict
        ``mask``, ``spec`` and (with ``overlay``) ``overlay`` paths.
    """
    from .io import read_image

    fr = frame if frame is not None else read_image(image_path)
    layers = build_mask_layers(fr, spec)
    heal = np.zeros(fr.shape, bool)
    for k in CAUSES:
        heal |= layers[k]
    out = Path(out)
    protect = (str(image_path).split("::", 1)[0],)
    paths = {"mask": write_mask(out, heal, format=format, flip_vertical=flip_vertical, protect=protect,
                                ignore=layers["ignore"])}
    sp = Path(spec_out) if spec_out else out.with_name(out.name + ".spec.json")
    paths["spec"] = sp
    spec.to_json(sp)
    if overlay:
        paths["overlay"] = write_overlay(out.with_name(out.stem + ".overlay.png"), fr.data, layers, fr.valid,
                                         protect=protect)
    counts = {k: int(v.sum()) for k, v in layers.items() if v.any()}
    logger.info("%s: %d pixels to heal (%s) -> %s", image_path, int(heal.sum()), counts, out)
    return paths

"""User shapes and editor operations: validation (:func:`check_shape`), rasterising
(:func:`shape_mask`) and applying them to the mask layers (:func:`apply_shape`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import DipHealError

__all__ = ["check_shape", "shape_mask", "apply_shape", "ring_angles", "file_edit", "SHAPE_KINDS", "SHAPE_CAUSES"]

SHAPE_KINDS = ("rect", "circle", "polygon", "line", "fill", "threshold", "ring", "file", "grow", "shrink", "invert",
               "clear")
SHAPE_CAUSES = ("beamstop", "holder", "user")


def check_shape(s: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one shape/edit dict (frame-independent checks)."""
    if not isinstance(s, Mapping):
        raise DipHealError(f"shape {s!r} is not an object; expected e.g. {{'kind': 'rect', ...}}; fix the spec")
    s = dict(s)
    kind = s.get("kind")
    if kind not in SHAPE_KINDS:
        raise DipHealError(f"shape kind {kind!r}; expected one of {', '.join(SHAPE_KINDS)}; fix the spec")
    mode = s.setdefault("mode", "mask")
    if mode not in ("mask", "unmask"):
        raise DipHealError(f"shape mode {mode!r}; expected 'mask' or 'unmask'; fix the spec")
    cause = s.setdefault("cause", "user")
    if cause not in SHAPE_CAUSES:
        raise DipHealError(f"shape cause {cause!r}; expected one of {', '.join(SHAPE_CAUSES)}; fix the spec")

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
        if not any(k in s for k in ("below", "above", "min", "max")):
            raise DipHealError(
                "threshold shape lacks 'below', 'above', 'min' and 'max'; expected at least one; fix the spec"
            )
        if "min" in s and "max" in s and float(s["min"]) > float(s["max"]):
            raise DipHealError(f"threshold min {s['min']} > max {s['max']}; expected min <= max; swap them")
    elif kind == "ring":
        need("x", "y", "r0", "r1")
        if not 0 <= float(s["r0"]) < float(s["r1"]):
            raise DipHealError(f"ring radii r0={s['r0']}, r1={s['r1']}; expected 0 <= r0 < r1; fix the radii")
        if ("a0" in s) != ("a1" in s):
            raise DipHealError("ring with only one of a0, a1; expected both angles (degrees) or neither; fix the spec")
    elif kind == "file":
        need("path")
    elif kind in ("grow", "shrink"):
        need("r")
        if float(s["r"]) < 0:
            raise DipHealError(f"{kind} by {s['r']} px; expected >= 0; give a positive number")
    return s


def file_edit(path: str | os.PathLike, *, replace: bool = False, mode: str = "mask") -> dict[str, Any]:
    """The edit that adds a mask file's pixels to the mask (``replace``: instead of it).

    Parameters
    ----------
    path : path-like
        A mask file :func:`dip_heal.masks.read_mask` reads (``file.h5::/path`` selects a dataset);
        stored resolved, so the spec replays from any folder.
    replace : bool
        Clear the mask first (Dioptas' Load) instead of adding to it (Dioptas' Add).
    mode : str
        ``"mask"``, or ``"unmask"`` to remove the file's pixels from the mask.

    Returns
    -------
    dict
        ``{"kind": "file", "path": ..., "mode": ..., "cause": "user"[, "replace": True]}``.

    Raises
    ------
    DipHealError
        The file does not exist.
    """
    spath, sep, dataset = str(path).partition("::")
    p = Path(spath).expanduser()
    if not p.is_file():
        raise DipHealError(f"no such mask file: {p}; expected an existing mask file to load; check the path")
    edit: dict[str, Any] = {"kind": "file", "path": str(p.resolve()) + sep + dataset, "mode": mode, "cause": "user"}
    if replace:
        edit["replace"] = True
    return check_shape(edit)


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
        "threshold", "below"|"above"|"min"|"max"}`` (counts; ``below``/``above`` strict,
        ``min``/``max`` inclusive: ``min`` and ``max`` together select the values in
        [min, max]), ``{"kind": "ring", "x", "y", "r0", "r1", ["a0", "a1"]}`` (the annulus
        r0 <= r <= r1 about (x, y); with angles, only its sector from ``a0`` to ``a1`` degrees,
        counter-clockwise from the +x axis as the image is shown, y down), ``{"kind": "file",
        "path", ["convention", "flip_vertical", "replace"]}`` (the pixels a mask file marks
        to heal, read by :func:`dip_heal.masks.read_mask`; ``replace`` clears the mask first).
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
    s = check_shape(shape_spec)
    kind = s["kind"]
    draw = _RASTERISERS.get(kind)
    if draw is None:
        raise DipHealError(f"{kind} is an operation, not a shape; use apply_shape")
    return draw(s, frame_shape, image, valid)


def _rect(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
          valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    out = np.zeros((M, N), bool)
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
        _need_image(image, "rect")
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


def _circle(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
            valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    out = np.zeros((M, N), bool)
    x, y, r = float(s["x"]), float(s["y"]), float(s["r"])
    _inside_or_raise("circle", x - r, x + r, y - r, y + r, M, N)
    r0, r1 = max(0, int(np.floor(y - r))), min(M - 1, int(np.ceil(y + r)))
    c0, c1 = max(0, int(np.floor(x - r))), min(N - 1, int(np.ceil(x + r)))
    yy, xx = np.mgrid[r0 : r1 + 1, c0 : c1 + 1]
    out[r0 : r1 + 1, c0 : c1 + 1] = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    return out


def _polygon(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
             valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    pts = np.asarray(s["points"], float)
    _inside_or_raise("polygon", pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max(), M, N)
    import cv2

    # boundary-inclusive fill: a pixel whose centre lies on an edge is inside (1/16 px precision)
    buf = np.zeros((M, N), np.uint8)
    cv2.fillPoly(buf, [np.rint(np.clip(pts, -1e6, 1e6) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return buf.astype(bool)


def _line(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
          valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    out = np.zeros((M, N), bool)
    pts = np.asarray(s["points"], float)
    hw = float(s["width"]) / 2
    _inside_or_raise("line", pts[:, 0].min() - hw, pts[:, 0].max() + hw, pts[:, 1].min() - hw,
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


def _fill(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
          valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    _need_image(image, "fill")
    x, y = int(round(float(s["x"]))), int(round(float(s["y"])))
    if not (0 <= x < N and 0 <= y < M):
        raise DipHealError(f"fill seed ({x}, {y}) is outside the frame (x 0..{N - 1}, y 0..{M - 1}); click inside")
    return _flood(image, valid, x, y, s.get("below"))


def _threshold(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
               valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    _need_image(image, "threshold")
    img = np.asarray(image, float)
    v = valid if valid is not None else np.isfinite(img)
    sel = np.ones((M, N), bool)
    if s.get("below") is not None:
        sel &= img < float(s["below"])
    if s.get("above") is not None:
        sel &= img > float(s["above"])
    if s.get("min") is not None:
        sel &= img >= float(s["min"])
    if s.get("max") is not None:
        sel &= img <= float(s["max"])
    return sel & v


def ring_angles(x: np.ndarray, y: np.ndarray, cx: float, cy: float) -> np.ndarray:
    """Angle of (x, y) about (cx, cy) in degrees, 0..360, counter-clockwise as the image is shown
    (rows grow downwards, so a pixel above the centre is at 90)."""
    return np.degrees(np.arctan2(cy - np.asarray(y, float), np.asarray(x, float) - cx)) % 360.0


def _ring(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
          valid: np.ndarray | None) -> np.ndarray:
    M, N = frame_shape
    x, y, r0, r1 = float(s["x"]), float(s["y"]), float(s["r0"]), float(s["r1"])
    _inside_or_raise("ring", x - r1, x + r1, y - r1, y + r1, M, N)
    out = np.zeros((M, N), bool)
    r_lo, r_hi = max(0, int(np.floor(y - r1))), min(M - 1, int(np.ceil(y + r1)))
    c_lo, c_hi = max(0, int(np.floor(x - r1))), min(N - 1, int(np.ceil(x + r1)))
    if r_lo > r_hi or c_lo > c_hi:
        return out
    yy, xx = np.mgrid[r_lo : r_hi + 1, c_lo : c_hi + 1]
    d2 = (xx - x) ** 2 + (yy - y) ** 2
    box = (d2 >= r0 * r0) & (d2 <= r1 * r1)
    if "a0" in s:
        a0, a1 = float(s["a0"]) % 360.0, float(s["a1"]) % 360.0
        span = (a1 - a0) % 360.0
        if span > 0:  # equal angles: the whole annulus
            box &= (ring_angles(xx, yy, x, y) - a0) % 360.0 <= span
    out[r_lo : r_hi + 1, c_lo : c_hi + 1] = box
    return out


def _file(s: dict[str, Any], frame_shape: tuple[int, int], image: np.ndarray | None,
          valid: np.ndarray | None) -> np.ndarray:
    from .files import read_mask

    return read_mask(s["path"], tuple(frame_shape), convention=s.get("convention"),
                     flip_vertical=bool(s.get("flip_vertical", False)))


_RASTERISERS = {"rect": _rect, "circle": _circle, "polygon": _polygon, "line": _line, "fill": _fill,
                "threshold": _threshold, "ring": _ring, "file": _file}


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
    ``holder`` or ``user``); ``mode="unmask"`` removes them from every layer (a ``file`` shape
    with ``replace`` clears every layer first). Operations act on the union: ``grow`` by ``r`` px
    (new pixels go to ``user``), ``shrink`` by ``r`` px, ``invert`` (the result goes to ``user``),
    ``clear``.
    """
    s = check_shape(shape_spec)
    kind = s["kind"]
    some = next(iter(layers.values()))
    shape = some.shape
    heal_keys = [k for k in layers if k != "ignore"]
    if kind in ("grow", "shrink", "invert", "clear"):
        _apply_operation(layers, s, shape, heal_keys)
        return layers
    m = shape_mask(s, shape, image, valid)
    if kind == "file" and s.get("replace"):
        for k in heal_keys:
            layers[k] = np.zeros(shape, bool)
    if s["mode"] == "unmask":
        for k in heal_keys:
            layers[k] &= ~m
    else:
        cause = s["cause"]
        layers[cause] = layers.get(cause, np.zeros(shape, bool)) | m
    return layers


def _apply_operation(layers: dict[str, np.ndarray], s: dict[str, Any], shape: tuple[int, ...],
                     heal_keys: list[str]) -> None:
    """``grow``, ``shrink``, ``invert`` or ``clear`` on the union of the layers to heal."""
    from ..beam import grow, shrink

    kind = s["kind"]
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

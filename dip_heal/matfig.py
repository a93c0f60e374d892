"""MATLAB ``.fig`` figures: the image's ``CData`` as a frame, with what the figure says about it.

A ``.fig`` file is a MAT file (version 5/7) holding the figure's graphics tree as a struct
(``hgS_070000`` since MATLAB 7; newer releases add an ``hgM_070000`` object that scipy cannot read,
next to the struct). :func:`read_matfig` walks that tree with :func:`scipy.io.loadmat`, takes the
largest image drawn in an axes (not the colour bar's), and returns a :class:`~dip_heal.frame.Frame`.

Two kinds of ``CData``:

- **the MVE385 convention** (log10 counts): every value is ``-15`` (no counts, or a module gap)
  or the log10 of a whole number. The frame is then the counts, ``round(10**CData)`` with ``-15``
  meaning 0, as int32 (``raw``) and float32 (``data``); written back (``.tif``, ``.edf``) as counts.
- **plain** ``CData``: the values as stored (``raw``) and as float32 (``data``); NaN is invalid.

``meta["figure"]`` keeps what the figure says: the colour limits (``CLim``), the axis limits and
directions, ``XData``/``YData``, the colour map, ``CDataMapping``, the axes' text (labels, title)
and whether a colour bar was drawn; ``meta["header"]`` has them as text, with the conversion used.
The array keeps the order of ``CData``: with ``YDir`` ``normal`` (as in the MVE385 figures) row 0
is drawn at the bottom of the figure.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import DipHealError
from .frame import Frame

__all__ = ["read_matfig", "figure_images", "is_log10_counts", "NO_COUNTS"]

logger = logging.getLogger(__name__)

#: ``CData`` value of a pixel without counts in the MVE385 convention.
NO_COUNTS = -15.0


def _items(x: Any) -> Iterator[Any]:
    """The structs inside a loadmat value (a struct, or an object array of structs or arrays)."""
    from scipy.io.matlab import mat_struct

    if isinstance(x, mat_struct):
        yield x
    elif isinstance(x, np.ndarray) and x.dtype == object:
        for v in x.flat:
            yield from _items(v)
    elif isinstance(x, dict):
        yield x


def _get(node: Any, name: str, default: Any = None) -> Any:
    if isinstance(node, dict):
        return node.get(name, default)
    return getattr(node, name, default)


def _props(node: Any) -> Any:
    props = list(_items(_get(node, "properties")))
    return props[0] if props else None


def _text(v: Any) -> str:
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "US":
            return " ".join(str(x) for x in v.ravel())
        if v.dtype == object:
            return " ".join(_text(x) for x in v.ravel())
        return " ".join(str(x) for x in v.ravel().tolist())
    return str(v)


def _kind(node: Any) -> str:
    return _text(_get(node, "type", "")).strip().lower()


def figure_images(tree: Any) -> list[dict[str, Any]]:
    """Every image in a figure's graphics tree, with its axes' properties.

    Parameters
    ----------
    tree : loadmat struct
        The figure (``hgS_070000``).

    Returns
    -------
    list of dict
        ``cdata`` (ndarray), ``props`` (the image's properties), ``axes`` (the enclosing axes'
        properties or None), ``colorbar`` (True inside a colour bar), ``path`` (where in the tree),
        ``texts`` (strings of the axes' text children).
    """
    found: list[dict[str, Any]] = []

    def walk(node: Any, axes: Any, texts: list[str], colorbar: bool, path: str) -> None:
        kind = _kind(node)
        props = _props(node)
        children = list(_items(_get(node, "children")))
        if kind in ("axes", "scribe.colorbar", "colorbar"):
            axes, colorbar = props, colorbar or "colorbar" in kind
            texts = []
            for c in children:
                if _kind(c) == "text":
                    s = _text(_get(_props(c), "String", "")).strip()
                    if s:
                        texts.append(s)
        if kind == "image" and props is not None and _get(props, "CData") is not None:
            found.append({"cdata": np.asarray(_get(props, "CData")), "props": props, "axes": axes,
                          "colorbar": colorbar, "path": path, "texts": list(texts)})
        for i, c in enumerate(children):
            walk(c, axes, texts, colorbar, f"{path}/children[{i}]")

    for fig in _items(tree):
        walk(fig, None, [], False, "")
    return found


def is_log10_counts(cdata: np.ndarray, *, sample: int = 200_000) -> bool:
    """Whether ``cdata`` follows the MVE385 convention: ``-15`` or the log10 of a whole number.

    Examples
    --------
    >>> is_log10_counts(np.log10(np.array([[1.0, 2.0], [30.0, 1e5]])))
    True
    >>> is_log10_counts(np.array([[-15.0, 0.5]]))
    False
    """
    a = np.asarray(cdata)
    if a.dtype.kind != "f" or a.size == 0 or not np.isfinite(a).all():
        return False
    flat = a.ravel()
    if flat.size > sample:
        flat = flat[:: flat.size // sample + 1]
    lit = flat[flat != NO_COUNTS]
    if lit.size == 0:
        return bool((flat == NO_COUNTS).all())
    if lit.min() < 0 or lit.max() > 12:
        return False
    v = 10.0 ** lit
    return bool(np.all(np.abs(v - np.rint(v)) <= 1e-6 * np.maximum(1.0, v)))


def read_matfig(path: str | os.PathLike, index: int | None = None) -> Frame:
    """Read the image of a MATLAB ``.fig`` as a frame.

    Parameters
    ----------
    path : path-like
        The ``.fig`` file.
    index : int, optional
        Which image, counting the figure's images drawn in axes (colour bars left out) largest
        first; default 0, the largest.

    Returns
    -------
    Frame
        Counts in the MVE385 convention, else the plain ``CData`` (see the module docstring).

    Raises
    ------
    DipHealError
        Not a MAT file, a v7.3 (HDF5) figure, a figure without an image, a true-colour image, an
        index out of range.
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(str(path), struct_as_record=False, squeeze_me=False)
    except NotImplementedError:
        raise DipHealError(
            f"{path}: a MATLAB v7.3 (HDF5) figure, which scipy cannot walk; expected a v7 .fig; in MATLAB, "
            "savefig then save it with -v7, or export the image's CData (get(findobj(gcf,'Type','image'),"
            "'CData')) to a .mat/.tif") from None
    except Exception as exc:  # scipy raises ValueError/TypeError/... for files that are not MAT files
        raise DipHealError(
            f"{path}: could not read it as a MATLAB figure ({type(exc).__name__}: {exc}); expected a .fig "
            "saved by MATLAB; check the file") from None
    trees = [k for k in mat if k.startswith("hgS_")]
    if not trees:
        names = ", ".join(k for k in mat if not k.startswith("__"))
        raise DipHealError(
            f"{path}: no figure struct (hgS_*) in the file (variables: {names}); "
            "expected a MATLAB .fig; open it in MATLAB and savefig it again")
    images = [im for k in trees for im in figure_images(mat[k])]
    drawn = [im for im in images if not im["colorbar"] and im["cdata"].ndim == 2 and im["cdata"].size > 1]
    if not drawn:
        rgb = [im for im in images if im["cdata"].ndim == 3]
        what = "only a true-colour (RGB) image" if rgb else "no image"
        raise DipHealError(
            f"{path}: the figure holds {what}; expected an image with scalar CData (imagesc/image); "
            "export the frame itself")
    drawn.sort(key=lambda im: -im["cdata"].size)
    k = 0 if index is None else int(index)
    if not -len(drawn) <= k < len(drawn):
        raise DipHealError(f"{path}: image index {k} out of range; expected 0..{len(drawn) - 1} "
                           f"({len(drawn)} images in axes); pick an existing one")
    im = drawn[k]
    cdata = np.ascontiguousarray(im["cdata"])
    fig = _figure_meta(mat, im)
    header = {key: _text(v) for key, v in fig.items() if key not in ("colormap",)}
    if is_log10_counts(cdata):
        none = cdata == NO_COUNTS
        counts = np.where(none, 0.0, np.rint(10.0 ** np.where(none, 0.0, cdata)))
        dtype = np.int32 if counts.max() < 2**31 else np.int64
        raw = counts.astype(dtype)
        conversion = "counts = round(10**CData); CData -15 = no counts (0, or a module gap)"
        logger.info("%s: image %s CData %s in the MVE385 convention (log10 counts): read as %s; %d pixels at 0 "
                    "counts", path, im["path"], cdata.shape, conversion, int(none.sum()))
    else:
        raw = cdata
        conversion = "plain CData, as stored"
        logger.info("%s: image %s CData %s %s read as stored (not log10 counts)", path, im["path"], cdata.shape,
                    cdata.dtype)
    if fig.get("YDir") == "normal":
        logger.info("%s: the axes' YDir is 'normal': row 0 of the frame is drawn at the bottom of the figure", path)
    header["conversion"] = conversion
    header["image"] = im["path"]
    fig["conversion"] = conversion
    from .detectors import detector_from_shape, gap_mask, sentinel_mask

    data = raw.astype(np.float32)
    valid = ~sentinel_mask(raw, overflow=False)  # the one sentinel rule
    detector = detector_from_shape(raw.shape)
    if detector is not None and conversion.startswith("counts"):
        # -15 is "no counts or a module gap": inside the detector's gaps it is a gap, not a measured 0
        gap_none = gap_mask(detector, raw.shape) & none
        valid &= ~gap_none
        fig["gaps"] = f"{int(gap_none.sum())} pixels at -15 inside the module gaps of a {detector} (not measured)"
        logger.info("%s: a %s frame by its shape: its %d module-gap pixels at -15 are gaps, to heal", path,
                    detector, int(gap_none.sum()))
    meta = {"path": str(path), "format": "matfig", "detector": detector, "dtype": str(raw.dtype),
            "header": header, "dataset": im["path"], "index": k, "figure": fig}
    return Frame(data=data, valid=valid, raw=raw, meta=meta, masks={})


def _figure_meta(mat: dict[str, Any], im: dict[str, Any]) -> dict[str, Any]:
    """What the figure says about the image: limits, directions, colour map, labels."""
    out: dict[str, Any] = {}
    props, axes = im["props"], im["axes"]
    for key in ("CDataMapping", "XData", "YData"):
        v = _get(props, key)
        if v is not None:
            out[key] = _plain(v)
    if axes is not None:
        for key in ("CLim", "XLim", "YLim", "XDir", "YDir", "DataAspectRatio"):
            v = _get(axes, key)
            if v is not None:
                out[key] = _plain(v)
        cmap = _get(axes, "Colormap")
        if cmap is not None:
            out["colormap"] = np.asarray(cmap, np.float64)
    if "colormap" not in out:
        for k in (k for k in mat if k.startswith("hgS_")):
            for f in _items(mat[k]):
                cmap = _get(_props(f), "Colormap")
                if cmap is not None:
                    out["colormap"] = np.asarray(cmap, np.float64)
                    break
    out["texts"] = im["texts"]
    out["colorbar"] = any(_kind(c) in ("scribe.colorbar", "colorbar")
                          for k in mat if k.startswith("hgS_") for f in _items(mat[k])
                          for c in _items(_get(f, "children")))
    return out


def _plain(v: Any) -> Any:
    """A loadmat value as a plain Python value (str, float, or list of floats)."""
    a = np.asarray(v)
    if a.dtype.kind in "US":
        return _text(a).strip()
    if a.dtype.kind in "biuf":
        flat = a.ravel().astype(np.float64)
        return float(flat[0]) if flat.size == 1 else [float(x) for x in (flat if flat.size <= 4 else flat[[0, -1]])]
    return _text(a)

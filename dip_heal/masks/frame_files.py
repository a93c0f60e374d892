"""One frame -> mask files: what ``dip-heal mask`` does per frame."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import DipHealError
from ..frame import Frame
from .files import write_mask
from .layers import CAUSES, build_mask_layers
from .overlay import write_overlay
from .spec import MaskSpec

__all__ = ["mask_frame_files", "mask_images", "default_mask_path"]

logger = logging.getLogger(__name__)


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
    from ..io import read_image

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
    geometry = (fr.meta.get("mask_info") or {}).get("geometry")
    (spec.replace(geometry=geometry) if geometry is not None else spec).to_json(sp)
    if overlay:
        paths["overlay"] = write_overlay(out.with_name(out.stem + ".overlay.png"), fr.data, layers, fr.valid,
                                         protect=protect)
    counts = {k: int(v.sum()) for k, v in layers.items() if v.any()}
    logger.info("%s: %d pixels to heal (%s) -> %s", image_path, int(heal.sum()), counts, out)
    return paths


#: Extension of a mask file by format (``dip-heal mask --format``).
_EXT = {"npy": ".npy", "png": ".png", "edf": ".edf", "tiff": ".tif", "dioptas": ".mask", "msk": ".msk",
        "hdf5": ".h5"}


def _file_part(path: Path) -> Path:
    """The file of an HDF5 selector ``file.h5::/dataset[k]``."""
    return Path(str(path).split("::", 1)[0])


def default_mask_path(image: str | os.PathLike, folder: str | os.PathLike = ".", format: str | None = None) -> Path:
    """``FOLDER/IMAGE-NAME_mask.EXT``: the name ``dip-heal mask`` gives an image's mask.

    Examples
    --------
    >>> default_mask_path("data/frame_00012.cbf.gz", "out").as_posix()
    'out/frame_00012_mask.npy'
    """
    name = re.sub(r"\.(gz|bz2|xz)$", "", _file_part(Path(image)).name)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return Path(folder) / f"{stem}_mask{_EXT[format or 'npy']}"


def mask_images(
    images: Sequence[str | os.PathLike],
    spec: MaskSpec,
    out: str | os.PathLike | None = None,
    *,
    format: str | None = None,
    flip_vertical: bool = False,
    overlay: bool = True,
    interactive: bool = False,
) -> Iterator[dict[str, Path] | None]:
    """``dip-heal mask IMAGES``: :func:`mask_frame_files` on every image, one after the other.

    Parameters
    ----------
    images : sequence of path-like
        The frames (HDF5 selectors allowed).
    spec : MaskSpec
        The recipe, applied to every frame.
    out : path-like, optional
        The mask file (one image) or folder (several; then every mask is
        :func:`default_mask_path` in it); default the current folder.
    format, flip_vertical, overlay
        As in :func:`mask_frame_files`.
    interactive : bool
        Edit the mask in the editor window first (one image only).

    Yields
    ------
    dict or None
        Each frame's paths as it is written; None (and nothing more) when the editor was quit.

    Raises
    ------
    DipHealError
        ``out`` a file for several images, ``interactive`` with several, a missing image.
    """
    several = len(images) > 1
    if several and out is not None and Path(out).suffix:
        raise DipHealError(
            f"--out {out} looks like a file but {len(images)} images were given; expected a folder; "
            "give --out FOLDER"
        )
    if interactive and several:
        raise DipHealError(
            f"--interactive with {len(images)} images; expected one; edit one frame, then apply its spec "
            "to the series with --spec"
        )
    for image in images:
        if not _file_part(Path(image)).exists():
            raise DipHealError(f"no such file: {image}; expected a detector frame; check the path")
        target = default_mask_path(image, out or ".", format) if several or out is None else Path(out)
        frame = None
        if interactive:
            from ..io import read_image
            from .editor import edit_mask

            frame = read_image(image)
            edited = edit_mask(frame, spec)
            if edited is None:
                yield None
                return
            spec = edited
        yield mask_frame_files(str(image), spec, target, format=format, flip_vertical=flip_vertical,
                               overlay=overlay, frame=frame)

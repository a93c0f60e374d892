"""``dip-heal mask``: build the mask of pixels to heal (automatic, flags, a saved spec, or the editor)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import click

from . import parse_floats

logger = logging.getLogger("dip_heal")

_EXT = {"npy": ".npy", "png": ".png", "edf": ".edf", "tiff": ".tif", "msk": ".msk", "hdf5": ".h5"}


def _file_part(path: Path) -> Path:
    """The file of an HDF5 selector ``file.h5::/dataset[k]``."""
    return Path(str(path).split("::", 1)[0])


def _stem(path: Path) -> str:
    name = re.sub(r"\.(gz|bz2|xz)$", "", _file_part(path).name)
    return name.rsplit(".", 1)[0] if "." in name else name


def _points(text: str, what: str) -> list[list[float]]:
    pts = []
    for part in [p for p in text.replace(" ", "").split(";") if p]:
        pts.append(parse_floats(part, 2, f"each point of {what} (x,y)"))
    return pts


@click.command("mask")
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start from a saved mask spec (a JSON file, or a shipped spec name such as pilatus-saxs); "
                   "flags below change it. Apply one to a series: "
                   "dip-heal mask --spec s.json frames/*.cbf")
@click.option("--detector", default=None,
              help="Detector for the module gaps (pyFAI name, e.g. Pilatus2M, 'PILATUS3 1M', Eiger2_4M), "
                   "'auto' (header, then shape) or 'none'.")
@click.option("--beamstop", "beamstop_rect", default=None,
              help="x0,y0,x1,y1: mask the dark pixels inside this rectangle (the seed rule).")
@click.option("--beamstop-below", default=None,
              help="Counts below which pixels inside --beamstop are masked (default: automatic).")
@click.option("--beamstop-circle", default=None, help="x,y,r: mask this disk as the beamstop.")
@click.option("--holder", default=None,
              help="'x,y;x,y;...': the beamstop holder as a polygon (>= 3 points), or with 2 points a "
                   "thick line of --holder-width pixels.")
@click.option("--holder-width", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Width of a 2-point --holder line.")
@click.option("--auto-beamstop/--no-auto-beamstop", default=None,
              help="Find the beamstop automatically on every frame (default on).")
@click.option("--auto-holder/--no-auto-holder", default=None,
              help="Propose the holder automatically (a thin dark band from the beamstop to the edge).")
@click.option("--center", default=None, help="x,y: beam centre for the beamstop search (default: estimated).")
@click.option("--stripes/--no-stripes", default=None, help="Mask empty (all-zero) rows and columns.")
@click.option("--hot-pixels/--no-hot-pixels", default=None, help="Mask isolated hot pixels.")
@click.option("--dilate", type=click.IntRange(min=0), default=None, help="Margin (px) around every masked region.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Mask file (one IMAGE) or folder (several); format by extension. "
                   "Default: IMAGE-NAME_mask.npy in the current folder.")
@click.option("--format", "fmt", type=click.Choice(["npy", "png", "edf", "tiff", "msk", "hdf5"]), default=None,
              help="Mask format: npy (True = heal), png (0 = heal, 255 = keep), edf/tiff/msk (1 = masked, "
                   "pyFAI), hdf5 ('mask' 1 = heal).")
@click.option("--flip-vertical", is_flag=True, help="Write the mask upside down (Dioptas/Fit2D orientation).")
@click.option("--no-overlay", is_flag=True, help="Do not write the overlay preview PNG.")
@click.option("--interactive", "-i", is_flag=True,
              help="Review and edit the mask in a window before writing (Accept writes, Quit writes nothing).")
@click.option("--colormap", default=None, metavar="NAME",
              help="Colour map of a PNG render (mve385, parula, matlab-jet, jet, viridis, magma, inferno, plasma, "
                   "turbo, hot, gray; NAME_r reversed). Default: detected from its colours.")
def mask(images: tuple[Path, ...], spec_file: Path | None, detector: str | None, beamstop_rect: str | None,
         beamstop_below: str | None, beamstop_circle: str | None, holder: str | None, holder_width: float,
         auto_beamstop: bool | None, auto_holder: bool | None, center: str | None, stripes: bool | None,
         hot_pixels: bool | None, dilate: int | None, out: Path | None, fmt: str | None, flip_vertical: bool,
         no_overlay: bool, interactive: bool, colormap: str | None) -> None:
    """Build the mask of pixels to heal of IMAGES and write mask, spec JSON and overlay PNG."""
    from ..errors import DipHealError
    from ..masks import MaskSpec, mask_frame_files
    from ..renders import colormap_option

    click.get_current_context().with_resource(colormap_option(colormap))  # issue 22: renders' colour map

    if not images:
        raise click.UsageError("give at least one IMAGE")
    spec = MaskSpec.from_json(spec_file) if spec_file is not None else MaskSpec()
    changes: dict = {}
    if detector is not None:
        changes["detector"] = detector
    if auto_beamstop is not None:
        changes["beamstop"] = "auto" if auto_beamstop else "none"
    if auto_holder is not None:
        changes["holder"] = "auto" if auto_holder else "none"
    if center is not None:
        changes["beam_center"] = tuple(parse_floats(center, 2, "--center"))
    if stripes is not None:
        changes["stripes"] = stripes
    if hot_pixels is not None:
        changes["hot_pixels"] = hot_pixels
    if dilate is not None:
        changes["dilate"] = dilate
    shapes = list(spec.shapes)
    if beamstop_rect is not None:
        x0, y0, x1, y1 = parse_floats(beamstop_rect, 4, "--beamstop")
        below: float | str = "auto" if beamstop_below is None else parse_floats(beamstop_below, 1, "--beamstop-below")[0]
        shapes.append({"kind": "rect", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "below": below, "cause": "beamstop"})
        changes.setdefault("beamstop", "none")
    elif beamstop_below is not None:
        raise click.BadParameter("--beamstop-below needs --beamstop x0,y0,x1,y1")
    if beamstop_circle is not None:
        x, y, r = parse_floats(beamstop_circle, 3, "--beamstop-circle")
        shapes.append({"kind": "circle", "x": x, "y": y, "r": r, "cause": "beamstop"})
        changes.setdefault("beamstop", "none")
    if holder is not None:
        pts = _points(holder, "--holder")
        if len(pts) == 2:
            shapes.append({"kind": "line", "points": pts, "width": holder_width, "cause": "holder"})
        else:
            shapes.append({"kind": "polygon", "points": pts, "cause": "holder"})
        changes.setdefault("holder", "none")
    changes["shapes"] = tuple(shapes)
    spec = spec.replace(**changes)

    several = len(images) > 1
    if several and out is not None and out.suffix:
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
        if not _file_part(image).exists():
            raise DipHealError(f"no such file: {image}; expected a detector frame; check the path")
        if several or out is None:
            ext = _EXT[fmt or "npy"]
            target = (out or Path(".")) / f"{_stem(image)}_mask{ext}"
        else:
            target = out
        frame = None
        if interactive:
            from ..io import read_image
            from ..masks.editor import edit_mask

            frame = read_image(image)
            edited = edit_mask(frame, spec)
            if edited is None:
                click.echo("dip-heal: quit without writing", err=True)
                return
            spec = edited
        paths = mask_frame_files(str(image), spec, target, format=fmt, flip_vertical=flip_vertical,
                                 overlay=not no_overlay, frame=frame)
        click.echo(" ".join(str(p) for p in paths.values()))

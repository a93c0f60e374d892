"""``dip-heal mask``: build the mask of pixels to heal (automatic, flags, a saved spec, or the editor)."""

from __future__ import annotations

from pathlib import Path

import click

from . import flag_errors


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
@click.option("--auto-holder/--no-auto-holder", " /--no-holder", "auto_holder", default=None,
              help="Find the holder automatically: the thin dark band from the beamstop to the edge, masked "
                   "where it is found with confidence (default on; --no-holder turns it off).")
@click.option("--active-area/--no-active-area", default=None,
              help="Do not heal the zero border outside a round CCD's active area (default: on when the frame's "
                   "four corners are exactly zero).")
@click.option("--center", default=None, help="x,y: beam centre for the beamstop search (default: estimated).")
@click.option("--poni", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A pyFAI calibration (.poni): its beam centre (instead of the estimate) and its detector's "
                   "gaps; recorded in the spec.")
@click.option("--stripes/--no-stripes", default=None, help="Mask empty (all-zero) rows and columns.")
@click.option("--hot-pixels/--no-hot-pixels", default=None, help="Mask isolated hot pixels.")
@click.option("--dilate", type=click.IntRange(min=0), default=None, help="Margin (px) around every masked region.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Mask file (one IMAGE) or folder (several); format by extension. "
                   "Default: IMAGE-NAME_mask.npy in the current folder.")
@click.option("--format", "fmt", type=click.Choice(["npy", "png", "edf", "tiff", "dioptas", "msk", "hdf5"]),
              default=None,
              help="Mask format: npy (True = heal), png (0 = heal, 255 = keep), edf/tiff/msk (1 = masked, "
                   "pyFAI), dioptas (.mask: TIFF, 1 = masked, upside down), hdf5 ('mask' 1 = heal). "
                   "Default: by --out's extension.")
@click.option("--flip-vertical", is_flag=True, help="Write the mask upside down (Dioptas/Fit2D orientation).")
@click.option("--no-overlay", is_flag=True, help="Do not write the overlay preview PNG.")
@click.option("--interactive", "--edit", "-i", "interactive", is_flag=True,
              help="Review and edit the mask in a window before writing (Enter twice or Accept twice writes, "
                   "Quit writes nothing; h lists the keys).")
@click.option("--load-mask", "load_masks", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Add this mask file's pixels to the mask (any format read_mask reads, e.g. a Dioptas .mask or "
                   "pyFAI .edf; repeatable); with -i the editor opens with it. Kept in the spec as a 'file' edit.")
@click.option("--colormap", default=None, metavar="NAME",
              help="Colour map of a PNG render (mve385, parula, matlab-jet, jet, viridis, magma, inferno, plasma, "
                   "turbo, hot, gray; NAME_r reversed). Default: detected from its colours.")
def mask(images: tuple[Path, ...], spec_file: Path | None, detector: str | None, beamstop_rect: str | None,
         beamstop_below: str | None, beamstop_circle: str | None, holder: str | None, holder_width: float,
         auto_beamstop: bool | None, auto_holder: bool | None, active_area: bool | None, center: str | None,
         poni: Path | None,
         stripes: bool | None,
         hot_pixels: bool | None, dilate: int | None, out: Path | None, fmt: str | None, flip_vertical: bool,
         no_overlay: bool, interactive: bool, load_masks: tuple[Path, ...], colormap: str | None) -> None:
    """Build the mask of pixels to heal of IMAGES and write mask, spec JSON and overlay PNG."""
    from ..masks import MaskSpec, mask_images
    from ..renders import colormap_option

    click.get_current_context().with_resource(colormap_option(colormap))  # issue 22: renders' colour map
    if not images:
        raise click.UsageError("give at least one IMAGE")
    with flag_errors():
        spec = MaskSpec.from_flags(
            spec_file, detector=detector, beamstop_rect=beamstop_rect, beamstop_below=beamstop_below,
            beamstop_circle=beamstop_circle, holder=holder, holder_width=holder_width, auto_beamstop=auto_beamstop,
            auto_holder=auto_holder, active_area=active_area, center=center, poni=poni, stripes=stripes,
            hot_pixels=hot_pixels, dilate=dilate)
        if load_masks:
            from ..masks.shapes import file_edit

            spec = spec.replace(edits=spec.edits + tuple(file_edit(m) for m in load_masks))
    for paths in mask_images(images, spec, out, format=fmt, flip_vertical=flip_vertical, overlay=not no_overlay,
                             interactive=interactive):
        if paths is None:
            click.echo("dip-heal: quit without writing", err=True)
            return
        click.echo(" ".join(str(p) for p in paths.values()))

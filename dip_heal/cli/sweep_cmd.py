"""``dip-heal sheet`` and ``dip-heal pick``: look at a sweep's snapshots and keep one."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sheet")
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--zoom", default=None, metavar="Y0,X0,Y1,X1",
              help="Crop every panel to this region (pixels, end exclusive), e.g. around a gap.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The PNG to write (default RUN/sheet.png; long sweeps: sheet-1.png, sheet-2.png, ...).")
@click.option("--rows-per-page", type=click.IntRange(min=1), default=10, show_default=True,
              help="Trials per page.")
@click.option("--max-cols", type=click.IntRange(min=1), default=8, show_default=True,
              help="At most this many snapshot columns (evenly spaced).")
@click.option("--storage", default=None, help="The study's storage URL, if not the one recorded in RUN/sweep.json.")
def sheet(run: Path, zoom: str | None, out: Path | None, rows_per_page: int, max_cols: int,
          storage: str | None) -> None:
    """Contact sheet of the sweep in RUN: one row per trial, one column per snapshot, the
    recommended snapshot (lowest held-out L1) starred."""
    from ..pick import write_sheet

    paths = write_sheet(run, out, zoom=zoom, rows_per_page=rows_per_page, max_cols=max_cols, storage=storage)
    click.echo("wrote " + ", ".join(str(p) for p in paths))


@click.command("pick")
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--trial", "trial", type=click.IntRange(min=0), default=None, help="Trial number (see the sheet).")
@click.option("--iter", "iteration", type=click.IntRange(min=1), default=None,
              help="Snapshot iteration of --trial (default: its recommended snapshot).")
@click.option("--best", is_flag=True, help="The recommended snapshot of the trial with the lowest held-out L1.")
@click.option("--average", "average", type=click.IntRange(min=2), default=None, metavar="K",
              help="The per-pixel median of the recommended snapshots of the K trials with the lowest held-out L1.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the healed frame (default RUN/picked).")
@click.option("--storage", default=None, help="The study's storage URL, if not the one recorded in RUN/sweep.json.")
def pick(run: Path, trial: int | None, iteration: int | None, best: bool, average: int | None,
         out_dir: Path | None, storage: str | None) -> None:
    """Write the healed frame of one snapshot of the sweep in RUN (input format, float32 TIFF,
    preview PNG) and record the choice in RUN/picks.json. Nothing is refitted; measured pixels,
    held-out ones included, keep their values."""
    from ..pick import pick as pick_snapshot

    result = pick_snapshot(run, trial=trial, iteration=iteration, best=best, average=average, out_dir=out_dir,
                           storage=storage)
    click.echo(str(result))

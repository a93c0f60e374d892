"""``dip-heal sheet`` and ``dip-heal pick``: look at a sweep's snapshots and keep one."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sheet")
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--html", "html", is_flag=True,
              help="Write the picking page instead: one HTML file that opens from disk (default RUN/sheet.html).")
@click.option("--zoom", default=None, metavar="Y0,X0,Y1,X1",
              help="Crop every panel to this region (pixels, end exclusive), e.g. around a gap (PNG only).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The PNG to write (default RUN/sheet.png; long sweeps: sheet-1.png, sheet-2.png, ...); "
                   "with --html the page (default RUN/sheet.html).")
@click.option("--rows-per-page", type=click.IntRange(min=1), default=10, show_default=True,
              help="Trials per page (PNG).")
@click.option("--max-cols", type=click.IntRange(min=1), default=8, show_default=True,
              help="At most this many snapshot columns, evenly spaced (PNG; the page shows them all).")
@click.option("--thumb-px", type=click.IntRange(min=16, max=1024), default=96, show_default=True,
              help="Thumbnail size on the page (--html).")
@click.option("--storage", default=None, help="The study's storage URL, if not the one recorded in RUN/sweep.json.")
def sheet(run: Path, html: bool, zoom: str | None, out: Path | None, rows_per_page: int, max_cols: int,
          thumb_px: int, storage: str | None) -> None:
    """Contact sheet of the sweep in RUN: one row per trial, one column per snapshot, each trial's
    lowest held-out L1 starred and the sweep's recommended snapshot marked apart. With --html, the
    picking page (see also dip-heal serve)."""
    if html:
        from ..errors import DipHealError
        from ..runs.page import write_page

        if zoom is not None:
            raise DipHealError("--zoom crops the PNG sheet; the page zooms by itself; drop --zoom with --html")
        click.echo(f"wrote {write_page(run, out, thumb_px=thumb_px, storage=storage)}")
        return
    from ..pick import write_sheet

    paths = write_sheet(run, out, zoom=zoom, rows_per_page=rows_per_page, max_cols=max_cols, storage=storage)
    click.echo("wrote " + ", ".join(str(p) for p in paths))


@click.command("serve")
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0: a free one; the URL is logged).")
@click.option("--thumb-px", type=click.IntRange(min=16, max=1024), default=96, show_default=True,
              help="Thumbnail size on the page.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for picked frames (default RUN/picked, as dip-heal pick).")
@click.option("--storage", default=None, help="The study's storage URL, if not the one recorded in RUN/sweep.json.")
def serve(run: Path, port: int, thumb_px: int, out_dir: Path | None, storage: str | None) -> None:
    """Serve the picking page of the sweep in RUN on 127.0.0.1 until Ctrl-C. Its Pick button (or
    Enter) writes the healed frame exactly as dip-heal pick RUN --trial T --iter K."""
    import logging

    from ..runs.server import make_server

    server = make_server(run, port=port, thumb_px=thumb_px, storage=storage, out_dir=out_dir)
    logging.getLogger("dip_heal").info("picking page of %s at %s (Ctrl-C stops)", run, server.url)
    click.echo(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command("pick")
@click.argument("run", type=click.Path(file_okay=False, path_type=Path))
@click.option("--trial", "trial", type=click.IntRange(min=0), default=None, help="Trial number (see the sheet).")
@click.option("--iter", "iteration", type=click.IntRange(min=0), default=None,
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

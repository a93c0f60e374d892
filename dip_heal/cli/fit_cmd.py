"""``dip-heal fit``: one fit, or with ``--grid`` a hyperparameter sweep."""

from __future__ import annotations

import logging
from pathlib import Path

import click

logger = logging.getLogger("dip_heal")


@click.command("fit")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--mask", "mask", type=click.Path(path_type=Path), default=None,
              help="Pixels to heal: NPY bool (True = heal), PNG (0 = heal, 255 = keep), "
                   "EDF/TIFF with --mask-convention pyfai (1 = masked). Default: the frame's invalid pixels.")
@click.option("--mask-convention", type=click.Choice(["heal", "keep", "pyfai", "dioptas"]), default=None,
              help="How to read MASK's values: heal (nonzero = heal), keep (0 = heal), pyfai (nonzero = "
                   "masked), dioptas (pyfai, stored upside down). Default: by file type and its sidecar JSON.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Run folder to write (default: IMAGE's name + '.dipheal' beside it).")
@click.option("--preset", default=None, help="Start from a named FitConfig preset (faithful, default, ...).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A FitConfig JSON file (e.g. a run's config.json 'config' entry).")
@click.option("--iters", type=click.IntRange(min=1), default=None, help="Iterations.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam learning rate.")
@click.option("--param-noise/--no-param-noise", default=None, help="Perturb conv weights every iteration.")
@click.option("--reg-noise-std", type=click.FloatRange(min=0), default=None, help="Input noise std (0 = none).")
@click.option("--snapshot-every", type=click.IntRange(min=1), default=None, help="Snapshot every N iterations.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (recorded).")
@click.option("--center", default=None, metavar="X,Y",
              help="Beam centre in pixels (column, row) for the polar inputs and the azimuthal fill "
                   "(default: estimated from the frame).")
@click.option("--poni", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A pyFAI calibration (.poni) of the detector: its beam centre, 2theta and chi for the polar "
                   "inputs and the azimuthal model (tilt and distance included); recorded in the run folder.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Stop at the last snapshot within this wall time (0 = none; the default preset: 840).")
@click.option("--ensemble", type=click.IntRange(min=1), default=None, metavar="N",
              help="Fit N networks (seeds SEED..SEED+N-1, the time limit shared) and heal with their median.")
@click.option("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when present).")
@click.option("--force", is_flag=True, help="Replace an existing run folder.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--series", is_flag=True,
              help="Heal IMAGE... (files or quoted glob patterns, in order) as a series: each frame starts from "
                   "the previous frame's network with a short budget; a rerun continues where it stopped.")
@click.option("--warm-fraction", type=click.FloatRange(min=0, max=1, min_open=True), default=None,
              help="With --series: a warm frame's iteration budget as a fraction of --iters (default 0.25).")
@click.option("--grid", is_flag=True, help="Run a hyperparameter sweep (Optuna) instead of one fit.")
@click.option("--sweep", "sweep_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Sweep definition (TOML); default sweeps/mve385-grid.toml.")
@click.option("--sampler", type=click.Choice(["grid", "random", "tpe"]), default=None, help="Sweep sampler.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Trials for random/TPE sweeps; with a grid, run at most this many of its points now "
                   "(the same command runs the rest).")
@click.option("--storage", default=None, help="Optuna storage URL (default sqlite:///RUN/study.db).")
@click.option("--study", "study_name", default=None, help="Optuna study name.")
@click.option("--no-prune", is_flag=True,
              help="Sweeps: run every point to its end (default: prune by successive halving on held-out L1).")
@click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Sweeps: no trial starts after this wall time (a started one finishes); rerun to continue.")
@click.option("--colormap", default=None, metavar="NAME",
              help="Colour map of a PNG render (see dip-heal mask --help). Default: detected from its colours.")
def fit(images: tuple[str, ...], mask: Path | None, mask_convention: str | None, out: Path | None, preset: str | None,
        config_file: Path | None, iters: int | None, lr: float | None, param_noise: bool | None,
        reg_noise_std: float | None, snapshot_every: int | None, seed: int | None, center: str | None,
        poni: Path | None,
        time_limit: float | None, ensemble: int | None, device: str | None,
        force: bool, no_progress: bool, series: bool, warm_fraction: float | None, grid: bool, sweep_file: Path | None, sampler: str | None,
        trials: int | None, storage: str | None, study_name: str | None, no_prune: bool, time_budget: float | None,
        colormap: str | None) -> None:
    """Fit the Deep Image Prior to IMAGE's measured pixels and write the healed frame to a run folder.

    With --series, heal several frames in order into one folder, each starting from the previous one.
    """
    from ..config import FitConfig
    from ..renders import colormap_option
    from ..runs import default_run_dir

    click.get_current_context().with_resource(colormap_option(colormap))  # issue 22: renders' colour map
    if warm_fraction is not None and not series:
        raise click.UsageError("--warm-fraction applies to --series only")
    if len(images) > 1 and not series:
        raise click.UsageError(f"got {len(images)} frames; expected one, or --series to heal them in order")
    flags = {"iters": iters, "lr": lr, "param_noise": param_noise, "reg_noise_std": reg_noise_std,
             "snapshot_every": snapshot_every, "seed": seed, "time_limit": time_limit, "ensemble": ensemble}
    config = FitConfig.from_cli(preset=preset, config_file=config_file, **flags)
    beam = _parse_center(center) if center is not None else None
    if (no_prune or time_budget is not None) and not (grid or sweep_file is not None or sampler is not None):
        raise click.UsageError("--no-prune and --time-budget apply to sweeps; add --grid (or --sweep/--sampler)")
    if poni is not None and center is not None:
        raise click.UsageError("--center and --poni do not go together; the PONI holds the beam centre")
    if series:
        if poni is not None:
            raise click.UsageError("--poni applies to one fit or a sweep; heal a series without it (or fit each "
                                   "frame with --poni)")
        if grid or sweep_file is not None or sampler is not None:
            raise click.UsageError("--series and --grid/--sweep/--sampler do not go together; sweep one frame")
        if out is None:
            raise click.UsageError("--series needs --out RUN (the series folder)")
        from ..runs.series import SeriesPolicy, fit_series

        policy = SeriesPolicy() if warm_fraction is None else SeriesPolicy(warm_fraction=warm_fraction)
        click.echo(fit_series(images, out, config, mask_path=mask, mask_convention=mask_convention, policy=policy,
                              device=device, progress=not no_progress, force=force, center=beam).line())
        return
    image = Path(images[0])
    file = _existing_file(image)
    out = out if out is not None else default_run_dir(file)
    if grid or sweep_file is not None or sampler is not None:
        from ..sweep import SweepOptions, run_sweep

        options = SweepOptions.from_cli(center=beam, sweep_file=sweep_file, sampler=sampler, trials=trials,
                                        storage=storage, study_name=study_name, prune=not no_prune,
                                        time_budget=time_budget, poni=poni)
        click.echo(str(run_sweep(image, out, base_config=config, mask_path=mask, mask_convention=mask_convention,
                                 device=device, progress=not no_progress, options=options,
                                 overrides=FitConfig.cli_changes(**flags) or None)))
        return
    from ..runs import fit_to_run

    click.echo(fit_to_run(image, out, config, mask_path=mask, mask_convention=mask_convention, device=device,
                          progress=not no_progress, force=force, center=beam, poni=poni).line())


def _existing_file(image: Path) -> Path:
    """IMAGE's file (without a ``::`` selector), refused when it does not exist."""
    from ..errors import DipHealError
    from ..io import split_selector

    file = split_selector(image)[0]
    if not file.exists():
        raise DipHealError(f"no such file: {file}; expected a detector frame (CBF, EDF, TIFF, HDF5, NPY, ...); "
                           "check the path")
    return file


def _parse_center(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"got {text!r}; expected two numbers X,Y (column, row in pixels), e.g. 512.3,490",
                                 param_hint="--center") from None
    import math

    if not (math.isfinite(x) and math.isfinite(y)):
        raise click.BadParameter(f"got {text!r}; expected finite numbers X,Y", param_hint="--center")
    return x, y

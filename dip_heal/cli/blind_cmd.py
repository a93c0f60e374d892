"""``dip-heal train`` and ``dip-heal bulk``: train a blind model, heal many frames with it."""

from __future__ import annotations

import click

from . import flag_errors


@click.command("train")
@click.option("--arch", type=click.Choice(["msdnet", "tunet"]), default="msdnet", show_default=True,
              help="Network: mixed-scale dense net or tunable U-Net.")
@click.option("--frames", "frames", multiple=True, metavar="GLOB",
              help="Training frames (a glob, a file or a folder; repeat the option for more).")
@click.option("--synthetic", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also train on this many synthetic frames (dip_heal.synthetic).")
@click.option("--synthetic-shape", default="512,512", show_default=True, help="Shape of the synthetic frames, 'M,N'.")
@click.option("--detector", required=True, help="pyFAI detector whose module-gap layout is pasted (e.g. Pilatus1M).")
@click.option("--out", "out", required=True, type=click.Path(), help="Model directory to write.")
@click.option("--layers", type=int, default=40, show_default=True, help="MSDNet: number of layers.")
@click.option("--max-dilation", type=int, default=10, show_default=True, help="MSDNet: dilations cycle 1..D.")
@click.option("--layer-width", type=int, default=1, show_default=True, help="MSDNet: maps added per layer.")
@click.option("--depth", type=int, default=4, show_default=True, help="TUNet: number of levels.")
@click.option("--base-channels", type=int, default=16, show_default=True, help="TUNet: channels at the first level.")
@click.option("--growth-rate", type=float, default=2.0, show_default=True, help="TUNet: channel growth per level.")
@click.option("--hidden-rate", type=float, default=1.0, show_default=True, help="TUNet: channel growth within a level.")
@click.option("--normalization", type=click.Choice(["none", "batch", "instance"]), default=None,
              help="Normalisation after each layer [msdnet: none, tunet: batch].")
@click.option("--crop", type=int, default=96, show_default=True, help="Side of the training crops.")
@click.option("--batch", type=int, default=8, show_default=True, help="Crops per step.")
@click.option("--steps", type=int, default=500, show_default=True, help="Optimiser steps (in all, when resuming).")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--lr-step", type=int, default=0, show_default=True, help="Decay the rate every N steps (0: steps/3).")
@click.option("--lr-gamma", type=float, default=0.5, show_default=True, help="Decay factor.")
@click.option("--val-fraction", type=float, default=0.2, show_default=True, help="Fraction of frames held out.")
@click.option("--val-every", type=int, default=100, show_default=True, help="Validate and checkpoint every N steps.")
@click.option("--tile", type=int, default=256, show_default=True, help="Tile size used when healing.")
@click.option("--overlap", type=int, default=32, show_default=True, help="Tile overlap used when healing.")
@click.option("--inputs", type=click.Choice(["prefill+mask", "fills+mask", "prefill+azimuthal+mask", "image+mask", "image"]),
              default="prefill+mask", show_default=True,
              help="Net input: holes pre-filled by row/column interpolation plus the mask (the net learns a "
                   "correction), three such fills (smoothing 3, 1, 7) plus the mask, that fill plus the ring-averaged "
                   "model of the frame about its estimated beam centre plus the mask, holes as 0 plus the mask, "
                   "or holes as 0 (the paper's single channel).")
@click.option("--truth-targets/--measured-targets", default=True, show_default=True,
              help="Train synthetic frames towards their noise-free truth (default) or, as the paper, "
                   "towards the measured counts.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume/--no-resume", default=True, show_default=True, help="Continue from OUT/checkpoint if present.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def train(arch, frames, synthetic, synthetic_shape, detector, out, layers, max_dilation, layer_width, depth,
          base_channels, growth_rate, hidden_rate, normalization, crop, batch, steps, lr, lr_step, lr_gamma,
          val_fraction, val_every, tile, overlap, inputs, truth_targets, seed, resume, device, progress) -> None:
    """Train a blind inpainting model (Chavez et al. 2022 protocol) and write MODEL_DIR.

    Frames are log-normalised, cut into crops, and the detector's module gaps are pasted over
    measured pixels; the L1 loss on those pixels trains the net. Writes OUT/model.safetensors,
    OUT/card.json, OUT/curves.png (training and validation curves) and OUT/checkpoint/ (resumable).
    """
    from ..blind.cli_config import training_from_flags
    from ..blind.train import train as run_train

    if not frames and not synthetic:
        raise click.UsageError("no training data; give --frames GLOB and/or --synthetic N")
    with flag_errors():
        data, cfg = training_from_flags(
            frames, out, arch=arch, synthetic=synthetic, synthetic_shape=synthetic_shape, detector=detector,
            layers=layers, max_dilation=max_dilation, layer_width=layer_width, depth=depth,
            base_channels=base_channels, growth_rate=growth_rate, hidden_rate=hidden_rate,
            normalization=normalization, crop=crop, batch=batch, steps=steps, lr=lr, lr_step=lr_step,
            lr_gamma=lr_gamma, val_fraction=val_fraction, val_every=val_every, tile=tile, overlap=overlap,
            inputs=inputs, truth_targets=truth_targets, seed=seed)
    res = run_train(data, out, cfg, device=device, progress=progress, resume=resume)
    v = res.model.card["validation"]
    click.echo(f"wrote {res.model_dir}: {res.model.card['parameters']} parameters, "
               f"validation L1 {v['l1']:.4f} (start {v['l1_at_start']:.4f}), Pearson r {v['pearson_r']:.4f}")


@click.command("bulk")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--method", "method", default="blind", show_default=True,
              help="How to heal: blind (the trained model), pyfai, telea, biharmonic, ns, or dip (the default "
                   "DIP fit: slow); NAME:ARG forms as in bench (dip:light, blind:MODEL_DIR).")
@click.option("--model", "model", type=click.Path(), default=None,
              help="Trained model directory for --method blind [default: the model shipped with dip-heal].")
@click.option("--out", "out", required=True, type=click.Path(), help="Output folder.")
@click.option("--mask-spec", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Mask spec JSON applied to every frame [default: automatic mask].")
@click.option("--poni", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A pyFAI calibration (.poni) of the detector: the beam centre of every frame's mask and the "
                   "rings of pyfai, azimuthal and dip; recorded in each output's provenance.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Heal on a local Dask cluster of N worker processes (one frame per task) [default: this process].")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Heal on an existing Dask cluster; its workers must see the same paths.")
@click.option("--threads-per-worker", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads (and torch threads) of each Dask worker.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Tiles per network call.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--suffix", default="_healed", show_default=True, help="Appended to each output's file stem.")
@click.option("--overwrite", is_flag=True, help="Heal again frames whose output exists (default: skip them).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("--previews", is_flag=True, help="Also write OUT/previews/STEM.png (before/after) and OUT/previews/summary.png.")
def bulk(inputs, method, model, out, mask_spec, poni, workers, scheduler, threads_per_worker, batch, device, suffix,
         overwrite, progress, previews) -> None:
    """Heal many frames (files, folders or globs) with one method: the trained blind model by default.

    Each frame is masked (spec or automatic), healed (the blind model on its holes, in batched
    tiles, or --method), written to OUT in its own format with measured pixels bit-exact and its
    heal mask beside it (STEM_healed.heal_mask.npy). Frames already done are skipped; a bad frame
    is reported and skipped. With --workers or --scheduler each frame is a Dask task. Exits 1
    when any frame failed.
    """
    from ..blind.bulk import bulk as run_bulk
    from ..flags import expand_paths

    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers N (a local cluster) or --scheduler ADDRESS (an existing one), not both")
    with flag_errors():
        paths = expand_paths(inputs, "INPUTS")
    summary = run_bulk(paths, out, model_dir=model, mask_spec=mask_spec, batch=batch, device=device,
                       progress=progress, suffix=suffix, overwrite=overwrite, previews=previews, method=method,
                       workers=workers, scheduler=scheduler, threads_per_worker=threads_per_worker, poni=poni)
    click.echo(summary.line())
    if summary.failed:  # each was logged as it happened; one line sums them up
        path, msg = summary.failed[0]
        more = f" (and {len(summary.failed) - 1} more, logged above)" if len(summary.failed) > 1 else ""
        raise click.ClickException(f"{len(summary.failed)} of {len(paths)} frame(s) failed; first: {msg}{more}; "
                                   "fix or remove those frames and rerun (frames already healed are skipped)")

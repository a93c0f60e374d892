"""The library half of ``dip-heal train``: its flags -> the training frames and the
:class:`~dip_heal.blind.train.TrainConfig`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..errors import DipHealError
from ..flags import expand_paths, parse_floats
from .train import TrainConfig, TrainFrame, load_training_frames, synthetic_training_frames

__all__ = ["training_from_flags"]


def training_from_flags(
    frames: Sequence[str], out: str | os.PathLike, *, arch: str, synthetic: int = 0, synthetic_shape: str = "512,512",
    detector: str, layers: int = 40, max_dilation: int = 10, layer_width: int = 1, depth: int = 4,
    base_channels: int = 16, growth_rate: float = 2.0, hidden_rate: float = 1.0, normalization: str | None = None,
    crop: int = 96, batch: int = 8, steps: int = 500, lr: float = 1e-3, lr_step: int = 0, lr_gamma: float = 0.5,
    val_fraction: float = 0.2, val_every: int = 100, tile: int = 256, overlap: int = 32,
    inputs: str = "prefill+mask", truth_targets: bool = True, seed: int = 0,
) -> tuple[list[TrainFrame], TrainConfig]:
    """The frames and config ``dip-heal train`` trains on, from its flags (the defaults are the flags').

    Parameters
    ----------
    frames : sequence of str
        ``--frames``: globs, files or folders (see :func:`dip_heal.flags.expand_paths`).
    out : path-like
        ``--out``, the model folder: it may not be a file.
    arch : {'msdnet', 'tunet'}
        The network; ``layers``, ``max_dilation``, ``layer_width`` are MSDNet's, ``depth``,
        ``base_channels``, ``growth_rate``, ``hidden_rate`` TUNet's; ``normalization`` defaults to
        ``none`` (MSDNet) or ``batch`` (TUNet).
    synthetic : int
        Synthetic frames added (:func:`~dip_heal.blind.train.synthetic_training_frames`), of
        shape ``synthetic_shape`` (``"M,N"``).
    detector, crop, batch, steps, lr, lr_step, lr_gamma, val_fraction, val_every, tile, overlap, inputs, truth_targets, seed
        As in :class:`~dip_heal.blind.train.TrainConfig`. Only files of one shape, without
        synthetic frames, fix the config's ``frame_shape``.

    Returns
    -------
    data : list of TrainFrame
    cfg : TrainConfig

    Raises
    ------
    FlagError
        A pattern that matches no file, a bad ``synthetic_shape``.
    DipHealError
        ``out`` is a file; unreadable frames; a bad config value.
    """
    if Path(out).exists() and not Path(out).is_dir():
        raise DipHealError(f"--out {out} is a file; expected a model folder path; choose another --out")
    paths = expand_paths(tuple(frames), "--frames")
    data = load_training_frames(paths)
    if synthetic:
        shp = [int(v) for v in parse_floats(synthetic_shape, 2, "--synthetic-shape")]
        data += synthetic_training_frames(synthetic, shape=(shp[0], shp[1]), seed=seed)
    if arch == "msdnet":
        net = {"num_layers": layers, "max_dilation": max_dilation, "layer_width": layer_width,
               "normalization": normalization or "none"}
    else:
        net = {"depth": depth, "base_channels": base_channels, "growth_rate": growth_rate,
               "hidden_rate": hidden_rate, "normalization": normalization or "batch"}
    frame_shape = None
    shapes = {tuple(f.data.shape) for f in data[: len(paths)]}
    if paths and not synthetic and len(shapes) == 1:
        frame_shape = list(shapes.pop())
    cfg = TrainConfig(arch=arch, net=net, detector=detector, crop=crop, batch=batch, steps=steps, lr=lr,
                      lr_step=lr_step, lr_gamma=lr_gamma, val_fraction=val_fraction, val_every=val_every,
                      inputs=inputs, truth_targets=truth_targets, tile=tile, overlap=overlap, seed=seed,
                      frame_shape=frame_shape)
    return data, cfg

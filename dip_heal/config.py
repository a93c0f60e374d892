"""`FitConfig`: every setting of one DIP fit, validated, frozen, and stored as JSON with each run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import DipHealError

__all__ = ["FitConfig", "PRESETS", "CLI_FLAGS"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "loss": ("mse", "l1", "poisson"),
    "net_input": ("meshgrid", "noise"),
    "pad": ("reflection", "zero"),
    "upsample": ("nearest", "bilinear"),
    "act": ("LeakyReLU", "ReLU", "ELU"),
    "norm": ("batch", "instance", "none"),
    "select": ("final", "best_val"),
    "precision": ("fp32", "bf16"),
    "optimizer": ("adam",),
    "guide": ("none", "azimuthal", "auto"),
    "prior_scaling": ("measured", "fixed"),
    "init": ("random", "pretrained"),
    "lr_schedule": ("constant", "cosine"),
}


@dataclass(frozen=True)
class FitConfig:
    """Settings of one Deep Image Prior fit.

    The defaults reproduce the seed configuration (the original DIP repository's vase
    inpainting, as the MVE385 project used it) except where a field says otherwise. Use
    :meth:`preset` for the named presets.

    Parameters
    ----------
    num_iter : int
        Adam iterations.
    lr : float
        Adam learning rate (the first iteration's, with a schedule).
    lr_schedule : {'constant', 'cosine'}
        ``cosine``: the learning rate falls from ``lr`` to ``lr * lr_floor`` along half a cosine
        over ``num_iter`` iterations (a coarse stage's included), ``lr * (f + (1 - f)(1 +
        cos(pi t / num_iter)) / 2)`` at step ``t`` (:func:`dip_heal.dip.model.lr_factor`).
    lr_floor : float
        The cosine schedule's last learning rate as a fraction of ``lr``.
    reg_noise_std : float
        Std of the fresh Gaussian noise added to the network input every iteration (input
        units: the meshgrid spans [0, 1]). 0 really means no noise.
    param_noise : bool
        Perturb every convolution weight in place by N(0, std(W) * param_noise_scale) before
        every iteration (what the original code meant to do; its version was a no-op).
    param_noise_scale : float
        Relative std of the weight perturbation (the original's 1/50).
    loss : {'mse', 'l1', 'poisson'}
        Data term on the known pixels: squared or absolute error in normalised log intensity,
        or the Poisson negative log-likelihood of the measured values as counts given the
        output's intensity (``lambda - I log lambda``, divided by the mean measured intensity
        plus one).
    net_input : {'meshgrid', 'noise'}
        2-channel coordinate grid in [0, 1] (x along columns, y along rows), or uniform noise
        times 0.1 with ``input_depth`` channels.
    input_depth : int
        Channels of a ``noise`` input (a meshgrid has 2).
    depth : int
        Number of scales (stride-2 convolutions) of the encoder-decoder.
    channels : int or tuple of int
        Channels at every scale (the seed: 128), or one count per scale, finest first.
    channels_skip : int
        Channels of the skip connections (the seed: 0, none).
    kernel_size : int
        Kernel of the 3x3 convolutions (down and up).
    pad : {'reflection', 'zero'}
    upsample : {'nearest', 'bilinear'}
    act : {'LeakyReLU', 'ReLU', 'ELU'}
    norm : {'batch', 'instance', 'none'}
        Normalisation after each convolution. BatchNorm in train mode with batch 1 (the original's
        behaviour: ``eval()`` is never called).
    need1x1_up : bool
        A 1x1 convolution after each up block.
    snapshot_every : int
        Keep a composite snapshot every this many iterations (and at the last).
    seed : int
        Seeds torch and numpy for the network weights, input and noises.
    holdout_fraction : float
        Fraction of the known pixels withheld from the loss as a validation set (0: none), drawn
        as short gap-shaped segments.
    select : {'final', 'best_val'}
        Which snapshot the fit returns: the last, or the one with the lowest held-out L1.
    patience : int
        With ``select='best_val'``: stop after this many snapshots without a better held-out L1
        (with ``val_tol``: without one within the tolerance) (0: never stop early).
    val_tol : float
        With ``select='best_val'``: relative tolerance on the held-out L1. The fit returns the
        latest snapshot within ``(1 + val_tol)`` of the lowest held-out L1 so far, not the lowest
        itself, and such a snapshot resets the patience: on a flat held-out curve (noise of a
        few per cent between snapshots) the fit goes on and returns its latest output instead of
        stopping at an early one. 0: the lowest, strictly.
    ema : float
        Exponential moving average of outputs, ``avg = d * avg + (1 - d) * out`` with
        ``d = min(ema, (1 + t) / (10 + t))`` at iteration ``t`` (0: off), as the original DIP's
        denoising code averages (there with ``d = 0.99`` from the start).
    precision : {'fp32', 'bf16'}
        bf16 autocast for the forward pass.
    channels_last : bool
        Use the channels-last memory format.
    optimizer : {'adam'}
    polar_input : bool
        Add three input channels about the beam centre: the radius (scaled to [0, 1] over the
        frame) and the cosine and sine of the azimuth, so ring-like (azimuthally smooth)
        structure is easy for the network to express.
    mirror_input : bool
        Add the frame's centrosymmetric mirror (Friedel pair, ``I(2c - p)``, normalised) as a
        guide channel where the mirrored pixel is measured, and a channel flagging where it is.
    guide : {'none', 'azimuthal', 'auto'}
        ``azimuthal``: the network fits the residual from a ring-averaged model of the frame
        about the beam centre (:func:`dip_heal.polar.azimuthal_model`, what pyFAI's inpainting
        interpolates). The output is ``model + 2 (sigmoid(net) - 0.5)``, the last layer starts
        at zero (so iteration 0 is the azimuthal fill itself, kept as a candidate snapshot),
        and the model is also an input channel. ``auto``: use the model only where it predicts
        the held-out pixels at least as well as OpenCV's Telea fill does (rings about a
        well-found centre); a wrong centre or a strongly anisotropic pattern gets the plain DIP.
        ``auto`` also picks the model's azimuthal bins and smoothing by held-out L1
        (``guide_azim`` and ``guide_smooth`` apply to ``azimuthal``).
    time_limit : float
        Wall-clock budget in seconds (0: none). The fit stops at the last snapshot that fits in
        the budget (judged from the time the previous snapshot interval took) and returns as
        usual; ``FitResult.extra['stopped_at']`` records where, so a rerun with that
        ``num_iter`` and no limit reproduces it exactly.
    blend : bool
        Heal with a blend of the network's output, the azimuthal model's fill and OpenCV's
        Telea fill, with weights (a 0.1 grid on the simplex) chosen at every snapshot by L1 on
        the held-out pixels (needs ``holdout_fraction > 0``). Each fill is computed once; the
        weights are recorded in the result. Iteration 0 (the fills alone) is a candidate.
    azim_weight : float
        Weight of the azimuthal-smoothness penalty in the pixels to heal (0: off):
        ``mean |o(p) - o(R p)|``, ``R`` one pixel of arc about the beam centre
        (:mod:`dip_heal.priors`).
    friedel_weight : float
        Weight of the Friedel-consistency penalty ``mean |o(p) - o(2c - p)|`` over pixels to heal
        whose mirror through the beam centre is also to be healed (0: off).
    ensemble : int
        Fit this many networks (seeds ``seed``, ``seed + 1``, ...) on the same held-out pixels
        and beam centre, each with ``num_iter`` iterations and ``time_limit / ensemble``
        seconds, and heal with the per-pixel median of their healed frames in log intensity.
    prior_scaling : {'measured', 'fixed'}
        ``measured``: each penalty's weight is multiplied by how well the measured pixels obey
        that symmetry (:func:`dip_heal.priors.symmetry_scores` through
        :func:`dip_heal.priors.prior_factor`: 0 for scores up to 0.2, 1 for a perfect symmetry),
        so frames without it (a GISAXS horizon, an oriented fibre along the rings) get none.
        ``fixed``: the weights as given.
    guide_azim : int
        Azimuthal bins of the azimuthal model.
    guide_smooth : float
        Smoothing of the azimuthal model along the azimuth, in bins.
    init : {'random', 'pretrained'}
        The network's starting weights: seeded random (the seed's), or the package's pretrained
        start for this network (:mod:`dip_heal.dip.pretrained`; a configuration without shipped
        weights is refused). A warm start from another fit's weights (``dip-heal fit --series``)
        is given to :func:`dip_heal.fit` as ``init_state`` and overrides both.
    coarse_fraction : float
        Fraction of ``num_iter`` run first on the frame downsampled by ``coarse_factor`` (0: off).
        The network is fully convolutional, so its weights (and Adam's moments) carry over to the
        full-resolution iterations that follow; snapshots are taken at full resolution only, and
        their iteration numbers count the coarse iterations too.
    coarse_factor : int
        Downsampling of the coarse stage (2: a quarter of the pixels per iteration).
    preset_name : str
        Name of the preset this configuration started from (a record only).
    """

    num_iter: int = 3000
    lr: float = 0.01
    lr_schedule: str = "constant"
    lr_floor: float = 0.1
    reg_noise_std: float = 0.03
    param_noise: bool = False
    param_noise_scale: float = 1.0 / 50.0
    loss: str = "mse"
    net_input: str = "meshgrid"
    input_depth: int = 2
    depth: int = 5
    channels: int | tuple[int, ...] = 128
    channels_skip: int = 0
    kernel_size: int = 3
    pad: str = "reflection"
    upsample: str = "nearest"
    act: str = "LeakyReLU"
    norm: str = "batch"
    need1x1_up: bool = True
    snapshot_every: int = 100
    seed: int = 0
    holdout_fraction: float = 0.0
    select: str = "final"
    patience: int = 0
    val_tol: float = 0.0
    ema: float = 0.0
    precision: str = "fp32"
    channels_last: bool = False
    optimizer: str = "adam"
    polar_input: bool = False
    mirror_input: bool = False
    guide: str = "none"
    time_limit: float = 0.0
    blend: bool = False
    guide_azim: int = 180
    guide_smooth: float = 2.0
    azim_weight: float = 0.0
    friedel_weight: float = 0.0
    prior_scaling: str = "measured"
    ensemble: int = 1
    init: str = "random"
    coarse_fraction: float = 0.0
    coarse_factor: int = 2
    preset_name: str = "custom"

    def __post_init__(self) -> None:
        _check_choices(self)
        object.__setattr__(self, "channels", _checked_channels(self.channels, self.depth))
        _check_integers(self)
        _check_ranges(self)
        _check_combinations(self)

    @property
    def uses_priors(self) -> bool:
        """True when a prior penalty (azimuthal or Friedel) has a weight."""
        return self.azim_weight > 0 or self.friedel_weight > 0

    # ----------------------------------------------------------------- file form
    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (JSON-ready)."""
        d = dataclasses.asdict(self)
        if isinstance(d["channels"], tuple):
            d["channels"] = list(d["channels"])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FitConfig":
        """Build from a dict; unknown keys are refused with the list of known ones."""
        if not isinstance(data, dict):
            raise DipHealError(f"got a {type(data).__name__} for a FitConfig; expected a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DipHealError(
                f"unknown FitConfig key(s) {', '.join(unknown)}; expected some of: {', '.join(sorted(known))}"
            )
        return cls(**data)

    def to_json(self, path: str | Path | None = None) -> str:
        """The JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            from .frame import atomic_path

            with atomic_path(path) as tmp:
                tmp.write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "FitConfig":
        """Read from JSON text or a JSON file (a run's ``config.json``: its ``config`` entry)."""
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        where = f"{p}: " if p is not None else ""
        try:
            text = p.read_text() if p is not None else str(text_or_path)
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DipHealError(f"{where}not valid JSON ({exc}); expected a FitConfig JSON object; "
                               "fix the file or write it with FitConfig.to_json") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DipHealError(f"{where}cannot read it ({type(exc).__name__}); expected a FitConfig JSON "
                               "file; check the path") from None
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            data = data["config"]  # a run folder's config.json
        try:
            return cls.from_dict(data)
        except (DipHealError, TypeError) as exc:
            raise DipHealError(f"{where}{exc}") from None

    def replace(self, **changes: Any) -> "FitConfig":
        """A copy with some fields changed (validated again)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise DipHealError(f"unknown FitConfig key(s) {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str = "default", **changes: Any) -> "FitConfig":
        """A named preset, optionally with changes.

        ``faithful`` is the seed configuration exactly (5 x 128 skip net without skip
        channels, meshgrid input, Adam lr 0.01, reg_noise_std 0.03, MSE, 3000 iterations,
        the length of the reference curves). ``default`` is what :func:`dip_heal.fit` uses
        when given no config; see ``benchmarks/README.md`` for why it wins.
        """
        if name not in PRESETS:
            raise DipHealError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
        base = dict(PRESETS[name])
        base.update(changes)
        base["preset_name"] = name
        return cls(**base)

    # ----------------------------------------------------------------- the command line
    @staticmethod
    def cli_changes(**flags: Any) -> dict[str, Any]:
        """The fields that ``dip-heal fit``'s flags set (a flag given as None was not given).

        Parameters
        ----------
        **flags
            ``iters``, ``lr``, ``param_noise``, ``reg_noise_std``, ``snapshot_every``, ``seed``,
            ``time_limit``, ``ensemble`` (:data:`CLI_FLAGS`).

        Examples
        --------
        >>> FitConfig.cli_changes(iters=50, lr=None)
        {'num_iter': 50}
        """
        unknown = sorted(set(flags) - set(CLI_FLAGS))
        if unknown:
            raise TypeError(f"unknown flag(s) {', '.join(unknown)}; expected some of {', '.join(CLI_FLAGS)}")
        return {CLI_FLAGS[k]: v for k, v in flags.items() if v is not None}

    @classmethod
    def from_cli(cls, *, preset: str | None = None, config_file: str | Path | None = None,
                 **flags: Any) -> "FitConfig":
        """The configuration ``dip-heal fit`` builds: a config file or a preset, then the flags.

        Parameters
        ----------
        preset : str, optional
            A preset name (default ``"default"``); not used with ``config_file``.
        config_file : path-like, optional
            A FitConfig JSON file (or a run's ``config.json``), see :meth:`from_json`.
        **flags
            The flags of :meth:`cli_changes`; None = not given.

        Raises
        ------
        DipHealError
            An unknown preset, an unreadable config file, a value a field refuses.
        """
        config = cls.from_json(config_file) if config_file is not None else cls.preset(preset or "default")
        changes = cls.cli_changes(**flags)
        return config.replace(**changes) if changes else config



#: ``dip-heal fit`` flags and the FitConfig fields they set.
CLI_FLAGS: dict[str, str] = {
    "iters": "num_iter", "lr": "lr", "param_noise": "param_noise", "reg_noise_std": "reg_noise_std",
    "snapshot_every": "snapshot_every", "seed": "seed", "time_limit": "time_limit", "ensemble": "ensemble",
}


# --------------------------------------------------------------------------------- validators
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_choices(cfg: FitConfig) -> None:
    """Every string option is one of its choices."""
    for name, choices in _CHOICES.items():
        value = getattr(cfg, name)
        if value not in choices:
            raise DipHealError(f"FitConfig.{name} = {value!r}; expected one of {', '.join(choices)}")


def _checked_channels(channels: Any, depth: int) -> int | tuple[int, ...]:
    """One positive integer, or one per scale (returned as a tuple)."""
    if isinstance(channels, (list, tuple)):
        chans = tuple(channels)
        if len(chans) != depth or not all(_is_int(c) and c >= 1 for c in chans):
            raise DipHealError(
                f"FitConfig.channels = {list(chans)!r}; expected one positive integer per scale "
                f"({depth} with depth {depth}) or a single integer"
            )
        return chans
    if not _is_int(channels) or channels < 1:
        raise DipHealError(f"FitConfig.channels = {channels!r}; expected a positive integer")
    return channels


def _check_integers(cfg: FitConfig) -> None:
    """Counts are positive integers; ``channels_skip``, ``patience`` and ``seed`` integers >= 0."""
    for name in ("num_iter", "depth", "kernel_size", "snapshot_every", "input_depth", "ensemble", "coarse_factor"):
        value = getattr(cfg, name)
        if not _is_int(value) or value < 1:
            raise DipHealError(f"FitConfig.{name} = {value!r}; expected a positive integer")
    for name in ("channels_skip", "patience", "seed"):
        value = getattr(cfg, name)
        if not _is_int(value) or value < 0:
            raise DipHealError(f"FitConfig.{name} = {value!r}; expected an integer >= 0")


def _check_ranges(cfg: FitConfig) -> None:
    """Rates, weights, fractions, sizes and the time limit within their ranges."""
    if not (isinstance(cfg.lr, (int, float)) and 0 < cfg.lr <= 10):
        raise DipHealError(f"FitConfig.lr = {cfg.lr!r}; expected a number in (0, 10]")
    for name in ("reg_noise_std", "param_noise_scale", "azim_weight", "friedel_weight"):
        value = getattr(cfg, name)
        if not isinstance(value, (int, float)) or value < 0 or value != value:
            raise DipHealError(f"FitConfig.{name} = {value!r}; expected a number >= 0")
    if not isinstance(cfg.lr_floor, (int, float)) or not (0.0 <= cfg.lr_floor <= 1.0):
        raise DipHealError(f"FitConfig.lr_floor = {cfg.lr_floor!r}; expected a fraction of lr in [0, 1] (e.g. 0.1)")
    if not (0.0 <= cfg.holdout_fraction < 0.5):
        raise DipHealError(f"FitConfig.holdout_fraction = {cfg.holdout_fraction!r}; expected a fraction in [0, 0.5)")
    if not _is_int(cfg.guide_azim) or cfg.guide_azim < 4:
        raise DipHealError(f"FitConfig.guide_azim = {cfg.guide_azim!r}; expected an integer >= 4")
    if not isinstance(cfg.guide_smooth, (int, float)) or not (0 <= cfg.guide_smooth <= 50):
        raise DipHealError(f"FitConfig.guide_smooth = {cfg.guide_smooth!r}; expected a number in [0, 50]")
    if not isinstance(cfg.val_tol, (int, float)) or not (0.0 <= cfg.val_tol < 1.0):
        raise DipHealError(f"FitConfig.val_tol = {cfg.val_tol!r}; expected a fraction in [0, 1) (e.g. 0.02)")
    if not isinstance(cfg.coarse_fraction, (int, float)) or not (0.0 <= cfg.coarse_fraction < 1.0):
        raise DipHealError(f"FitConfig.coarse_fraction = {cfg.coarse_fraction!r}; expected a fraction in [0, 1) "
                           "(e.g. 0.75; 0: no coarse stage)")
    if not (0.0 <= cfg.ema < 1.0):
        raise DipHealError(f"FitConfig.ema = {cfg.ema!r}; expected a number in [0, 1)")
    if cfg.kernel_size % 2 == 0:
        raise DipHealError(f"FitConfig.kernel_size = {cfg.kernel_size}; expected an odd size")
    if cfg.net_input == "meshgrid" and cfg.input_depth != 2:
        raise DipHealError(
            f"FitConfig.input_depth = {cfg.input_depth} with a meshgrid input; a meshgrid has 2 channels"
        )
    if not isinstance(cfg.time_limit, (int, float)) or not (0 <= cfg.time_limit < 1e7):
        raise DipHealError(f"FitConfig.time_limit = {cfg.time_limit!r}; expected seconds >= 0 (0: no limit)")


def _check_combinations(cfg: FitConfig) -> None:
    """Options that need held-out pixels have them."""
    if cfg.blend and cfg.holdout_fraction <= 0:
        raise DipHealError("FitConfig.blend needs held-out pixels to choose its weights; set holdout_fraction > 0")
    if cfg.select == "best_val" and cfg.holdout_fraction <= 0:
        raise DipHealError("FitConfig.select = 'best_val' needs held-out pixels; set holdout_fraction > 0 (e.g. 0.03)")


#: Named presets (fields that differ from the dataclass defaults).
PRESETS: dict[str, dict[str, Any]] = {
    # the seed report's configuration, exactly (the original DIP code's vase inpainting)
    "faithful": {},
    # the best time-to-quality measured so far on this CPU (benchmarks/README.md): a narrower
    # network at full resolution (9x less CPU time per iteration), bf16 autocast, channels-last,
    # polar and Friedel-mirror guide inputs about the beam centre, an L1 loss (the median, as
    # the L1 score and Poisson counts want), an output moving average, a blend with the
    # azimuthal and Telea fills weighted on held-out pixels as thick as the holes, and the latest
    # snapshot within 2 % of the lowest held-out L1, stopping once 8 snapshots in a row are not
    # (a flat held-out curve no longer stops the fit at an early snapshot)
    "default": {
        "channels": (32, 64, 64, 128, 128),
        "precision": "bf16",
        "channels_last": True,
        "polar_input": True,
        "mirror_input": True,
        "holdout_fraction": 0.03,
        "select": "best_val",
        "patience": 8,
        "val_tol": 0.02,
        "snapshot_every": 25,
        "num_iter": 1000,
        "loss": "l1",
        "ema": 0.95,
        "blend": True,
        # a heal ends within 14 minutes on the project's 2-core CPU, whatever the frame size
        "time_limit": 840.0,
    },
    # the default's network, fp32, plain meshgrid input: for comparisons
    "light": {
        "channels": (32, 64, 64, 128, 128),
        "holdout_fraction": 0.03,
        "select": "best_val",
        "patience": 8,
        "snapshot_every": 25,
        "num_iter": 1000,
    },
}

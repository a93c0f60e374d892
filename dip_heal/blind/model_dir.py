"""A trained blind model on disk: ``model.safetensors`` plus a JSON model card ``card.json``.

Loading never unpickles: weights come from safetensors, and network files saved by dlsia
(``{"topo_dict", "state_dict"}`` written with ``torch.save``) are read with
``torch.load(weights_only=True)`` and a fixed allow-list of the few ``torch.nn`` classes such a
topology dictionary names; anything else is refused.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import DipHealError
from ..frame import atomic_path
from .nets import ARCHITECTURES, build_net, count_parameters

__all__ = [
    "BlindModel",
    "CARD_NAME",
    "WEIGHTS_NAME",
    "CARD_FORMAT",
    "save_model",
    "load_model",
    "read_card",
    "import_dlsia",
    "default_model_dir",
]

logger = logging.getLogger(__name__)

CARD_NAME = "card.json"
WEIGHTS_NAME = "model.safetensors"
CARD_FORMAT = "dip-heal-blind/1"
DEFAULT_MODEL = "msdnet-xray-small"

from .prefill import INPUTS as _INPUTS


@dataclass
class BlindModel:
    """A network with the card that says how to feed it.

    Attributes
    ----------
    net : torch.nn.Module
        The network, in eval mode on the CPU.
    card : dict
        The model card (see :func:`save_model`).
    path : Path or None
        The model directory it came from.
    """

    net: torch.nn.Module
    card: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def in_channels(self) -> int:
        return int(self.card["hyperparameters"].get("in_channels", 1))

    @property
    def inputs(self) -> str:
        return str(self.card.get("inputs", "image+mask" if self.in_channels == 2 else "image"))

    @property
    def residual(self) -> bool:
        """The network predicts a correction added to its first input channel."""
        return bool(self.card.get("residual", False))

    @property
    def tile(self) -> tuple[int, int]:
        t = self.card.get("tile", {})
        return int(t.get("size", 256)), int(t.get("overlap", 32))

    @property
    def frame_shape(self) -> tuple[int, int] | None:
        shp = self.card.get("layout", {}).get("frame_shape")
        return None if shp is None else (int(shp[0]), int(shp[1]))


def default_model_dir() -> Path:
    """The model shipped with dip-heal (``dip_heal/models/msdnet-xray-small``)."""
    return Path(__file__).resolve().parents[1] / "models" / DEFAULT_MODEL


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    return obj


def save_model(model_dir: str | os.PathLike, net: torch.nn.Module, card: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``card.json`` into ``model_dir`` (atomically, file by file).

    The card must name ``architecture`` and ``hyperparameters`` (the keyword arguments of
    :class:`~dip_heal.blind.nets.TUNet` or :class:`~dip_heal.blind.nets.MSDNet`); ``format``
    and ``parameters`` are filled in. Other usual keys: ``inputs`` (``image`` or
    ``image+mask``), ``normalisation``, ``tile`` (``size``, ``overlap``), ``layout``
    (``detector``, ``frame_shape``), ``training`` and ``validation`` (``l1``, ``pearson_r``).

    Returns
    -------
    Path
        The model directory.
    """
    from safetensors.torch import save_file

    out = Path(model_dir)
    if out.exists() and not out.is_dir():
        raise DipHealError(f"model directory {out} is a file; expected a directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    card = dict(card)
    for key in ("architecture", "hyperparameters"):
        if key not in card:
            raise DipHealError(f"model card lacks {key!r}; expected architecture and hyperparameters")
    card["format"] = CARD_FORMAT
    card["parameters"] = count_parameters(net)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(out / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": CARD_FORMAT, "architecture": str(card["architecture"])})
    with atomic_path(out / CARD_NAME) as tmp:
        tmp.write_text(json.dumps(_jsonable(card), indent=1, sort_keys=False) + "\n")
    for name in (WEIGHTS_NAME, CARD_NAME):  # temporary files are created private; models are shared
        os.chmod(out / name, 0o644)
    return out


def read_card(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``card.json`` of a model directory.

    Raises
    ------
    DipHealError
        When the directory or its card is missing, unreadable, or names an unknown architecture.
    """
    d = Path(model_dir)
    if not d.is_dir():
        raise DipHealError(
            f"model directory {d} does not exist; expected a folder with {CARD_NAME} and {WEIGHTS_NAME} "
            "(made by dip-heal train)"
        )
    cpath = d / CARD_NAME
    if not cpath.is_file():
        raise DipHealError(
            f"model directory {d} has no {CARD_NAME}; expected a model card beside {WEIGHTS_NAME}; "
            "train with dip-heal train or import a dlsia file with dip_heal.blind.import_dlsia"
        )
    try:
        card = json.loads(cpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DipHealError(f"model card {cpath} is not valid JSON ({exc}); expected the card written by dip-heal train") from None
    if not isinstance(card, dict):
        raise DipHealError(f"model card {cpath} holds a {type(card).__name__}; expected a JSON object")
    arch = str(card.get("architecture", "")).lower()
    if arch not in ARCHITECTURES:
        raise DipHealError(
            f"model card {cpath} names architecture {card.get('architecture')!r}; expected one of "
            f"{', '.join(ARCHITECTURES)}; this dip-heal cannot run it"
        )
    if not isinstance(card.get("hyperparameters"), dict):
        raise DipHealError(f"model card {cpath} has no 'hyperparameters' object; expected the network's keyword arguments")
    inputs = card.get("inputs", "image")
    if inputs not in _INPUTS:
        raise DipHealError(f"model card {cpath} has inputs {inputs!r}; expected one of {', '.join(_INPUTS)}")
    return card


def load_model(model_dir: str | os.PathLike | None = None) -> BlindModel:
    """Load a model directory (the shipped model when ``None``).

    Returns
    -------
    BlindModel
        The network in eval mode on the CPU and its card.

    Raises
    ------
    DipHealError
        For a missing card or weights, an unknown architecture, or weights that do not fit it.
    """
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise DipHealError("trained models need the safetensors package, which is not installed; "
                           "install it with pip install 'dip-heal[blind]'") from None

    d = Path(model_dir) if model_dir is not None else default_model_dir()
    card = read_card(d)
    wpath = d / WEIGHTS_NAME
    if not wpath.is_file():
        raise DipHealError(f"model directory {d} has no {WEIGHTS_NAME}; expected the weights beside {CARD_NAME}")
    net = build_net(card["architecture"], card["hyperparameters"])
    try:
        state = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DipHealError(f"cannot read {wpath} ({exc}); expected a safetensors file written by dip-heal") from None
    _load_state(net, state, wpath)
    net.eval()
    return BlindModel(net=net, card=card, path=d)


def _load_state(net: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(s.strip() for s in first[:2])[:300]
        raise DipHealError(
            f"weights in {where} do not fit the card's network ({detail}); expected weights saved with this card"
        ) from None


# --------------------------------------------------------------------------------------------
# dlsia network files


def _dlsia_safe_globals() -> list[Any]:
    from torch import nn

    return [
        nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.BatchNorm2d, nn.InstanceNorm2d,
        nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Identity,
    ]


def _class_name(obj: Any) -> str | None:
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    cls = obj if isinstance(obj, type) else type(obj)
    return cls.__name__


_NORM_FROM_DLSIA = {None: "none", "BatchNorm2d": "batch", "InstanceNorm2d": "instance"}
_ACT_FROM_DLSIA = {None: "none", "ReLU": "relu", "LeakyReLU": "leakyrelu", "ELU": "elu"}


def _dlsia_to_hparams(topo: dict[str, Any], state: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """Map a dlsia topology dict to our architecture name and keyword arguments."""

    def conv(name: str, expected: str) -> None:
        got = _class_name(topo.get(name))
        if got is not None and got != expected:
            raise DipHealError(f"dlsia file uses {name}={got}; expected {expected} (2-D networks only)")

    def lookup(table: dict[Any, str], key: str) -> str:
        got = _class_name(topo.get(key))
        if got not in table:
            raise DipHealError(
                f"dlsia file uses {key}={got}; expected one of {', '.join(str(k) for k in table)}"
            )
        return table[got]

    if "num_layers" in topo and "max_dilation" in topo:
        conv("convolution", "Conv2d")
        if topo.get("custom_msdnet") is not None:
            raise DipHealError("dlsia MSDNet with a custom_msdnet dilation table; expected num_layers/max_dilation networks")
        if topo.get("dropout") is not None or topo.get("final_layer") is not None:
            raise DipHealError("dlsia MSDNet with dropout or a final activation; expected neither (not supported)")
        hp = dict(
            num_layers=int(topo["num_layers"]), max_dilation=int(topo["max_dilation"]),
            layer_width=int(topo.get("layer_width", 1)), in_channels=int(topo["in_channels"]),
            out_channels=int(topo["out_channels"]), normalization=lookup(_NORM_FROM_DLSIA, "normalization"),
            activation=lookup(_ACT_FROM_DLSIA, "activation"), conv_kernel_size=int(topo.get("conv_kernel_size", 3)),
            padding_mode=str(topo.get("padding_mode", "zeros")),
        )
        return "msdnet", hp
    if "depth" in topo and "base_channels" in topo:
        conv("conv_kernel", "Conv2d")
        k = int(topo.get("maxpool_kernel_size", 2))
        if k != 2 or int(topo.get("dilation", 1)) != 1:
            raise DipHealError(
                f"dlsia TUNet with maxpool_kernel_size={k}, dilation={topo.get('dilation', 1)}; expected 2 and 1"
            )
        up = state.get("Step Up 0.weight")
        hp = dict(
            depth=int(topo["depth"]), base_channels=int(topo["base_channels"]),
            growth_rate=float(topo.get("growth_rate", 2)), hidden_rate=float(topo.get("hidden_rate", 1)),
            in_channels=int(topo["in_channels"]), out_channels=int(topo["out_channels"]),
            normalization=lookup(_NORM_FROM_DLSIA, "normalization"), activation=lookup(_ACT_FROM_DLSIA, "activation"),
            conv_kernel_size=int(topo.get("conv_kernel_size", 3)),
            up_kernel_size=int(up.shape[-1]) if up is not None else 2,
        )
        return "tunet", hp
    raise DipHealError(
        f"dlsia topology with keys {sorted(topo)[:8]}; expected a TUNet (depth, base_channels) or "
        "MSDNet (num_layers, max_dilation) network"
    )


def _load_refusal(text: str) -> str:
    """Why torch refused a file, whole: the global it blocked and torch's warning that loading it
    without ``weights_only`` can execute code (never cut off, so nobody takes the advice blindly)."""
    import re

    text = " ".join(text.split())
    blocked = re.search(r"(unsupported GLOBAL \S+|Unsupported global: GLOBAL \S+)", text)
    if "weights_only" in text and "arbitrary code execution" in text:
        what = f"it holds {blocked.group(1)}" if blocked else "it holds objects outside the allowed types"
        return (f"{what}; torch warns that loading it without weights_only can result in arbitrary code "
                "execution, so dip-heal never does")
    return text[:300]


def import_dlsia(
    path: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    card: dict[str, Any] | None = None,
) -> BlindModel:
    """Load a network file saved by dlsia's ``save_network_parameters`` without unpickling code.

    The file is read with ``torch.load(weights_only=True)``; the ``torch.nn`` classes a dlsia
    topology names (``Conv2d``, ``BatchNorm2d``, ``ReLU`` ...) are allowed, nothing else.

    Parameters
    ----------
    path : path-like
        The dlsia file (``{"topo_dict": ..., "state_dict": ...}``).
    out_dir : path-like, optional
        Also write it as a dip-heal model directory here.
    card : dict, optional
        Extra card entries (``tile``, ``layout``, ``normalisation`` ...). dlsia networks take one
        channel (``inputs = "image"``) unless the topology says otherwise.

    Returns
    -------
    BlindModel

    Raises
    ------
    DipHealError
        When the file cannot be loaded with ``weights_only=True`` (it holds other objects), is not
        a dlsia network dictionary, or describes a network dip-heal does not have.
    """
    p = Path(path)
    if not p.is_file():
        raise DipHealError(f"dlsia network file {p} does not exist; expected a file saved by save_network_parameters")
    try:
        with torch.serialization.safe_globals(_dlsia_safe_globals()):
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError ...
        reason = _load_refusal(str(exc)) or type(exc).__name__
        raise DipHealError(
            f"refusing {p}: it does not load with torch.load(weights_only=True) ({reason}); "
            "expected a dlsia network file holding only tensors, numbers and torch.nn layer classes; "
            "re-save it from dlsia as {'topo_dict': plain values, 'state_dict': tensors}"
        ) from None
    if not isinstance(obj, dict) or "topo_dict" not in obj or "state_dict" not in obj:
        keys = sorted(obj)[:6] if isinstance(obj, dict) else type(obj).__name__
        raise DipHealError(f"{p} holds {keys}; expected a dlsia network dictionary with 'topo_dict' and 'state_dict'")
    topo, state = dict(obj["topo_dict"]), dict(obj["state_dict"])
    arch, hp = _dlsia_to_hparams(topo, state)
    net = build_net(arch, hp)
    _load_state(net, state, p)
    net.eval()
    full = {
        "architecture": arch,
        "hyperparameters": hp,
        "inputs": "image+mask" if hp["in_channels"] == 2 else "image",
        "normalisation": {"kind": "log1p-max"},
        "tile": {"size": 256, "overlap": 32},
        "layout": {"detector": None, "frame_shape": None},
        "training": {"source": f"imported from dlsia file {p.name}"},
    }
    if hp["in_channels"] not in (1, 2) or hp["out_channels"] != 1:
        raise DipHealError(
            f"dlsia network with {hp['in_channels']} input and {hp['out_channels']} output channels; "
            "expected 1 (or 2 with a mask channel) in and 1 out for inpainting"
        )
    full.update(card or {})
    full["parameters"] = count_parameters(net)
    full["format"] = CARD_FORMAT
    model = BlindModel(net=net, card=full, path=None)
    if out_dir is not None:
        model.path = save_model(out_dir, net, full)
    return model

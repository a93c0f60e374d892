"""Pretrained starting weights of the DIP network, shipped in the package (``FitConfig.init = 'pretrained'``).

A folder ``dip_heal/models/dip-init-NAME/`` holds ``model.safetensors`` and ``card.json``. The
card says which network the weights are for (``signature``: the FitConfig fields that set the
network's layers, and its input channels), how they were made (data, seed, time, commit) and the
script that reproduces them (``benchmarks/train_dip_init.py``). A configuration whose network no
shipped card matches is refused with the list of what is shipped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..config import FitConfig
from ..errors import DipHealError

__all__ = ["network_signature", "pretrained_dirs", "pretrained_state", "save_pretrained", "MODELS_DIR"]

logger = logging.getLogger(__name__)

#: where the package's model folders are
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
_PREFIX = "dip-init-"
_NET_FIELDS = ("depth", "channels", "channels_skip", "kernel_size", "pad", "upsample", "act", "norm", "need1x1_up")


def network_signature(config: FitConfig, in_channels: int) -> dict[str, Any]:
    """The fields that fix the network's layers (weights fit exactly when these agree)."""
    sig = {k: getattr(config, k) for k in _NET_FIELDS}
    if isinstance(sig["channels"], tuple):
        sig["channels"] = list(sig["channels"])
    sig["in_channels"] = int(in_channels)
    return sig


def pretrained_dirs(root: Path | None = None) -> list[Path]:
    """The shipped pretrained folders (those with a card and weights), sorted by name."""
    root = MODELS_DIR if root is None else Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.startswith(_PREFIX) and (p / "card.json").is_file()
                  and (p / "model.safetensors").is_file())


def pretrained_state(config: FitConfig, in_channels: int, root: Path | None = None) -> dict[str, Any]:
    """The shipped weights for ``config``'s network with ``in_channels`` inputs.

    Raises
    ------
    DipHealError
        No shipped card matches the network, or safetensors is missing.
    """
    sig = network_signature(config, in_channels)
    found = []
    for d in pretrained_dirs(root):
        card = json.loads((d / "card.json").read_text())
        found.append(d.name)
        if card.get("signature") == sig:
            try:
                from safetensors.torch import load_file
            except ImportError:
                raise DipHealError("FitConfig.init = 'pretrained' needs the safetensors package; "
                                   "pip install safetensors") from None
            logger.info("starting from the pretrained weights %s", d.name)
            return load_file(str(d / "model.safetensors"))
    raise DipHealError(
        f"FitConfig.init = 'pretrained' but no shipped weights fit this network ({sig}); shipped: "
        f"{', '.join(found) or 'none'}; use init = 'random' or the default preset's network"
    )


def save_pretrained(out_dir: Path, state: dict[str, Any], config: FitConfig, in_channels: int,
                    card: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``card.json`` (with the network's signature) into ``out_dir``."""
    from safetensors.torch import save_file

    from ..frame import atomic_path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    full = {"format": "dip-heal-dip-init/1", "signature": network_signature(config, in_channels), **card}
    with atomic_path(out_dir / "card.json") as tmp:
        tmp.write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return out_dir

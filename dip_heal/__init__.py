"""dip-heal: heal X-ray scattering detector images with a Deep Image Prior.

Importing the package is cheap: torch, optuna and matplotlib load only when a function that
needs them is used.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dip-heal")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "Frame",
    "read_image",
    "write_image",
    "MaskSpec",
    "build_mask",
    "FitConfig",
    "FitResult",
    "fit",
    "heal",
    "composite_native",
    "DipHealError",
]

_LAZY = {
    "Frame": "dip_heal.io",
    "read_image": "dip_heal.io",
    "write_image": "dip_heal.io",
    "MaskSpec": "dip_heal.masks",
    "build_mask": "dip_heal.masks",
    "FitConfig": "dip_heal.config",
    "FitResult": "dip_heal.dip",
    "fit": "dip_heal.dip",
    "heal": "dip_heal.api",
    "composite_native": "dip_heal.frame",
    "DipHealError": "dip_heal.errors",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dip_heal' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

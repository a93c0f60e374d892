"""Trained blind inpainting models (TUNet, MSDNet) for bulk healing (optional extra ``blind``).

Chavez et al. (2022) train networks on frames with artificially pasted module gaps and heal
new frames in one forward pass. This subpackage builds the networks
(:class:`~dip_heal.blind.nets.TUNet`, :class:`~dip_heal.blind.nets.MSDNet`), tiles frames of any
size (:func:`~dip_heal.blind.tiling.predict_tiled`), trains (:func:`~dip_heal.blind.train.train`),
stores models as safetensors plus a JSON card (:mod:`~dip_heal.blind.model_dir`), and heals
frames (:func:`~dip_heal.blind.bulk.heal_with_model`, :func:`~dip_heal.blind.bulk.bulk`).

It needs torch, numpy and safetensors (``pip install 'dip-heal[blind]'``); the core of dip-heal
never imports it.
"""

from __future__ import annotations

try:
    import safetensors  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "dip_heal.blind needs safetensors; install with pip install 'dip-heal[blind]'"
    ) from _exc

from .bulk import BulkSummary, bulk, heal_with_model, predict
from .model_dir import BlindModel, default_model_dir, import_dlsia, load_model, read_card, save_model
from .nets import MSDNet, TUNet, build_net, count_parameters
from .tiling import predict_tiled
from .train import TrainConfig, TrainFrame, TrainResult, synthetic_training_frames, load_training_frames, train

__all__ = [
    "TUNet",
    "MSDNet",
    "build_net",
    "count_parameters",
    "predict_tiled",
    "BlindModel",
    "load_model",
    "save_model",
    "read_card",
    "import_dlsia",
    "default_model_dir",
    "TrainConfig",
    "TrainFrame",
    "TrainResult",
    "train",
    "synthetic_training_frames",
    "load_training_frames",
    "predict",
    "heal_with_model",
    "bulk",
    "BulkSummary",
]

"""How the model shipped with dip-heal (``dip_heal/models/msdnet-xray-small``) was trained.

Run ``python -m dip_heal.blind.recipe OUT_DIR [DATA_DIR]`` to train it again (about 40 minutes
on two CPU threads). The net sees the directional fill of the holes, the ring-averaged model of
the measured pixels about the estimated beam centre, and the hole mask
(``prefill+azimuthal+mask``). Training frames: the project's own synthetic frames
(:mod:`dip_heal.synthetic`) and every real frame of the shared data folder that no benchmark
case scores (issue 21): neither the dev cases' frames (``cases-dev.json``: corkcont2, F2K,
musclex 107.tif, duke, HDPE, saxslab, Cr8F8, and their ttq crops) nor the frames of
``benchmarks/cases-p1-full.json`` (musclex P1_F1) and ``benchmarks/cases-gisaxs.json``
(BornAgain's galaxi frame). Each source's licence is recorded in :data:`REAL_SOURCES` and the
model card; the frames themselves are never shipped.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from .train import TrainConfig, TrainResult, load_training_frames, synthetic_training_frames, train

__all__ = ["SHIPPED_CONFIG", "REAL_SOURCES", "train_shipped_model"]

#: Real frames used (relative to the shared data folder), with provenance and licence (SOURCES.md).
REAL_SOURCES: list[dict[str, str]] = [
    {"file": "musclex/Mn23-1_30umThick_20umStep_1s_diffScan_0167.tif", "source": "github biocatiit/musclex",
     "licence": "MIT-style", "detector": "PILATUS3 1M"},
    {"file": "sasdata/BAM_2D.h5", "source": "PyPI sasdata 0.11.0 example data", "licence": "BSD-3-Clause",
     "detector": "EIGER 1M layout (reduced NXcanSAS)"},
    {"file": "fabio_history/run2_1_00148.cbf.bz2", "source": "fabio history", "licence": "GPLv3+",
     "detector": "PILATUS 6M"},
    {"file": "pywaxs/LaB6_5.6m_12.7keV_corrected_1150.1s_x-1.601_th0.500_5.00s_1116949_maxs.tiff",
     "source": "github ToneyGroupCU/pyWAXS", "licence": "none stated", "detector": "PILATUS 1M"},
    {"file": "bioxtasraw/vac_007_data_000001.h5", "source": "bioxtasraw", "licence": "GPL-3.0",
     "detector": "EIGER2 9M"},
    {"file": "bioxtasraw/GI2_A9_19_001_0000.tiff", "source": "bioxtasraw", "licence": "GPL-3.0",
     "detector": "PILATUS 100K"},
    {"file": "dials_data_files/DLS_I03_smargon_0001.cbf.gz", "source": "github dials/data-files",
     "licence": "none stated", "detector": "PILATUS 6M"},
]

#: The training configuration of the shipped model.
SHIPPED_CONFIG = TrainConfig(
    arch="msdnet",
    net={"num_layers": 40, "max_dilation": 10, "layer_width": 1, "normalization": "none"},
    detector="Pilatus1M",
    crop=128,
    batch=8,
    steps=2400,
    lr=1e-3,
    lr_step=800,
    lr_gamma=0.5,
    val_crops=48,
    val_every=100,
    inputs="prefill+azimuthal+mask",
    residual_init=0.1,
    truth_targets=False,
    tile=256,
    overlap=32,
    seed=20261122,
    frame_shape=None,
)


def train_shipped_model(
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    *,
    config: TrainConfig = SHIPPED_CONFIG,
    n_synthetic: int = 24,
    n_val: int = 6,
    progress: bool = False,
) -> TrainResult:
    """Train the shipped MSDNet: synthetic frames plus the real frames no benchmark case scores.

    Parameters
    ----------
    out_dir : path-like
        Model directory to write.
    data_dir : path-like
        The folder holding ``musclex/`` (``../shared/data`` in the project's workspace).
    config : TrainConfig
    n_synthetic, n_val : int
        Synthetic training and validation frames (512 x 512, the four kinds, peak counts from
        300 to 300 000).
    progress : bool

    Returns
    -------
    TrainResult
    """
    import torch

    torch.set_num_threads(2)
    data = Path(data_dir)
    real = load_training_frames([data / s["file"] for s in REAL_SOURCES])
    frames = synthetic_training_frames(n_synthetic, shape=(512, 512), seed=config.seed) + real
    val = synthetic_training_frames(n_val, shape=(512, 512), seed=config.seed + 1)
    extra: dict[str, Any] = {
        "name": "msdnet-xray-small",
        "description": "Small MSDNet that corrects a row/column interpolation of the holes, seeing the "
                       "ring-averaged model of the frame beside it; trained on CPU (two threads) for "
                       "dip-heal bulk's default model.",
        "sources": [
            {"file": "synthetic", "source": "dip_heal.synthetic.synthetic_frame (saxs, waxs, fibre, gisaxs)",
             "licence": "BSD-3-Clause (this project)", "frames": n_synthetic + n_val},
            *REAL_SOURCES,
        ],
        "held_out_dev_cases": ["corkcont2", "f2k_rings", "fibre107", "duke", "hdpe2m", "saxslab300k", "cr8f8"],
        "held_out_frames": ["musclex/P1_F1_tet_1_100_005_0001.tif (benchmarks/cases-p1-full.json)",
                            "bornagain/galaxi_data.tif.gz (benchmarks/cases-gisaxs.json)"],
        "recipe": "python -m dip_heal.blind.recipe OUT_DIR DATA_DIR (dip_heal.blind.recipe.train_shipped_model)",
    }
    return train(frames, out_dir, config, val_frames=val, progress=progress, resume=True, card_extra=extra)


if __name__ == "__main__":  # pragma: no cover - the recipe itself
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if len(sys.argv) < 2:
        print("usage: python -m dip_heal.blind.recipe OUT_DIR [DATA_DIR]", file=sys.stderr)
        raise SystemExit(2)
    shared = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[3] / "shared" / "data"
    res = train_shipped_model(sys.argv[1], shared)
    v = res.model.card["validation"]
    print(f"wrote {res.model_dir}: validation L1 {v['l1']:.5f} (start {v['l1_at_start']:.5f}), r {v['pearson_r']:.4f}")

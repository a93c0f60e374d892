"""Shared fixtures: tiny seeded frames, the shared real-data folder, and CPU-only torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DIP_HEAL_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(rel: str) -> Path:
    """Path of a real frame in ../shared/data; skip the test when it is absent."""
    p = SHARED_DATA / rel
    if not p.exists():
        pytest.skip(f"real data {rel} not available (../shared/data absent)")
    return p


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run on the CPU even where a GPU is present."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    try:
        import torch

        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def detector_image() -> tuple[np.ndarray, np.ndarray]:
    """A 64x64 float32 ring pattern with a cross-shaped module gap and a beamstop disk.

    Returns ``(image, heal)``: counts with holes set to -1 and the bool mask of pixels to heal.
    """
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(yy - 30.5, xx - 33.0)
    lam = 2000.0 / (1.0 + r) ** 1.5 + 80.0 * np.exp(-((r - 18.0) / 2.0) ** 2) + 2.0
    image = rng.poisson(lam).astype(np.float32)
    heal = np.zeros((64, 64), bool)
    heal[40:44, :] = True
    heal[:, 20:23] = True
    heal |= r < 4
    image[heal] = -1
    return image, heal

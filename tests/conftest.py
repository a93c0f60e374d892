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


def tiny_sweep_run(folder, *, seed: int, band: tuple, snapshot_every: int, extra_params: str = "",
                   prune: bool = False):
    """Run a finished 2-trial grid sweep (tiny nets) on a 48x48 int32 synthetic frame.

    ``band`` is a pair of slices set to -1 (healed) besides the beamstop; returns the run folder.
    The frame is ``folder / "frame.npy"``. Unpruned (every trial complete) unless ``prune``.
    """
    import torch

    from dip_heal.sweeps import run_sweep
    from dip_heal.synthetic import synthetic_frame

    grid = (
        'sampler = "grid"\n[config]\ndepth = 2\nchannels = 8\nnum_iter = 6\n'
        f"snapshot_every = {snapshot_every}\nholdout_fraction = 0.05\n"
        f"[params]\nlr = [1e-3, 1e-2]\n{extra_params}seed = [0]\n"
    )
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        f = synthetic_frame((48, 48), detector=None, seed=seed)
        counts = f.counts.copy()
        counts[f.beamstop] = -1
        counts[band] = -1
        np.save(folder / "frame.npy", counts)
        (folder / "s.toml").write_text(grid)
        run_sweep(folder / "frame.npy", folder / "run", sweep_file=folder / "s.toml", prune=prune)
    finally:
        torch.set_num_threads(n)
    return folder / "run"


def ring_pattern(shape=(64, 64), cx=33.0, cy=30.5):
    """A smooth SAXS-like pattern about (cx, cy): a power-law decay and one ring (float64)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(yy - cy, xx - cx)
    return (2000.0 / (1.0 + r) ** 1.5 + 80.0 * np.exp(-(((r - 18.0) / 2.0) ** 2)) + 2.0).astype(np.float64)


def cross_gap(shape=(64, 64)):
    """A horizontal 4-px and a vertical 3-px gap crossing (True = heal)."""
    heal = np.zeros(shape, bool)
    heal[40:44, :] = True
    heal[:, 20:23] = True
    return heal

"""The process a fit runs in: device choice, CPU allocator tuning, seeding (the one copy)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .errors import DipHealError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["pick_device", "tune_cpu_allocator", "seed_all", "torch_threads"]

logger = logging.getLogger(__name__)


def pick_device(device: "str | torch.device | None" = None, *, mps: bool = True) -> "torch.device":
    """Resolve a device: the one given, else CUDA when present, else MPS (when ``mps``), else the CPU.

    Parameters
    ----------
    device : str or torch.device, optional
        ``cpu``, ``cuda``, ``cuda:N``, ``mps``; None or ``auto`` chooses.
    mps : bool
        Whether the automatic choice may take Apple's MPS (the blind models' training does not).

    Raises
    ------
    DipHealError
        An unknown device, or CUDA asked for where there is none.
    """
    import torch

    if device is not None and str(device) != "auto":
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise DipHealError(f"unknown device {device!r}; expected cpu, cuda, cuda:N, mps or auto") from exc
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DipHealError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    backend = getattr(torch.backends, "mps", None)
    if mps and backend is not None and backend.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process (glibc): about 1.9x faster fits of big frames on a CPU.

    glibc's ``malloc`` serves every block over 32 MB with ``mmap`` and unmaps it on ``free``, so
    the activation buffers of a big frame are faulted in again at every iteration (on a PILATUS
    1M frame 40 % of the fit's CPU time was system time). This turns ``mmap`` off and the heap
    trimming threshold up, for the whole process: the default preset then takes 2.61 instead of
    4.93 s per iteration on a 1043x981 frame, for 25 % more peak memory (3.77 against 3.01 GB).
    The command-line interface calls it; library users may. Set the environment variable
    ``DIP_HEAL_NO_MALLOC_TUNING=1`` to leave the allocator alone.

    Returns
    -------
    bool
        Whether the settings were applied (False off Linux/glibc or when opted out).
    """
    import ctypes
    import os
    import sys

    if os.environ.get("DIP_HEAL_NO_MALLOC_TUNING") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        ok = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):  # not glibc
        return False
    if ok:
        logger.debug("glibc malloc: mmap off, trim threshold 2 GiB (DIP_HEAL_NO_MALLOC_TUNING=1 to disable)")
    return ok


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def torch_threads() -> int:
    """CPU threads torch computes with: a seeded fit reproduces bit for bit at the same count (recorded)."""
    import torch

    return int(torch.get_num_threads())

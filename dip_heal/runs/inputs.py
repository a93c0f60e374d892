"""A run's inputs: the frame and the pixels to heal, checked once for a fit and a sweep."""

from __future__ import annotations

import logging
import os

import numpy as np

from ..errors import DipHealError, NothingToHeal
from ..frame import Frame

__all__ = ["load_frame_and_mask", "check_heal"]

logger = logging.getLogger(__name__)


def load_frame_and_mask(
    image_path: str | os.PathLike,
    mask_path: str | os.PathLike | None = None,
    *,
    mask_convention: str | None = None,
) -> tuple[Frame, np.ndarray]:
    """Read a frame and the pixels to heal.

    The heal mask is the mask file's pixels (True = heal) plus every pixel the frame itself marks
    invalid (sentinels, NaN): those are never fitted as if they were measurements. Without a mask
    file, the frame's invalid pixels are healed.

    Raises
    ------
    DipHealError
        Unreadable frame or mask, mask of another shape, a frame without valid pixels.
    """
    from ..io import read_image

    frame = read_image(image_path)
    if not frame.valid.any():
        raise DipHealError(
            f"{image_path}: the frame holds no valid pixel (all sentinels or NaN); expected measured pixels; "
            "check that this is the right frame"
        )
    if mask_path is not None:
        from ..masks import read_mask

        heal = read_mask(mask_path, frame.shape, convention=mask_convention)
        extra = ~frame.valid & ~heal
        if extra.any():
            logger.info("%d invalid pixels outside the mask are healed too", int(extra.sum()))
        heal = heal | ~frame.valid
    else:
        heal = ~frame.valid
        logger.info("no --mask: healing the frame's %d invalid pixels", int(heal.sum()))
    return frame, heal


def check_heal(heal: np.ndarray, image_path: str | os.PathLike, mask_path: str | os.PathLike | None) -> None:
    """Refuse a heal mask that selects nothing, or everything.

    Raises
    ------
    NothingToHeal
        No pixel to heal.
    DipHealError
        Every pixel to heal (no measured pixel to fit).
    """
    if not heal.any():
        raise NothingToHeal(f"{image_path}: the mask selects no pixel to heal and the frame has no invalid pixel")
    if heal.all():
        raise DipHealError(
            f"{mask_path or image_path}: the mask heals every pixel; expected some measured pixels to fit; "
            "check the mask polarity (--mask-convention)"
        )

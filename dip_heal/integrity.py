"""Refuse broken frames: truncated files and short data streams are errors, never measured zeros.

fabio pads a short EDF data block with zeros and only logs "Data stream is incomplete"; a gzip
stream cut short can come back as an all-zero frame without a word; a truncated TIFF comes back
as an empty array. :func:`check_compressed` checks a compressed stream end to end before fabio
reads it, :func:`fabio_guard` turns fabio's log records that mean missing data into a
:class:`~dip_heal.errors.DipHealError`, and :func:`truncation_detail` says how many bytes were
found and how many the header expects.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import logging
import re
import zlib
from pathlib import Path
from typing import Iterator

from .errors import DipHealError

logger = logging.getLogger(__name__)

__all__ = ["check_compressed", "fabio_guard", "truncation_detail", "missing_data_error"]

# fabio log messages that mean part of the data is missing or corrupt
MISSING_DATA = re.compile(r"incomplete|truncat|checksum|no tiff reader managed|not processed|premature|"
                      r"end of (file|stream)|unexpected eof", re.I)

_FIX = "expected a complete file; copy or download it again"


def check_compressed(path: Path) -> None:
    """Read a ``.gz``/``.bz2`` stream to its end; a stream cut short raises.

    Raises
    ------
    DipHealError
        The compressed stream ends early or is corrupt.
    """
    name = path.name.lower()
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else None
    if opener is None:
        return
    n = 0
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                n += len(chunk)
    except (EOFError, OSError, zlib.error, ValueError) as exc:
        raise DipHealError(
            f"{path}: the compressed stream is cut short or corrupt after {n} decompressed bytes "
            f"({path.stat().st_size} compressed bytes in the file; {type(exc).__name__}); {_FIX}"
        ) from None


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def fabio_guard(path: Path) -> Iterator[_Records]:
    """Collect fabio's warnings while reading ``path``; on exit, raise if one means missing data."""
    handler = _Records()
    log = logging.getLogger("fabio")
    log.addHandler(handler)
    propagate, log.propagate = log.propagate, False  # fabio's own lines would clutter a one-line error
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
    for m in handler.messages:
        logger.debug("fabio said: %s", m)
    bad = [m for m in handler.messages if MISSING_DATA.search(m)]
    if bad:
        raise missing_data_error(path, bad[0])


def missing_data_error(path: Path, said: str) -> DipHealError:
    """The one-line error for a file whose data are incomplete, with the byte counts where known."""
    detail = truncation_detail(path)
    m = re.search(r"(\d+)\s*<\s*expected\s*(\d+)\s*bytes", said)
    if m:
        detail = f"{m.group(1)} data bytes found, {m.group(2)} expected"
    elif "checksum" in said.lower() and not detail:
        detail = "the binary section fails its checksum"
    return DipHealError(f"{path}: the file is truncated or corrupt ({detail or said.strip()[:120]}); {_FIX}")


def truncation_detail(path: Path) -> str:
    """``"N bytes found, M expected"`` for an uncompressed CBF or TIFF/MarCCD, else ``""``."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if head[:4] in (b"II*\x00", b"MM\x00*"):
                return _tiff_detail(path, size)
            fh.seek(0)
            data = fh.read()
    except OSError:
        return ""
    start = data.find(b"\x0c\x1a\x04\xd5")
    m = re.search(rb"X-Binary-Size:\s*(\d+)", data[: max(start, 0) or 65536])
    if start >= 0 and m:
        found = size - (start + 4)
        end = data.find(b"--CIF-BINARY-FORMAT-SECTION--", start)
        if end >= 0:
            found = end - (start + 4)
        want = int(m.group(1))
        if found < want:
            return f"{found} data bytes found, {want} expected"
    return ""


def _tiff_detail(path: Path, size: int) -> str:
    try:
        import tifffile

        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            ends = [o + c for o, c in zip(page.dataoffsets, page.databytecounts)]
    except Exception:  # a header too broken to parse: no figure to give
        return ""
    want = max(ends) if ends else 0
    if size < want:
        return f"{size} bytes found, {want} expected"
    return ""

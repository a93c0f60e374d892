"""Read and write detector frames: CBF, EDF, TIFF, mar345, MarCCD, Bruker, EIGER/NeXus HDF5,
NXcanSAS, NPY, PNG/JPEG.

Every reader returns a :class:`~dip_heal.frame.Frame`: the array as stored (``raw``), float32
intensities (``data``), the pixels that hold a measurement (``valid``), masks stored in the file
and the header. Parsing is left to fabio (detector formats), h5py + hdf5plugin (HDF5, including
bitshuffle-LZ4 EIGER data), Pillow (PNG/JPEG) and numpy (NPY).

Sentinels (pixels that are not measurements, so ``valid`` is False):

- signed integers: negative values (PILATUS module gaps ``-1``, bad pixels ``-2``);
- ``uint32``/``uint64``: ``2**bits - 1`` always (EIGER fills masked pixels with it; no counter
  reaches 4294967295 in one frame);
- ``uint16``/``uint8``: ``2**bits - 1`` only for HDF5 (EIGER/NeXus) sources. A CCD (MarCCD,
  FReLoN, Rayonix, ...) legitimately saturates at 65535, so for TIFF/EDF/MarCCD/... a pixel at
  65535 stays valid (mask saturated pixels explicitly if they must not be used);
- floats: NaN and +/-inf;
- NXcanSAS ``Imask`` True, and NeXus ``pixel_mask & 0xFFFF`` non-zero.

The package, one concern per module: :mod:`~dip_heal.io.formats` (extensions, magic bytes,
selectors), :mod:`~dip_heal.io.frames` (raw array -> Frame; validity from
:mod:`dip_heal.detectors` only), one reader module per family (:mod:`~dip_heal.io.fabio_formats`,
:mod:`~dip_heal.io.hdf5`, :mod:`~dip_heal.io.npy`, :mod:`~dip_heal.io.pictures`),
:mod:`~dip_heal.io.read` (the dispatch) and :mod:`~dip_heal.io.write`.
"""

from __future__ import annotations

from ..detectors import detector_name
from ..frame import Frame
from .formats import READ_FORMATS, WRITE_FORMATS, split_selector  # noqa: F401  (used by cli, outputs, blind)
from .read import read_image
from .write import output_path_like, write_image

__all__ = [
    "Frame",
    "read_image",
    "write_image",
    "output_path_like",
    "detector_name",
    "READ_FORMATS",
    "WRITE_FORMATS",
]

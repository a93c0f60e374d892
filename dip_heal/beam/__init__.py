"""Direct-beam position, beamstop and beamstop-holder detection.

The beam centre is found from the pattern's centrosymmetry (Friedel symmetry of scattering):
the log image is compared with itself rotated by 180 degrees about every candidate centre at once,
with masked FFT convolutions (Padfield's masked correlation), first on a binned image, then on a
full-resolution window around the first estimate, with a sub-pixel parabolic refinement. The
beamstop is the dark connected region at the centre; its holder is the thin dark band that leaves
the beamstop for the frame edge.
"""

from __future__ import annotations

from .beamstop import find_beamstop
from .center import BeamCenter, background_level, estimate_center, find_center, log_image
from .holder import find_holder
from .morphology import grow, shrink

__all__ = ["BeamCenter", "background_level", "estimate_center", "find_center", "find_beamstop", "find_holder", "log_image", "grow", "shrink"]

"""Direct-beam position, beamstop and beamstop-holder detection.

The beam centre (:func:`find_center`) is the best of three independent searches, each refined on
the variance a radial profile explains (smooth and ring parts): the centre of best radial
profile (rings, isotropic SAXS), the point most strong edges point at (gradient voting) and the
point of best 180-degree symmetry (masked FFT correlations, Padfield's masked correlation:
fibres, anisotropic SAXS); it reports a confidence and flags itself unsure. A CCD's dark offset
is the frame's zero and the dead corners of a round active area are left out. The beamstop is
the dark connected region at the centre; its holder is the thin dark band that leaves the
beamstop for the frame edge.
"""

from __future__ import annotations

from .beamstop import find_beamstop
from .center import BeamCenter, background_level, estimate_center, find_center, log_image
from .holder import find_holder
from .morphology import grow, shrink

__all__ = ["BeamCenter", "background_level", "estimate_center", "find_center", "find_beamstop", "find_holder",
           "log_image", "grow", "shrink"]

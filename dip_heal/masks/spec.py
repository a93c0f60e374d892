"""The mask recipe: :class:`MaskSpec` (JSON round trip) and the specs shipped with dip-heal."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import DipHealError, FlagError
from ..flags import parse_floats, parse_points
from ..frame import atomic_path
from .shapes import check_shape

__all__ = ["MaskSpec", "SPECS_DIR", "shipped_specs", "shipped_spec_path"]


@dataclass(frozen=True)
class MaskSpec:
    """A reproducible mask recipe (JSON round-trip with :meth:`to_json` / :meth:`from_json`).

    Attributes
    ----------
    detector : str
        ``"auto"`` (reader's name, then header, then frame shape), ``"none"`` (no module
        geometry) or a detector name pyFAI knows (``"Pilatus2M"``, ``"PILATUS3 1M"``, ...).
    gaps : bool
        Mask the detector's module gaps (pyFAI geometry); PILATUS stores them as 0 by default.
    sentinels : bool
        Mask format sentinels: negative integers (-1 gap, -2 bad), ``2**bits - 1`` of unsigned
        data (EIGER), NaN/inf, exact -1/-2 in float data.
    overflow : bool
        Also mask PILATUS overflow ``2**20 - 1`` and values at/above the header's Count_cutoff.
    file_masks : bool
        Mask pixels flagged by masks stored in the file (NXmx ``pixel_mask`` bits, NXcanSAS
        ``Imask``).
    pixel_mask_bits : int
        NXmx bits that mean "heal" (default 0xFFFF: gap, dead, under/over-responding, noisy,
        cluster, user, as NXmx asks software to ignore).
    stripes : bool
        Mask rows/columns that are (nearly) all zero (the seed project's rule) or flat
        (constant filler, e.g. the border rows of reduced data).
    stripe_fraction : float
        A row/column is empty when fewer than this fraction of its valid pixels are non-zero
        (and it looks like a gap, see :func:`dip_heal.masks.finders.empty_stripes`).
    beamstop : str
        ``"auto"`` (find the dark region at the beam, per frame) or ``"none"``.
    beam_center : (x, y) or None
        Beam position for the beamstop search; None = estimated from the pattern (or the PONI's).
    poni : str or None
        A pyFAI calibration (``.poni``) of the detector: its beam centre replaces the estimate,
        its detector names the module gaps when ``detector`` is ``"auto"``, and a frame of
        another shape is refused. Not with ``beam_center``.
    geometry : dict or None
        What the PONI held when the mask was built (:meth:`dip_heal.geometry.Geometry.record`:
        path, SHA-256, distance, centre, tilt, wavelength); written into the recipe by
        ``dip-heal mask``, for the record (not read back).
    beamstop_margin : int
        Pixels added around the automatic beamstop (penumbra).
    holder : str
        ``"auto"`` (default: the thin dark band from the beamstop to the edge, where it is found
        with confidence) or ``"none"``.
    hot_pixels : bool
        Mask isolated pixels far above their 3x3 neighbourhood median.
    hot_sigma : float
        Threshold of the hot-pixel test, in Poisson standard deviations of the local median.
    dilate : int
        Margin in pixels added around every masked region (before ``edits``).
    shapes : tuple of dict
        User shapes applied before the dilation (see :func:`apply_shape` for the keys).
    edits : tuple of dict
        Editor operations applied last, exactly as drawn (no dilation).
    ignore_zero_border : bool
        Put zero-valued pixels outside the convex hull of the non-zero ones (outside a round
        CCD's active area) in the ``"ignore"`` layer instead of healing them (as ``active_area="on"``).
    active_area : str
        The round active area of a CCD: ``"auto"`` (default: the zero border is ignored when the
        frame's four corners are exactly zero), ``"on"`` or ``"off"``.
    """

    detector: str = "auto"
    gaps: bool = True
    sentinels: bool = True
    overflow: bool = True
    file_masks: bool = True
    pixel_mask_bits: int = 0xFFFF
    stripes: bool = True
    stripe_fraction: float = 0.01
    beamstop: str = "auto"
    beam_center: tuple[float, float] | None = None
    beamstop_margin: int = 1
    holder: str = "auto"
    hot_pixels: bool = False
    hot_sigma: float = 8.0
    dilate: int = 0
    shapes: tuple[dict, ...] = field(default_factory=tuple)
    edits: tuple[dict, ...] = field(default_factory=tuple)
    ignore_zero_border: bool = False
    poni: str | None = None
    geometry: dict | None = None
    active_area: str = "auto"

    def __post_init__(self) -> None:
        if self.active_area not in ("auto", "on", "off"):
            raise DipHealError(f"active_area={self.active_area!r}; expected 'auto', 'on' or 'off'; "
                               "use 'auto' to find a round CCD's dead corners")
        if self.beamstop not in ("auto", "none"):
            raise DipHealError(f"beamstop={self.beamstop!r}; expected 'auto' or 'none'; draw shapes for a fixed one")
        if self.holder not in ("auto", "none"):
            raise DipHealError(f"holder={self.holder!r}; expected 'auto' or 'none'; draw a polygon for a fixed one")
        if self.dilate < 0 or self.beamstop_margin < 0:
            raise DipHealError(
                f"dilate={self.dilate}, beamstop_margin={self.beamstop_margin}; expected >= 0; use 0 for none"
            )
        if not 0 <= self.stripe_fraction < 1:
            raise DipHealError(f"stripe_fraction={self.stripe_fraction}; expected 0 <= f < 1; try 0.01")
        if self.beam_center is not None:
            bc = tuple(float(v) for v in self.beam_center)
            if len(bc) != 2:
                raise DipHealError(f"beam_center={self.beam_center!r}; expected (x, y); give two numbers")
            object.__setattr__(self, "beam_center", bc)
        if self.poni is not None:
            if not isinstance(self.poni, (str, os.PathLike)) or not str(self.poni):
                raise DipHealError(f"poni={self.poni!r}; expected the path of a .poni file; fix the spec")
            object.__setattr__(self, "poni", str(self.poni))
            if self.beam_center is not None:
                raise DipHealError(
                    f"both a beam centre {self.beam_center} and a PONI ({self.poni}) given; expected one "
                    "(the PONI holds the beam centre); drop --center or --poni"
                )
        object.__setattr__(self, "shapes", tuple(check_shape(s) for s in self.shapes))
        object.__setattr__(self, "edits", tuple(check_shape(s) for s in self.edits))
        if self.detector.lower() not in ("auto", "none", ""):
            from ..detectors import canonical_name

            canonical_name(self.detector)  # raises, listing the known detectors

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["shapes"] = [dict(s) for s in self.shapes]
        d["edits"] = [dict(s) for s in self.edits]
        d["beam_center"] = list(self.beam_center) if self.beam_center is not None else None
        return {"dip_heal_mask_spec": 1, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MaskSpec":
        """Build from :meth:`to_dict` output; unknown keys raise, listing the known ones."""
        d = dict(d)
        d.pop("dip_heal_mask_spec", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise DipHealError(
                f"unknown mask-spec keys {unknown}; expected some of {sorted(names)}; fix the spec file"
            )
        for k in ("shapes", "edits"):
            if k in d:
                d[k] = tuple(d[k] or ())
        if d.get("beam_center") is not None:
            d["beam_center"] = tuple(d["beam_center"])
        return cls(**d)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The spec as JSON text; also written (atomically) to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with atomic_path(path) as tmp:
                tmp.write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> "MaskSpec":
        """Read a spec from JSON text or a ``.json`` file."""
        s = str(text_or_path)
        where = ""
        if not s.lstrip().startswith("{"):
            p = Path(s)
            if not p.exists():
                p = shipped_spec_path(s)
            where = f"{p}: "
            s = p.read_text()
        try:
            d = json.loads(s)
        except json.JSONDecodeError as exc:
            raise DipHealError(f"{where}mask spec is not valid JSON ({exc}); expected a JSON object; fix the file") from None
        if not isinstance(d, dict):
            raise DipHealError(f"{where}mask spec is a JSON {type(d).__name__}; expected an object; fix the file")
        try:
            return cls.from_dict(d)
        except DipHealError as exc:
            raise DipHealError(f"{where}{exc}") from None

    def replace(self, **changes: Any) -> "MaskSpec":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_flags(
        cls,
        spec_file: str | os.PathLike | None = None,
        *,
        detector: str | None = None,
        beamstop_rect: str | None = None,
        beamstop_below: str | None = None,
        beamstop_circle: str | None = None,
        holder: str | None = None,
        holder_width: float = 10.0,
        auto_beamstop: bool | None = None,
        auto_holder: bool | None = None,
        active_area: bool | None = None,
        center: str | None = None,
        poni: str | os.PathLike | None = None,
        stripes: bool | None = None,
        hot_pixels: bool | None = None,
        dilate: int | None = None,
    ) -> "MaskSpec":
        """The spec of ``dip-heal mask``'s flags: ``spec_file`` (default ``MaskSpec()``) changed by
        the flags given (None = not given).

        Parameters
        ----------
        spec_file : path-like, optional
            ``--spec``: a JSON file or a shipped spec name.
        detector : str, optional
        beamstop_rect : str, optional
            ``"x0,y0,x1,y1"``: a beamstop rectangle masking its pixels below ``beamstop_below``
            (counts; default ``"auto"``, the seed rule); turns the automatic beamstop off unless
            ``auto_beamstop`` says otherwise.
        beamstop_circle : str, optional
            ``"x,y,r"``: a beamstop disk (automatic beamstop off likewise).
        holder : str, optional
            ``"x,y;x,y;..."``: a polygon, or with two points a line ``holder_width`` px wide
            (automatic holder off unless ``auto_holder`` says otherwise).
        auto_beamstop, auto_holder, stripes, hot_pixels : bool, optional
        active_area : bool, optional
            ``--active-area/--no-active-area``: ignore (or keep) a round CCD's zero border; None
            keeps the spec's (default automatic: on when the corners are exactly zero).
        center : str, optional
            ``"x,y"``: the beam centre.
        poni : path-like, optional
            ``--poni``: a pyFAI calibration (beam centre and detector from it).
        dilate : int, optional

        Returns
        -------
        MaskSpec

        Raises
        ------
        FlagError
            A value that is not the numbers it should be; ``beamstop_below`` without ``beamstop_rect``.
        DipHealError
            A bad spec file or a spec value out of range.

        Examples
        --------
        >>> s = MaskSpec.from_flags(beamstop_circle="10,12,4", dilate=2)
        >>> s.beamstop, s.dilate, s.shapes[0]["kind"]
        ('none', 2, 'circle')
        """
        spec = cls.from_json(spec_file) if spec_file is not None else cls()
        changes: dict[str, Any] = {}
        if detector is not None:
            changes["detector"] = detector
        if auto_beamstop is not None:
            changes["beamstop"] = "auto" if auto_beamstop else "none"
        if auto_holder is not None:
            changes["holder"] = "auto" if auto_holder else "none"
        if active_area is not None:
            changes["active_area"] = "on" if active_area else "off"
        if center is not None:
            changes["beam_center"] = tuple(parse_floats(center, 2, "--center"))
        if poni is not None:
            changes["poni"] = str(poni)
            changes["geometry"] = None
        for name, value in (("stripes", stripes), ("hot_pixels", hot_pixels), ("dilate", dilate)):
            if value is not None:
                changes[name] = value
        shapes = list(spec.shapes)
        shapes += _beamstop_shapes(beamstop_rect, beamstop_below, beamstop_circle, changes)
        if holder is not None:
            pts = parse_points(holder, "--holder")
            if len(pts) == 2:
                shapes.append({"kind": "line", "points": pts, "width": holder_width, "cause": "holder"})
            else:
                shapes.append({"kind": "polygon", "points": pts, "cause": "holder"})
            changes.setdefault("holder", "none")
        changes["shapes"] = tuple(shapes)
        return spec.replace(**changes)


def _beamstop_shapes(rect: str | None, below: str | None, circle: str | None,
                     changes: dict[str, Any]) -> list[dict[str, Any]]:
    """The shapes of ``--beamstop`` and ``--beamstop-circle`` (the automatic beamstop off then)."""
    shapes: list[dict[str, Any]] = []
    if rect is not None:
        x0, y0, x1, y1 = parse_floats(rect, 4, "--beamstop")
        level: float | str = "auto" if below is None else parse_floats(below, 1, "--beamstop-below")[0]
        shapes.append({"kind": "rect", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "below": level, "cause": "beamstop"})
        changes.setdefault("beamstop", "none")
    elif below is not None:
        raise FlagError("--beamstop-below needs --beamstop x0,y0,x1,y1")
    if circle is not None:
        x, y, r = parse_floats(circle, 3, "--beamstop-circle")
        shapes.append({"kind": "circle", "x": x, "y": y, "r": r, "cause": "beamstop"})
        changes.setdefault("beamstop", "none")
    return shapes


#: The shipped mask specs (package data; the source tree's ``masks/`` links to them).
SPECS_DIR = Path(__file__).resolve().parents[1] / "data" / "masks"


def shipped_specs() -> list[str]:
    """Names of the mask specs shipped with dip-heal (``dip-heal mask --spec NAME``)."""
    return sorted(p.stem for p in SPECS_DIR.glob("*.json"))


def shipped_spec_path(name: str) -> Path:
    """The shipped spec called ``name`` (with or without ``.json``).

    Raises
    ------
    DipHealError
        Neither a file nor a shipped spec of that name.
    """
    stem = name[:-5] if name.endswith(".json") else name
    p = SPECS_DIR / f"{stem}.json"
    if "/" in name or os.sep in name or not p.is_file():
        raise DipHealError(f"no such spec file: {name}; expected a JSON mask spec or a shipped spec name "
                           f"({', '.join(shipped_specs())}); check the path")
    return p

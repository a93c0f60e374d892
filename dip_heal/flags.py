"""Values of command-line flags as the library's ``from_flags`` builders take them: numbers
(``"x0,y0,x1,y1"``), points (``"x,y;x,y;..."``) and file patterns (globs, folders, files).

Bad values raise :class:`~dip_heal.errors.FlagError`, which the command line shows as a usage
error naming the flag (``dip_heal.cli.flag_errors``).
"""

from __future__ import annotations

import glob
from pathlib import Path

from .errors import FlagError

__all__ = ["parse_floats", "parse_points", "expand_paths"]


def parse_floats(text: str, n: int | None, what: str) -> list[float]:
    """Parse ``"a,b,c"`` into floats, with a one-line error naming the option.

    Examples
    --------
    >>> parse_floats("1, 2.5", 2, "--center")
    [1.0, 2.5]
    """
    try:
        vals = [float(t) for t in text.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise FlagError(f"got {text!r}; expected comma-separated numbers for {what}") from None
    if n is not None and len(vals) != n:
        raise FlagError(f"got {len(vals)} numbers in {text!r}; expected {n} for {what}")
    return vals


def parse_points(text: str, what: str) -> list[list[float]]:
    """Parse ``"x,y;x,y;..."`` into ``[[x, y], ...]``.

    Examples
    --------
    >>> parse_points("1,2; 3,4;", "--holder")
    [[1.0, 2.0], [3.0, 4.0]]
    """
    pts = []
    for part in [p for p in text.replace(" ", "").split(";") if p]:
        pts.append(parse_floats(part, 2, f"each point of {what} (x,y)"))
    return pts


def expand_paths(patterns: tuple[str, ...] | list[str], what: str) -> list[Path]:
    """Files named by globs, folders (their visible files) and files; HDF5 selectors
    (``file.h5::/entry/data/data[3]``) pass through when their file exists.

    Raises
    ------
    FlagError
        A pattern that matches no file (``param_hint`` is ``what``).
    """
    out: list[Path] = []
    for pat in patterns:
        p = Path(pat)
        if "::" in pat:  # an HDF5 selector, file.h5::/entry/data/data[3]: one frame of one file
            if not Path(pat.split("::", 1)[0]).is_file():
                raise FlagError(f"{pat!r}: no such file {pat.split('::', 1)[0]!r}; expected an existing "
                                "HDF5 file before '::'", param_hint=what)
            out.append(p)
            continue
        if p.is_dir():
            hits = sorted(str(q) for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
        else:
            hits = sorted(glob.glob(pat, recursive=True)) or ([pat] if p.exists() else [])
        if not hits:
            raise FlagError(f"{pat!r} matches no file; expected existing files or a glob", param_hint=what)
        out.extend(Path(h) for h in hits)
    return out

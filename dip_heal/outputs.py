"""The file-safety rule: the one place that decides where dip-heal may write and what it may replace.

Every command that writes goes through these functions:

- :func:`check_not_input` refuses an output path that is one of the inputs (frames, masks, sweep
  and spec files), before anything is written;
- :func:`begin_dir` / :func:`commit_dir` build an output folder under a temporary name beside it
  and rename it into place, so a failure leaves nothing behind;
- ``--force`` replaces only a folder that dip-heal made: one that carries the marker file
  :data:`MARKER` (written by :func:`commit_dir`) and holds nothing but the entries dip-heal wrote
  there. It never replaces the working directory or one of its parents, a folder that holds an
  input, or a folder with files dip-heal did not write.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import DipHealError

__all__ = ["MARKER", "check_not_input", "begin_dir", "commit_dir", "discard_dir", "input_files",
           "is_dip_heal_dir", "mark_dir", "mark_written", "shown"]

logger = logging.getLogger(__name__)

MARKER = ".dip-heal"
"""File in every output folder dip-heal made: JSON with the entries it wrote there."""


def input_files(*paths: str | os.PathLike | None) -> list[Path]:
    """Resolved files behind input arguments (an HDF5 selector ``f.h5::/d[k]`` counts as ``f.h5``)."""
    from .io import split_selector

    return [split_selector(p)[0].resolve() for p in paths if p is not None]


def shown(path: str | os.PathLike, tmp: str | os.PathLike, final: str | os.PathLike) -> str:
    """The user-facing name of ``path`` inside a temporary folder ``tmp`` that becomes ``final``."""
    try:
        return str(Path(final) / Path(path).relative_to(tmp))
    except ValueError:
        return str(path)


def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def check_not_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike], *, option: str = "--out") -> None:
    """Refuse an output file that is one of ``inputs`` (same path or the same file through a link).

    Raises
    ------
    DipHealError
        ``out`` names an input.
    """
    final = Path(out).resolve()
    for p in input_files(*inputs):
        same = final == p or (final.exists() and p.exists() and os.path.samefile(final, p))
        if same:
            raise DipHealError(f"{option} {out} is an input file ({p.name}); expected a new path; "
                               f"choose another {option}")


def is_dip_heal_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder dip-heal made (it carries :data:`MARKER`)."""
    return (Path(path) / MARKER).is_file()


def _written_entries(path: Path) -> set[str] | None:
    try:
        record = json.loads((path / MARKER).read_text())
        return set(record.get("entries", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def _check_replaceable(out: Path, inputs: list[Path], option: str) -> None:
    for p in inputs:
        if _is_within(p, out):
            raise DipHealError(f"{option} {out} holds the input {p.name}; --force would delete it; "
                               f"choose another {option}")
    if not is_dip_heal_dir(out):
        raise DipHealError(f"{option} {out} exists and was not made by dip-heal (no {MARKER} file); --force "
                           f"replaces only dip-heal's own folders; choose another {option} or empty it yourself")
    entries = _written_entries(out)
    extra = sorted(e.name for e in out.iterdir() if e.name != MARKER and (entries is None or e.name not in entries))
    if extra:
        raise DipHealError(f"{option} {out} holds files dip-heal did not write ({', '.join(extra[:3])}"
                           f"{', ...' if len(extra) > 3 else ''}); --force will not delete them; "
                           f"move them or choose another {option}")


def begin_dir(out: str | os.PathLike, *, force: bool = False, inputs: Iterable[str | os.PathLike | None] = (),
              option: str = "--out") -> Path:
    """Check ``out`` and return a new temporary folder beside it to build the output in.

    Parameters
    ----------
    out : path-like
        The output folder to create (or, with ``force``, to replace).
    force : bool
        Allow replacing an existing non-empty folder, under the rule in the module docstring.
    inputs : iterable of path-like
        The command's input files: never inside a folder that is replaced, never an output.
    option : str
        The option's name, for messages.

    Returns
    -------
    tmp : Path
        An empty hidden folder beside ``out``; pass it to :func:`commit_dir` or :func:`discard_dir`.

    Raises
    ------
    DipHealError
        ``out`` is a file, is non-empty without ``force``, or may not be replaced.
    """
    final = Path(out).resolve()
    ins = input_files(*inputs)
    cwd = Path.cwd().resolve()
    if final == cwd or _is_within(cwd, final):
        raise DipHealError(f"{option} {out} is the working directory or one of its parents; expected a new "
                           f"folder; choose a new {option} (e.g. {option} run1)")
    if final.exists():
        if not final.is_dir():
            raise DipHealError(f"{option} {out} is a file; expected a folder path; choose another {option}")
        if any(final.iterdir()):
            if not force:
                raise DipHealError(f"{option} {out} exists and is not empty; choose another {option} or pass "
                                   "--force (it replaces only a folder dip-heal made)")
            _check_replaceable(final, ins, option)
    for p in ins:
        if p == final:
            raise DipHealError(f"{option} {out} is an input file; expected a new folder; choose another {option}")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    except PermissionError:
        raise DipHealError(f"{option} {out}: cannot write in {final.parent} (permission denied); "
                           f"choose a folder you can write to") from None
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)
    return tmp


def commit_dir(tmp: str | os.PathLike, out: str | os.PathLike, *, command: str = "") -> Path:
    """Mark ``tmp`` as dip-heal's and rename it onto ``out`` (replacing a folder :func:`begin_dir` allowed).

    The old folder, if any, is moved aside first and removed only after the rename succeeded.
    """
    tmp, final = Path(tmp), Path(out).resolve()
    entries = sorted(e.name for e in tmp.iterdir() if e.name != MARKER)
    (tmp / MARKER).write_text(json.dumps({"made_by": "dip-heal", "command": command, "entries": entries},
                                         indent=1) + "\n")
    old = None
    if final.exists():
        if any(final.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            os.replace(final, old / "dir")
        else:
            final.rmdir()
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def discard_dir(tmp: str | os.PathLike) -> None:
    """Remove a temporary folder from :func:`begin_dir` (after a failure)."""
    shutil.rmtree(tmp, ignore_errors=True)


def mark_dir(path: str | os.PathLike, *, command: str = "", entries: Iterable[str] = ()) -> None:
    """Mark a folder dip-heal fills in place (a sweep, a bulk output, a model) as dip-heal's.

    ``entries`` are added to those already recorded.
    """
    path = Path(path)
    old = _written_entries(path) or set()
    record = {"made_by": "dip-heal", "command": command, "entries": sorted(old | set(entries))}
    tmp = path / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path / MARKER)


def mark_written(run_dir: str | os.PathLike, written: Iterable[str | os.PathLike]) -> None:
    """Add what a later command wrote straight into a dip-heal folder (a sheet, a page, picks) to its marker.

    So the folder still holds only what dip-heal wrote, and ``--force`` may replace it. Paths
    outside ``run_dir`` and folders dip-heal did not make are left alone.
    """
    run_dir = Path(run_dir)
    names = [Path(p).name for p in written if Path(p).resolve().parent == run_dir.resolve()]
    if not names or not is_dip_heal_dir(run_dir):
        return
    try:
        command = json.loads((run_dir / MARKER).read_text()).get("command", "")
    except (OSError, ValueError, AttributeError):
        command = ""
    mark_dir(run_dir, command=command, entries=names)

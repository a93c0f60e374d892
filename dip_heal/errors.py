"""Exceptions raised by dip-heal for bad input.

Every message says what was got, what was expected and what to do. The command line turns
:class:`DipHealError` (and any ``ValueError`` or ``FileNotFoundError``) into one line on stderr
and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

__all__ = ["DipHealError", "NothingToHeal"]


class DipHealError(ValueError):
    """Bad input: a file, a mask, a config or an option that dip-heal cannot use."""


class NothingToHeal(DipHealError):
    """The mask marks no pixel to heal; the command exits 0 after saying so."""

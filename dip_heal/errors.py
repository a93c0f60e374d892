"""Exceptions raised by dip-heal for bad input.

Every message says what was got, what was expected and what to do. The command line turns
:class:`DipHealError` (and any ``ValueError`` or ``FileNotFoundError``) into one line on stderr
and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

__all__ = ["DipHealError", "NothingToHeal", "FlagError"]


class DipHealError(ValueError):
    """Bad input: a file, a mask, a config or an option that dip-heal cannot use."""


class NothingToHeal(DipHealError):
    """The mask marks no pixel to heal; the command exits 0 after saying so."""


class FlagError(DipHealError):
    """A command-line flag's value that cannot be parsed (:mod:`dip_heal.flags`); the command line
    shows it as a usage error, naming ``param_hint`` when given."""

    def __init__(self, message: str, *, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.param_hint = param_hint

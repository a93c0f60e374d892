"""The ``dip-heal`` command line: a click group whose commands live in sibling modules.

Each command is thin glue: parse, call one library function, write. Commands are imported only
when used, so ``dip-heal --help`` stays fast. Bad input becomes one line on stderr and exit 1
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
from typing import Iterator

import click

from ..errors import FlagError, NothingToHeal

logger = logging.getLogger("dip_heal")

# command name -> (module, attribute)
COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("dip_heal.cli.fit_cmd", "fit"),
    "mask": ("dip_heal.cli.mask_cmd", "mask"),
    "bench": ("dip_heal.cli.bench_cmd", "bench"),
    "sheet": ("dip_heal.cli.sweep_cmd", "sheet"),
    "pick": ("dip_heal.cli.sweep_cmd", "pick"),
    "serve": ("dip_heal.cli.sweep_cmd", "serve"),
    "train": ("dip_heal.cli.blind_cmd", "train"),
    "bulk": ("dip_heal.cli.blind_cmd", "bulk"),
}

_HELP = {
    "fit": "Fit the Deep Image Prior to one frame and write the healed frame.",
    "mask": "Build the mask of pixels to heal (automatic, flags or interactive).",
    "bench": "Score healing methods on cases with pasted gaps (ground truth).",
    "sheet": "Contact sheet of a sweep's snapshots (PNG, or --html: the picking page).",
    "serve": "Serve a sweep's picking page on 127.0.0.1, with a Pick button.",
    "pick": "Write the healed frame of a chosen sweep snapshot.",
    "train": "Train a blind inpainting model (TUNet or MSDNet).",
    "bulk": "Heal many frames with a trained blind model.",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise

            @click.command(name=name, help=_HELP.get(name, ""))
            def _unavailable() -> None:
                raise click.ClickException(f"'dip-heal {name}' is not available in this version")

            return _unavailable
        return _with_common_options(getattr(mod, attr))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, _HELP.get(n, "")) for n in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):  # one-line errors, tracebacks only with --debug
        try:
            return super().invoke(ctx)
        except NothingToHeal as exc:
            click.echo(f"dip-heal: {exc}", err=True)
            ctx.exit(0)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("dip-heal: interrupted", err=True)
            ctx.exit(130)
        except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError, OSError, MemoryError,
                ImportError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(_one_line(exc)) from None
        except Exception as exc:  # a bug of ours: still one line, the traceback with --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(
                f"internal error ({type(exc).__name__}: {_one_line(exc)}); expected none: this is a bug in "
                "dip-heal; rerun with --debug and report the traceback") from None


def _one_line(exc: BaseException) -> str:
    """The first line of an error, with a hint for the errors that carry none."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError):
        return (f"out of memory ({msg or 'MemoryError'}); expected a frame and options that fit this machine; "
                "try a smaller frame, crop it, or use --device with more memory")
    if isinstance(exc, ImportError):
        name = getattr(exc, "name", None) or msg
        return (f"a package this command needs is missing ({name}); install dip-heal's extras, e.g. "
                "pip install 'dip-heal[blind]'")
    return msg or type(exc).__name__


# the group's options, also accepted after the subcommand (dip-heal fit IMAGE -v --debug)
_COMMON = (
    click.Option(["-v", "--verbose", "_verbose"], count=True, help="More log output (repeatable)."),
    click.Option(["-q", "--quiet", "_quiet"], count=True, help="Less log output (repeatable)."),
    click.Option(["--log-file", "_log_file"], type=click.Path(dir_okay=False), default=None,
                 help="Also log to this file."),
    click.Option(["--debug", "_debug"], is_flag=True, help="Show tracebacks instead of one-line errors."),
)


def _with_common_options(cmd: click.Command) -> click.Command:
    """Add -v/-q/--log-file/--debug to a subcommand (once); they add to the group's own."""
    if getattr(cmd, "_dip_heal_common", False) or cmd.callback is None:
        return cmd
    cmd.params.extend(_COMMON)
    inner = cmd.callback

    def callback(*args, _verbose: int = 0, _quiet: int = 0, _log_file: str | None = None, _debug: bool = False,
                 **kwargs):
        ctx = click.get_current_context()
        root = ctx.find_root()
        root.ensure_object(dict)
        if _debug:
            root.obj["debug"] = True
        if _verbose or _quiet or _log_file:
            parent = root.params
            _setup_logging(parent.get("verbose", 0) + _verbose, parent.get("quiet", 0) + _quiet,
                           _log_file or parent.get("log_file"))
        return inner(*args, **kwargs)

    callback.__doc__ = inner.__doc__
    cmd.callback = callback
    cmd._dip_heal_common = True  # type: ignore[attr-defined]
    return cmd


def _setup_logging(verbose: int, quiet: int, log_file: str | None) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    root = logging.getLogger("dip_heal")
    root.setLevel(max(level, logging.DEBUG))
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(handler)
    if log_file:
        fh = logging.FileHandler(log_file)
        fh.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.addHandler(fh)


class _TqdmHandler(logging.Handler):
    """Log through tqdm.write so progress bars stay intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dip-heal", prog_name="dip-heal")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
@click.option("--log-file", type=click.Path(dir_okay=False), default=None, help="Also log to this file.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: int, log_file: str | None, debug: bool) -> None:
    """Heal X-ray scattering detector images with a Deep Image Prior."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _setup_logging(verbose, quiet, log_file)
    from .._runtime import tune_cpu_allocator

    tune_cpu_allocator()  # the CLI owns its process: big frames fit ~1.9x faster on a CPU


def parse_floats(text: str, n: int | None, what: str) -> list[float]:
    """Parse ``"a,b,c"`` into floats, with a one-line error naming the option (:func:`dip_heal.flags.parse_floats`)."""
    from ..flags import parse_floats as parse

    with flag_errors():
        return parse(text, n, what)


@contextlib.contextmanager
def flag_errors() -> Iterator[None]:
    """Within a command, the library's :class:`~dip_heal.errors.FlagError` (a flag value it could not
    parse) becomes click's usage error, as if click had parsed the flag: exit 2 with the usage line."""
    try:
        yield
    except FlagError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.param_hint) from None

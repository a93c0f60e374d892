"""``dip-heal bench``: score healing methods on cases with ground truth."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="bench")
@click.argument("cases", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder the cases' frame paths start from (default: the case file's folder).")
@click.option("--methods", default="biharmonic,ns,telea,pyfai", show_default=True,
              help="Comma-separated methods: biharmonic, ns, telea, pyfai, dip, dip:PRESET, dip:CONFIG.json or "
                   "dip:SWEEP_RUN_DIR, "
                   "blind or blind:MODEL_DIR, and any registered NAME or NAME:ARG.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("bench-out"),
              show_default=True, help="Output folder: table.md, results.csv, bars.png, panels/<case>.png.")
@click.option("--dip-iters", type=click.IntRange(min=1), default=None,
              help="Iteration budget of the dip methods (default: the preset's).")
@click.option("--dip-preset", default=None, help="FitConfig preset, config JSON or sweep run folder for a plain 'dip'.")
@click.option("--device", default=None, help="Device of the dip and blind methods (cpu, cuda, ...; default: CUDA if present).")
@click.option("--no-panels", is_flag=True, help="Skip the per-case difference-map panels.")
@click.option("--no-progress", is_flag=True, help="No progress bar (it is on stderr; the table goes to stdout).")
def bench(cases: Path, data_dir: Path | None, methods: str, out_dir: Path, dip_iters: int | None,
          dip_preset: str | None, device: str | None, no_panels: bool, no_progress: bool) -> None:
    """Score healing methods on CASES (a JSON case file) with pasted gaps or shifted pairs.

    Writes the Markdown table, a CSV, a bar chart and difference-map panels into --out and
    prints the table. A case whose file is missing or whose crop exceeds its frame is reported
    and skipped.
    """
    from ..bench import run_bench

    names, opts = _methods_and_options(methods, dip_preset, dip_iters, device)
    result = run_bench(cases, data_dir if data_dir is not None else cases.parent, names, out=out_dir,
                       method_opts=opts, panels=not no_panels, progress=not no_progress)
    click.echo(result.to_markdown(), nl=False)
    click.echo(f"written to {out_dir}/ (table.md, results.csv, bars.png{'' if no_panels else ', panels/'})", err=True)
    failed = result.failures()
    if failed:  # a requested method that did not run is not a success
        what = "; ".join(f"{m} failed on {n} of {len(result.cases)} case(s): {err}" for m, (n, err) in failed.items())
        raise click.ClickException(f"{what}; check the method's argument (e.g. the model folder) and rerun")


def _methods_and_options(methods: str, dip_preset: str | None, dip_iters: int | None,
                         device: str | None) -> tuple[list[str], dict[str, dict[str, object]]]:
    """``--methods`` as a list (a plain ``dip`` becomes ``dip:PRESET`` with ``--dip-preset``) and the
    per-method options of ``--dip-iters`` and ``--device`` (for :func:`dip_heal.bench.run_bench`)."""
    names = [m.strip() for m in methods.split(",") if m.strip()]
    if dip_preset:
        names = [f"dip:{dip_preset}" if m == "dip" else m for m in names]
    dip_opts: dict[str, object] = {}
    if dip_iters is not None:
        dip_opts["num_iter"] = dip_iters
    if device is not None:
        dip_opts["device"] = device
    opts: dict[str, dict[str, object]] = {"dip": dip_opts}
    if device is not None:
        opts["blind"] = {"device": device}
    return names, opts

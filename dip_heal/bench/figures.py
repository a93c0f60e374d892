"""The benchmark's figures (difference-map panels, bars) and its output files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._intensity import normalised_log
from ..frame import atomic_path
from .prepare import PreparedCase
from .result import BenchResult

__all__ = ["panel_figure", "bars_figure", "write_outputs", "save_figure"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    plt = _pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=fig.dpi, format="png")
    finally:
        plt.close(fig)


def panel_figure(prep: PreparedCase, healed: dict[str, np.ndarray], *, max_side: int = 512) -> Any:
    """Difference-map panel of one case (as Chavez et al. 2022, Fig. 8).

    Top row: the ground truth (input with the truth in the score pixels), then each method's
    healed image, in normalised log intensity with one colour scale. Bottom row: the input (holes
    blank), then ``|y_hat - y_true|`` of each method on the score pixels with one shared colour
    scale.

    Parameters
    ----------
    prep : PreparedCase
    healed : dict of str to (h, w) ndarray
        Method name -> healed image in counts.
    max_side : int
        Larger crops are shown subsampled to about this many pixels a side.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    plt = _pyplot()
    names = list(healed)
    k = max(1, int(np.ceil(max(prep.image.shape) / max_side)))
    sl = (slice(None, None, k), slice(None, None, k))
    y_true = normalised_log(prep.truth, prep.scale)
    truth_img = np.where(prep.score | ~prep.heal, y_true, np.nan)
    diffs = {m: np.where(prep.score, np.abs(normalised_log(h, prep.scale) - y_true), np.nan) for m, h in healed.items()}
    stack = np.concatenate([d[prep.score] for d in diffs.values()]) if diffs else np.zeros(1)
    dmax = float(np.nanpercentile(stack, 99)) if stack.size else 1.0
    dmax = dmax if dmax > 0 else 1.0
    ncol = len(names) + 1
    fig, axes = plt.subplots(2, ncol, figsize=(2.6 * ncol, 5.6), squeeze=False, dpi=100)
    kw = dict(cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[0, 0].imshow(truth_img[sl], **kw)
    axes[0, 0].set_title("ground truth", fontsize=9)
    axes[1, 0].imshow(np.where(prep.heal, np.nan, y_true)[sl], **kw)
    axes[1, 0].set_title("input", fontsize=9)
    im_d = None
    for j, m in enumerate(names, start=1):
        axes[0, j].imshow(normalised_log(healed[m], prep.scale)[sl], **kw)
        axes[0, j].set_title(m, fontsize=9)
        im_d = axes[1, j].imshow(diffs[m][sl], cmap="magma", vmin=0.0, vmax=dmax, interpolation="nearest")
        l1 = float(np.nanmean(diffs[m][prep.score]))
        axes[1, j].set_title(f"|diff|  L1 {l1 * 1e3:.1f}e-3", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if im_d is not None:
        fig.colorbar(im_d, ax=list(axes[1, 1:]), fraction=0.02, pad=0.01, label="|y_hat - y_true|")
    fig.suptitle(f"{prep.case.name}: normalised log intensity, {int(prep.score.sum())} scored pixels", fontsize=10)
    return fig


def bars_figure(result: BenchResult) -> Any:
    """Grouped bars: L1 (log axis) and Pearson r per case and method, plus the mean.

    Parameters
    ----------
    result : BenchResult

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    plt = _pyplot()
    groups = [*result.cases, "mean"]
    n_m = max(1, len(result.methods))
    width = 0.8 / n_m
    x = np.arange(len(groups))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(6.0, 1.1 * len(groups) + 2), 6.5), sharex=True, dpi=100)
    for i, m in enumerate(result.methods):
        l1s, rs = [], []
        for c in result.cases:
            s = result.get(c, m)
            l1s.append(s.l1 * 1e3 if s is not None and s.ok else np.nan)
            rs.append(s.r if s is not None and s.ok else np.nan)
        ml1, mr, _, _ = result.mean(m)
        l1s.append(ml1 * 1e3)
        rs.append(mr)
        pos = x - 0.4 + width * (i + 0.5)
        ax1.bar(pos, l1s, width, label=result.label(m))
        ax2.bar(pos, rs, width)
    ax1.set_yscale("log")
    ax1.set_ylabel("L1 x 1e-3 (lower is better)")
    ax2.set_ylabel("Pearson r (higher is better)")
    ax2.set_ylim(min(0.0, float(np.nanmin([s.r for s in result.scores if s.ok] or [0.0]))), 1.0)
    ax2.set_xticks(x)
    ax2.set_xticklabels(groups, rotation=30, ha="right")
    ax1.legend(fontsize=8, ncol=min(3, n_m))
    ax1.set_title("Healing quality on the benchmark cases (normalised log intensity)")
    fig.tight_layout()
    return fig


def write_outputs(result: BenchResult, out: str | os.PathLike) -> dict[str, Path]:
    """Write ``table.md``, ``results.csv``, ``floor.csv`` (the noise floor and the excess above it) and
    ``bars.png`` into ``out`` (atomically).

    Parameters
    ----------
    result : BenchResult
    out : path-like
        Output folder (created).

    Returns
    -------
    paths : dict of str to Path
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "table.md", "csv": out / "results.csv", "bars": out / "bars.png"}
    with atomic_path(paths["table"]) as tmp:
        tmp.write_text(result.to_markdown())
    with atomic_path(paths["csv"]) as tmp:
        tmp.write_text(result.to_csv())
    if result.floors:
        paths["floor"] = out / "floor.csv"
        with atomic_path(paths["floor"]) as tmp:
            tmp.write_text(result.floor_csv())
    if result.scores:
        save_figure(bars_figure(result), paths["bars"])
    else:
        paths.pop("bars")
    return paths

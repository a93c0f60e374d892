"""Pictures a scientist looks at: a fit's report, training curves, before/after previews.

Arrays in, matplotlib Figures out (:func:`save_figure` writes one). Intensities are drawn as
``log1p(max(I, 0))`` with shared contrast limits (:func:`dip_heal.report.log_limits`), big frames
are block-averaged for display (:func:`dip_heal.sheet.reduce_for_display`), healed pixels are
outlined in cyan. matplotlib is imported inside the functions and only its object API is used
(no pyplot, no display).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .report import log_limits, log_scale
from .sheet import reduce_for_display

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["fit_report", "largest_hole", "training_curves", "before_after", "thumbnail", "thumbnail_sheet",
           "save_figure"]

OUTLINE = (0.0, 0.95, 0.95)  # healed pixels' outline: cyan
HIDDEN = (0.55, 0.55, 0.55)  # pixels without a measurement in the "frame" panels: grey
CMAP = "magma"


def save_figure(fig: "Figure", path: str | os.PathLike, *, dpi: int | None = None) -> Path:
    """Write ``fig`` as a PNG, atomically (the folder is created)."""
    from .frame import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


# ------------------------------------------------------------------------------------- helpers


def _factor(shape: tuple[int, ...], max_px: int) -> int:
    return max(1, int(math.ceil(max(shape) / max_px)))


def _reduce_mask(mask: np.ndarray, f: int, *, how: str = "any") -> np.ndarray:
    """Block-reduce a bool mask by ``f`` (``any`` or ``majority``), as :func:`reduce_for_display` crops."""
    if f <= 1:
        return np.asarray(mask, bool)
    ny, nx = (mask.shape[0] // f) * f, (mask.shape[1] // f) * f
    blocks = np.asarray(mask[:ny, :nx], np.float32).reshape(ny // f, f, nx // f, f).mean(axis=(1, 3))
    return blocks > 0 if how == "any" else blocks >= 0.5


def _edge(mask: np.ndarray) -> np.ndarray:
    """The mask's outline drawn just outside it (the healed pixels themselves stay visible)."""
    from scipy import ndimage

    return ndimage.binary_dilation(mask) & ~mask


def _rgb(image: np.ndarray, limits: tuple[float, float], *, outline: np.ndarray | None = None,
         hidden: np.ndarray | None = None, cmap: str = CMAP) -> np.ndarray:
    """Log-scale RGB of ``image``; ``hidden`` pixels grey, the outline of ``outline`` cyan."""
    from matplotlib import colormaps

    rgb = colormaps[cmap](log_scale(image, limits))[..., :3]
    if hidden is not None:
        rgb[hidden] = HIDDEN
    if outline is not None and outline.any():
        rgb[_edge(outline)] = OUTLINE
    return rgb


def _show(ax: "Axes", rgb: np.ndarray, title: str, *, extent: tuple[float, float, float, float] | None = None) -> None:
    ax.imshow(rgb, interpolation="nearest", extent=extent, origin="upper")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def _intensity_bar(fig: "Figure", ax: "Axes", limits: tuple[float, float], cmap: str = CMAP) -> None:
    """A colour bar in counts for a panel drawn with :func:`_rgb` (log1p scale)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(norm=Normalize(*limits), cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, fraction=0.046, pad=0.02)
    counts = [0.0] + [m * 10.0 ** k for k in range(0, 10) for m in (1, 3)]
    ticks = [(np.log1p(c), c) for c in counts if limits[0] <= np.log1p(c) <= limits[1]]
    if len(ticks) > 7:
        ticks = [t for t in ticks if t[1] == 0 or str(int(t[1])).startswith("1")]
    if len(ticks) < 2:
        ticks = [(t, np.expm1(t)) for t in np.linspace(limits[0], limits[1], 3)]
    cb.set_ticks([t for t, _ in ticks])
    cb.set_ticklabels([f"{c:.0f}" if c < 1e4 else f"{c:.0e}".replace("e+0", "e") for _, c in ticks])
    cb.ax.tick_params(labelsize=7)
    cb.set_label("counts (log scale)", fontsize=7)


def _log_y(ax: "Axes", ys: np.ndarray) -> None:
    """A log y axis labelled in plain numbers (0.02, 0.05, not 2x10^-2)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ys = np.asarray(ys, float)
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size:  # limits on labelled ticks (1, 2, 5 of a decade), so both ends read
        nice = np.array([m * 10.0 ** k for k in range(-12, 12) for m in (1.0, 2.0, 5.0)])
        below, above = nice[nice <= ys.min()], nice[nice >= ys.max()]
        lo = below.max() if below.size else ys.min()
        hi = above.min() if above.size else ys.max()
        ax.set_ylim(lo / 1.05, hi * 1.05)
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def largest_hole(heal: np.ndarray, *, min_side: int = 48, max_side: int = 256) -> tuple[int, int, int, int] | None:
    """A square window ``(y0, x0, y1, x1)`` on the largest connected region of ``heal``.

    Centred on the region's thickest point (the largest distance to a measured pixel; of several,
    the one nearest the region's centroid), with a side
    of about four times its thickness plus margin, between ``min_side`` and ``max_side`` pixels
    and inside the frame: a module gap's crossing, the beamstop.

    Examples
    --------
    >>> m = np.zeros((100, 100), bool); m[40:50, 10:90] = True
    >>> largest_hole(m)
    (8, 13, 80, 85)
    """
    from scipy import ndimage

    heal = np.asarray(heal, bool)
    if not heal.any():
        return None
    labels, n = ndimage.label(heal)
    sizes = np.bincount(labels.ravel())[1:]
    comp = labels == (int(np.argmax(sizes)) + 1)
    ys, xs = np.nonzero(comp)
    y0, x0 = ys.min(), xs.min()
    sub = comp[y0:ys.max() + 1, x0:xs.max() + 1]
    dist = ndimage.distance_transform_edt(np.pad(sub, 1))[1:-1, 1:-1]
    ty, tx = np.nonzero(dist >= dist.max() - 0.5)  # the thickest points; the one nearest the centroid
    k = int(np.argmin((ty + y0 - ys.mean()) ** 2 + (tx + x0 - xs.mean()) ** 2))
    cy, cx = ty[k] + y0, tx[k] + x0
    side = int(np.clip(8 * dist.max() + 32, min_side, max_side))
    side = min(side, heal.shape[0], heal.shape[1])
    wy0 = int(np.clip(cy - side // 2, 0, heal.shape[0] - side))
    wx0 = int(np.clip(cx - side // 2, 0, heal.shape[1] - side))
    return wy0, wx0, wy0 + side, wx0 + side


# ------------------------------------------------------------------------------------ the fit


def _difference(healed: np.ndarray, classical: np.ndarray, heal: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``healed - classical`` in normalised log intensity on ``heal`` (0 elsewhere)."""
    from ._intensity import normalised_log, to_log

    _, scale = to_log(np.where(known, healed, 0.0), known)
    d = normalised_log(healed, scale) - normalised_log(classical, scale)
    return np.where(heal, d, 0.0).astype(np.float32)


def _reduce_signed(d: np.ndarray, heal: np.ndarray, f: int) -> np.ndarray:
    """Block mean of ``d`` over the healed pixels of each block (0 where a block has none)."""
    if f <= 1:
        return d
    ny, nx = (d.shape[0] // f) * f, (d.shape[1] // f) * f
    s = d[:ny, :nx].reshape(ny // f, f, nx // f, f).sum(axis=(1, 3))
    n = heal[:ny, :nx].reshape(ny // f, f, nx // f, f).sum(axis=(1, 3))
    return np.where(n > 0, s / np.maximum(n, 1), 0.0)


def _curves(ax: "Axes", metrics: Sequence[dict[str, Any]], returned: int | None, loss_name: str) -> None:
    """Training loss (every iteration) and held-out L1 (at snapshots), the returned snapshot marked."""
    from matplotlib.ticker import MaxNLocator

    members = sorted({int(m.get("member", 0)) for m in metrics})
    for k in members:
        rows = [m for m in metrics if int(m.get("member", 0)) == k]
        tag = f" (member {k})" if len(members) > 1 else ""
        it = np.array([m["iteration"] for m in rows], float)
        loss = np.array([m.get("loss", np.nan) for m in rows], float)
        ok = np.isfinite(loss) & (loss > 0)
        ax.plot(it[ok], loss[ok], lw=0.8, color="tab:blue", alpha=0.8 if k == members[0] else 0.4,
                label=loss_name + tag if k == members[0] else None)
        val = np.array([m.get("val_l1", np.nan) for m in rows], float)
        ok = np.isfinite(val) & (val > 0)
        if ok.any():
            ax.plot(it[ok], val[ok], "o-", ms=3, lw=1.2, color="tab:orange",
                    label="held-out L1 (measured pixels left out of the loss)" + tag if k == members[0] else None)
        elif k == members[0]:
            ax.plot([], [], " ", label="no held-out pixels (holdout_fraction 0): no held-out L1")
        if returned is not None and k == members[0]:
            at = [(i, v) for i, v in zip(it[ok], val[ok]) if int(i) == int(returned)]
            ax.axvline(returned, color="tab:green", ls="--", lw=1)
            if at:
                ax.plot([at[0][0]], [at[0][1]], "*", ms=14, color="tab:green", zorder=5)
            ax.plot([], [], "--*", color="tab:green", label=f"returned snapshot: iteration {returned}")
    ys = [v for m in metrics for v in (m.get("loss", np.nan), m.get("val_l1", np.nan))]
    if np.any(np.isfinite(ys) & (np.asarray(ys, float) > 0)):
        _log_y(ax, np.asarray(ys, float))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration", fontsize=8)
    ax.set_ylabel("in normalised log intensity", fontsize=8)
    ax.set_title("fit: training loss and held-out L1", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper right")


def fit_report(
    image: np.ndarray,
    heal: np.ndarray,
    healed: np.ndarray,
    metrics: Sequence[dict[str, Any]] = (),
    *,
    returned: int | None = None,
    valid: np.ndarray | None = None,
    classical: np.ndarray | None = None,
    limits: tuple[float, float] | None = None,
    title: str | None = None,
    loss_name: str = "training loss (L1 on the fitted pixels)",
    max_px: int = 400,
) -> "Figure":
    """One page on a fit: frame, mask, heal, the largest hole close up, the difference to Telea, the curves.

    Parameters
    ----------
    image : (M, N) ndarray
        The frame as measured (intensities).
    heal : (M, N) ndarray of bool
        True = healed pixel.
    healed : (M, N) ndarray
        The healed frame.
    metrics : sequence of dict
        The fit's records: ``iteration``, ``loss`` (every iteration), ``val_l1`` (at snapshots),
        optionally ``member``.
    returned : int, optional
        Iteration of the returned snapshot (marked on the curves).
    valid : (M, N) ndarray of bool, optional
        Measured pixels (default: finite); the rest is grey in the frame panels.
    classical : (M, N) ndarray, optional
        A classical fill to compare with (default: :func:`dip_heal.fills.heal_telea` of ``image``).
    limits : tuple of float, optional
        ``log1p`` display limits (default: :func:`~dip_heal.report.log_limits` of the measured pixels).
    title : str, optional
    loss_name : str
        Legend label of the training loss.
    max_px : int
        Frames are block-averaged to about this many pixels a side for display.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from .fills import heal_telea

    image = np.asarray(image, np.float32)
    heal = np.asarray(heal, bool)
    healed = np.asarray(healed, np.float32)
    valid = np.isfinite(image) if valid is None else np.asarray(valid, bool)
    known = valid & ~heal & np.isfinite(image)
    shown = np.where(known, image, 0.0)
    if limits is None:
        limits = log_limits(np.where(known, image, np.nan))
    if classical is None:
        classical = heal_telea(shown, heal) if heal.any() else healed
    f = _factor(image.shape, max_px)
    ext = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5) if f > 1 else None
    heal_r = _reduce_mask(heal, f)
    gone_r = _reduce_mask(~known & ~heal, f, how="majority") & ~heal_r

    fig = Figure(figsize=(13.0, 9.6), dpi=100)  # fixed margins: a layout engine costs seconds here
    gs = fig.add_gridspec(3, 3, height_ratios=[1, 1, 0.75], left=0.05, right=0.94, bottom=0.06, top=0.93,
                          wspace=0.3, hspace=0.28)
    ax = fig.add_subplot(gs[0, 0])
    _show(ax, _rgb(reduce_for_display(shown, max_px), limits, hidden=_reduce_mask(~known, f, how="majority")),
          "frame as measured (grey: no measurement)", extent=ext)
    _intensity_bar(fig, ax, limits)
    ax = fig.add_subplot(gs[0, 1])
    mask_rgb = np.full(heal_r.shape + (3,), 0.92)
    mask_rgb[gone_r] = 0.0
    mask_rgb[heal_r] = (0.85, 0.1, 0.1)
    n, pct = int(heal.sum()), 100.0 * heal.mean()
    _show(ax, mask_rgb, f"mask: {n} pixels healed ({pct:.1f} %, red)" + (", black: left out" if gone_r.any() else ""),
          extent=ext)
    ax = fig.add_subplot(gs[0, 2])
    _show(ax, _rgb(reduce_for_display(healed, max_px), limits, outline=heal_r),
          "healed (healed pixels outlined in cyan)", extent=ext)
    _intensity_bar(fig, ax, limits)

    win = largest_hole(heal)
    if win is not None:
        y0, x0, y1, x1 = win
        crop = (slice(y0, y1), slice(x0, x1))
        zext = (x0 - 0.5, x1 - 0.5, y1 - 0.5, y0 - 0.5)
        ax = fig.add_subplot(gs[1, 0])
        _show(ax, _rgb(shown[crop], limits, hidden=~known[crop]),
              f"largest hole close up ({y1 - y0}x{x1 - x0} px, every pixel), as measured", extent=zext)
        ax = fig.add_subplot(gs[1, 1])
        _show(ax, _rgb(healed[crop], limits, outline=heal[crop]), "largest hole close up, healed", extent=zext)
    d = _difference(healed, classical, heal, known)
    lim = float(np.percentile(np.abs(d[heal]), 99)) if heal.any() else 0.0
    lim = lim if lim > 0 else 1e-3
    ax = fig.add_subplot(gs[1, 2])
    im = ax.imshow(_reduce_signed(d, heal, f), cmap="RdBu_r", norm=Normalize(-lim, lim), interpolation="nearest",
                   extent=ext)
    med = float(np.median(np.abs(d[heal]))) if heal.any() else 0.0
    ax.set_title("heal \u2212 Telea fill, normalised log intensity\n"
                 f"(healed pixels; red: heal brighter; median |\u0394| {med:.2g})", fontsize=9)
    ax.tick_params(labelsize=7)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    cb.ax.tick_params(labelsize=7)
    cb.set_label("\u0394 normalised log intensity", fontsize=7)
    _curves(fig.add_subplot(gs[2, :]), list(metrics), returned, loss_name)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ------------------------------------------------------------------------------- training curves


def training_curves(history: Sequence[dict[str, Any]], *, best_step: int | None = None,
                    title: str | None = None) -> "Figure":
    """A blind model's training: training and validation L1 per step, and the validation Pearson r.

    Parameters
    ----------
    history : sequence of dict
        :attr:`dip_heal.blind.train.TrainResult.history`: ``step``, ``train_l1`` (mean over the
        steps since the last validation; ``nan`` at step 0), ``val_l1``, ``val_r``.
    best_step : int, optional
        The step whose weights were kept (marked).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    step = np.array([h.get("step", np.nan) for h in history], float)
    series = {k: np.array([h.get(k, np.nan) for h in history], float) for k in ("train_l1", "val_l1", "val_r")}
    fig = Figure(figsize=(9.0, 3.6), dpi=100, layout="constrained")
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1.6, 1])
    for key, label, style in (("train_l1", "training L1 (pasted gaps of the training crops)", "-"),
                              ("val_l1", "validation L1 (held-out frames' crops)", "o-")):
        y = series[key]
        ok = np.isfinite(y) & (y > 0)
        ax.plot(step[ok], y[ok], style, ms=3, lw=1.2, label=label)
    ok = np.isfinite(series["val_r"])
    ax_r.plot(step[ok], series["val_r"][ok], "o-", ms=3, lw=1.2, color="tab:purple")
    if best_step is not None:
        for a in (ax, ax_r):
            a.axvline(best_step, color="tab:green", ls="--", lw=1)
        ax.plot([], [], "--", color="tab:green", label=f"kept: step {best_step}")
    ys = np.concatenate([series["train_l1"], series["val_l1"]])
    if np.any(np.isfinite(ys) & (ys > 0)):
        _log_y(ax, ys)
    ax.set(xlabel="step", ylabel="L1, normalised log intensity")
    ax.set_title("L1 on pasted module gaps", fontsize=9)
    ax.legend(fontsize=7)
    ax_r.set(xlabel="step", ylabel="Pearson r")
    ax_r.set_title("validation: Pearson r of healed vs. measured", fontsize=9)
    for a in (ax, ax_r):
        a.grid(True, which="both", alpha=0.25)
        a.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# ----------------------------------------------------------------------------- bulk previews


def thumbnail(image: np.ndarray, heal: np.ndarray, *, max_px: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """A frame and its heal mask reduced for a summary sheet (:func:`thumbnail_sheet`)."""
    f = _factor(np.shape(image), max_px)
    return reduce_for_display(image, max_px), _reduce_mask(np.asarray(heal, bool), f)


def before_after(image: np.ndarray, healed: np.ndarray, heal: np.ndarray, *, valid: np.ndarray | None = None,
                 title: str | None = None, max_px: int = 512) -> "Figure":
    """The frame as measured beside its heal, on one log scale, the healed pixels outlined.

    Parameters
    ----------
    image, healed : (M, N) ndarray
        The frame and its heal.
    heal : (M, N) ndarray of bool
    valid : (M, N) ndarray of bool, optional
        Measured pixels (default: finite); the rest is grey on the left.
    title : str, optional
    max_px : int
        Block-average to about this many pixels a side.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    image = np.asarray(image, np.float32)
    heal = np.asarray(heal, bool)
    valid = np.isfinite(image) if valid is None else np.asarray(valid, bool)
    known = valid & ~heal & np.isfinite(image)
    limits = log_limits(np.where(known, image, np.nan))
    f = _factor(image.shape, max_px)
    ext = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5) if f > 1 else None
    aspect = image.shape[0] / max(image.shape[1], 1)
    fig = Figure(figsize=(10.0, 0.6 + 4.4 * min(max(aspect, 0.4), 1.6)), dpi=100)
    left, right = fig.subplots(1, 2, gridspec_kw={"left": 0.05, "right": 0.93, "bottom": 0.07, "top": 0.87,
                                                  "wspace": 0.15})
    _show(left, _rgb(reduce_for_display(np.where(known, image, 0.0), max_px), limits,
                     hidden=_reduce_mask(~known, f, how="majority")), "as measured (grey: no measurement)", extent=ext)
    _show(right, _rgb(reduce_for_display(healed, max_px), limits, outline=_reduce_mask(heal, f)),
          f"healed: {int(heal.sum())} pixels (outlined in cyan)", extent=ext)
    _intensity_bar(fig, right, limits)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def thumbnail_sheet(thumbs: Sequence[tuple[np.ndarray, np.ndarray]], titles: Sequence[str], *, ncols: int = 6,
                    title: str | None = None) -> "Figure":
    """A grid of healed frames (each on its own log scale), healed pixels outlined.

    Parameters
    ----------
    thumbs : sequence of (image, heal)
        From :func:`thumbnail`.
    titles : sequence of str
        One per thumbnail (the frame's name).
    ncols : int
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    n = max(len(thumbs), 1)
    ncols = max(1, min(ncols, n))
    nrows = int(math.ceil(n / ncols))
    height = 2.1 * nrows + (0.4 if title else 0.0)
    fig = Figure(figsize=(1.9 * ncols, height), dpi=100)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
        "left": 0.02, "right": 0.98, "bottom": 0.02, "top": 1 - (0.5 if title else 0.25) / height,
        "wspace": 0.08, "hspace": 0.25})).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, (img, heal), name in zip(axes, thumbs, titles):
        ax.imshow(_rgb(img, log_limits(np.where(heal, np.nan, img)), outline=heal), interpolation="nearest")
        ax.set_title(name if len(name) <= 28 else name[:12] + "\u2026" + name[-15:], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig

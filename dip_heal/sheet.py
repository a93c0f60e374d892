"""Contact sheets of sweep snapshots: arrays in, matplotlib Figures out.

One row per trial, one column per snapshot, all panels on one log scale with shared limits,
each row labelled, each row's lowest held-out L1 starred (blue frame), the sweep's recommended
snapshot marked apart (a thicker orange frame, "recommended"), the healed pixels outlined in cyan
and pruned rows dimmed. Nothing here reads a run
folder (:func:`dip_heal.runs.write_sheet` does); matplotlib is imported inside the functions and
only its object API is used (no pyplot, no display).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .errors import DipHealError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["contact_sheet", "pages", "parse_zoom", "crop", "reduce_for_display", "reduce_mask",
           "BEST_COLOUR", "RECOMMENDED_COLOUR", "OUTLINE_COLOUR"]

BEST_COLOUR = "#1e90ff"
"""Frame of each trial's lowest held-out L1 (starred)."""
RECOMMENDED_COLOUR = "#ff8c00"
"""Frame of the sweep's recommended snapshot."""
OUTLINE_COLOUR = "cyan"
"""Outline of the healed pixels (as in the previews)."""


def parse_zoom(text: str | Sequence[float] | None, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``"y0,x0,y1,x1"`` (pixels, end exclusive) checked against a frame of ``shape``.

    Examples
    --------
    >>> parse_zoom("10,20,50,60", (100, 100))
    (10, 20, 50, 60)

    Raises
    ------
    DipHealError
        Not four integers, or an empty or out-of-frame region.
    """
    if text is None:
        return None
    if isinstance(text, str):
        try:
            vals = [int(float(t)) for t in text.replace(" ", "").split(",") if t != ""]
        except ValueError:
            vals = []
    else:
        vals = [int(v) for v in text]
    if len(vals) != 4:
        raise DipHealError(f"--zoom {text!r}; expected four integers y0,x0,y1,x1 (pixels, end exclusive)")
    y0, x0, y1, x1 = vals
    ny, nx = shape
    if not (0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
        raise DipHealError(
            f"--zoom {y0},{x0},{y1},{x1} is empty or outside the frame of shape {ny}x{nx}; "
            f"expected 0 <= y0 < y1 <= {ny} and 0 <= x0 < x1 <= {nx}"
        )
    return y0, x0, y1, x1


def crop(image: np.ndarray, zoom: tuple[int, int, int, int] | None) -> np.ndarray:
    """The ``zoom`` region ``(y0, x0, y1, x1)`` of ``image`` (the whole image for None)."""
    if zoom is None:
        return image
    y0, x0, y1, x1 = zoom
    return image[y0:y1, x0:x1]


def reduce_for_display(image: np.ndarray, max_px: int = 256) -> np.ndarray:
    """Block-average ``image`` so that its longer side is at most about ``max_px`` pixels.

    Averages ``log1p(max(I, 0))`` and maps back, so bright peaks do not swamp their block.

    Parameters
    ----------
    image : (M, N) ndarray
    max_px : int

    Returns
    -------
    (M // f, N // f) ndarray of float32
        ``f = ceil(max(M, N) / max_px)``; the image itself (as float32) when ``f == 1``.

    Examples
    --------
    >>> reduce_for_display(np.ones((8, 6)), max_px=4).shape
    (4, 3)
    """
    img = np.asarray(image, dtype=np.float32)
    f = int(np.ceil(max(img.shape) / max_px))
    if f <= 1:
        return img
    ny, nx = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    v = np.log1p(np.clip(np.nan_to_num(img[:ny, :nx], nan=0.0), 0, None))
    v = v.reshape(ny // f, f, nx // f, f).mean(axis=(1, 3))
    return np.expm1(v).astype(np.float32)


def reduce_mask(mask: np.ndarray, max_px: int = 256) -> np.ndarray:
    """A boolean mask reduced as :func:`reduce_for_display` reduces its image: a block is True
    when any of its pixels is.

    Examples
    --------
    >>> m = np.zeros((8, 6), bool); m[0, 0] = True
    >>> reduce_mask(m, max_px=4).astype(int).tolist()
    [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    """
    m = np.asarray(mask, dtype=bool)
    f = int(np.ceil(max(m.shape) / max_px))
    if f <= 1:
        return m
    ny, nx = (m.shape[0] // f) * f, (m.shape[1] // f) * f
    return m[:ny, :nx].reshape(ny // f, f, nx // f, f).any(axis=(1, 3))


def pages(n_rows: int, rows_per_page: int) -> list[range]:
    """Row ranges of each page.

    Examples
    --------
    >>> pages(25, 10)
    [range(0, 10), range(10, 20), range(20, 25)]
    """
    if rows_per_page < 1:
        raise DipHealError(f"rows per page = {rows_per_page}; expected a positive integer")
    return [range(i, min(i + rows_per_page, n_rows)) for i in range(0, n_rows, rows_per_page)]


def contact_sheet(
    panels: Sequence[Sequence[np.ndarray | None]],
    *,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    panel_titles: Sequence[Sequence[str]] | None = None,
    starred: Sequence[int | None] | None = None,
    recommended: tuple[int, int] | None = None,
    outline: np.ndarray | None = None,
    dimmed: Sequence[bool] | None = None,
    limits: tuple[float, float] | None = None,
    title: str | None = None,
    cmap: str = "magma",
    panel_inches: float = 1.6,
    label_inches: float = 1.8,
    dpi: int = 100,
) -> "Figure":
    """A grid of log-scale images with row labels, column labels, starred and recommended panels.

    Parameters
    ----------
    panels : list of list of (M, N) ndarray or None
        ``panels[r][c]``: the image of row ``r``, column ``c`` (intensities); None leaves the
        cell empty. Rows may have different lengths.
    row_labels : list of str
        One label per row (drawn left of the row; may hold line breaks).
    col_labels : list of str
        One label per column (drawn above the first row).
    panel_titles : list of list of str, optional
        A small title per panel (e.g. its held-out L1).
    starred : list of int or None, optional
        Per row, the column to star (each trial's best: framed in :data:`BEST_COLOUR`, title
        marked with a star).
    recommended : tuple of int, optional
        ``(row, column)`` of the sweep's recommended snapshot: a thicker frame in
        :data:`RECOMMENDED_COLOUR`, its title marked "recommended".
    outline : (M, N) ndarray of bool, optional
        Healed pixels, in the panels' shape: their outline is drawn on every panel.
    dimmed : list of bool, optional
        Per row, draw it faded (a pruned trial).
    limits : tuple of float, optional
        Shared limits of ``log1p(I)``; default: the 0.5-99.8 percentiles over all panels.
    title : str, optional
        Figure title.
    cmap : str
        A matplotlib colour map.
    panel_inches, label_inches : float
        Size of a panel and width of the label column, in inches (100 px per inch at ``dpi``).
    dpi : int
        The figure's resolution when saved.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DipHealError
        No rows, or label lists whose lengths do not match the panels.
    """
    from matplotlib.figure import Figure

    from .report import log_limits, log_scale

    n_rows = len(panels)
    if n_rows == 0:
        raise DipHealError("a contact sheet needs at least one row; got none; run or wait for a trial first")
    n_cols = max(len(r) for r in panels)
    if len(row_labels) != n_rows:
        raise DipHealError(f"got {len(row_labels)} row labels for {n_rows} rows; expected one per row")
    if len(col_labels) < n_cols:
        raise DipHealError(f"got {len(col_labels)} column labels for {n_cols} columns; expected one per column")
    if limits is None:
        limits = log_limits(*[p for row in panels for p in row if p is not None])
    first = next((p for row in panels for p in row if p is not None), None)
    aspect = first.shape[0] / max(first.shape[1], 1) if first is not None else 1.0
    pw = panel_inches
    ph = panel_inches * min(max(aspect, 0.4), 2.5)
    head, title_h = 0.35, (0.22 + 0.18 * (title.count("\n") + 1) if title else 0.0)
    row_h = ph + 0.22
    width = label_inches + n_cols * (pw + 0.08) + 0.1
    height = title_h + head + n_rows * row_h + 0.1
    fig = Figure(figsize=(width, height), dpi=dpi)
    if title:
        fig.text(0.01, 1 - 0.08 / height, title, fontsize=10, weight="bold", va="top", ha="left", linespacing=1.3)
    for r, row in enumerate(panels):
        top = height - title_h - head - r * row_h
        y_ax = (top - ph) / height
        fig.text(0.06 / width, (top - ph / 2) / height, row_labels[r], fontsize=8, va="center", ha="left",
                 family="monospace")
        for c in range(n_cols):
            x = (label_inches + c * (pw + 0.08)) / width
            ax = fig.add_axes((x, y_ax, pw / width, ph / height))
            ax.set_xticks([])
            ax.set_yticks([])
            img = row[c] if c < len(row) else None
            star = starred is not None and starred[r] == c
            rec = recommended is not None and tuple(recommended) == (r, c)
            dim = bool(dimmed is not None and dimmed[r])
            if img is None:
                for s in ax.spines.values():
                    s.set_visible(False)
            else:
                ax.imshow(log_scale(img, limits), cmap=cmap, vmin=0, vmax=1, interpolation="nearest",
                          aspect="auto", alpha=0.4 if dim else 1.0)
                if outline is not None and outline.shape == img.shape and outline.any() and not outline.all():
                    ax.contour(outline.astype(np.float32), levels=[0.5], colors=OUTLINE_COLOUR, linewidths=0.6,
                               alpha=0.5 if dim else 1.0)
                    ax.set_xlim(-0.5, img.shape[1] - 0.5)
                    ax.set_ylim(img.shape[0] - 0.5, -0.5)
                colour = RECOMMENDED_COLOUR if rec else BEST_COLOUR if star else "0.6"
                for s in ax.spines.values():
                    s.set_edgecolor(colour)
                    s.set_linewidth(4.5 if rec else 2.5 if star else 0.5)
            t = panel_titles[r][c] if panel_titles is not None and c < len(panel_titles[r]) else ""
            if star:
                t = "\u2605 " + t
            if rec:
                t = "\u25c6 recommended " + t
            if t:
                ax.set_title(t, fontsize=7.5, pad=2, color="#b35f00" if rec else "0.5" if dim else "black",
                             weight="bold" if (star or rec) else "normal")
            if r == 0:
                fig.text(x + pw / width / 2, (height - title_h - 0.12) / height, col_labels[c], fontsize=8.5,
                         ha="center", va="center", weight="bold")
    return fig

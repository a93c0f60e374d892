"""Contact sheets: zoom parsing, paging, display reduction, the Figure, and `dip-heal sheet`."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from conftest import tiny_sweep_run
from dip_heal.errors import DipHealError
from dip_heal.sheet import (BEST_COLOUR, RECOMMENDED_COLOUR, contact_sheet, crop, pages, parse_zoom,
                            reduce_for_display, reduce_mask)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-trial x 3-snapshot sweep of a 48x48 synthetic frame."""
    return tiny_sweep_run(tmp_path_factory.mktemp("sheet"), seed=2, band=(slice(30, 32), slice(None)), snapshot_every=2,
                          extra_params="reg_noise_std = [0.0]\n")


def test_parse_zoom_and_crop():
    assert parse_zoom("1,2,10,20", (32, 32)) == (1, 2, 10, 20)
    assert parse_zoom(None, (32, 32)) is None
    img = np.arange(32 * 32).reshape(32, 32)
    assert crop(img, (1, 2, 10, 20)).shape == (9, 18)
    assert crop(img, None) is img


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "5,5,5,10", "0,0,40,10", "-1,0,4,4"])
def test_bad_zoom_is_one_line(text):
    with pytest.raises(DipHealError, match="zoom") as exc:
        parse_zoom(text, (32, 32))
    assert "\n" not in str(exc.value)


def test_pages_and_reduce():
    assert pages(3, 10) == [range(0, 3)]
    assert [len(p) for p in pages(40, 10)] == [10, 10, 10, 10]
    with pytest.raises(DipHealError):
        pages(3, 0)
    img = np.full((9, 8), 7.0, np.float32)
    small = reduce_for_display(img, max_px=4)
    assert small.shape == (3, 2)
    np.testing.assert_allclose(small, 7.0, rtol=1e-5)  # log-mean of a constant is the constant
    assert reduce_for_display(img, max_px=16).shape == (9, 8)


def test_contact_sheet_figure_layout_and_star():
    rng = np.random.default_rng(0)
    panels = [[rng.poisson(50, (20, 30)).astype(np.float32) for _ in range(3)] for _ in range(2)]
    panels[1][2] = None
    fig = contact_sheet(panels, row_labels=["a", "b"], col_labels=["i1", "i2", "i3"],
                        panel_titles=[["1", "2", "3"], ["4", "5", ""]], starred=[1, None], limits=(0.0, 5.0))
    assert len(fig.axes) == 6
    starred = fig.axes[1]
    assert starred.get_title().startswith("\u2605")
    assert to_hex(starred.spines["left"].get_edgecolor()) == BEST_COLOUR
    assert not fig.axes[0].get_title().startswith("\u2605")
    assert len(fig.axes[5].images) == 0  # the empty cell
    texts = [t.get_text() for t in fig.texts]
    assert "a" in texts and "i3" in texts
    with pytest.raises(DipHealError, match="row labels"):
        contact_sheet(panels, row_labels=["a"], col_labels=["1", "2", "3"])
    with pytest.raises(DipHealError, match="at least one row"):
        contact_sheet([], row_labels=[], col_labels=[])


def test_recommended_is_marked_apart_from_each_rows_best_and_heal_outlined():
    rng = np.random.default_rng(1)
    panels = [[rng.poisson(50, (20, 30)).astype(np.float32) for _ in range(2)] for _ in range(3)]
    heal = np.zeros((20, 30), bool)
    heal[:, 10:12] = True
    fig = contact_sheet(panels, row_labels=["a", "b", "c"], col_labels=["i1", "i2"], starred=[0, 1, 1],
                        recommended=(1, 1), outline=heal, dimmed=[False, False, True], limits=(0.0, 5.0))
    rec, best, pruned = fig.axes[3], fig.axes[0], fig.axes[5]
    assert to_hex(rec.spines["top"].get_edgecolor()) == RECOMMENDED_COLOUR
    assert rec.spines["top"].get_linewidth() > best.spines["top"].get_linewidth()
    assert "recommended" in rec.get_title() and "recommended" not in best.get_title()
    assert to_hex(best.spines["top"].get_edgecolor()) == BEST_COLOUR
    assert sum("recommended" in ax.get_title() for ax in fig.axes) == 1
    for ax in fig.axes:  # the healed columns outlined on every panel
        assert len(ax.collections) == 1
        (seg,) = [p for p in ax.collections[0].get_paths()][:1]
        xs = seg.vertices[:, 0]
        assert 9 <= xs.min() < 10.5 and 11 <= xs.max() <= 12
    assert pruned.images[0].get_alpha() < 1 and best.images[0].get_alpha() == 1


def test_reduce_mask_matches_reduce_for_display():
    m = np.zeros((300, 200), bool)
    m[100, 50] = True
    small = reduce_mask(m, max_px=100)
    assert small.shape == reduce_for_display(np.zeros((300, 200)), max_px=100).shape == (100, 66)
    assert small.sum() == 1 and small[33, 16]


def test_write_sheet_pages_zoom_and_cli(run, tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from dip_heal.cli import main
    from dip_heal.pick import write_sheet

    [one] = write_sheet(run, tmp_path / "s.png")
    w, h = Image.open(one).size
    assert w > 500 and h > 300
    paged = write_sheet(run, tmp_path / "p.png", rows_per_page=1, zoom="20,0,40,48", max_cols=2)
    assert [p.name for p in paged] == ["p-1.png", "p-2.png"]
    res = CliRunner().invoke(main, ["sheet", str(run), "--zoom", "0,0,24,24", "--out", str(tmp_path / "c.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c.png").exists()
    res = CliRunner().invoke(main, ["sheet", str(run), "--zoom", "0,0,99,24"])
    assert res.exit_code == 1 and "outside the frame" in res.output
    res = CliRunner().invoke(main, ["sheet", str(tmp_path)])
    assert res.exit_code == 1 and "not a sweep run folder" in res.output


def test_sheet_leaves_missing_artifacts_empty(run, tmp_path):
    """Snapshots stored on another worker's machine show as empty cells, not an error."""
    import shutil

    from dip_heal.pick import open_run, write_sheet

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    sw = open_run(copy)
    t = sw.trials()[0]
    (copy / "artifacts" / t.snapshots[0]["npy"]).unlink()
    [page] = write_sheet(copy, tmp_path / "m.png")
    assert page.exists()
    for t in sw.trials():
        for s in t.snapshots:
            (copy / "artifacts" / s["npy"]).unlink(missing_ok=True)
    with pytest.raises(DipHealError, match="none of the snapshots"):
        write_sheet(copy, tmp_path / "n.png")

"""A single fit's report.png (dip_heal.plot.fit_report through runs.fit_to_run) and its logs (issue 20)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from dip_heal.config import FitConfig
from dip_heal.plot import fit_report, largest_hole
from dip_heal.runs import layout
from dip_heal.runs.single import fit_to_run

TINY = FitConfig(depth=2, channels=8, num_iter=3, snapshot_every=1)


@pytest.fixture
def frame_file(tmp_path, detector_image):
    image, heal = detector_image
    path = tmp_path / "frame.npy"
    np.save(path, np.where(heal, -1, image).astype(np.int32))
    return path, heal


def test_a_tiny_fit_writes_report_png_and_logs_no_temporary_names(tmp_path, frame_file, caplog):
    path, heal = frame_file
    out = tmp_path / "run"
    with caplog.at_level(logging.DEBUG, logger="dip_heal"):
        summary = fit_to_run(path, out, TINY)
    report = out / layout.REPORT
    assert report.is_file() and summary.iteration >= 0
    with Image.open(report) as im:
        assert im.format == "PNG" and im.size[0] > 600 and im.size[1] > 400
    messages = [r.getMessage() for r in caplog.records]
    assert any("wrote" in m and str(out / "healed.npy") in m for m in messages), messages
    assert not [m for m in messages if ".partial" in m]


def test_fit_report_draws_every_panel_and_marks_the_returned_snapshot(detector_image):
    image, heal = detector_image
    healed = np.where(heal, 5.0, image).astype(np.float32)
    metrics = [{"iteration": 0, "loss": float("nan"), "val_l1": 0.2}]
    metrics += [{"iteration": i, "loss": 1.0 / i} for i in range(1, 6)]
    metrics[3]["val_l1"] = 0.1
    fig = fit_report(np.where(heal, -1, image), heal, healed, metrics, returned=3, title="t")
    titles = " | ".join(ax.get_title() for ax in fig.axes)
    for word in ("frame", "mask", "healed", "largest hole", "Telea", "normalised log", "held-out"):
        assert word in titles, (word, titles)
    curves = fig.axes[-1] if "held-out" in fig.axes[-1].get_title() else next(
        ax for ax in fig.axes if "held-out" in ax.get_title())
    assert any("iteration 3" in t.get_text() for t in curves.get_legend().get_texts())


def test_fit_report_of_a_megapixel_frame_is_drawn_reduced():
    """A 1M-pixel frame is drawn (block-averaged for display); its speed is a benchmark, not a test."""
    rng = np.random.default_rng(0)
    image = rng.poisson(20, (1024, 1024)).astype(np.float32)
    heal = np.zeros(image.shape, bool)
    heal[400:417] = True
    heal[:, 500:507] = True
    metrics = [{"iteration": i, "loss": 1.0 / i} for i in range(1, 200)]
    fig = fit_report(image, heal, np.where(heal, 20.0, image), metrics, returned=199)
    shown = [im.get_array().shape for ax in fig.axes for im in ax.get_images()]
    assert shown and max(max(s[:2]) for s in shown) < 1024  # reduced for display
    buf = __import__("io").BytesIO()
    fig.savefig(buf, format="png")
    assert buf.tell() > 0


def test_largest_hole_is_centred_on_the_biggest_region():
    m = np.zeros((200, 200), bool)
    m[10:14, 10:20] = True  # small
    yy, xx = np.mgrid[:200, :200]
    m |= np.hypot(yy - 120, xx - 80) < 15  # the beamstop
    y0, x0, y1, x1 = largest_hole(m)
    assert y0 <= 120 < y1 and x0 <= 80 < x1 and y1 - y0 == x1 - x0 >= 48
    assert largest_hole(np.zeros((8, 8), bool)) is None

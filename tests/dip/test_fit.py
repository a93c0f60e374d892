import numpy as np
import pytest
import torch

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError, NothingToHeal
from dip_heal._intensity import denormalise, normalise
from dip_heal.dip import fit, make_holdout

TINY = dict(depth=2, channels=8, num_iter=8, snapshot_every=4)


def test_normalisation_round_trip_and_range():
    img = np.array([[0.0, 10.0], [1000.0, -5.0]], dtype=np.float32)
    known = np.array([[True, True], [True, False]])
    y, scale = normalise(img, known)
    assert y.max() == pytest.approx(1.0) and y.min() == 0.0
    assert scale == pytest.approx(np.log1p(1000.0))
    np.testing.assert_allclose(denormalise(y, scale)[known], img[known], rtol=1e-5)


@pytest.mark.parametrize("shape", [(19, 37), (40, 33)])
def test_odd_shapes_keep_their_shape_and_measured_pixels(shape, detector_image):
    rng = np.random.default_rng(0)
    img = rng.poisson(50, shape).astype(np.float32)
    heal = np.zeros(shape, bool)
    heal[shape[0] // 2, :] = True
    heal[:, 3:5] = True
    res = fit(img, heal, FitConfig(**TINY))
    assert res.healed.shape == shape and res.output.shape == shape
    assert np.array_equal(res.healed[~heal], img[~heal])
    assert np.isfinite(res.healed).all() and (res.healed[heal] >= 0).all()


def test_same_seed_same_result_and_other_seed_differs(detector_image):
    img, heal = detector_image
    cfg = FitConfig(**TINY, seed=5, param_noise=True)
    a = fit(img, heal, cfg)
    b = fit(img, heal, cfg)
    c = fit(img, heal, cfg.replace(seed=6))
    assert np.array_equal(a.healed, b.healed)
    assert not np.array_equal(a.healed, c.healed)
    assert a.seed == 5


def test_param_noise_really_perturbs_the_weights(detector_image, monkeypatch):
    """The original code's param_noise was a no-op; ours changes every conv weight."""
    img, heal = detector_image
    seen = {}
    orig_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.setdefault("n", 0)
        seen["n"] += 1
        return orig_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    base = FitConfig(**TINY, lr=1e-12, seed=1, reg_noise_std=0.0)
    still = fit(img, heal, base)
    noisy = fit(img, heal, base.replace(param_noise=True))
    # with a vanishing learning rate, only the weight perturbation can move the output
    assert np.abs(noisy.output - still.output).max() > 1e-3
    assert seen["n"] == 2 * TINY["num_iter"]


def test_loss_decreases_and_snapshots_are_kept(detector_image):
    img, heal = detector_image
    res = fit(img, heal, FitConfig(depth=2, channels=16, num_iter=40, snapshot_every=10, lr=0.01))
    assert [s.iteration for s in res.snapshots] == [10, 20, 30, 40]
    losses = [m["loss"] for m in res.metrics]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    for s in res.snapshots:
        assert np.array_equal(s.healed[~heal], img[~heal])


def test_holdout_is_gap_shaped_subset_of_known_and_scored(detector_image):
    img, heal = detector_image
    known = ~heal
    h = make_holdout(known, heal, 0.05, seed=3)
    assert not (h & heal).any()
    assert 0.04 < h.sum() / known.sum() < 0.08
    assert np.array_equal(h, make_holdout(known, heal, 0.05, seed=3))
    cfg = FitConfig(**TINY, holdout_fraction=0.05, select="best_val")
    res = fit(img, heal, cfg)
    assert res.holdout is not None and all(s.val_l1 is not None for s in res.snapshots)
    assert res.iteration == res.best.iteration
    # held-out pixels keep their measured values in the composite
    assert np.array_equal(res.healed[res.holdout], img[res.holdout])


def test_callback_can_stop_the_fit(detector_image):
    img, heal = detector_image
    res = fit(img, heal, FitConfig(**TINY), callback=lambda snap, state: snap.iteration >= 4)
    assert res.extra["stopped_at"] == 4 and len(res.metrics) == 4


def test_bad_input_is_refused_in_one_line(detector_image):
    img, heal = detector_image
    with pytest.raises(DipHealError, match=r"mask shape \(3, 3\) does not match the frame \(64, 64\)"):
        fit(img, np.zeros((3, 3), bool))
    with pytest.raises(DipHealError, match="heals every pixel"):
        fit(img, np.ones_like(heal))
    with pytest.raises(NothingToHeal):
        fit(img, np.zeros_like(heal))
    with pytest.raises(DipHealError, match="expected bool"):
        fit(img, heal.astype(np.uint8))
    with pytest.raises(DipHealError, match="2-D"):
        fit(img[None], heal[None])
    with pytest.raises(DipHealError, match="heals every pixel|no finite"):
        fit(np.full((8, 8), np.nan, np.float32), np.zeros((8, 8), bool))


def test_device_argument_is_validated(detector_image):
    img, heal = detector_image
    with pytest.raises(DipHealError, match="CUDA is not available"):
        fit(img, heal, FitConfig(**TINY), device="cuda")


@pytest.mark.parametrize("shape", [(619, 487), (195, 487)])
def test_detector_shapes_are_padded_not_cropped(shape):
    """PILATUS 300K and 100K shapes: padded to multiples of 2**5 inside, never cropped."""
    rng = np.random.default_rng(1)
    img = rng.poisson(20, shape).astype(np.float32)
    heal = np.zeros(shape, bool)
    heal[100:117, :] = True
    cfg = FitConfig(depth=5, channels=4, num_iter=2, snapshot_every=1)
    res = fit(img, heal, cfg)
    assert res.healed.shape == shape and res.output.shape == shape
    assert res.extra["padded_shape"] == (-(-shape[0] // 32) * 32, 512)
    assert np.array_equal(res.healed[~heal], img[~heal])


def test_time_limit_stops_at_a_snapshot_and_records_where(detector_image):
    img, heal = detector_image
    cfg = FitConfig(**{**TINY, "num_iter": 100000, "snapshot_every": 2}, time_limit=1.0)
    res = fit(img, heal, cfg)
    assert res.seconds < 5.0
    stop = res.extra["stopped_at"]
    assert 2 <= stop < 100000 and stop % 2 == 0 and res.iteration == stop
    # a rerun with that many iterations and no limit reproduces it exactly
    again = fit(img, heal, cfg.replace(num_iter=stop, time_limit=0.0))
    assert np.array_equal(again.healed, res.healed)
    with pytest.raises(DipHealError, match="time_limit"):
        FitConfig(time_limit=-1)


def test_cpu_allocator_tuning_is_opt_out(monkeypatch):
    import sys

    from dip_heal._runtime import tune_cpu_allocator

    monkeypatch.setenv("DIP_HEAL_NO_MALLOC_TUNING", "1")
    assert tune_cpu_allocator() is False
    monkeypatch.delenv("DIP_HEAL_NO_MALLOC_TUNING")
    applied = tune_cpu_allocator()
    import ctypes.util

    if sys.platform.startswith("linux") and "libc.so.6" in (ctypes.util.find_library("c") or ""):
        assert applied is True  # glibc accepts both settings


def _snap(it, val):
    from dip_heal.dip import Snapshot

    return Snapshot(iteration=it, healed=np.zeros((2, 2), np.float32), val_l1=val, loss=0.0, seconds=float(it))


def test_selector_tolerance_prefers_the_latest_near_best_snapshot():
    from dip_heal.dip import SnapshotSelector

    vals = [1.00, 0.90, 0.905, 0.91, 0.95, 0.96, 0.97]
    strict = SnapshotSelector(FitConfig(holdout_fraction=0.03, select="best_val", patience=3))
    tol = SnapshotSelector(FitConfig(holdout_fraction=0.03, select="best_val", patience=3, val_tol=0.02))
    stops_strict = [strict.update(_snap(i, v)) for i, v in enumerate(vals)]
    stops_tol = [tol.update(_snap(i, v)) for i, v in enumerate(vals)]
    assert strict.chosen.iteration == 1 and tol.chosen.iteration == 3
    # strict: 3 snapshots without a new lowest (2, 3, 4) stop at 4; with tolerance 2 and 3 reset it: stop at 6
    assert stops_strict.index(True) == 4 and stops_tol.index(True) == 6
    final = SnapshotSelector(FitConfig())
    for i, v in enumerate(vals):
        assert not final.update(_snap(i, v))
    assert final.chosen.iteration == len(vals) - 1


def test_fit_reports_the_snapshot_it_would_return(detector_image):
    img, heal = detector_image
    cfg = FitConfig.preset("light", num_iter=6, snapshot_every=2, channels=(4, 4), depth=2, patience=0, val_tol=0.5)
    seen = []
    res = fit(img, heal, cfg, callback=lambda s, rec: seen.append((s.iteration, rec["returned"], s.val_l1)))
    assert [s[0] for s in seen] == [2, 4, 6]
    assert res.iteration == seen[-1][1]
    best = min(v for _, _, v in seen)
    assert res.iteration == max(i for i, _, v in seen if v <= best * 1.5)


def test_holdout_segments_are_as_thick_as_the_module_gaps():
    from dip_heal.dip.problem import pixel_runs

    heal = np.zeros((300, 300), bool)
    heal[:, 100:117] = True  # a PILATUS vertical module gap, 17 px
    heal[200:207, :] = True  # a horizontal one, 7 px
    known = ~heal
    h = make_holdout(known, heal, 0.05, seed=1)
    thick = np.minimum(pixel_runs(h, 0), pixel_runs(h, 1))[h]
    # mostly 17 px (the 17 px gap has most of the hole pixels), some 7 px; overlaps may merge some
    assert np.median(thick) >= 17 and thick.min() >= 7 - 1
    assert 0.04 < h.sum() / known.sum() < 0.09
    # parallel to the holes: most held-out pixels come from the vertical 17 px gap, so vertical runs
    assert np.median(pixel_runs(h, 0)[h]) > 2 * np.median(pixel_runs(h, 1)[h])


def test_dip_heal_fit_is_always_the_function():
    """``from dip_heal import fit`` is the function, also once every module that fits is imported."""
    import importlib

    import dip_heal

    for name in ("dip_heal.dip", "dip_heal.dip.api", "dip_heal.runs", "dip_heal.sweeps", "dip_heal.methods",
                 "dip_heal.cli"):
        importlib.import_module(name)
    from dip_heal import fit as public_fit

    assert callable(public_fit) and public_fit is dip_heal.dip.fit and dip_heal.fit is public_fit


def test_the_input_noise_is_drawn_contiguous_and_seen_in_the_inputs_layout():
    import torch

    from dip_heal.dip.model import _noise_buffer

    x = torch.zeros(1, 5, 12, 10).contiguous(memory_format=torch.channels_last)
    buf, view = _noise_buffer(x, channels_last=True)
    assert buf.is_contiguous() and view.shape == x.shape and view.stride() == x.stride()
    torch.manual_seed(3)
    buf.normal_()
    assert torch.equal(view.permute(0, 2, 3, 1), buf) and float(view.std()) > 0.5
    buf2, view2 = _noise_buffer(torch.zeros(1, 5, 12, 10), channels_last=False)
    assert buf2 is view2 and buf2.is_contiguous()


def _spy_adam_lr(monkeypatch) -> list[float]:
    """The learning rate of every Adam step from now on, appended to the returned list."""
    seen: list[float] = []
    orig_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    return seen


def test_a_cosine_schedule_sets_every_steps_learning_rate(detector_image, monkeypatch):
    """Each Adam step runs at lr * lr_factor(step); constant leaves Adam's lr alone."""
    from dip_heal.dip.model import lr_factor

    img, heal = detector_image
    seen = _spy_adam_lr(monkeypatch)
    cfg = FitConfig(**TINY, lr=0.02, lr_schedule="cosine", lr_floor=0.25)
    fit(img, heal, cfg)
    assert seen == pytest.approx([0.02 * lr_factor("cosine", t, 8, 0.25) for t in range(8)])
    assert seen[0] == pytest.approx(0.02) and seen[-1] < 0.02 * 0.3
    seen.clear()
    fit(img, heal, cfg.replace(lr_schedule="constant"))
    assert seen == [0.02] * 8


def test_a_warm_start_restarts_the_schedule_at_its_own_lr(detector_image, monkeypatch):
    """The previous fit's Adam state holds its last (decayed) lr; the warm fit's first step uses lr."""
    img, heal = detector_image
    cfg = FitConfig(**TINY, lr=0.02, lr_schedule="cosine", lr_floor=0.1)
    first = fit(img, heal, cfg)
    seen = _spy_adam_lr(monkeypatch)
    fit(img, heal, cfg, init_state=first.net_state)
    assert seen[0] == pytest.approx(0.02)


def test_the_schedule_is_refused_with_bad_values():
    with pytest.raises(DipHealError, match="lr_schedule"):
        FitConfig(lr_schedule="step")
    with pytest.raises(DipHealError, match="lr_floor"):
        FitConfig(lr_floor=1.5)
    with pytest.raises(DipHealError, match="schedules"):
        from dip_heal.dip.batched import _check_batch
        _check_batch([FitConfig(**TINY, lr_schedule="cosine")])

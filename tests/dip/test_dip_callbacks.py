"""Each callback of the fit loop on its own, on a fake state (dip_heal.dip.callbacks, engine)."""

import math

import numpy as np
import pytest
import torch

from dip_heal.config import FitConfig
from dip_heal.dip.callbacks import EMA, FitState, HeldOutScore, Progress, SnapshotSelector, TimeLimit, UserCallback
from dip_heal.dip.engine import Snapshotter, run
from dip_heal.dip.result import Snapshot

CROP = (slice(0, 2), slice(0, 2))


def _snap(it, val=None):
    return Snapshot(iteration=it, healed=np.zeros((1, 1), np.float32), val_l1=val, loss=0.5)


def _state(it=1, num_iter=10, snap=None, **kw):
    s = FitState(num_iter=num_iter, iteration=it, snapshot=snap, **kw)
    s.record = {"iteration": it}
    return s


def test_ema_warms_up_then_averages():
    ema = EMA(0.9, CROP)
    out = torch.zeros(3, 3)
    assert ema.current(out) is out  # no average before the first step
    state = _state(it=1, output=torch.ones(1, 1, 3, 3))
    ema.on_step_end(state)
    assert torch.equal(ema.value, torch.ones(2, 2))  # the first output, cropped
    state.iteration, state.output = 2, torch.zeros(1, 1, 3, 3)
    ema.on_step_end(state)
    d = min(0.9, 3.0 / 12.0)  # warm-up: (1 + t) / (10 + t)
    assert torch.allclose(ema.value, torch.full((2, 2), d))
    assert torch.equal(ema.current(out), ema.value) and ema.current(out) is not ema.value


def test_held_out_score_composites_and_scores():
    y = np.array([[0.5, 0.25], [0.0, 1.0]], np.float32)
    heal = np.array([[True, False], [False, False]])
    hold = np.array([[False, True], [False, False]])
    out = torch.full((2, 2), 0.75)
    comp, val, weights = HeldOutScore(y, heal, hold).score(out)
    assert comp.tolist() == [[0.75, 0.25], [0.0, 1.0]] and val == pytest.approx(0.5) and weights is None
    assert HeldOutScore(y, heal, np.zeros((2, 2), bool)).score(out)[1] is None


@pytest.mark.parametrize("select, vals, chosen, stops", [
    ("final", [3.0, 2.0, 4.0], [1, 2, 3], [False] * 3),
    ("best_val", [3.0, 2.0, 4.0, 5.0], [1, 2, 2, 2], [False, False, False, True]),
])
def test_snapshot_selector_chooses_and_stops(select, vals, chosen, stops):
    sel = SnapshotSelector(FitConfig(select=select, patience=2, holdout_fraction=0.05))
    for it, (v, c, stop) in enumerate(zip(vals, chosen, stops), start=1):
        state = _state(it=it, snap=_snap(it, v))
        sel.on_snapshot(state)
        assert state.record["returned"] == c and sel.chosen.iteration == c and state.stop is stop


def test_snapshot_selector_tolerance_keeps_the_latest_close_one():
    sel = SnapshotSelector(FitConfig(select="best_val", patience=1, val_tol=0.1, holdout_fraction=0.05))
    for it, v in enumerate([1.0, 1.05, 0.9], start=1):
        assert sel.update(_snap(it, v)) is False
        assert sel.chosen.iteration == it


def test_time_limit_stops_when_the_next_interval_would_pass_it(monkeypatch):
    clock = {"t": 0.0}
    monkeypatch.setattr(FitState, "elapsed", lambda self: clock["t"])
    limit = TimeLimit(10.0)
    state = _state(it=0)
    limit.on_fit_start(state)
    clock["t"] = 4.0
    state.iteration = 5
    limit.on_snapshot(state)  # 4 + 4 <= 10
    assert not state.stop and limit.last == 4.0
    clock["t"] = 7.0
    state.iteration = 10
    limit.on_snapshot(state)  # the last iteration always runs
    assert not state.stop
    state.num_iter = 20
    limit.on_snapshot(state)  # 7 + 3 <= 10
    clock["t"] = 11.0
    state.iteration = 15
    limit.on_snapshot(state)
    assert state.stop


def test_time_limit_leaves_a_stopped_fit_and_iteration_zero_alone(monkeypatch):
    monkeypatch.setattr(FitState, "elapsed", lambda self: 100.0)
    limit = TimeLimit(1.0)
    state = _state(it=0)
    limit.on_snapshot(state)
    assert not state.stop
    state = _state(it=3, stop=True)
    limit.on_snapshot(state)
    assert limit.last == 0.0


def test_user_callback_sees_a_copy_and_may_stop():
    seen = []

    def fn(snap, rec):
        seen.append((snap.iteration, dict(rec)))
        rec["x"] = 1
        return snap.iteration >= 2

    cb = UserCallback(fn)
    state = _state(it=1, snap=_snap(1))
    cb.on_snapshot(state)
    assert not state.stop and "x" not in state.record and seen[0] == (1, {"iteration": 1})
    state = _state(it=2, snap=_snap(2), stop=False)
    cb.on_snapshot(state)
    assert state.stop
    state = _state(it=3, snap=_snap(3), stop=True)
    UserCallback(lambda s, r: None).on_snapshot(state)
    assert state.stop  # None does not undo a stop


def test_progress_counts_steps_and_closes():
    p = Progress(3)
    state = _state(it=1, snap=_snap(1, 0.25))
    p.on_step_end(state)
    p.on_snapshot(state)
    assert p.bar.n == 1
    p.on_fit_end(state)


def test_progress_postfix_is_never_nan():  # issue 20: loss=nan was shown until the first snapshot
    p = Progress(4)
    state = _state(it=0, snap=_snap(0, 0.125))
    state.record = {"iteration": 0, "loss": float("nan")}  # the fills-only snapshot at iteration 0
    p.on_snapshot(state)
    assert p.postfix() == {"val": "0.125"}
    shown = []
    for it, loss in enumerate([0.5, float("nan"), 0.25], start=1):
        state = _state(it=it)
        state.record = {"iteration": it, "loss": loss}
        p.on_step_end(state)
        shown.append(p.postfix())
        assert "nan" not in str(p.bar)
    assert shown[0]["loss"] == "0.5" and shown[1]["loss"] == "0.5"  # from the first iteration; nan skipped
    assert float(shown[2]["loss"]) == pytest.approx(0.9 * 0.5 + 0.1 * 0.25, rel=1e-2)
    assert all("nan" not in v for s in shown for v in s.values()) and p.bar.n == 3
    empty = Progress(2)
    empty.on_step_end(_state(it=1))  # no loss recorded yet: nothing shown, no nan
    assert empty.postfix() == {} and "nan" not in str(empty.bar)
    p.on_fit_end(state)
    empty.on_fit_end(state)


def test_snapshotter_keeps_measured_pixels_and_uses_the_average():
    image = np.array([[5.0, 7.0]], np.float32)
    known = np.array([[False, True]])
    y = np.zeros((1, 2), np.float32)
    score = HeldOutScore(y, ~known, np.zeros((1, 2), bool)).score
    ema = EMA(0.5, (slice(0, 1), slice(0, 2)))
    snapper = Snapshotter(score, image, known, 1.0, predict=lambda: torch.zeros(1, 2), ema=ema)
    state = _state(it=4)
    snap = snapper(state, 0.1)
    assert snap.iteration == 4 and snap.healed.tolist() == [[0.0, 7.0]] and snap.loss == 0.1
    state.output = torch.full((1, 1, 1, 2), math.log(3.0))
    ema.on_step_end(state)
    assert snapper(state, 0.2).healed[0, 0] == pytest.approx(2.0)  # expm1(log 3), from the average


class _Recorder:
    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_fit_start(self, state):
        self.calls.append("start")

    def on_step_end(self, state):
        self.calls.append(f"step{state.iteration}")

    def on_snapshot(self, state):
        self.calls.append(f"snap{state.iteration}")
        if state.iteration == self.stop_at:
            state.stop = True

    def on_fit_end(self, state):
        self.calls.append("end")


def _fake_run(stop_at=None, start_at_zero=False, num_iter=4):
    state = FitState(num_iter=num_iter)
    rec = _Recorder(stop_at)
    keep = []
    snapper = lambda st, loss: _snap(st.iteration)  # noqa: E731
    at = run(state, lambda: (torch.tensor(1.0), None), snapper, [rec], snapshot_every=2,
             start_at_zero=start_at_zero, keep=keep)
    return at, rec.calls, state, keep


def test_engine_snapshots_every_k_and_at_the_end():
    at, calls, state, keep = _fake_run(num_iter=5)
    assert at == 5 and [s.iteration for s in keep] == [2, 4, 5]
    assert calls == ["start", "step1", "step2", "snap2", "step3", "step4", "snap4", "step5", "snap5", "end"]
    assert [m["iteration"] for m in state.metrics] == [1, 2, 3, 4, 5] and math.isnan(state.metrics[1]["val_l1"])


def test_engine_stops_when_a_callback_says_so():
    at, calls, _, keep = _fake_run(stop_at=2)
    assert at == 2 and calls[-2:] == ["snap2", "end"] and len(keep) == 1
    at, calls, state, _ = _fake_run(stop_at=0, start_at_zero=True)
    assert at == 0 and calls == ["start", "snap0", "end"] and state.metrics[0]["iteration"] == 0


# the callbacks the command line passes: the run's snapshot writer and the sweep trial's reporter


def _healed_snap(it, val=0.25):
    return Snapshot(iteration=it, healed=np.arange(16, dtype=np.float64).reshape(4, 4) + 1.0, val_l1=val, loss=0.5,
                    seconds=1.23456)


def test_run_snapshot_writer_names_iterations_and_members(tmp_path):
    from dip_heal.runs import SnapshotWriter

    writer = SnapshotWriter(tmp_path, (0.0, 3.0))
    writer(_healed_snap(25), {"iteration": 25})
    writer(_healed_snap(0), {"iteration": 0, "member": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "iter_000025.npy", "iter_000025.png", "member1_iter_000000.npy", "member1_iter_000000.png"]
    a = np.load(tmp_path / "iter_000025.npy")
    assert a.dtype == np.float32 and np.array_equal(a, _healed_snap(25).healed.astype(np.float32))


def test_sweep_trial_reporter_uploads_reports_and_prunes(tmp_path):
    optuna = pytest.importorskip("optuna")
    from optuna.artifacts import FileSystemArtifactStore

    from dip_heal.sweeps import TrialReporter

    (tmp_path / "store").mkdir()
    (tmp_path / "tmp").mkdir()
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.0))
    trial = study.ask()
    reporter = TrialReporter(trial, FileSystemArtifactStore(str(tmp_path / "store")), (0.0, 3.0), tmp_path / "tmp")
    reporter(_healed_snap(3, 0.5), {})
    assert [s["iteration"] for s in reporter.snapshots] == [3] and reporter.snapshots[0]["seconds"] == 1.235
    assert trial.user_attrs["snapshots"] == reporter.snapshots and not list((tmp_path / "tmp").iterdir())
    assert len(list((tmp_path / "store").iterdir())) == 2  # the .npy and the .png
    with pytest.raises(optuna.TrialPruned, match="iteration 6"):
        reporter(_healed_snap(6, 2.0), {})

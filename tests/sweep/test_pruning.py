"""Pruned sweeps (issue 17): the [prune] table, budgets in iterations, the shared set-up, the
sweep-wide time budget and progress bar, what a pruned trial records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.sweeps import load_sweep, parse_sweep, resolve_config, run_sweep

from test_sweeps import REPO, assert_each_point_once, decided, trials_of, write_frame, write_sweep


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


GRID = dict(params={"lr": [1e-3, 1e-2]})


# ------------------------------------------------------------------------------ sweep files
def test_shipped_grid_follows_the_default_preset_and_the_faithful_file_keeps_the_seed():
    from dip_heal.sweep import SWEEPS_DIR, resolve_prune

    default = FitConfig.preset("default")
    grid, faithful = (load_sweep(REPO / "sweeps" / f"mve385-{n}.toml") for n in ("grid", "faithful"))
    assert (REPO / "sweeps" / "mve385-faithful.toml").resolve() == SWEEPS_DIR / "mve385-faithful.toml"
    assert grid.points() == faithful.points() and len(grid.points()) == 40
    cfg = resolve_config(default, grid)
    assert (cfg.num_iter, cfg.snapshot_every) == (default.num_iter, default.snapshot_every) == (1000, 25)
    assert default.time_limit == 840 and cfg.time_limit == 0  # trials are budgeted in iterations
    assert grid.prune == {"pruner": "halving", "min_resource": 100, "reduction_factor": 3}
    seed_cfg = resolve_config(default, faithful)
    assert (seed_cfg.num_iter, seed_cfg.snapshot_every, seed_cfg.time_limit) == (3000, 600, 0)
    assert not resolve_prune(faithful, seed_cfg).pruned
    for name in ("random.toml", "tpe.toml"):
        spec = load_sweep(REPO / "sweeps" / name)
        assert spec.pruned and resolve_config(default, spec).num_iter == 1000


@pytest.mark.parametrize("extra, match", [
    ({"prune": {"pruner": "asha"}}, "pruner = 'asha'; expected one of halving, hyperband, none"),
    ({"prune": {"min_resource": 0}}, "min_resource = 0; expected iterations"),
    ({"prune": {"reduction_factor": 1}}, "reduction_factor = 1; expected an integer >= 2"),
    ({"prune": {"eta": 3}}, r"\[prune\]: unknown key\(s\) eta"),
    ({"prune": 3}, "prune must be a table"),
    ({"time_budget": -5}, "time_budget = -5; expected seconds > 0"),
    ({"config": {"time_limit": 840}}, "time_limit = 840; a sweep's trials are budgeted in iterations"),
])
def test_bad_prune_settings_are_one_line_errors(extra, match):
    with pytest.raises(DipHealError, match=match) as exc:
        parse_sweep({**GRID, **extra})
    assert "\n" not in str(exc.value)


def test_min_resource_defaults_from_the_budget_and_no_prune_turns_it_off(caplog):
    from dip_heal.sweep import resolve_prune

    spec = parse_sweep(GRID)
    cfg = FitConfig(num_iter=400, snapshot_every=25)
    # 400 / 3**2 = 44.4 iterations, rounded up to a snapshot: 50
    assert resolve_prune(spec, cfg).prune == {"pruner": "halving", "min_resource": 50, "reduction_factor": 3}
    assert resolve_prune(spec, cfg.replace(num_iter=10, snapshot_every=5)).prune["min_resource"] == 5
    off = resolve_prune(spec, cfg, prune=False)
    assert not off.pruned and off.prune["pruner"] == "none"
    # no rung before the end (e.g. --iters 50 with the shipped grid's min_resource 100): not pruned, said so
    with caplog.at_level("WARNING", logger="dip_heal.sweep.spec"):
        assert not resolve_prune(parse_sweep({**GRID, "prune": {"min_resource": 400}}), cfg).pruned
    assert "min_resource = 400 iterations is not below num_iter = 400" in caplog.text
    assert resolve_prune(spec, cfg, time_budget=60).time_budget == 60.0


def test_a_time_limit_on_the_command_line_is_refused():
    spec = parse_sweep(GRID)
    with pytest.raises(DipHealError, match="--time-limit 100 applies to one fit.*--time-budget"):
        resolve_config(FitConfig.preset("default"), spec, {"time_limit": 100.0})


# ------------------------------------------------------------------------------ running
def test_pruned_grid_decides_every_point_once_and_says_where_and_why(tmp_path):
    import optuna

    from dip_heal.pick import open_run

    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = write_sweep(tmp_path / "s.toml", num_iter=20, every=5, lrs="[1e-3, 1e-2, 5e-2]", extra="blend = false")
    run = tmp_path / "run"
    summary = run_sweep(frame, run, sweep_file=sweep)
    trials = trials_of(run)
    assert_each_point_once(trials, 6)
    pruned = [t for t in decided(trials) if t.state.name == "PRUNED"]
    complete = [t for t in decided(trials) if t.state.name == "COMPLETE"]
    assert pruned and complete and (summary.n_pruned, summary.n_complete) == (len(pruned), len(complete))
    # iterations run: the last snapshot of each decided trial; a pruned trial stops at a rung (5, 15)
    assert summary.trial_iterations == sum(max(s["iteration"] for s in t.user_attrs["snapshots"])
                                           for t in decided(trials)) < 6 * 20
    assert {t.user_attrs["stopped_at"] for t in pruned} <= {5, 15}
    for t in pruned:
        reason = t.user_attrs["stop_reason"]
        rung = t.user_attrs["stopped_at"]
        assert f"not in the best 1/3 of rung {rung} (rank " in reason, reason
        assert t.user_attrs["snapshots"] and t.intermediate_values  # it keeps its snapshots
    # the recommended trial is complete; optuna-dashboard sees a named objective and each trial's settings
    assert summary.best_trial in {t.number for t in complete}
    rec = json.loads((run / "sweep.json").read_text())
    study = optuna.load_study(study_name=rec["study"], storage=rec["storage"])
    assert study.metric_names == ["held-out L1"]
    t = complete[0]
    assert t.user_attrs["settings"] == f"lr={t.params['lr']:g}, reg_noise_std={t.params['reg_noise_std']:g}, seed=0"
    # the run folder read back: TrialInfo carries the stop
    infos = {i.number: i for i in open_run(run).trials(("COMPLETE", "PRUNED"))}
    for t in pruned:
        assert infos[t.number].stopped_at == t.user_attrs["stopped_at"]
        assert infos[t.number].stop_reason == t.user_attrs["stop_reason"]
    assert all(infos[t.number].stopped_at is None for t in complete)
    # every point is decided: running again runs nothing
    run_sweep(frame, run, sweep_file=sweep)
    assert len(trials_of(run)) == len(trials)


def test_hyperband_decides_every_point_once(tmp_path):
    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = write_sweep(tmp_path / "s.toml", num_iter=12, every=3, lrs="[1e-3, 3e-3, 5e-2]",
                        extra='blend = false\n[prune]\npruner = "hyperband"\nmin_resource = 3\nreduction_factor = 2')
    summary = run_sweep(frame, tmp_path / "run", sweep_file=sweep)
    trials = trials_of(tmp_path / "run")
    assert_each_point_once(trials, 6)
    assert summary.n_complete + summary.n_pruned == 6 and summary.n_complete >= 1


def test_shared_set_up_gives_the_fit_bit_for_bit_and_is_recorded(tmp_path):
    from dip_heal.dip import fit, make_holdout
    from dip_heal.dip.frame_setup import frame_setup

    path, heal = write_frame(tmp_path / "frame.npy")
    image = np.where(heal, np.nan, np.load(path)).astype(np.float32)
    cfg = FitConfig.preset("default").replace(depth=2, channels=8, num_iter=4, snapshot_every=2, time_limit=0)
    holdout = make_holdout(~heal, heal, 0.05, 0)
    setup = frame_setup(image, heal, cfg, holdout)
    assert setup.center is not None and setup.blender is not None and setup.model_settings is not None
    own = fit(image, heal, cfg, holdout=holdout)
    shared = fit(image, heal, cfg, holdout=holdout, setup=setup)
    assert [s.val_l1 for s in shared.snapshots] == [s.val_l1 for s in own.snapshots]
    np.testing.assert_array_equal(shared.healed, own.healed)
    assert shared.extra["center"] == own.extra["center"] == setup.center
    # a set-up of other held-out pixels is not used (and the fit is still its own)
    other = frame_setup(image, heal, cfg, make_holdout(~heal, heal, 0.05, 1))
    np.testing.assert_array_equal(fit(image, heal, cfg, holdout=holdout, setup=other).healed, own.healed)
    # a sweep records its set-up once
    sweep = write_sweep(tmp_path / "s.toml")
    run_sweep(path, tmp_path / "run", sweep_file=sweep, prune=False, max_trials=1)
    rec = json.loads((tmp_path / "run" / "setup.json").read_text())
    run_holdout = np.load(tmp_path / "run" / "holdout.npy")
    assert rec["held_out_pixels"] == int(run_holdout.sum()) and rec["healed_pixels"] == int(heal.sum())
    assert len(rec["center"]) == 2 and set(rec["azimuthal_model"]) == {"n_azim", "smooth"}


def test_time_budget_stops_between_trials_never_inside_one(tmp_path, monkeypatch):
    import time as real_time
    import types

    import dip_heal.sweep.driver as driver

    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = write_sweep(tmp_path / "s.toml")
    calls = {"n": -1}

    def perf_counter() -> float:  # the sweep's clock: 10 s more at every look
        calls["n"] += 1
        return 10.0 * calls["n"]

    monkeypatch.setattr(driver, "time", types.SimpleNamespace(perf_counter=perf_counter, sleep=real_time.sleep))
    summary = run_sweep(frame, tmp_path / "run", sweep_file=sweep, prune=False, time_budget=25)
    # looks at 10 and 20 s start a trial each; at 30 s the budget is spent and no third one starts
    assert summary.budget_spent and summary.n_complete == 2 and "time budget spent" in str(summary)
    trials = trials_of(tmp_path / "run")
    assert all(max(s["iteration"] for s in t.user_attrs["snapshots"]) == 6 for t in decided(trials))  # to the end
    monkeypatch.undo()
    again = run_sweep(frame, tmp_path / "run", sweep_file=sweep, prune=False)  # the same sweep, no budget
    assert again.n_complete == 4 and not again.budget_spent


def test_sweep_progress_bar_counts_done_pruned_and_left(tmp_path, capsys):
    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = write_sweep(tmp_path / "s.toml", extra="blend = false")
    summary = run_sweep(frame, tmp_path / "run", sweep_file=sweep, progress=True)
    err = capsys.readouterr().err
    assert f"done {summary.n_complete}, pruned {summary.n_pruned}, left 0" in err
    assert "sweep" in err and "4/4" in err


def test_cli_no_prune_and_time_budget(tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main

    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = write_sweep(tmp_path / "s.toml")
    runner = CliRunner()
    res = runner.invoke(main, ["fit", str(frame), "--grid", "--sweep", str(sweep), "--out", str(tmp_path / "run"),
                               "--no-progress", "--no-prune", "--time-budget", "600"])
    assert res.exit_code == 0, res.output
    assert "4/4 trials complete in" in res.output and "pruned" not in res.output.split(";")[0]
    assert all(t.state.name == "COMPLETE" for t in trials_of(tmp_path / "run"))
    res = runner.invoke(main, ["fit", str(frame), "--no-prune", "--out", str(tmp_path / "one")])
    assert res.exit_code == 2 and "--no-prune and --time-budget apply to sweeps" in res.output
    res = runner.invoke(main, ["fit", str(frame), "--grid", "--sweep", str(sweep), "--out", str(tmp_path / "r2"),
                               "--time-limit", "100"])
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "--time-budget" in errors[0]


def test_sweep_file_time_budget_is_not_part_of_the_sweep(tmp_path):
    frame, _ = write_frame(tmp_path / "frame.npy")
    base = write_sweep(tmp_path / "s.toml").read_text()
    with_budget = tmp_path / "b.toml"
    with_budget.write_text("time_budget = 3600\n" + base)
    assert load_sweep(with_budget).time_budget == 3600.0
    first = run_sweep(frame, tmp_path / "run", sweep_file=with_budget, prune=False, max_trials=1)
    assert first.n_complete == 1
    # the same sweep without (or with another) budget resumes it
    assert run_sweep(frame, tmp_path / "run", sweep_file=with_budget, prune=False, time_budget=7200).n_complete == 4

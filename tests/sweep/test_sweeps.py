"""Sweeps: sweep files, exactly-once points, seeds, resume after Ctrl-C and SIGKILL, PostgreSQL workers."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.sweeps import load_sweep, parse_sweep, resolve_config, run_sweep, with_overrides

REPO = Path(__file__).resolve().parents[2]
@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: the test machine's cores are shared (OpenMP spinning costs more than it gives)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = FitConfig(depth=2, channels=8, num_iter=6, snapshot_every=3, holdout_fraction=0.05)

TINY_GRID = """
sampler = "grid"
seed = 0
[config]
depth = 2
channels = 8
num_iter = {num_iter}
snapshot_every = {every}
holdout_fraction = 0.05
{extra}
[params]
lr = {lrs}
reg_noise_std = [0.0, 0.03]
seed = [0]
"""


def write_frame(path: Path, seed: int = 1) -> tuple[Path, np.ndarray]:
    """A 48x48 synthetic frame (int32 counts) whose beamstop and a row band hold -1 (healed)."""
    from dip_heal.synthetic import synthetic_frame

    f = synthetic_frame((48, 48), detector=None, seed=seed)
    heal = f.beamstop.copy()
    heal[20:23, :] = True
    counts = f.counts.copy()
    counts[heal] = -1
    np.save(path, counts)
    return path, heal


def write_sweep(path: Path, *, num_iter: int = 6, every: int = 3, lrs: str = "[1e-3, 1e-2]", extra: str = "") -> Path:
    path.write_text(TINY_GRID.format(num_iter=num_iter, every=every, lrs=lrs, extra=extra))
    return path


def trials_of(run: Path) -> list:
    import optuna

    rec = json.loads((run / "sweep.json").read_text())
    return optuna.load_study(study_name=rec["study"], storage=rec["storage"]).get_trials(deepcopy=False)


def decided(trials: list) -> list:
    """Trials that decided a point: complete, or pruned by the pruner (not a surplus/duplicate trial)."""
    return [t for t in trials if t.state.name in ("COMPLETE", "PRUNED") and t.user_attrs.get("duplicate_of") is None]


def assert_each_point_once(trials: list, n_points: int) -> None:
    """Every point decided exactly once (complete or pruned), a pruned one saying where and why."""
    points = sorted(t.user_attrs["point"] for t in decided(trials))
    assert points == list(range(n_points)), points
    for t in decided(trials):
        last = max(s["iteration"] for s in t.user_attrs["snapshots"])
        if t.state.name == "PRUNED":
            assert t.user_attrs["stopped_at"] == last < t.user_attrs["config"]["num_iter"]
            assert re.match(rf"pruned at iteration {last}: (network's )?held-out L1 ", t.user_attrs["stop_reason"])
            assert t.user_attrs["best_val_l1"] == min(s["val_l1"] for s in t.user_attrs["snapshots"])
        else:
            assert t.user_attrs["stopped_at"] is None or t.user_attrs["stopped_at"] == last


# ------------------------------------------------------------------------------ sweep files
def test_shipped_grid_is_forty_distinct_settings():
    spec = load_sweep(REPO / "sweeps" / "mve385-grid.toml")
    pts = spec.points()
    assert spec.n_points() == len(pts) == 40
    base = resolve_config(FitConfig.preset("default"), spec)
    configs = {json.dumps(base.replace(**p).to_dict(), sort_keys=True) for p in pts}
    assert len(configs) == 40
    assert {p["reg_noise_std"] for p in pts} == {0.3, 0.03, 0.003, 0.0}
    assert {p["param_noise"] for p in pts} == {False, True}
    assert all(base.replace(**p).seed == 0 for p in pts)
    assert base.holdout_fraction == pytest.approx(0.03)


@pytest.mark.parametrize("name", ["random.toml", "tpe.toml"])
def test_shipped_random_and_tpe_files_load(name):
    spec = load_sweep(REPO / "sweeps" / name)
    assert spec.trials and spec.sampler in ("random", "tpe")
    if spec.sampler == "random":
        pts = spec.points()
        assert len(pts) == spec.trials
        assert pts == spec.points()  # drawn from the file's seed: the same every time
        assert all(1e-4 <= p["lr"] <= 0.1 and isinstance(p["seed"], int) for p in pts)


def test_command_line_options_win_over_the_sweep_config():
    spec = parse_sweep({"config": {"num_iter": 50, "snapshot_every": 10}, "params": {"lr": [0.1]}})
    cfg = resolve_config(FitConfig.preset("default", num_iter=7), spec)
    assert cfg.num_iter == 7 and cfg.snapshot_every == 10
    # an option equal to the preset's value only wins when passed as an explicit override
    same = FitConfig.preset("default").snapshot_every
    assert resolve_config(FitConfig.preset("default"), spec).snapshot_every == 10
    assert resolve_config(FitConfig.preset("default"), spec, {"snapshot_every": same}).snapshot_every == same


@pytest.mark.parametrize("data, match", [
    ({"params": {"lr": [0.1]}, "colour": 1}, "unknown key.*colour"),
    ({"params": {"lr": [0.1], "learning_rate": [1]}}, "unknown key.*learning_rate"),
    ({"params": {"lr": []}}, "empty grid axis"),
    ({"params": {}}, "no \\[params\\]"),
    ({"params": {"lr": {"low": 1e-4, "high": 0.1}}}, "grid needs lists"),
    ({"params": {"lr": [0.0]}}, "FitConfig.lr"),
    ({"params": {"lr": [0.1]}, "config": {"num_iters": 5}}, "unknown FitConfig key"),
    ({"params": {"lr": [0.1]}, "sampler": "bayes"}, "sampler"),
    ({"params": {"lr": {"low": 1e-4, "high": 0.1}}, "sampler": "random"}, "needs trials"),
    ({"params": {"lr": {"low": 0.0, "high": 0.1, "log": True}}, "sampler": "random", "trials": 2}, "low > 0"),
    ({"params": {"lr": [0.1, 0.1]}}, "repeats"),
])
def test_bad_sweep_definitions_are_one_line_errors(data, match):
    with pytest.raises(DipHealError, match=match) as exc:
        parse_sweep(data)
    assert "\n" not in str(exc.value)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("sampler = grid\n")  # unquoted string
    with pytest.raises(DipHealError, match="not valid TOML"):
        load_sweep(bad)
    with pytest.raises(DipHealError, match="no such sweep file"):
        load_sweep(tmp_path / "nope.toml")


def test_trials_do_not_apply_to_a_grid_and_sampler_override():
    spec = parse_sweep({"params": {"lr": [0.1, 0.01], "reg_noise_std": [0.0, 0.03]}})
    with pytest.raises(DipHealError, match="does not apply to a grid"):
        with_overrides(spec, None, 3)
    rnd = with_overrides(spec, "random", 3)
    assert rnd.sampler == "random" and len(rnd.points()) == 3
    assert all(p["lr"] in (0.1, 0.01) for p in rnd.points())


def test_unreachable_storage_is_one_line(tmp_path):
    frame, _ = write_frame(tmp_path / "f.npy")
    sweep = write_sweep(tmp_path / "s.toml")
    with pytest.raises(DipHealError, match="cannot open the Optuna storage") as exc:
        run_sweep(frame, tmp_path / "run", base_config=TINY, sweep_file=sweep,
                  storage="postgresql://nobody@127.0.0.1:1/nothing")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "run").exists()  # nothing written before the storage opened
    with pytest.raises(DipHealError, match="cannot open the Optuna storage"):
        run_sweep(frame, tmp_path / "run2", base_config=TINY, sweep_file=sweep, storage="not-a-url")


# ------------------------------------------------------------------------------ running
@pytest.fixture
def tiny(tmp_path):
    frame, heal = write_frame(tmp_path / "frame.npy")
    return frame, write_sweep(tmp_path / "tiny.toml"), heal


def test_grid_runs_each_point_once_and_reproduces_with_its_seed(tiny, tmp_path):
    import optuna
    from optuna.artifacts import FileSystemArtifactStore

    from dip_heal.dip import fit

    frame, sweep, heal = tiny
    run = tmp_path / "run"
    summary = run_sweep(frame, run, sweep_file=sweep, prune=False)
    assert summary.n_complete == summary.n_points == 4 and summary.n_pruned == 0
    trials = trials_of(run)
    assert_each_point_once(trials, 4)
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) == 4
    t = next(t for t in trials if t.user_attrs["point"] == 3)
    assert t.params == {"lr": 1e-2, "reg_noise_std": 0.03, "seed": 0}
    assert t.user_attrs["seed"] == 0 and t.user_attrs["config"]["lr"] == 1e-2
    snaps = t.user_attrs["snapshots"]
    assert [s["iteration"] for s in snaps] == [0, 3, 6]  # 0: the azimuthal fill (guide "auto")
    assert t.value == min(s["val_l1"] for s in snaps)
    assert t.user_attrs["best_iteration"] in (0, 3, 6)
    # the pruner's signal: the network's own held-out L1 (the sweep blends: the blend's never tells trials apart
    # while the fills beat every network)
    assert all(s["net_l1"] is not None and s["net_l1"] >= s["val_l1"] - 1e-6 for s in snaps)
    assert t.intermediate_values == {s["iteration"]: pytest.approx(s["net_l1"]) for s in snaps}
    rec = json.loads((run / "sweep.json").read_text())
    metas = optuna.artifacts.get_all_artifact_meta(t, storage=optuna.storages.RDBStorage(rec["storage"]))
    assert {m.artifact_id for m in metas} == {s[k] for s in snaps for k in ("npy", "png")}
    # rerunning the trial from its recorded config (seed included) reproduces it on the CPU
    store = FileSystemArtifactStore(str(run / "artifacts"))
    with store.open_reader(snaps[-1]["npy"]) as fh:
        stored = np.load(fh)
    counts = np.load(frame)
    image = np.where(heal, np.nan, counts).astype(np.float32)
    again = fit(image, heal, FitConfig.from_dict(t.user_attrs["config"]), holdout=np.load(run / "holdout.npy"))
    np.testing.assert_array_equal(again.snapshots[-1].healed, stored)
    assert again.snapshots[0].val_l1 == pytest.approx(snaps[0]["val_l1"], rel=1e-6)
    # held-out pixels keep their measured values in every snapshot
    hold = np.load(run / "holdout.npy")
    assert hold.any() and not (hold & heal).any()
    np.testing.assert_array_equal(stored[hold], counts[hold].astype(np.float32))
    # running the same command again runs nothing
    again_summary = run_sweep(frame, run, sweep_file=sweep, prune=False)
    assert len(trials_of(run)) == 4 and again_summary.n_complete == 4


@pytest.mark.parametrize("prune", [False, True])
def test_a_one_point_grid_runs_its_point(tmp_path, prune):
    """Optuna's GridSampler stops a study by grid ids that queued trials never carry (a one-point grid failed)."""
    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = tmp_path / "one.toml"
    sweep.write_text(TINY_GRID.format(num_iter=6, every=3, lrs="[1e-2]", extra="").replace("[0.0, 0.03]", "[0.0]"))
    summary = run_sweep(frame, tmp_path / "run", sweep_file=sweep, prune=prune)
    assert summary.n_points == summary.n_complete == 1
    assert_each_point_once(trials_of(tmp_path / "run"), 1)


@pytest.mark.slow
def test_shipped_forty_point_grid_runs_forty_distinct_settings(tmp_path):
    frame, _ = write_frame(tmp_path / "frame.npy")
    cfg = FitConfig(depth=1, channels=4, num_iter=2, snapshot_every=2, holdout_fraction=0.05)
    summary = run_sweep(frame, tmp_path / "run", base_config=cfg)
    assert summary.n_complete == 40
    trials = trials_of(tmp_path / "run")
    assert_each_point_once(trials, 40)
    assert len({json.dumps(t.user_attrs["config"], sort_keys=True) for t in trials}) == 40
    assert all(t.user_attrs["seed"] == 0 for t in trials)


def test_random_sweep_runs_its_drawn_points(tmp_path):
    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = tmp_path / "r.toml"
    sweep.write_text(textwrap.dedent("""
        sampler = "random"
        seed = 3
        trials = 2
        [params]
        lr = {low = 1e-3, high = 1e-2, log = true}
        seed = {low = 0, high = 99}
    """))
    summary = run_sweep(frame, tmp_path / "run", base_config=TINY, sweep_file=sweep, prune=False)
    assert summary.n_complete == 2
    trials = trials_of(tmp_path / "run")
    from dip_heal.sweeps import load_sweep as ls

    pts = ls(sweep).points()
    assert sorted((t.params["lr"], t.params["seed"]) for t in trials) == sorted((p["lr"], p["seed"]) for p in pts)
    assert all(t.user_attrs["seed"] == t.params["seed"] for t in trials)


def test_tpe_sweep_completes_its_trials(tmp_path):
    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = tmp_path / "t.toml"
    sweep.write_text('sampler = "tpe"\ntrials = 2\n[params]\nlr = {low = 1e-3, high = 1e-1, log = true}\n')
    summary = run_sweep(frame, tmp_path / "run", base_config=TINY, sweep_file=sweep)
    # pruning on (the default): the first trial always completes, the second completes or is pruned
    assert summary.n_complete + summary.n_pruned == 2 and summary.best_trial is not None


def test_ctrl_c_then_rerun_completes_each_point_once(tiny, tmp_path, monkeypatch):
    import dip_heal.dip as fit_mod

    frame, sweep, _ = tiny
    run = tmp_path / "run"
    real_fit = fit_mod.fit
    calls = {"n": 0}

    def interrupting_fit(*args, callback=None, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            def cb(snap, state):
                callback(snap, state)
                raise KeyboardInterrupt
            return real_fit(*args, callback=cb, **kwargs)
        return real_fit(*args, callback=callback, **kwargs)

    monkeypatch.setattr(fit_mod, "fit", interrupting_fit)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(frame, run, sweep_file=sweep)
    monkeypatch.setattr(fit_mod, "fit", real_fit)
    trials = trials_of(run)
    interrupted = [t for t in trials if t.state.name == "FAIL"]
    assert len(interrupted) == 1 and len(decided(trials)) == 1

    run_sweep(frame, run, sweep_file=sweep)
    trials = trials_of(run)
    assert_each_point_once(trials, 4)
    retried = [t for t in trials if t.user_attrs.get("retry_of") == interrupted[0].number]
    assert len(retried) == 1 and retried[0].state.name in ("COMPLETE", "PRUNED")
    assert retried[0].params == interrupted[0].params
    # the retry records only its own snapshots (up to where it was pruned, if it was)
    its = [s["iteration"] for s in retried[0].user_attrs["snapshots"]]
    assert its == [0, 3, 6][:len(its)] and len(its) >= 2


_WORKER = """
import sys, time, torch
from pathlib import Path
torch.set_num_threads(1)
from dip_heal.config import FitConfig
from dip_heal.sweeps import run_sweep
frame, out, sweep, storage, study, ready, others = sys.argv[1:8]
Path(ready).touch()
deadline = time.time() + 60
while not all(Path(p).exists() for p in others.split(",") if p) and time.time() < deadline:
    time.sleep(0.05)
run_sweep(frame, out, sweep_file=sweep, storage=storage or None, study_name=study or None,
          heartbeat_interval=1, grace_period=2)
"""


def _worker(tmp: Path, frame: Path, out: Path, sweep: Path, storage: str = "", study: str = "",
            ready: str = "", others: str = "") -> subprocess.Popen:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    ready = ready or str(tmp / f"ready-{uuid.uuid4().hex}")
    return subprocess.Popen([sys.executable, "-c", _WORKER, str(frame), str(out), str(sweep), storage, study, ready,
                             others], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_sigkill_mid_trial_then_rerun_runs_each_point_once(tmp_path):
    frame, _ = write_frame(tmp_path / "frame.npy")
    # the network's own held-out L1 (no blend: a tiny net's blend may weigh the fills only, tying every trial)
    sweep = write_sweep(tmp_path / "s.toml", num_iter=40, every=20, lrs="[1e-3, 1e-2, 5e-2]", extra="blend = false")
    run = tmp_path / "run"
    proc = _worker(tmp_path, frame, run, sweep)
    killed = None
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not (run / "study.db").exists():
                continue
            try:
                con = sqlite3.connect(run / "study.db", timeout=1)
                try:
                    rows = con.execute("SELECT t.number, t.state, h.trial_id FROM trials t LEFT JOIN "
                                       "trial_heartbeats h ON h.trial_id = t.trial_id").fetchall()
                finally:
                    con.close()
            except sqlite3.OperationalError:
                continue
            done = [n for n, s, _ in rows if s == "COMPLETE"]
            running = [n for n, s, beat in rows if s == "RUNNING" and beat is not None]
            if done and running:
                proc.send_signal(signal.SIGKILL)
                killed = running[0]
                break
    finally:
        if proc.poll() is None and killed is None:
            proc.kill()
        proc.wait()
    assert killed is not None, proc.stdout.read().decode()[-2000:]
    assert proc.returncode == -signal.SIGKILL

    run_sweep(frame, run, sweep_file=sweep, heartbeat_interval=1, grace_period=2)
    trials = trials_of(run)
    assert_each_point_once(trials, 6)
    dead = next(t for t in trials if t.number == killed)
    assert dead.state.name == "FAIL"
    retry = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].state.name in ("COMPLETE", "PRUNED")
    assert retry[0].user_attrs["point"] == dead.user_attrs["point"]
    assert any(t.state.name == "PRUNED" for t in decided(trials))  # the sweep pruned (pruning is the default)
    assert dead.params.items() <= retry[0].params.items()  # the killed trial may have died mid-suggest


@pytest.mark.postgres
def test_two_workers_share_a_postgres_study_and_cover_the_grid_once(tmp_path):
    url = os.environ.get("DIP_HEAL_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("DIP_HEAL_TEST_POSTGRES_URL is not set (start a server with .ci/postgres.sh)")
    frame, _ = write_frame(tmp_path / "frame.npy")
    sweep = write_sweep(tmp_path / "s.toml", num_iter=20, every=10, lrs="[1e-3, 3e-3, 1e-2, 5e-2]",
                        extra="blend = false")
    study = f"test-{uuid.uuid4().hex[:12]}"
    ready = [str(tmp_path / "ready-a"), str(tmp_path / "ready-b")]
    procs = [_worker(tmp_path, frame, tmp_path / f"run{i}", sweep, url, study, ready[i], ",".join(ready))
             for i in range(2)]
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        outs.append(out.decode())
    assert all(p.returncode == 0 for p in procs), "\n".join(o[-2000:] for o in outs)
    import optuna

    from dip_heal.sweeps import open_storage

    trials = optuna.load_study(study_name=study, storage=open_storage(url)).get_trials(deepcopy=False)
    assert_each_point_once(trials, 8)
    ran_here = [len(list((tmp_path / f"run{i}" / "artifacts").iterdir())) for i in range(2)]
    assert all(n > 0 for n in ran_here), ran_here  # both workers ran trials
    # every decided trial's snapshots (iterations 0, 10, 20; a pruned one's up to 10) x (npy, png): nothing ran
    # twice, and what a failed or duplicate trial might have left is gone
    assert sum(ran_here) == 2 * sum(len(t.user_attrs["snapshots"]) for t in decided(trials))
    assert any(t.state.name == "PRUNED" for t in decided(trials))


# ------------------------------------------------------------------------------ run folders
def test_resuming_with_other_options_is_refused(tiny, tmp_path):
    frame, sweep, _ = tiny
    run = tmp_path / "run"
    per_scale = TINY.replace(channels=(8, 8))  # a tuple field, stored as a JSON list
    first = run_sweep(frame, run, base_config=per_scale, sweep_file=sweep, max_trials=1)
    assert first.n_complete + first.n_pruned == 1
    with pytest.raises(DipHealError, match="holds another sweep"):
        run_sweep(frame, run, base_config=TINY.replace(num_iter=9), sweep_file=sweep)
    second = run_sweep(frame, run, base_config=per_scale, sweep_file=sweep, max_trials=1)
    assert second.n_complete + second.n_pruned == 2
    with pytest.raises(DipHealError, match="holds another sweep"):  # pruning is part of the sweep
        run_sweep(frame, run, base_config=per_scale, sweep_file=sweep, prune=False)
    with pytest.raises(DipHealError, match="holds another sweep"):
        run_sweep(frame, tmp_path / "other", base_config=TINY.replace(num_iter=9), sweep_file=sweep,
                  storage=f"sqlite:///{run / 'study.db'}", study_name="tiny-frame")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(DipHealError, match="holds no sweep"):
        run_sweep(frame, tmp_path / "full", base_config=TINY, sweep_file=sweep)


def test_cli_fit_grid(tiny, tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main

    frame, sweep, _ = tiny
    runner = CliRunner()
    res = runner.invoke(main, ["fit", str(frame), "--grid", "--sweep", str(sweep), "--out", str(tmp_path / "run"),
                               "--no-progress"])
    assert res.exit_code == 0, res.output
    m = re.search(r"(\d)/4 trials complete(?:, (\d) pruned)?", res.output)
    assert m and int(m[1]) + int(m[2] or 0) == 4 and "dip-heal pick" in res.output, res.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[params]\nlr = []\n')
    res = runner.invoke(main, ["fit", str(frame), "--grid", "--sweep", str(bad), "--out", str(tmp_path / "r2")])
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "empty grid axis" in errors[0]
    res = runner.invoke(main, ["fit", str(frame), "--grid", "--sweep", str(sweep), "--out", str(tmp_path / "r3"),
                               "--storage", "postgresql://nobody@127.0.0.1:1/x"])
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "cannot open the Optuna storage postgresql://nobody@127.0.0.1:1/x" in errors[0]


def test_sweep_options_from_the_command_line():
    from dip_heal.sweep import SweepOptions

    opts = SweepOptions.from_cli(center=None, sampler="random", trials=3)
    assert opts == SweepOptions(sampler="random", trials=3) and opts.grace_period == 20
    with pytest.raises(DipHealError, match="--center applies to one fit"):
        SweepOptions.from_cli(center=(1.0, 2.0))
    with pytest.raises(TypeError, match="sweepfile"):
        run_sweep("x.npy", "run", sweepfile="g.toml")

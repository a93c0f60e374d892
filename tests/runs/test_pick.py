"""`pick`: the chosen snapshot written in the input's format, bit-exact measured pixels, recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import tiny_sweep_run
from dip_heal.errors import DipHealError


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-trial sweep of a 48x48 int32 synthetic frame (-1 = healed)."""
    return tiny_sweep_run(tmp_path_factory.mktemp("pick"), seed=3, band=(slice(None), slice(10, 12)), snapshot_every=3)


def test_pick_best_writes_native_float32_and_preview(run, tmp_path):
    from dip_heal.io import read_image
    from dip_heal.pick import open_run, pick

    res = pick(run, best=True, out_dir=tmp_path / "out")
    sw = open_run(run)
    best = sw.best()
    assert res.trial == best.number and res.iteration == best.best_iteration
    assert res.healed_path.suffix == ".npy"
    raw = np.load(run.parent / "frame.npy")
    native = np.load(res.healed_path)
    heal = sw.heal
    assert native.dtype == raw.dtype
    np.testing.assert_array_equal(native[~heal], raw[~heal])  # measured pixels bit for bit (held-out too)
    snap = sw.load(best, res.iteration)
    np.testing.assert_array_equal(native[heal], np.clip(np.rint(snap[heal]), 0, None).astype(raw.dtype))
    f32 = read_image(res.float32_path)
    assert f32.raw.dtype == np.float32
    np.testing.assert_array_equal(f32.raw[heal], snap[heal])
    np.testing.assert_array_equal(f32.raw[~heal], raw[~heal].astype(np.float32))
    assert res.preview_path.exists()
    picks = json.loads((run / "picks.json").read_text())
    assert picks[-1]["trial"] == best.number and picks[-1]["how"] == "best"
    assert picks[-1]["seed"] == 0 and picks[-1]["config"]["lr"] in (1e-3, 1e-2)


def test_pick_trial_and_iteration(run, tmp_path):
    from dip_heal.pick import pick

    res = pick(run, trial=0, iteration=3, out_dir=tmp_path / "o")
    assert (res.trial, res.iteration) == (0, 3)
    assert res.healed_path.name == "trial0_iter3.npy"
    res = pick(run, trial=1, out_dir=tmp_path / "o")  # default: that trial's recommended snapshot
    assert res.iteration in (0, 3, 6)  # 0: the azimuthal fill the default starts from


def test_pick_missing_trial_or_iteration_lists_what_exists(run):
    from dip_heal.pick import pick

    with pytest.raises(DipHealError, match=r"no complete trial 7; expected one of the complete trials: 0-1"):
        pick(run, trial=7)
    with pytest.raises(DipHealError, match=r"no snapshot at iteration 4; expected one of: 0, 3, 6"):
        pick(run, trial=0, iteration=4)
    with pytest.raises(DipHealError, match="one of --trial"):
        pick(run)
    with pytest.raises(DipHealError, match="one of --trial"):
        pick(run, trial=0, best=True)
    with pytest.raises(DipHealError, match="one of --trial"):
        pick(run, best=True, average=2)


def test_pick_average_is_the_log_median_of_the_best_trials(run, tmp_path):
    from dip_heal.pick import open_run, pick

    res = pick(run, average=2, out_dir=tmp_path / "avg")
    sw = open_run(run)
    trials = sorted(sw.trials(), key=lambda t: t.value)
    assert res.averaged == tuple((t.number, t.best_iteration) for t in trials)
    assert res.healed_path.name == "average2.npy" and "averaged 2 trials" in str(res)
    heal = sw.heal
    snaps = [sw.load(t, t.best_iteration) for t in trials]
    want = np.expm1(np.mean([np.log1p(np.clip(s[heal].astype(np.float64), 0, None)) for s in snaps], axis=0))
    from dip_heal.io import read_image

    f32 = read_image(res.float32_path).raw
    np.testing.assert_allclose(f32[heal], want, rtol=1e-6)
    raw = np.load(run.parent / "frame.npy")
    np.testing.assert_array_equal(np.load(res.healed_path)[~heal], raw[~heal])
    picks = json.loads((run / "picks.json").read_text())
    assert picks[-1]["how"] == "median of trials" and len(picks[-1]["averaged"]) == 2
    with pytest.raises(DipHealError, match="has 2 complete trials; expected 2 to 2"):
        pick(run, average=3)


def test_pick_cli(run, tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["pick", str(run), "--best", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "picked trial" in res.output
    res = runner.invoke(main, ["pick", str(run), "--average", "2", "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "averaged 2 trials" in res.output and (tmp_path / "a" / "average2.npy").exists()
    res = runner.invoke(main, ["pick", str(run), "--trial", "0", "--iter", "5"])
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "expected one of: 0, 3, 6" in errors[0]


def test_rerun_trial_reproduces_its_snapshots(run):
    from dip_heal.pick import open_run, rerun_trial

    sw = open_run(run)
    t = sw.trial(1)
    result = rerun_trial(run, 1)
    for snap in result.snapshots:
        np.testing.assert_array_equal(snap.healed, sw.load(t, snap.iteration))


def test_pick_records_what_it_wrote_in_the_run_folder_marker(tmp_path):
    """picks.json and picked/ are dip-heal's: --force may replace the folder, it does not call them foreign."""
    from dip_heal.outputs import MARKER, begin_dir, discard_dir
    from dip_heal.pick import pick

    run = tiny_sweep_run(tmp_path, seed=4, band=(slice(None), slice(20, 22)), snapshot_every=3)
    pick(run, best=True)  # default: RUN/picked
    entries = json.loads((run / MARKER).read_text())["entries"]
    assert {"picks.json", "picked", "sweep.json"} <= set(entries)
    discard_dir(begin_dir(run, force=True))  # refused with "holds files dip-heal did not write" before

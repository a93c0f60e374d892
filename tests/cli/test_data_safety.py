"""Never lose a user's file, never heal a broken one (issue 14): the defects the bad-input table
(tests/test_bad_inputs.py) does not show as one command, each tested on its own."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from dip_heal.cli import main
from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.outputs import MARKER, begin_dir, commit_dir


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def frame(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.poisson(40, (32, 32)).astype(np.int32)
    a[14:17, :] = -1
    p = tmp_path / "frame.npy"
    np.save(p, a)
    cfg = tmp_path / "tiny.json"
    FitConfig(depth=2, channels=8, num_iter=3, snapshot_every=1, seed=1).to_json(cfg)
    return p, cfg


def _fit(args, **kw):
    return CliRunner().invoke(main, ["fit", *args, "--no-progress"], **kw)


# ----------------------------------------------------------------------------- --force


def test_force_replaces_a_run_folder_dip_heal_made(tmp_path, frame):
    p, cfg = frame
    out = tmp_path / "run"
    assert _fit([str(p), "--config", str(cfg), "--out", str(out)]).exit_code == 0
    assert (out / MARKER).is_file()
    first = _sha(out / "healed.npy")
    res = _fit([str(p), "--config", str(cfg), "--out", str(out), "--force", "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert (out / MARKER).is_file() and _sha(out / "healed.npy") != first
    assert not list(tmp_path.glob(".run.*"))  # no temporary or old folder left beside it


def test_force_keeps_files_a_user_added_to_a_run_folder(tmp_path, frame):
    p, cfg = frame
    out = tmp_path / "run"
    assert _fit([str(p), "--config", str(cfg), "--out", str(out)]).exit_code == 0
    (out / "notes.txt").write_text("my notes")
    res = _fit([str(p), "--config", str(cfg), "--out", str(out), "--force"])
    assert res.exit_code == 1 and "notes.txt" in res.output
    assert (out / "notes.txt").read_text() == "my notes"


def test_force_refuses_the_input_inside_out_and_keeps_everything(tmp_path, frame):
    p, cfg = frame
    d = tmp_path / "d"
    d.mkdir()
    inp = d / "frame.npy"
    inp.write_bytes(p.read_bytes())
    (d / "notes.txt").write_text("x")
    (d / "sub").mkdir()
    (d / "sub" / "keep.txt").write_text("y")
    before = {q: _sha(q) for q in d.rglob("*") if q.is_file()}
    for out in (d, tmp_path):  # the folder of the input, and a parent of it
        res = _fit([str(inp), "--config", str(cfg), "--out", str(out), "--force"])
        assert res.exit_code == 1, res.output
    assert {q: _sha(q) for q in d.rglob("*") if q.is_file()} == before


def test_force_with_out_dot_in_the_input_folder(tmp_path, frame, monkeypatch):
    p, cfg = frame
    monkeypatch.chdir(p.parent)
    before = sorted(q.name for q in p.parent.iterdir())
    res = _fit(["frame.npy", "--config", str(cfg), "--out", ".", "--force"])
    assert res.exit_code == 1 and "working directory" in res.output
    assert sorted(q.name for q in p.parent.iterdir()) == before


def test_begin_and_commit_dir_rename_atomically(tmp_path):
    out = tmp_path / "o"
    tmp = begin_dir(out)
    (tmp / "a.txt").write_text("1")
    commit_dir(tmp, out, command="test")
    rec = json.loads((out / MARKER).read_text())
    assert rec["entries"] == ["a.txt"] and not tmp.exists()
    with pytest.raises(DipHealError, match="not empty"):
        begin_dir(out)
    tmp = begin_dir(out, force=True)  # ours, with only our entries: allowed
    commit_dir(tmp, out)
    assert not (out / "a.txt").exists()


# ----------------------------------------------------------------------------- reading


def test_fit_and_bulk_take_hdf5_selectors(tmp_path, frame):
    p, cfg = frame
    a = np.load(p)
    stack = np.stack([a, np.where(a < 0, -1, a + 1)]).astype(np.int32)
    h5 = tmp_path / "stack.h5"
    with h5py.File(h5, "w") as f:
        f["entry/data/data"] = stack
    sel = f"{h5}::/entry/data/data[1]"
    res = _fit([sel, "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    # issue 20: the healed file is the input's HDF5 tree with frame 1 healed; frame 0 as it was
    read_image = __import__("dip_heal").read_image
    healed = np.asarray(read_image(f"{tmp_path / 'run' / 'healed.h5'}::/entry/data/data[1]").raw)
    keep = stack[1] >= 0
    assert np.array_equal(healed[keep], stack[1][keep])
    assert np.array_equal(read_image(f"{tmp_path / 'run' / 'healed.h5'}::/entry/data/data[0]").raw, stack[0])
    res = CliRunner().invoke(main, ["bulk", sel, "--out", str(tmp_path / "bulk"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert sorted(q.name for q in (tmp_path / "bulk").iterdir()) == ["stack_1_healed.h5",
                                                                    "stack_1_healed.heal_mask.npy"]
    healed_px = np.load(tmp_path / "bulk" / "stack_1_healed.heal_mask.npy")
    assert healed_px.dtype == bool and np.array_equal(healed_px, stack[1] < 0)  # which pixels bulk healed


def test_a_frame_as_mask_is_used_when_its_convention_is_given(tmp_path, frame):
    p, cfg = frame
    levels = np.arange(32 * 32).reshape(32, 32) % 50  # 50 levels: a frame, not a mask
    np.save(tmp_path / "m.npy", levels)
    res = _fit([str(p), "--mask", str(tmp_path / "m.npy"), "--config", str(cfg), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "distinct values" in res.output
    res = _fit([str(p), "--mask", str(tmp_path / "m.npy"), "--mask-convention", "keep", "--config", str(cfg),
                "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output


# ----------------------------------------------------------------------------- one line, no traceback


def test_memory_error_is_one_line_and_debug_after_the_subcommand_shows_it(tmp_path, frame, monkeypatch):
    p, cfg = frame
    import dip_heal.runs

    def boom(*a, **k):
        raise MemoryError("cannot allocate 7 GB")

    monkeypatch.setattr(dip_heal.runs, "fit_to_run", boom)
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "out of memory" in res.output and len(res.output.strip().splitlines()) == 1
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r"), "--debug"])
    assert isinstance(res.exception, MemoryError)  # --debug after the subcommand: the real error


def test_a_bug_is_one_line_naming_itself_and_debug_shows_it(tmp_path, frame, monkeypatch):
    p, cfg = frame
    import dip_heal.runs

    def bug(*a, **k):
        raise KeyError("grid_id")

    monkeypatch.setattr(dip_heal.runs, "fit_to_run", bug)
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert "internal error (KeyError: 'grid_id')" in res.output and "--debug" in res.output
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r"), "--debug"])
    assert isinstance(res.exception, KeyError)


def test_verbose_after_the_subcommand(tmp_path, frame):
    p, cfg = frame
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r"), "-q", "-q", "-q"])
    assert res.exit_code == 0 and "INFO" not in res.output and "healed" in res.output
    log = tmp_path / "log.txt"
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r2"), "--log-file", str(log)])
    assert res.exit_code == 0 and "fit done" in log.read_text()


def test_bulk_without_safetensors_says_what_to_install(tmp_path, frame, monkeypatch):
    p, _ = frame
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    res = CliRunner().invoke(main, ["bulk", str(p), "--out", str(tmp_path / "o"), "--no-progress"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "safetensors" in res.output and "pip install" in res.output
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- honest success


def test_fit_summary_says_iterations_run_snapshot_and_weights(tmp_path, frame):
    p, _ = frame
    cfg = tmp_path / "stop.json"
    FitConfig(depth=2, channels=8, num_iter=6, snapshot_every=1, seed=1, blend=True,
              holdout_fraction=0.05).to_json(cfg)
    res = _fit([str(p), "--config", str(cfg), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    line = [ln for ln in res.output.splitlines() if ln.startswith("healed ")][-1]
    rec = json.loads((tmp_path / "r" / "config.json").read_text())
    assert f"{rec['stopped_at']} iterations run" in line
    assert f"returned snapshot iteration {rec['iteration']}" in line
    assert "healed by" in line and ("dip" in line or "azimuthal" in line or "telea" in line)


# ----------------------------------------------------------------------------- installs


def test_shipped_sweeps_and_specs_are_package_data_with_one_source():
    import configparser

    import dip_heal
    from dip_heal.masks import MaskSpec, shipped_specs
    from dip_heal.sweeps import SWEEPS_DIR, default_sweep_path

    pkg = Path(dip_heal.__file__).resolve().parent
    assert SWEEPS_DIR.is_relative_to(pkg) and default_sweep_path("grid").is_file()
    assert {"pilatus-saxs", "auto", "gaps-only"} <= set(shipped_specs())
    assert MaskSpec.from_json("pilatus-saxs") == MaskSpec.from_json(pkg / "data" / "masks" / "pilatus-saxs.json")
    cfg = configparser.ConfigParser()
    cfg.read(pkg.parent / "setup.cfg")
    data = cfg["options.package_data"]["dip_heal"]
    assert "data/sweeps/*.toml" in data and "data/masks/*.json" in data
    repo = pkg.parent
    for folder, ext in (("sweeps", "toml"), ("masks", "json")):  # the user-facing copies are links
        for f in (repo / folder).glob(f"*.{ext}"):
            assert f.is_symlink() and f.resolve().parent == pkg / "data" / folder, f


# ----------------------------------------------------------------------------- no leftovers


def test_a_sweep_leaves_no_temp_folder_and_removes_a_failed_trials_snapshots(tmp_path, monkeypatch):
    import tempfile

    import optuna

    from conftest import tiny_sweep_run
    from dip_heal import sweeps

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    run = tiny_sweep_run(tmp_path, seed=1, band=(slice(20, 23), slice(None)), snapshot_every=3)
    assert not list((tmp_path / "tmp").iterdir())  # nothing in the system temp folder
    assert not (run / ".tmp").exists() or not list((run / ".tmp").iterdir())
    # a killed trial: its snapshots were uploaded, then it was marked failed
    store = sweeps.artifact_store(run / "artifacts")
    storage = sweeps.open_storage(f"sqlite:///{run / 'study.db'}")
    study = optuna.load_study(study_name=json.loads((run / "sweep.json").read_text())["study"], storage=storage)
    trial = study.ask()
    junk = tmp_path / "junk.npy"
    np.save(junk, np.zeros(3))
    aid = optuna.artifacts.upload_artifact(artifact_store=store, file_path=str(junk), study_or_trial=trial)
    trial.set_user_attr("snapshots", [{"iteration": 1, "npy": aid, "png": None}])
    (run / ".tmp").mkdir(exist_ok=True)
    (run / ".tmp" / f"trial{trial.number:05d}-abc").mkdir()
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    n_files = len(list((run / "artifacts").rglob("*")))
    ctx = sweeps.TrialContext(image=None, heal=None, holdout=None, limits=(0, 1), config=None, spec=None, points=[],
                          store=store, device=None, progress=False, grace_period=1, tmp_root=run / ".tmp")
    sweeps.remove_orphans(study, ctx)
    assert len(list((run / "artifacts").rglob("*"))) == n_files - 1
    assert not list((run / ".tmp").iterdir())


def test_ci_removes_its_postgres_folder():
    text = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert 'rm -rf "$pg_base"' in text and "installed.sh" in text

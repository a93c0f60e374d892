"""``bulk`` on many workers (issue 21): a local Dask cluster, a worker killed mid-run, --method and the heal record.

The cluster tests start their own ``LocalCluster`` of two worker processes on 127.0.0.1 (no
service needed) and guard every wait with a timeout, so they cannot hang CI (the limits are far
above the seconds the tests take on an idle machine, so that a loaded one does not fail them).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
distributed = pytest.importorskip("distributed")

from dip_heal.blind.bulk import bulk, heal_mask_path  # noqa: E402

from conftest import shared_file  # noqa: E402

N_FRAMES = 12


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _frames(folder: Path, n: int = N_FRAMES, shape=(64, 64)) -> list[Path]:
    """Generated int32 frames with a module gap of -1 and a dead column of -2."""
    from dip_heal.synthetic import synthetic_frame

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        counts = synthetic_frame(shape, detector=None, seed=100 + i, counts=800.0).counts.astype(np.int32)
        counts[30:34, :] = -1
        counts[:, 9 + i % 5] = -2
        p = folder / f"frame_{i:02d}.npy"
        np.save(p, counts)
        paths.append(p)
    return paths


def _tiny_model(folder: Path) -> Path:
    import torch

    from dip_heal.blind.model_dir import save_model
    from dip_heal.blind.nets import MSDNet

    torch.manual_seed(0)
    net = MSDNet(4, 2, in_channels=2)
    card = {"architecture": "msdnet", "hyperparameters": net.hparams, "inputs": "prefill+mask", "residual": True,
            "tile": {"size": 32, "overlap": 8}, "layout": {"detector": "Pilatus300k", "frame_shape": None}}
    return save_model(folder, net, card)


def _outputs(out: Path) -> dict[str, np.ndarray]:
    return {p.name: np.load(p) for p in sorted(out.glob("*_healed.npy"))}


def _check_record(out: Path, paths: list[Path]) -> None:
    """One output per frame, its heal mask beside it and named in its provenance, no temporary leftovers."""
    import json

    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".")], names  # no temporary files left behind
    for p in paths:
        stem = p.stem + "_healed"
        assert names.count(f"{stem}.npy") == 1
        healed, raw = np.load(out / f"{stem}.npy"), np.load(p)
        heal = np.load(heal_mask_path(out / f"{stem}.npy"))
        assert heal.shape == raw.shape and heal[raw < 0].all()
        np.testing.assert_array_equal(healed[~heal], raw[~heal])  # measured pixels bit-exact
        prov = json.loads((out / f"{stem}.npy.provenance.json").read_text())
        assert prov["heal_mask"] == f"{stem}.heal_mask.npy" and prov["n_healed"] == int(heal.sum())
    assert len(list(out.glob("*_healed.npy"))) == len(paths)


def _slow_telea():
    """Telea with a pause, so that frames are still running when a worker is killed (pickled by value)."""
    def slow_telea(image, heal_mask):
        import time as _time

        from dip_heal.fills import heal_telea

        _time.sleep(0.25)
        return heal_telea(image, heal_mask)

    return slow_telea


def _run_with_deadline(fn, seconds: float):
    """``fn()`` in a thread; fail (never hang) when it has not returned after ``seconds``."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the test's thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"bulk on the Dask cluster did not finish in {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as lc, Client(lc, timeout="90s") as client:
        client.wait_for_workers(2, timeout=90)
        client.run(__import__, "dip_heal.blind.bulk")  # the workers' first import, outside the timed tests
        yield lc, client


def test_a_killed_worker_loses_nothing_and_every_frame_is_healed_once(tmp_path, cluster):
    lc, client = cluster
    paths = _frames(tmp_path / "in")
    method = _slow_telea()
    ref = bulk(paths, tmp_path / "one", method="telea")  # one process: the reference (the same pixels)
    assert len(ref.written) == N_FRAMES and not ref.failed
    out = tmp_path / "dask"
    killed: dict = {}

    def killer():
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline:  # after the first outputs appear, kill a worker mid-run
            if len(list(out.glob("*_healed.npy"))) >= 2:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    killed["worker"] = busy[0]
                    killed["left"] = N_FRAMES - len(list(out.glob("*_healed.npy")))
                    try:
                        client.run(os._exit, 1, workers=[busy[0]], wait=False)
                    except Exception:  # noqa: BLE001 - the worker dies while answering
                        pass
                    return
            time.sleep(0.02)

    k = threading.Thread(target=killer, daemon=True)
    k.start()
    s = _run_with_deadline(lambda: bulk(paths, out, method=method, scheduler=lc.scheduler_address, timeout=100), 110)
    k.join(5)
    assert killed.get("worker"), "no worker was killed mid-run"
    assert killed["left"] > 0  # frames were still to do when it died
    assert not s.failed, s.failed
    assert len(s.written) == N_FRAMES and not s.skipped
    _check_record(out, paths)
    one, many = _outputs(tmp_path / "one"), _outputs(out)
    assert one.keys() == many.keys()
    for name in one:
        np.testing.assert_array_equal(many[name], one[name])  # bit-identical to one process
        np.testing.assert_array_equal(np.load(heal_mask_path(out / name)), np.load(heal_mask_path(tmp_path / "one" / name)))
    # a rerun heals nothing again
    again = _run_with_deadline(lambda: bulk(paths, out, method=method, scheduler=lc.scheduler_address, timeout=100), 110)
    assert len(again.skipped) == N_FRAMES and not again.written
    client.wait_for_workers(2, timeout=90)  # the nanny restarted the killed worker


def test_blind_model_on_the_cluster_is_bit_identical_to_one_process(tmp_path, cluster):
    lc, _client = cluster
    paths = _frames(tmp_path / "in", n=4, shape=(72, 80))
    model = _tiny_model(tmp_path / "model")
    ref = bulk(paths, tmp_path / "one", model_dir=model)
    s = _run_with_deadline(lambda: bulk(paths, tmp_path / "dask", model_dir=model, scheduler=lc.scheduler_address,
                                        timeout=100, previews=True), 110)
    assert len(s.written) == len(ref.written) == 4 and not s.failed
    previews = tmp_path / "dask" / "previews"
    assert sorted(p.name for p in previews.iterdir()) == sorted([f"{p.stem}.png" for p in paths] + ["summary.png"])
    (tmp_path / "dask" / "previews").rename(tmp_path / "pictures")
    _check_record(tmp_path / "dask", paths)
    one, many = _outputs(tmp_path / "one"), _outputs(tmp_path / "dask")
    for name in one:
        np.testing.assert_array_equal(many[name], one[name])


def test_failures_on_workers_are_one_line_per_frame(tmp_path, cluster):
    lc, _client = cluster
    paths = _frames(tmp_path / "in", n=2)
    bad = tmp_path / "in" / "broken.npy"
    bad.write_bytes(b"not a frame")
    s = _run_with_deadline(lambda: bulk([*paths, bad], tmp_path / "out", method="telea",
                                        scheduler=lc.scheduler_address, timeout=100), 110)
    assert len(s.written) == 2 and [f for f, _ in s.failed] == [str(bad)]
    assert "\n" not in s.failed[0][1] and "Traceback" not in s.failed[0][1]
    assert "healed 2" in s.line() and "failed 1" in s.line() and "frames/s" in s.line()


def test_method_option_heals_with_each_registry_method(tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main
    from dip_heal.methods import heal_method

    paths = _frames(tmp_path / "in", n=2)
    for method in ("telea", "pyfai", "biharmonic"):
        out = tmp_path / method
        res = CliRunner().invoke(main, ["bulk", *map(str, paths), "--method", method, "--out", str(out),
                                        "--no-progress"])
        assert res.exit_code == 0, res.output
        assert "healed 2" in res.output
        _check_record(out, paths)
        raw = np.load(paths[0])
        heal = np.load(heal_mask_path(out / "frame_00_healed.npy"))
        want = heal_method(method)(raw.astype(np.float32), heal)
        from dip_heal.frame import composite_native

        np.testing.assert_array_equal(np.load(out / "frame_00_healed.npy"), composite_native(raw, want, heal))
    res = CliRunner().invoke(main, ["bulk", str(paths[0]), "--method", "nope", "--out", str(tmp_path / "x"),
                                    "--no-progress"])
    assert res.exit_code != 0 and "unknown method 'nope'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x").exists()
    res = CliRunner().invoke(main, ["bulk", str(paths[0]), "--method", "dip:nope", "--out", str(tmp_path / "x"),
                                    "--no-progress"])
    assert res.exit_code != 0 and "unknown preset 'nope'" in res.output and not (tmp_path / "x").exists()
    res = CliRunner().invoke(main, ["bulk", str(paths[0]), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1",
                                    "--out", str(tmp_path / "y"), "--no-progress"])
    assert res.exit_code == 2 and "not both" in res.output


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    from dip_heal.errors import DipHealError

    paths = _frames(tmp_path / "in", n=1)
    with pytest.raises(DipHealError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        _run_with_deadline(lambda: bulk(paths, tmp_path / "o", method="telea", scheduler="tcp://127.0.0.1:9",
                                        timeout=3), 30)


def test_an_interrupted_write_is_cleaned_and_redone(tmp_path):
    """A run killed between the heal mask and the frame: the rerun writes the frame, no temporary file is left."""
    paths = _frames(tmp_path / "in", n=2)
    out = tmp_path / "out"
    bulk(paths, out, method="telea")
    first = _outputs(out)
    (out / "frame_01_healed.npy").unlink()  # as if killed before the frame's rename
    (out / ".frame_01_healed.npy.abc123.npy").write_bytes(b"partial")  # the temporary file it left
    s = bulk(paths, out, method="telea")
    assert [p.name for p in s.written] == ["frame_01_healed.npy"] and len(s.skipped) == 1
    _check_record(out, paths)
    for name, arr in _outputs(out).items():
        np.testing.assert_array_equal(arr, first[name])


def test_pilatus_frame_measured_pixels_bit_exact_outside_the_heal_mask(tmp_path):
    """A real PILATUS 1M frame through bulk (telea: fast on CPU): the TIFF differs from the input only inside the heal record."""
    import tifffile

    src = shared_file("musclex/P1_F1_tet_1_100_005_0001.tif")
    out = tmp_path / "out"
    s = bulk([src], out, method="telea")
    assert len(s.written) == 1 and not s.failed
    raw = tifffile.imread(src)
    healed = tifffile.imread(s.written[0])
    heal = np.load(heal_mask_path(s.written[0]))
    assert healed.dtype == raw.dtype and healed.shape == raw.shape
    assert heal.any() and (raw[heal] < 0).sum() > 0  # the module gaps are in the record
    np.testing.assert_array_equal(healed[~heal], raw[~heal])
    assert (healed[heal] >= 0).all()

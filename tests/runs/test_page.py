"""The picking page (`dip-heal sheet --html`) and its server (`dip-heal serve`), without a browser.

The browser itself is driven in tests/runs/test_page_browser.py.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import tiny_sweep_run
from dip_heal.errors import DipHealError


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-trial x 3-snapshot sweep of a 48x48 int32 synthetic frame."""
    return tiny_sweep_run(tmp_path_factory.mktemp("page"), seed=4, band=(slice(None), slice(20, 22)), snapshot_every=3)


def _page_model(html: str) -> dict:
    m = re.search(r"const PAGE = (\{.*?\});\n", html)
    assert m, "the page carries its model"
    return json.loads(m.group(1).replace("<\\/", "</"))


def _data_calls(text: str) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in re.findall(r'dipHealData\("([^"]+)", (\{.*?\})\);', text)}


def _f32(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def _check_data(sw, calls: dict[str, dict]) -> None:
    """The page's data rebuild every snapshot bit for bit."""
    heal = sw.heal
    fr = calls["frame"]
    assert fr["shape"] == list(heal.shape) and fr["n_heal"] == int(heal.sum())
    bits = np.unpackbits(np.frombuffer(base64.b64decode(fr["heal"]), np.uint8))[: heal.size].reshape(heal.shape)
    np.testing.assert_array_equal(bits.astype(bool), heal)
    measured = _f32(fr["measured"]).reshape(heal.shape)
    for t in sw.trials():
        for s in t.snapshots:
            d = calls[f"t{t.number}_i{s['iteration']}"]
            img = measured.copy()
            img[heal] = _f32(d["healed"])
            np.testing.assert_array_equal(img, sw.load(t, s["iteration"]))


def test_page_is_self_contained_and_marks_best_and_recommended(run, tmp_path):
    from dip_heal.pick import open_run
    from dip_heal.runs.page import write_page

    out = write_page(run, tmp_path / "p.html")
    html = out.read_text()
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html  # nothing from the web
    assert not (tmp_path / "p_files").exists()
    model = _page_model(html)
    sw = open_run(run)
    best = sw.best()
    assert model["recommended"] == {"trial": best.number, "iteration": best.best_iteration}
    assert model["mode"] == "file" and model["external"] is False
    assert [t["number"] for t in model["trials"]] == [t.number for t in sw.trials()]
    for t, info in zip(model["trials"], sw.trials()):
        assert t["best"] == info.best_iteration and t["stop"] is None
        assert [s["it"] for s in t["snaps"]] == [s["iteration"] for s in info.snapshots]
        assert [s["l1"] for s in t["snaps"]] == [s["val_l1"] for s in info.snapshots]
        assert all(s["thumb"].startswith("data:image/png;base64,") for s in t["snaps"])
        assert any("lr=" in line for line in t["settings"])
    lo, hi = model["limits"]["log"]
    assert 0 <= lo < hi
    _check_data(sw, _data_calls(html))


def test_large_sweep_page_loads_its_data_from_a_folder_beside_it(run, tmp_path):
    from dip_heal.pick import open_run
    from dip_heal.runs.page import write_page

    out = write_page(run, tmp_path / "big.html", inline_limit=0)
    model = _page_model(out.read_text())
    folder = tmp_path / "big_files"
    assert model["external"] is True and model["files"] == "big_files/"
    assert not _data_calls(out.read_text())
    calls = {}
    for js in folder.glob("*.js"):
        calls.update(_data_calls(js.read_text()))
    _check_data(open_run(run), calls)
    for t in model["trials"]:
        for s in t["snaps"]:
            assert (tmp_path / s["thumb"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / ".dip-heal").exists()
    write_page(run, tmp_path / "big.html", inline_limit=0)  # written again over its own folder


def test_page_refuses_inputs_and_other_suffixes(run, tmp_path):
    from dip_heal.runs.page import write_page

    with pytest.raises(DipHealError, match="expected a path ending in .html"):
        write_page(run, tmp_path / "p.png")
    with pytest.raises(DipHealError, match="not a sweep run folder"):
        write_page(tmp_path)


def test_default_page_is_recorded_in_the_run_folder(run):
    from dip_heal.runs.page import write_page

    out = write_page(run)
    assert out == run / "sheet.html"
    assert "sheet.html" in json.loads((run / ".dip-heal").read_text())["entries"]


def test_pruned_trial_is_dimmed_and_says_where_it_stopped(run, tmp_path):
    import optuna

    from dip_heal.runs.page import page_data, render_page
    from dip_heal.runs.sheets import write_sheet

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    url = f"sqlite:///{copy / 'study.db'}"
    study = optuna.load_study(study_name=json.loads((copy / "sweep.json").read_text())["study"], storage=url)
    t0 = study.trials[0]
    attrs = dict(t0.user_attrs)
    attrs["snapshots"] = attrs["snapshots"][:2]
    reason = "pruned at iteration 3: held-out L1 0.1 not in the best 1/3"
    for extra in ({"stopped_at": 3, "stop_reason": reason}, {}):  # as the sweep records it; an older sweep
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, params=t0.params,
                                                  distributions=t0.distributions, user_attrs={**attrs, **extra}))
    data = page_data(copy, storage=url)
    model = _page_model(render_page(data, thumbs={}))
    pruned = [t for t in model["trials"] if t["state"] == "PRUNED"]
    assert len(pruned) == 2
    assert pruned[0]["stop"] == {"at": 3, "reason": reason, "pruned": True}
    assert pruned[1]["stop"] == {"at": attrs["snapshots"][-1]["iteration"], "reason": "pruned by the sweep",
                                 "pruned": True}
    assert len(pruned[0]["snaps"]) == 2
    assert all(t["stop"] is None for t in model["trials"] if t["state"] == "COMPLETE")
    assert model["recommended"]["trial"] not in [t["number"] for t in pruned]  # recommended: complete trials only
    assert "row.pruned" in render_page(data)  # the page's style dims them
    [png] = write_sheet(copy, tmp_path / "s.png", storage=url)
    assert png.exists()


def test_sheet_html_cli(run, tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main

    res = CliRunner().invoke(main, ["sheet", str(run), "--html", "--out", str(tmp_path / "c.html")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c.html").exists() and "wrote" in res.output
    res = CliRunner().invoke(main, ["sheet", str(run), "--html", "--zoom", "0,0,4,4"])
    assert res.exit_code == 1 and "drop --zoom" in res.output


@pytest.fixture
def server(run, tmp_path):
    from dip_heal.runs.server import make_server

    srv = make_server(run, port=0, out_dir=tmp_path / "served")
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    th.join(timeout=5)


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _post(url: str, body: bytes, ctype: str = "application/json") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_server_serves_page_and_data_and_picks_like_dip_heal_pick(server, run, tmp_path):
    from dip_heal.pick import open_run, pick

    assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0/")
    code, body = _get(server.url)
    assert code == 200
    model = _page_model(body.decode())
    assert model["mode"] == "serve" and model["external"] is True
    calls = {}
    code, body = _get(server.url + "sheet_files/frame.js")
    assert code == 200
    calls.update(_data_calls(body.decode()))
    for t in model["trials"]:
        for s in t["snaps"]:
            code, png = _get(server.url + s["thumb"])
            assert code == 200 and png[:4] == b"\x89PNG"
            code, js = _get(server.url + f"sheet_files/t{t['number']}_i{s['it']}.js")
            calls.update(_data_calls(js.decode()))
    _check_data(open_run(run), calls)

    code, res = _post(server.url + "pick", json.dumps({"trial": 1, "iteration": 3}).encode())
    assert code == 200, res
    want = pick(run, trial=1, iteration=3, out_dir=tmp_path / "cli")
    assert res["healed"].endswith("trial1_iter3.npy")
    with open(res["healed"], "rb") as a, open(want.healed_path, "rb") as b:
        assert a.read() == b.read()
    picks = json.loads((run / "picks.json").read_text())
    assert picks[-2]["healed"] == res["healed"] and picks[-2]["how"] == "chosen"


def test_server_answers_bad_requests_in_one_line(server):
    code, res = _post(server.url + "pick", json.dumps({"trial": 9, "iteration": 3}).encode())
    assert code == 400 and "no complete trial 9" in res["error"] and "\n" not in res["error"]
    code, res = _post(server.url + "pick", b"{}")
    assert code == 400 and "expected" in res["error"]
    code, res = _post(server.url + "pick", b"trial=1&iteration=3", ctype="application/x-www-form-urlencoded")
    assert code == 415  # a form on another site cannot pick
    code, body = _get(server.url, headers={"Host": "evil.example:80"})
    assert code == 403  # DNS rebinding
    code, body = _get(server.url + "sheet_files/t7_i0.js")
    assert code == 404 and b"no snapshot" in body
    code, body = _get(server.url + "nothing")
    assert code == 404


def test_serve_cli_bad_run_is_one_line(tmp_path):
    from click.testing import CliRunner

    from dip_heal.cli import main

    res = CliRunner().invoke(main, ["serve", str(tmp_path), "--port", "0"])
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "not a sweep run folder" in errors[0]


def test_server_refuses_a_bad_run_or_a_taken_port(server, tmp_path):
    from dip_heal.runs.server import make_server

    with pytest.raises(DipHealError, match="not a sweep run folder"):
        make_server(tmp_path)
    with pytest.raises(DipHealError, match="cannot listen on 127.0.0.1"):
        make_server(server.run_dir, port=server.server_address[1])


def test_page_template_is_package_data():
    import configparser
    from importlib import resources
    from pathlib import Path

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    assert "data/page/*.html" in cfg["options.package_data"]["dip_heal"]
    text = resources.files("dip_heal").joinpath("data/page/picking.html").read_text()
    assert "/*@PAGE@*/" in text and "/*@DATA@*/" in text
    assert "<script src=" not in text and "<link rel=\"stylesheet\"" not in text  # nothing loaded from elsewhere

"""End to end: `dip-heal serve` on a tiny sweep, driven in a real headless Chromium with selenium.

The system's chromium and chromedriver are used (nothing is downloaded: the driver's path is
given, so selenium-manager never runs). Skips when either, or selenium, is missing; CI installs
them (.ci/run). Every wait has a timeout. With ``DIP_HEAL_SCREENSHOT=PATH`` the test saves a
screenshot of the page there (the README's docs/picking-page.png).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_sweep_run

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
DRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and Path(p).exists()), None)

pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="no chromium/chromedriver (apt-get install chromium chromium-driver)")

TIMEOUT = 30  # seconds, for every wait


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 2-trial x 4-snapshot sweep (iterations 0, 2, 4, 6) of a 48x48 synthetic frame, and a
    third trial recorded as the pruner records one (stopped at iteration 2, its two snapshots kept)."""
    import optuna

    run = tiny_sweep_run(tmp_path_factory.mktemp("browser"), seed=5, band=(slice(None), slice(14, 16)),
                         snapshot_every=2)
    record = json.loads((run / "sweep.json").read_text())
    study = optuna.load_study(study_name=record["study"], storage=record["storage"])
    t0 = study.trials[0]
    attrs = {**t0.user_attrs, "snapshots": t0.user_attrs["snapshots"][:2], "stopped_at": 2,
             "stop_reason": "pruned at iteration 2: held-out L1 0.009372 not in the best 1/3"}
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, params=t0.params,
                                              distributions=t0.distributions, user_attrs=attrs))
    return run


@pytest.fixture(scope="module")
def served(run, tmp_path_factory):
    """``dip-heal serve RUN --port 0`` in a subprocess; yields its URL and pick folder."""
    out = tmp_path_factory.mktemp("served") / "picked"
    cmd = [sys.executable, "-c", "from dip_heal.cli import main; main()", "serve", str(run), "--port", "0",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        url = lines.get(timeout=TIMEOUT).strip()
    except queue.Empty:
        proc.kill()
        pytest.fail(f"dip-heal serve printed no URL in {TIMEOUT} s: {proc.stderr.read() if proc.poll() else ''}")
    assert url.startswith("http://127.0.0.1:"), url
    yield url, out
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium never downloads anything
    driver = webdriver.Chrome(service=Service(DRIVER, service_args=[]), options=opts)
    driver.set_page_load_timeout(TIMEOUT)
    driver.set_script_timeout(TIMEOUT)
    yield driver
    driver.quit()


def _wait(driver, cond, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT).until(lambda d: cond(d), message=f"waited {TIMEOUT} s for {what}")


_SAMPLE = """
const a = document.getElementById('canvas-a'), b = document.getElementById('canvas-b');
const V = window.dipHealPage.view, F = window.dipHealPage.panes.a;
const ca = a.getContext('2d'), cb = b.getContext('2d'), out = [];
for (let sy = 5; sy < a.height; sy += 17) for (let sx = 5; sx < a.width; sx += 17) {
  const x = Math.floor((sx + 0.5 - V.x) / V.s), y = Math.floor((sy + 0.5 - V.y) / V.s);
  out.push([x, y, Array.from(ca.getImageData(sx, sy, 1, 1).data), Array.from(cb.getImageData(sx, sy, 1, 1).data)]);
}
return out;
"""

_SUM = """
const c = document.getElementById('canvas-a'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let s = 0;
for (let i = 0; i < d.length; i += 4) s += d[i] + 2 * d[i + 1] + 3 * d[i + 2];
return s;
"""


def test_pick_in_the_browser_writes_what_dip_heal_pick_writes(run, served, browser, tmp_path):
    from click.testing import CliRunner
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from dip_heal.cli import main
    from dip_heal.pick import open_run

    url, picked = served
    sw = open_run(run)
    best = sw.best()
    trial = next(t for t in sw.trials() if t.number != best.number)  # a trial that is not the recommended one
    it = trial.snapshots[2]["iteration"]
    key = f"t{trial.number}_i{it}"

    d = browser
    d.get(url)
    n_snap = sum(len(t.snapshots) for t in sw.trials(("COMPLETE", "PRUNED")))
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".panel img")) == n_snap, "the thumbnails")
    [pruned] = d.find_elements(By.CSS_SELECTOR, ".row.pruned")
    assert float(pruned.value_of_css_property("opacity")) < 0.6  # dimmed
    assert "stopped at iteration 2" in pruned.text
    rec = d.find_elements(By.CSS_SELECTOR, ".panel.rec")
    assert [e.get_attribute("data-key") for e in rec] == [f"t{best.number}_i{best.best_iteration}"]
    assert len(d.find_elements(By.CSS_SELECTOR, ".panel.best")) == len(sw.trials(("COMPLETE", "PRUNED")))

    # click a snapshot: it opens at full resolution as A, beside the recommended one as B
    d.find_element(By.CSS_SELECTOR, f'.panel[data-key="{key}"]').click()
    viewer = d.find_element(By.ID, "viewer")
    _wait(d, lambda d: viewer.get_attribute("data-ready") == "1" and viewer.get_attribute("data-a") == key, "A")
    assert viewer.get_attribute("data-b") == f"t{best.number}_i{best.best_iteration}"

    # zoom: the button and the mouse wheel, one view for both panes
    s0 = float(viewer.get_attribute("data-scale"))
    d.find_element(By.ID, "zoom-in").click()
    s1 = float(viewer.get_attribute("data-scale"))
    assert s1 == pytest.approx(1.5 * s0, rel=1e-4)
    canvas = d.find_element(By.ID, "canvas-b")
    ActionChains(d).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -300).perform()
    _wait(d, lambda d: float(viewer.get_attribute("data-scale")) > s1 * 1.1, "the wheel zoom")
    heal = sw.heal
    same = 0
    for x, y, ca, cb in d.execute_script(_SAMPLE):
        if 0 <= x < heal.shape[1] and 0 <= y < heal.shape[0] and not heal[y, x]:
            near = heal[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].any()  # the outline may cross its border
            if not near:
                assert ca == cb, (x, y)  # a measured pixel: the same in A and B, at the same place
                same += 1
    assert same > 20

    # contrast and scale change the pixels themselves
    before = d.execute_script(_SUM)
    hi = d.find_element(By.ID, "hi")
    hi.clear()
    hi.send_keys(str(float(hi.get_attribute("value") or 8) / 2))
    after = d.execute_script(_SUM)
    assert after != before
    d.find_element(By.ID, "scale").send_keys("linear")
    assert d.execute_script(_SUM) != after
    d.find_element(By.ID, "auto").click()

    if os.environ.get("DIP_HEAL_SCREENSHOT"):
        shot = Path(os.environ["DIP_HEAL_SCREENSHOT"])
        shot.parent.mkdir(parents=True, exist_ok=True)
        d.find_element(By.ID, "scale").send_keys("log")
        d.set_window_size(1400, 1350)
        d.find_element(By.ID, "zoom-fit").click()
        d.find_element(By.ID, "zoom-in").click()
        d.save_screenshot(str(shot))
        d.set_window_size(1400, 1000)

    # pick: the button writes the frame through dip-heal pick's code
    d.find_element(By.ID, "pick").click()
    result = d.find_element(By.ID, "pick-result")
    _wait(d, lambda d: result.get_attribute("data-state") in ("done", "error"), "the pick")
    assert result.get_attribute("data-state") == "done", result.text
    written = Path(result.get_attribute("data-path"))
    assert written == picked / f"trial{trial.number}_iter{it}.npy"
    cli = CliRunner().invoke(main, ["pick", str(run), "--trial", str(trial.number), "--iter", str(it),
                                    "--out", str(tmp_path / "cli")])
    assert cli.exit_code == 0, cli.output
    assert written.read_bytes() == (tmp_path / "cli" / written.name).read_bytes()  # bit-identical
    np.testing.assert_array_equal(np.load(written)[~heal], np.load(run.parent / "frame.npy")[~heal])

    # keyboard: an arrow moves A to the next snapshot, m marks it as B, Enter picks A
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    nxt = f"t{trial.number}_i{trial.snapshots[3]['iteration']}"
    _wait(d, lambda d: viewer.get_attribute("data-a") == nxt and viewer.get_attribute("data-ready") == "1", "arrow")
    body.send_keys("m")
    _wait(d, lambda d: viewer.get_attribute("data-b") == nxt, "the mark")
    assert d.find_element(By.CSS_SELECTOR, ".panel.marked").get_attribute("data-key") == nxt
    body.send_keys(Keys.ENTER)
    _wait(d, lambda d: result.get_attribute("data-path") != str(written), "the second pick")
    second = trial.snapshots[3]["iteration"]
    assert Path(result.get_attribute("data-path")).name == f"trial{trial.number}_iter{second}.npy"
    picks = json.loads((run / "picks.json").read_text())
    assert [(p["trial"], p["iteration"]) for p in picks[-3:]] == [
        (trial.number, it), (trial.number, it), (trial.number, second)]
    errors = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors


def test_page_opens_from_disk(run, browser, tmp_path):
    """`dip-heal sheet --html`: the file itself, with its data inline and with its data in a folder beside it."""
    from selenium.webdriver.common.by import By

    from dip_heal.runs.page import write_page

    for limit, name in ((1 << 30, "inline.html"), (0, "folder.html")):
        page = write_page(run, tmp_path / name, inline_limit=limit)
        browser.get(page.as_uri())
        _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".panel")) == 10, "the panels")
        browser.find_element(By.CSS_SELECTOR, '.panel[data-key="t0_i2"]').click()
        viewer = browser.find_element(By.ID, "viewer")
        _wait(browser, lambda d: viewer.get_attribute("data-ready") == "1", f"the full-resolution view ({name})")
        assert browser.execute_script(_SUM) > 0
        assert not browser.find_element(By.ID, "pick").is_displayed()  # no server: no Pick button
        browser.find_element(By.TAG_NAME, "body").send_keys("\n")
        assert "dip-heal pick" in browser.find_element(By.ID, "pick-result").text

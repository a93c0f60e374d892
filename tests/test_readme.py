"""README.md's "In a notebook" example runs as written, with a quick fit (issue 20, part C)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- readme-notebook-example"
QUICK, TEST = "iters=200", "iters=3"  # the one number the test changes: the fit's length


def notebook_example() -> str:
    """The python block right after the marker comment in README.md."""
    text = README.read_text()
    assert text.count(MARKER) == 1, "README.md lost its notebook example marker"
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, text.index(MARKER))
    assert m is not None and m.start() - text.index(MARKER) < 200, "no python block after the marker"
    return m.group(1)


def test_readme_notebook_example_runs(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    code = notebook_example()
    assert len(code.strip().splitlines()) < 10
    assert code.count(QUICK) == 1
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code.replace(QUICK, TEST), str(README), "exec"), ns)

    import dip_heal

    frame, healed = dip_heal.read_image("frame.cbf"), dip_heal.read_image("healed.cbf")
    heal = ns["healed"].masks["healed"]
    assert heal.any() and np.array_equal(heal, ns["mask"] | ~frame.valid)
    assert healed.raw.dtype == frame.raw.dtype == np.int32
    assert np.array_equal(healed.raw[~heal], frame.raw[~heal])  # measured pixels bit-exact
    assert (healed.raw[heal] >= 0).all() and healed.valid.all()
    assert ns["healed"].meta["dip_heal"]["config"]["num_iter"] == 3
    import matplotlib.pyplot as plt

    plt.close("all")

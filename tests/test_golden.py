"""Bit-identical results against goldens (first recorded at commit 346e16e, issue 15, "One concept, one place").

The recipes live once, in ``tests/golden/make_golden.py``; the goldens in
``tests/data/golden/<machine kind>/`` (``NAME.npz`` arrays, ``NAME.json`` values; a set per kind
of CPU and torch build, since their kernels round differently). On a kind with a set every recipe
is compared with its golden bit for bit; on a kind without one, or for a recipe its set lacks, the
recipe runs twice and must reproduce itself bit for bit. A failure names the golden and the first
values that differ. Do not regenerate the goldens to make this pass: a difference is a changed
result, to be explained in the commit that records the goldens again.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "data" / "golden"


def _load_recipes():
    name = "dip_heal_golden_recipes"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "golden" / "make_golden.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


golden = _load_recipes()


def _params():
    for name in golden.RECIPES:
        marks = [pytest.mark.slow] if name in golden.SLOW else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_params()))
def test_bit_identical_to_golden(name):
    how, problems = golden.check_recipe(GOLDEN_DIR, name)
    what = (f"golden {name!r} of {golden.machine_key()} differs" if how == "golden"
            else f"{name!r} did not reproduce itself on a rerun (no golden for {golden.machine_key()})")
    assert not problems, f"{what} ({len(problems)} item(s)):\n" + "\n".join(problems)


def test_every_stored_golden_has_a_recipe_and_a_machine():
    sets = [d for d in GOLDEN_DIR.iterdir() if d.is_dir()]
    assert sets, f"no golden set in {GOLDEN_DIR}"
    assert not list(GOLDEN_DIR.glob("*.json")), "goldens outside a machine kind's folder"
    for d in sets:
        meta = json.loads((d / "machine.json").read_text())
        assert meta["key"] == d.name
        stored = {p.stem for p in d.glob("*.json")} - {"machine"}
        assert stored <= set(golden.RECIPES), f"{d.name}: goldens without a recipe: {sorted(stored - set(golden.RECIPES))}"


def test_the_machine_key_names_the_cpu_features_and_torch():
    import torch

    key = golden.machine_key()
    assert key.endswith(f"-torch{torch.__version__}") and "/" not in key

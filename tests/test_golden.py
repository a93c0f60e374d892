"""Bit-identical results against goldens recorded at commit 346e16e (issue 15, "One concept, one place").

The recipes live once, in ``tests/golden/make_golden.py``; the goldens in ``tests/data/golden/``
(``NAME.npz`` arrays, ``NAME.json`` values). A failure names the golden and the first values
that differ. Do not regenerate the goldens to make this pass: a difference is a changed result
(the one accepted exception is where the unified sentinel rule changes which pixels are healed,
e.g. in ``bulk_shipped``, whose mask is automatic).
"""

from __future__ import annotations

import importlib.util
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
    if not (GOLDEN_DIR / f"{name}.json").exists():
        pytest.fail(f"golden {name} is missing from {GOLDEN_DIR}; record it at the reference commit with "
                    f"tests/golden/make_golden.py")
    stored = golden.load_golden(GOLDEN_DIR, name)
    now = golden.run_recipe(name)
    problems = golden.compare(name, stored, now)
    assert not problems, f"golden {name!r} differs ({len(problems)} item(s)):\n" + "\n".join(problems)


def test_every_stored_golden_has_a_recipe():
    stored = {p.stem for p in GOLDEN_DIR.glob("*.json")}
    assert stored <= set(golden.RECIPES), f"goldens without a recipe: {sorted(stored - set(golden.RECIPES))}"

"""Symmetry fills (issue 19): the fibre's quadrant fold and GISAXS's specular mirror, measured before trusted."""

from __future__ import annotations

import numpy as np
import pytest

from dip_heal._intensity import normalise
from dip_heal.bench import log_scale, score_healed
from dip_heal.fills import heal_fold, heal_mirror, heal_telea
from dip_heal.methods import heal_method
from dip_heal.priors import SYMMETRY_THRESHOLD, fibre_axis, mirror_score, specular_axis, symmetry_fill
from dip_heal.synthetic import synthetic_frame

N = 128
CENTER = (60.0, 70.0)


def _gaps(beamstop: np.ndarray) -> np.ndarray:
    heal = np.zeros((N, N), bool)
    heal[:, 30:37] = True
    heal[20:26, :] = True
    heal[92:97, :] = True
    return heal | beamstop


def _fibre():
    f = synthetic_frame((N, N), detector=None, kind="fibre", seed=3, center=CENTER)
    return f.counts.astype(float), _gaps(f.beamstop), f.beamstop


def _gisaxs_symmetric():
    """A generated GISAXS frame made exactly left-right symmetric about x = 60 (its one-sided rod mirrored),
    counted again with Poisson noise."""
    f = synthetic_frame((N, N), detector=None, kind="gisaxs", seed=4, center=CENTER)
    t = f.truth.astype(float)
    cols = np.arange(N)
    mirror = np.clip(2 * int(CENTER[0]) - cols, 0, N - 1)
    sym = 0.5 * (t + t[:, mirror])
    counts = np.random.default_rng(0).poisson(sym).astype(float)
    heal = np.zeros((N, N), bool)
    heal[:, 30:42] = True  # a wide column: its mirror (78..90) is measured
    return counts, heal | f.beamstop, f.beamstop


def _l1(out, counts, heal, beamstop):
    img = np.where(heal, 0, counts)
    return score_healed(out, counts, heal & ~beamstop, log_scale(img, ~heal))[0]


def test_fold_beats_telea_on_a_generated_fibre_and_finds_its_axis():
    counts, heal, stop = _fibre()
    img = np.where(heal, 0, counts)
    info: dict = {}
    fold = heal_fold(img, heal, center=CENTER, info=info)
    telea = heal_telea(img, heal)
    sym = info["symmetry"]["fold"]
    assert sym["score"] >= SYMMETRY_THRESHOLD
    assert abs(sym["angle"] - 90.0) < 12.0  # the generator tilts the axis by at most 0.2 rad
    assert _l1(fold, counts, heal, stop) < 0.8 * _l1(telea, counts, heal, stop)
    assert np.array_equal(fold[~heal], img[~heal].astype(np.float32))  # measured pixels kept


def test_mirror_beats_telea_on_a_symmetric_gisaxs_frame_and_finds_its_plane():
    counts, heal, stop = _gisaxs_symmetric()
    img = np.where(heal, 0, counts)
    info: dict = {}
    mirror = heal_mirror(img, heal, center=CENTER, info=info)
    sym = info["symmetry"]["mirror"]
    assert sym["score"] >= SYMMETRY_THRESHOLD and abs(sym["x"] - CENTER[0]) <= 1.0
    assert _l1(mirror, counts, heal, stop) < _l1(heal_telea(img, heal), counts, heal, stop)


def test_scores_are_low_without_the_symmetry():
    f = synthetic_frame((N, N), detector=None, kind="gisaxs", seed=4, center=CENTER)
    y, _ = normalise(f.counts.astype(float), ~f.beamstop)
    assert fibre_axis(y, ~f.beamstop, CENTER).score < SYMMETRY_THRESHOLD  # a horizon: no equator mirror
    rng = np.random.default_rng(1)
    noise = rng.random((N, N))
    assert mirror_score(noise, np.ones((N, N), bool), CENTER, np.pi / 2) < 0.1
    assert specular_axis(noise, np.ones((N, N), bool), CENTER).score < SYMMETRY_THRESHOLD


def test_symmetry_fill_rejects_an_unknown_kind():
    from dip_heal.errors import DipHealError

    with pytest.raises(DipHealError, match="expected 'fold' or 'mirror'"):
        symmetry_fill(np.zeros((8, 8)), np.ones((8, 8), bool), np.zeros((8, 8), bool), "twist", center=(4, 4))


def test_fold_and_mirror_are_methods():
    assert heal_method("fold") is heal_fold and heal_method("mirror") is heal_mirror


def _blender(counts, heal, symmetry):
    from dip_heal.dip.blend import Blender
    from dip_heal.dip.problem import prepare

    problem = prepare(counts * ~heal, heal, 0.1, 0, None)
    return problem, Blender(problem.image, problem.y, problem.known, problem.heal, problem.holdout, CENTER,
                            (90, 1.0), problem.scale, symmetry=symmetry)


def test_blend_offers_the_fold_on_a_fibre_and_it_helps():
    counts, heal, stop = _fibre()
    problem, off = _blender(counts, heal, ())
    _, on = _blender(counts, heal, ("fold", "mirror"))
    assert on.names[:3] == off.names == ("dip", "azimuthal", "telea")
    assert "fold" in on.names and on.symmetry["fold"]["offered"]
    out = np.zeros_like(problem.y)  # a network that knows nothing: the blend is its fills'
    y_off, l1_off, _ = off(out)
    y_on, l1_on, w = on(out)
    assert l1_on < l1_off and w["fold"] > 0
    y_true = np.log1p(counts) / problem.scale
    score = heal & ~stop
    assert np.abs(y_on - y_true)[score].mean() < np.abs(y_off - y_true)[score].mean()


@pytest.mark.parametrize("kind, symmetry", [("gisaxs", "fold"), ("saxs", "mirror")])
def test_blend_without_the_symmetry_offers_no_candidate_and_is_identical(kind, symmetry):
    f = synthetic_frame((N, N), detector=None, kind=kind, seed=3, center=CENTER)
    heal = _gaps(f.beamstop)
    counts = f.counts.astype(float)
    problem, off = _blender(counts, heal, ())
    _, on = _blender(counts, heal, (symmetry,))
    assert on.symmetry[symmetry]["score"] < SYMMETRY_THRESHOLD and not on.symmetry[symmetry]["offered"]
    assert on.names == off.names
    out = np.random.default_rng(0).random(problem.y.shape).astype(np.float32)
    a, b = off(out), on(out)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]

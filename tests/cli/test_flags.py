"""dip_heal.flags: the values of command-line flags, and how the command line shows their errors."""

from __future__ import annotations

import click
import pytest

from dip_heal.errors import DipHealError, FlagError
from dip_heal.flags import expand_paths, parse_floats, parse_points


def test_parse_floats_and_points():
    assert parse_floats(" 1, 2.5 ,", None, "--x") == [1.0, 2.5]
    assert parse_points("1,2; 3,4;", "--holder") == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(FlagError, match=r"got 'a,b'; expected comma-separated numbers for --center"):
        parse_floats("a,b", 2, "--center")
    with pytest.raises(FlagError, match=r"got 1 numbers in '1'; expected 2 for --center"):
        parse_floats("1", 2, "--center")
    with pytest.raises(FlagError, match=r"each point of --holder \(x,y\)"):
        parse_points("1,2;3", "--holder")
    assert issubclass(FlagError, DipHealError)


def test_expand_paths(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("b.npy", "a.npy", ".hidden"):
        (tmp_path / "d" / name).write_bytes(b"x")
    (tmp_path / "f.h5").write_bytes(b"x")
    got = expand_paths([str(tmp_path / "d"), str(tmp_path / "d" / "a*"), f"{tmp_path / 'f.h5'}::/entry/data[1]"], "X")
    assert [p.name for p in got[:3]] == ["a.npy", "b.npy", "a.npy"] and len(got) == 4
    assert str(got[3]).endswith("f.h5::/entry/data[1]")
    with pytest.raises(FlagError, match="matches no file") as exc:
        expand_paths([str(tmp_path / "none*")], "--frames")
    assert exc.value.param_hint == "--frames"
    with pytest.raises(FlagError, match="no such file"):
        expand_paths([f"{tmp_path / 'g.h5'}::/a"], "INPUTS")


def test_flag_errors_become_click_usage_errors():
    from dip_heal.cli import flag_errors, parse_floats as cli_parse_floats

    with pytest.raises(click.BadParameter, match="expected 2 for --center") as exc:
        cli_parse_floats("1,2,3", 2, "--center")
    assert exc.value.param_hint is None
    with pytest.raises(click.BadParameter) as exc, flag_errors():
        raise FlagError("x matches no file", param_hint="--frames")
    assert exc.value.param_hint == "--frames" and exc.value.exit_code == 2

import json

import pytest

from dip_heal.config import PRESETS, FitConfig
from dip_heal.errors import DipHealError


def test_json_round_trip(tmp_path):
    cfg = FitConfig(num_iter=12, lr=0.05, param_noise=True, reg_noise_std=0.0, seed=7)
    path = tmp_path / "c.json"
    cfg.to_json(path)
    assert FitConfig.from_json(path) == cfg
    assert FitConfig.from_json(cfg.to_json()) == cfg
    assert FitConfig.from_dict(json.loads(path.read_text())).reg_noise_std == 0.0


def test_zero_input_noise_stays_zero():
    # the seed project's grid turned 0 into 0.03 through a truthiness test
    assert FitConfig(reg_noise_std=0).reg_noise_std == 0


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"loss": "huber"}, "mse, l1"),
        ({"num_iter": 0}, "positive integer"),
        ({"lr": -1.0}, r"\(0, 10\]"),
        ({"reg_noise_std": -0.1}, ">= 0"),
        ({"holdout_fraction": 0.7}, "fraction"),
        ({"select": "best_val"}, "holdout_fraction"),
        ({"kernel_size": 4}, "odd"),
        ({"net_input": "meshgrid", "input_depth": 3}, "2 channels"),
    ],
)
def test_invalid_values_are_refused_with_the_expectation(changes, match):
    with pytest.raises(DipHealError, match=match):
        FitConfig(**changes)


def test_unknown_keys_and_presets_are_listed():
    with pytest.raises(DipHealError, match="unknown FitConfig key.*lrate"):
        FitConfig.from_dict({"lrate": 0.1})
    with pytest.raises(DipHealError, match="faithful"):
        FitConfig.preset("nope")
    with pytest.raises(DipHealError, match="not valid JSON"):
        FitConfig.from_json("{not json")


def test_presets_record_their_name_and_accept_changes():
    for name in PRESETS:
        cfg = FitConfig.preset(name, seed=3)
        assert cfg.preset_name == name and cfg.seed == 3
    assert FitConfig.preset("faithful").replace(lr=0.1).lr == 0.1


def test_from_cli_builds_the_fit_commands_config(tmp_path):
    """``dip-heal fit``'s flags: a preset (default ``default``) or a config file, then the given flags."""
    assert FitConfig.from_cli() == FitConfig.preset("default")
    cfg = FitConfig.from_cli(preset="faithful", iters=7, lr=None, seed=3, param_noise=True)
    assert cfg == FitConfig.preset("faithful").replace(num_iter=7, seed=3, param_noise=True)
    path = tmp_path / "c.json"
    FitConfig.preset("light", num_iter=9).to_json(path)
    assert FitConfig.from_cli(preset="faithful", config_file=path) == FitConfig.preset("light", num_iter=9)
    assert FitConfig.cli_changes(iters=5, time_limit=0.0, ensemble=None) == {"num_iter": 5, "time_limit": 0.0}
    with pytest.raises(TypeError, match="iterations"):
        FitConfig.cli_changes(iterations=5)
    with pytest.raises(DipHealError, match="lr"):
        FitConfig.from_cli(lr=20.0)
    with pytest.raises(DipHealError, match="unknown preset"):
        FitConfig.from_cli(preset="nope")

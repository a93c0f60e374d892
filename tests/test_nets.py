import pytest
import torch

from dip_heal.config import FitConfig
from dip_heal.errors import DipHealError
from dip_heal.nets import build_net, count_parameters, skip_net


def test_seed_configuration_has_the_published_parameter_count():
    net = build_net(FitConfig.preset("faithful"))
    assert count_parameters(net) == 2_157_697


def test_faithful_preset_is_the_seed_configuration():
    cfg = FitConfig.preset("faithful")
    assert (cfg.depth, cfg.channels, cfg.channels_skip, cfg.kernel_size) == (5, 128, 0, 3)
    assert (cfg.lr, cfg.reg_noise_std, cfg.param_noise, cfg.loss) == (0.01, 0.03, False, "mse")
    assert (cfg.net_input, cfg.pad, cfg.upsample, cfg.act, cfg.norm) == (
        "meshgrid", "reflection", "nearest", "LeakyReLU", "batch")
    assert cfg.need1x1_up and cfg.precision == "fp32" and cfg.select == "final" and cfg.ema == 0


def test_layer_order_matches_the_original_skip_net():
    net = skip_net()
    names = [type(m).__name__ for m in net.modules()]
    assert names.count("Conv2d") == 5 * 4 + 1
    assert names.count("ReflectionPad2d") == 5 * 4 + 1
    assert names.count("BatchNorm2d") == 5 * 5
    assert names.count("Upsample") == 5
    assert names[-1] == "Sigmoid"
    strided = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 5


@pytest.mark.parametrize("depth,channels", [(2, 8), (3, 4)])
def test_output_shape_equals_input_for_multiples_of_two_to_depth(depth, channels):
    net = build_net(FitConfig(depth=depth, channels=channels))
    x = torch.rand(1, 2, 2**depth * 3, 2**depth * 5)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (1, 1, x.shape[2], x.shape[3])
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_skip_channels_are_an_option():
    net = skip_net(num_channels_down=[8, 8], num_channels_up=[8, 8], num_channels_skip=[4, 4])
    assert net(torch.rand(1, 2, 16, 16)).shape == (1, 1, 16, 16)


def test_bad_network_options_list_the_choices():
    with pytest.raises(DipHealError, match="nearest or bilinear"):
        skip_net(upsample_mode="cubic")
    with pytest.raises(DipHealError, match="equal"):
        skip_net(num_channels_down=[8], num_channels_up=[8, 8], num_channels_skip=[0])

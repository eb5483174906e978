import pytest
import torch

from noise2noise.models import MODELS, SimpleCNN, UNet, build_model


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (2, 1, 17, 23), (1, 3, 9, 40)])
def test_unet_any_size_keeps_shape(shape):
    net = UNet(shape[1], width=4, depth=3).eval()
    assert net(torch.rand(shape)).shape == shape


def test_residual_networks_start_as_the_identity():
    x = torch.rand(2, 3, 24, 20)
    for net in (SimpleCNN(3, residual=True), UNet(3, width=4, depth=2, residual=True).eval()):
        torch.testing.assert_close(net(x), x)


def test_name_table_and_errors():
    assert set(MODELS) == {"cnn", "unet", "resunet"}
    assert isinstance(build_model("unet", 3, width=4, depth=1), UNet)
    with pytest.raises(ValueError, match="choose from"):
        build_model("resnet", 3)
    with pytest.raises(ValueError):
        UNet(3, depth=0)


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (2, 1, 17, 23), (1, 3, 9, 40)])
def test_resunet_any_size_keeps_shape_and_starts_as_the_identity(shape):
    from noise2noise.models import ResUNet

    net = ResUNet(shape[1], width=8, depth=2, blocks=1).eval()
    x = torch.rand(shape)
    torch.testing.assert_close(net(x), x)  # zeroed last convolution: the identity
    with pytest.raises(ValueError):
        ResUNet(3, depth=0)

"""The study's direction 1, a hybrid: the CNN's cost with the U-Net's skips, plus what makes a small
network train well (batch normalisation) and see far (a fourth level)."""

from torch import nn

from ._registry import Colorizer, register
from .unet import Deepest, UNet


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution (no bias: the normalisation has one), batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


@register
def hybrid(width: int = 32, in_channels: int = 1, out_channels: int = 2) -> Colorizer:
    """U-Net 32-48-96-128 with skips and batch norm: 4 levels (receptive field about 54 px, wider than a CIFAR image) at about the CNN's cost."""
    widths = (width, width * 3 // 2, 3 * width, 4 * width)  # narrow middle levels: most FLOPs are there
    net = UNet(widths, skips=True, out_channels=out_channels, block=conv_bn_relu, in_channels=in_channels)
    return Colorizer(net, stride=8, encoder=Deepest(net), encoder_channels=widths[-1], context=net.enc[-1])

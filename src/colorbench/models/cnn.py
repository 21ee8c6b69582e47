"""The study's CNN: an encoder-decoder without skip connections, 3x3 convolutions, ReLU, tanh."""

from torch import nn

from ._registry import Colorizer, conv_relu, head, register


@register
def cnn(width: int = 64, in_channels: int = 1, out_channels: int = 2) -> Colorizer:
    """conv64, pool, conv128, pool, conv128, up x2, conv64, up x2, conv2 + tanh (the study's widths)."""
    w = width
    net = nn.Sequential(
        conv_relu(in_channels, w), nn.MaxPool2d(2),       # (B, 64, H/2, W/2)
        conv_relu(w, 2 * w), nn.MaxPool2d(2),             # (B, 128, H/4, W/4)
        conv_relu(2 * w, 2 * w), nn.Upsample(scale_factor=2),
        conv_relu(2 * w, w), nn.Upsample(scale_factor=2),  # (B, 64, H, W)
        head(w, out_channels),
    )
    return Colorizer(net, stride=4, encoder=net[:5], encoder_channels=2 * w, context=net[4])

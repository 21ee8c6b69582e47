"""U-Nets: the real one (skip connections) and the study's published code (none)."""

import torch
from torch import nn

from ._registry import Colorizer, conv_relu, head, register
from .grow import first_conv


class UNet(nn.Module):
    """Encoder conv(w0) | pool | conv(w1) | pool | ... | conv(wN); decoder up | [+ skip] | conv, back
    to w0; then the head. With skips, each decoder conv also sees the encoder's features at its
    scale (concatenated), which is what makes it a U-Net."""

    def __init__(self, widths: tuple[int, ...] = (64, 128, 256), skips: bool = True, out_channels: int = 2,
                 block=conv_relu, bottleneck: nn.Module | None = None, in_channels: int = 1):
        super().__init__()
        self.skips = skips
        self.widths = tuple(widths)
        self.bottleneck = bottleneck  # applied to the deepest features (e.g. global context)
        self.enc = nn.ModuleList(block(i, o) for i, o in zip((in_channels, *widths[:-1]), widths))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2)  # nearest, as Keras' UpSampling2D
        rev = widths[::-1]  # (256, 128, 64)
        self.dec = nn.ModuleList(block(i + (o if skips else 0), o) for i, o in zip(rev[:-1], rev[1:]))
        self.head = head(widths[0], out_channels)

    def concatenated_inputs(self) -> dict[str, tuple[int, ...]]:
        """Each decoder level reads the level below (upsampled) and, with skips, the encoder's features
        beside it (models.grow)."""
        if not self.skips:
            return {}
        rev = self.widths[::-1]
        return {f"dec.{k}.{first_conv(dec)}": (i, o) for k, (dec, i, o) in enumerate(zip(self.dec, rev, rev[1:]))}

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for i, enc in enumerate(self.enc):
            x = enc(x if i == 0 else self.pool(x))
            feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encode(x)
        x = feats[-1] if self.bottleneck is None else self.bottleneck(feats[-1])
        for dec, skip in zip(self.dec, feats[-2::-1]):
            x = self.up(x)
            x = dec(torch.cat([x, skip], dim=1) if self.skips else x)
        return self.head(x)


class Deepest(nn.Module):
    """The deepest features of a network with `encode` (what pretraining trains)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = [net]  # not registered: its modules belong to the colorizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[0].encode(x)[-1]


def _unet(widths: tuple[int, ...], skips: bool, in_channels: int, out_channels: int) -> Colorizer:
    net = UNet(widths, skips, out_channels, in_channels=in_channels)
    return Colorizer(net, stride=2 ** (len(widths) - 1), encoder=Deepest(net), encoder_channels=widths[-1],
                     context=net.enc[-1])


@register
def unet(width: int = 64, in_channels: int = 1, out_channels: int = 2) -> Colorizer:
    """conv64 | pool | conv128 | pool | conv256 | up + skip | conv128 | up + skip | conv64 | conv2 + tanh."""
    return _unet((width, 2 * width, 4 * width), True, in_channels, out_channels)


@register
def unet_noskip(width: int = 64, in_channels: int = 1, out_channels: int = 2) -> Colorizer:
    """The study's published "U-Net" code: the same layers with no skip connections."""
    return _unet((width, 2 * width, 4 * width), False, in_channels, out_channels)

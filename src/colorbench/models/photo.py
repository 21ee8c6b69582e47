"""A colorizer for photos: five levels and global context, so that every pixel's colour can depend on
the whole picture (is it a beach, a forest, a room?) as in Iizuka, Simo-Serra and Ishikawa (2016)."""

import torch
from torch import nn

from ._registry import Colorizer, register
from .hybrid import conv_bn_relu
from .unet import Deepest, UNet


class Residual(nn.Module):
    """x + conv(relu(bn(conv(x)))), then ReLU. The last convolution starts at zero (as Fixup, Zhang et al.
    2019), so a new block is the identity on the non-negative features it follows: blocks added to trained
    weights change nothing until training moves them (`train --blocks`), and unlike a zero batch-norm scale,
    the zero convolution gets a gradient from its first step."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(channels, channels), nn.Conv2d(channels, channels, 3, padding=1))

    def start_as_identity(self) -> None:
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class GlobalContext(nn.Module):
    """The deepest features averaged over the whole image to one vector, passed through a small MLP,
    and fused back into every position: a receptive field of the whole input at any size. Then `blocks`
    residual blocks reason over the fused features, where depth is cheapest (1/16 of the side)."""

    def __init__(self, channels: int, blocks: int = 0):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(inplace=True), nn.Linear(channels, channels))
        self.fuse = conv_bn_relu(2 * channels, channels)
        self.blocks = nn.Sequential(*(Residual(channels) for _ in range(blocks)))  # none: no tensors, old names

    def concatenated_inputs(self) -> dict[str, tuple[int, ...]]:
        """The fusion reads the features and the whole picture's vector beside them (models.grow)."""
        c = self.mlp[0].in_features
        return {"fuse.0.weight": (c, c)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.mlp(x.float().mean((2, 3))).to(x.dtype)  # (B, C): what the whole picture is
        return self.blocks(self.fuse(torch.cat([x, g[:, :, None, None].expand_as(x)], dim=1)))


def double_conv(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm: more depth per level for photos' detail."""
    return nn.Sequential(conv_bn_relu(cin, cout), conv_bn_relu(cout, cout))


@register
def photo_unet(width: int = 24, blocks: int = 0, in_channels: int = 1, out_channels: int = 2) -> Colorizer:
    """U-Net 24-48-96-192-192, two convs per level, batch norm, global context (and `blocks` residual blocks) at
    the bottleneck."""
    widths = (width, 2 * width, 4 * width, 8 * width, 8 * width)
    net = UNet(widths, skips=True, out_channels=out_channels, block=double_conv,
               bottleneck=GlobalContext(widths[-1], blocks), in_channels=in_channels)
    model = Colorizer(net, stride=16, encoder=Deepest(net), encoder_channels=widths[-1],
                      context=net.bottleneck.mlp)  # the vector fused back everywhere: Iizuka et al.'s global features
    for block in net.bottleneck.blocks:  # after the Colorizer's own initialisation of every convolution
        block.start_as_identity()
    return model

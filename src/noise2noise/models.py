"""Networks: the small plain CNN (ZS-N2N's network and the report's "Simple CNN") and a U-Net.

All networks map a (B, C, H, W) tensor to a (B, C, H, W) tensor and accept any H and W.
``MODELS`` is the one name-to-class table that the command line and the experiments use.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .convert import pad_to_multiple
from .errors import N2NError

__all__ = ["SimpleCNN", "UNet", "ResUNet", "MODELS", "build_model", "count_parameters"]


def _zero_init(conv: nn.Conv2d) -> None:
    """Zero the last convolution of a residual network, so that it starts as the identity."""
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)


class SimpleCNN(nn.Module):
    """Plain CNN: ``layers - 1`` 3×3 convolutions with LeakyReLU, then a 1×1 convolution.

    With the defaults (3 layers, 48 channels, slope 0.2) this is the network of
    Zero-Shot Noise2Noise (Mansour & Heckel 2023, section 3), 22,275 parameters for RGB,
    and the "Simple CNN" of the report (appendix A.5). No normalisation, no pooling, so
    the receptive field is ``2·(layers-1) + 1`` pixels wide.

    Parameters
    ----------
    channels : int
        Image channels C (1 grayscale, 3 RGB).
    width : int
        Hidden channels.
    layers : int
        Number of convolutions, >= 2.
    negative_slope : float
        LeakyReLU slope.
    residual : bool
        Return ``x + net(x)`` instead of ``net(x)``: the network then learns a correction
        and, with its last convolution zeroed, starts as the identity, which trains much
        faster than predicting the image.
    """

    def __init__(
        self,
        channels: int = 3,
        *,
        width: int = 48,
        layers: int = 3,
        negative_slope: float = 0.2,
        residual: bool = False,
    ):
        super().__init__()
        self.residual = residual
        if layers < 2:
            raise N2NError(f"SimpleCNN needs at least 2 layers, got {layers}")
        convs = []
        c_in = channels
        for _ in range(layers - 1):
            convs.append(nn.Conv2d(c_in, width, 3, padding=1))
            c_in = width
        self.hidden = nn.ModuleList(convs)
        self.out = nn.Conv2d(width, channels, 1)
        if residual:
            _zero_init(self.out)
        self.negative_slope = negative_slope
        self.receptive_radius = layers - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv in self.hidden:
            y = F.leaky_relu(conv(y), self.negative_slope)  # (B, width, H, W)
        y = self.out(y)  # (B, C, H, W)
        return x + y if self.residual else y


class _DoubleConv(nn.Sequential):
    """Two (3×3 conv, BatchNorm, ReLU) blocks."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net of the report (appendix A.5): predicts the clean image.

    Encoder: max-pool then DoubleConv, ``depth`` times, doubling the width each time.
    Decoder: bilinear ×2 upsampling, concatenation with the skip connection, DoubleConv.
    A final 1×1 convolution maps back to C channels. Inputs of any size are reflect-padded
    to a multiple of ``2**depth`` and the output is cropped back.

    Parameters
    ----------
    channels : int
        Image channels C.
    width : int
        Channels of the first level (doubled at each level down).
    depth : int
        Number of down-sampling steps.
    residual : bool
        Return ``x + net(x)`` (see :class:`SimpleCNN`).
    """

    def __init__(
        self, channels: int = 3, *, width: int = 64, depth: int = 4, residual: bool = False
    ):
        super().__init__()
        self.residual = residual
        if depth < 1:
            raise N2NError(f"UNet depth must be >= 1, got {depth}")
        widths = [width * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.inc = _DoubleConv(channels, widths[0])
        self.down = nn.ModuleList(_DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(
            _DoubleConv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))
        )
        self.outc = nn.Conv2d(widths[0], channels, 1)
        if residual:
            _zero_init(self.outc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = x
        x, (h, w) = pad_to_multiple(x, 2**self.depth)
        skips = [self.inc(x)]  # (B, width, H, W)
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))  # halves H and W, doubles width
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))  # back to the skip's width
        y = self.outc(y)[..., :h, :w]  # (B, C, H, W)
        return inp + y if self.residual else y


class _ResBlock(nn.Module):
    """3×3 conv, ReLU, 3×3 conv, plus the input (no normalisation, as in DRUNet)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class ResUNet(nn.Module):
    """Blind residual U-Net: the network of the shipped pretrained denoisers.

    The image is first folded 2×2 into channels (pixel unshuffle, as FFDNet does), so the
    finest level already works at half resolution: a quarter of the cost of a full-resolution
    first level, and a receptive field twice as wide. Each level has ``blocks`` residual
    blocks (conv-ReLU-conv plus input, no normalisation) in the encoder and in the decoder;
    levels are linked by 2×2 strided convolutions down and 2×2 transposed convolutions up,
    and skip connections are added rather than concatenated (Zhang et al. 2021, DRUNet).
    The output is ``x + f(x)`` with the last convolution zeroed, so training starts at the
    identity. No noise level is given to it: it is blind.

    Parameters
    ----------
    channels : int
        Image channels C.
    width : int
        Channels of the first level (doubled at each level down).
    depth : int
        Number of down-sampling steps after the 2×2 fold.
    blocks : int
        Residual blocks per level and side (the bottom level has ``blocks`` in all).
    """

    def __init__(self, channels: int = 3, *, width: int = 48, depth: int = 2, blocks: int = 2):
        super().__init__()
        if depth < 1 or blocks < 1:
            raise N2NError(f"ResUNet needs depth >= 1 and blocks >= 1, got {depth}, {blocks}")
        widths = [width * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.channels = channels
        self.head = nn.Conv2d(4 * channels, widths[0], 3, padding=1)
        self.enc = nn.ModuleList(
            nn.Sequential(*(_ResBlock(widths[i]) for _ in range(blocks))) for i in range(depth)
        )
        self.down = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], 2, stride=2) for i in range(depth)
        )
        self.body = nn.Sequential(*(_ResBlock(widths[depth]) for _ in range(blocks)))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
            for i in reversed(range(depth))
        )
        self.dec = nn.ModuleList(
            nn.Sequential(*(_ResBlock(widths[i]) for _ in range(blocks)))
            for i in reversed(range(depth))
        )
        self.tail = nn.Conv2d(widths[0], 4 * channels, 3, padding=1)
        _zero_init(self.tail)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp = x
        x, (h, w) = pad_to_multiple(x, 2 ** (self.depth + 1))
        y = self.head(F.pixel_unshuffle(x, 2))  # (B, width, H/2, W/2)
        skips = []
        for block, down in zip(self.enc, self.down, strict=True):
            y = block(y)
            skips.append(y)
            y = down(y)  # halves H and W, doubles the width
        y = self.body(y)
        for up, block in zip(self.up, self.dec, strict=True):
            y = block(up(y) + skips.pop())  # back to the skip's size and width
        y = F.pixel_shuffle(self.tail(y), 2)[..., :h, :w]  # (B, C, H, W)
        return inp + y


MODELS: dict[str, type[nn.Module]] = {"cnn": SimpleCNN, "unet": UNet, "resunet": ResUNet}


def build_model(arch: str, channels: int, **options) -> nn.Module:
    """Instantiate a network from its name in :data:`MODELS`."""
    cls = MODELS.get(arch)
    if cls is None:
        raise N2NError(f"unknown architecture '{arch}' (choose from {', '.join(MODELS)})")
    return cls(channels, **options)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

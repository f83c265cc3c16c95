"""TinyNet: small convolutional image classifiers (a teaching example, not from a paper)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lucid import Tensor, nn
from lucid.models import register_model

# ---------------------------------------------------------------- blocks ---


class ConvBlock(nn.Module):
    """3x3 convolution, batch normalisation and ReLU; ``stride=2`` halves the image."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


# ----------------------------------------------------------------- model ---


class TinyNet(nn.Module):
    """A stack of convolution stages, global average pooling and a linear classifier.

    Parameters
    ----------
    img_size : int
        The input image size the model is meant for (any size works).
    num_classes : int
        The number of output classes for classification.
    in_channels : int
        The number of channels of the input images.
    widths : sequence of int
        Channels of each stage; every stage after the first halves the image.
    depths : sequence of int
        Number of convolution blocks in each stage.
    """

    def __init__(
        self,
        img_size: int = 32,
        num_classes: int = 10,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32),
        depths: Sequence[int] = (1, 1),
    ) -> None:
        super().__init__()
        if len(widths) != len(depths):
            raise ValueError(
                f"widths and depths need one entry per stage, got {len(widths)} widths "
                f"{list(widths)} and {len(depths)} depths {list(depths)}"
            )
        self.config = {
            "img_size": img_size,
            "num_classes": num_classes,
            "in_channels": in_channels,
            "widths": list(widths),
            "depths": list(depths),
        }
        blocks: list[nn.Module] = []
        channels = in_channels
        for stage, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            for i in range(depth):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(ConvBlock(channels, width, stride))
                channels = width
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class scores of shape (B, num_classes) for images of shape (B, C, H, W)."""
        return self.head(self.pool(self.features(x)).flatten(1))


def _create_tinynet(
    img_size: int, num_classes: int, defaults: dict[str, Any], overrides: dict[str, Any]
) -> TinyNet:
    # A keyword given by the caller wins over the variant's default.
    return TinyNet(img_size=img_size, num_classes=num_classes, **{**defaults, **overrides})


# -------------------------------------------------------------- builders ---


@register_model
def tinynet_s(img_size: int = 32, num_classes: int = 10, **kwargs: Any) -> TinyNet:
    """TinyNet-S, two stages of 16 and 32 channels with one block each.

    Parameters
    ----------
    img_size : int
        The input image size.
    num_classes : int
        The number of output classes.
    **kwargs
        Any other :class:`TinyNet` setting, e.g. ``widths`` or ``depths``.

    Returns
    -------
    TinyNet
        The model, freshly initialised.

    Examples
    --------
    >>> import lucid
    >>> model = tinynet_s()
    >>> model(lucid.randn(2, 3, 32, 32)).shape
    (2, 10)
    """
    return _create_tinynet(img_size, num_classes, {"widths": [16, 32], "depths": [1, 1]}, kwargs)


@register_model
def tinynet_m(img_size: int = 32, num_classes: int = 10, **kwargs: Any) -> TinyNet:
    """TinyNet-M, three stages of 32, 64 and 128 channels with two blocks each.

    Parameters
    ----------
    img_size : int
        The input image size.
    num_classes : int
        The number of output classes.
    **kwargs
        Any other :class:`TinyNet` setting, e.g. ``widths`` or ``depths``.

    Returns
    -------
    TinyNet
        The model, freshly initialised.

    Examples
    --------
    >>> import lucid
    >>> model = tinynet_m(num_classes=5)
    >>> model(lucid.randn(1, 3, 32, 32)).shape
    (1, 5)
    """
    return _create_tinynet(
        img_size, num_classes, {"widths": [32, 64, 128], "depths": [2, 2, 2]}, kwargs
    )

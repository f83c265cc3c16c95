"""Image transforms with torchvision's semantics, and ``create_transform`` as timm's.

The transforms take Pillow images (``PIL.Image.Image``) until :class:`ToTensor`
turns one into a float32 ``(C, H, W)`` tensor in ``[0, 1]``; :class:`Normalize`
then works on that tensor. Geometry and colour follow torchvision's Pillow
path exactly (the same output sizes, crop offsets and Pillow calls), and the
random transforms draw from lucid's default generator, so
``lucid.manual_seed`` (or a ``lucid.data.DataLoader`` worker's seed)
makes them repeatable. Pillow is imported on first use, never at
``import lucid``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lucid import _random
from lucid._creation import from_numpy, tensor
from lucid._tensor import Tensor

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_CROP_PCT",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "Normalize",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "Resize",
    "ToTensor",
    "create_transform",
]

# Values from timm/data/constants.py: what timm's resolve_data_config falls
# back to when a pretrained_cfg omits them.

#: The per-channel mean of ImageNet's RGB images, in [0, 1].
IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
#: The per-channel standard deviation of ImageNet's RGB images, in [0, 1].
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
#: The fraction of the resized image that evaluation's centre crop keeps.
DEFAULT_CROP_PCT = 0.875

# The interpolation names of torchvision's InterpolationMode and timm's
# str_to_pil_interp, mapped to Pillow's resampling filters by name.
_INTERPOLATIONS = {
    "nearest": "NEAREST",
    "bilinear": "BILINEAR",
    "bicubic": "BICUBIC",
    "box": "BOX",
    "hamming": "HAMMING",
    "lanczos": "LANCZOS",
}


# --------------------------------------------------------------- helpers ---


def _check_image(img: Any, who: str) -> Image.Image:
    from PIL import Image

    if not isinstance(img, Image.Image):
        raise TypeError(
            f"{who} takes a PIL.Image.Image, got {type(img).__name__}; "
            "apply it before ToTensor (lucid's transforms do not take tensor images)"
        )
    return img


def _resample(interpolation: str) -> int:
    from PIL import Image

    return int(getattr(Image.Resampling, _INTERPOLATIONS[interpolation]))


def _check_interpolation(interpolation: Any) -> str:
    if not isinstance(interpolation, str) or interpolation.lower() not in _INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {interpolation!r}"
        )
    return interpolation.lower()


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _size_pair(size: Any, what: str) -> tuple[int, int]:
    """``size`` as ``(height, width)``: an int or a 1-sequence means a square."""
    if isinstance(size, Sequence) and not isinstance(size, str) and len(size) in (1, 2):
        sizes = [_positive_int(s, what) for s in size]
        return (sizes[0], sizes[-1])
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return (_positive_int(size, what), int(size))
    raise ValueError(f"{what} must be an int or a sequence (height, width), got {size!r}")


def _range(value: Any, what: str) -> tuple[float, float]:
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, numbers.Real) for v in value)
    ):
        raise ValueError(f"{what} must be a (min, max) pair of numbers, got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not 0 < low <= high:
        raise ValueError(f"{what} must satisfy 0 < min <= max, got {value!r}")
    return low, high


def _resized_size(
    width: int, height: int, size: tuple[int, ...], max_size: int | None
) -> tuple[int, int]:
    """Output ``(width, height)`` as torchvision's ``_compute_resized_output_size``."""
    if len(size) == 2:
        return size[1], size[0]
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size[0], int(size[0] * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if width <= height else (new_long, new_short)


def _resize(img: Image.Image, width: int, height: int, interpolation: str) -> Image.Image:
    if img.size == (width, height):
        return img
    return img.resize((width, height), _resample(interpolation))


# ----------------------------------------------------------- composition ---


class Compose:
    """Apply ``transforms`` one after the other, as ``torchvision.transforms.Compose``.

    Examples
    --------
    >>> from PIL import Image
    >>> from lucid.vision import transforms as T
    >>> t = T.Compose([T.Resize(4), T.CenterCrop(4), T.ToTensor()])
    >>> t(Image.new("RGB", (8, 6))).shape
    (3, 4, 4)
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose takes callables, got {t!r}")
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


# -------------------------------------------------------------- geometry ---


class Resize:
    """Resize a Pillow image, as ``torchvision.transforms.Resize``.

    Parameters
    ----------
    size:
        An int resizes the shorter side to it, keeping the aspect ratio (the
        longer side is ``int(size * long / short)``); ``(height, width)``
        resizes to exactly that.
    interpolation:
        ``"bilinear"`` (default), ``"bicubic"``, ``"nearest"``, ``"box"``,
        ``"hamming"`` or ``"lanczos"``.
    max_size:
        With an int ``size``: the longer side is scaled down to at most this.
    antialias:
        Pillow always antialiases; torchvision ignores this for Pillow images too.

    Examples
    --------
    >>> from PIL import Image
    >>> from lucid.vision.transforms import Resize
    >>> Resize(32)(Image.new("RGB", (100, 50))).size  # (width, height), as Pillow
    (64, 32)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        interpolation: str = "bilinear",
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        self.size = _size_pair(size, "Resize size")
        self._shorter = not (isinstance(size, Sequence) and len(size) == 2)
        self.interpolation = _check_interpolation(interpolation)
        if max_size is not None:
            if not self._shorter:
                raise ValueError(
                    f"max_size is only allowed when size is an int (the shorter side), "
                    f"got size={size!r}"
                )
            if _positive_int(max_size, "max_size") <= self.size[0]:
                raise ValueError(
                    f"max_size = {max_size} must be greater than the shorter side size = {size}"
                )
        self.max_size = max_size
        self.antialias = antialias

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _check_image(img, "Resize")
        size = self.size[:1] if self._shorter else self.size
        width, height = _resized_size(img.width, img.height, size, self.max_size)
        return _resize(img, width, height, self.interpolation)

    def __repr__(self) -> str:
        size = self.size[0] if self._shorter else self.size
        return (
            f"{type(self).__name__}(size={size}, interpolation={self.interpolation}, "
            f"max_size={self.max_size}, antialias={self.antialias})"
        )


class CenterCrop:
    """Crop the centre of a Pillow image, as ``torchvision.transforms.CenterCrop``.

    The top-left corner is ``round((H - h) / 2), round((W - w) / 2)``; a crop
    larger than the image pads it with zeros first, as torchvision does.

    Examples
    --------
    >>> from PIL import Image
    >>> from lucid.vision.transforms import CenterCrop
    >>> CenterCrop((2, 3))(Image.new("L", (5, 5))).size
    (3, 2)
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair(size, "CenterCrop size")

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _check_image(img, "CenterCrop")
        crop_h, crop_w = self.size
        # torchvision pads (crop - size) // 2 on the left/top, then crops at 0;
        # Pillow's crop outside the image fills with zeros, which is that padding.
        top = -((crop_h - img.height) // 2) if crop_h > img.height else None
        left = -((crop_w - img.width) // 2) if crop_w > img.width else None
        if top is None:
            top = round((img.height - crop_h) / 2.0)
        if left is None:
            left = round((img.width - crop_w) / 2.0)
        return img.crop((left, top, left + crop_w, top + crop_h))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomResizedCrop:
    """Crop a random area and aspect ratio, then resize, as torchvision's ``RandomResizedCrop``.

    Parameters
    ----------
    size:
        Output ``(height, width)``, or an int for a square.
    scale:
        Range of the crop's area as a fraction of the image's.
    ratio:
        Range of the crop's aspect ratio (width / height), sampled log-uniformly.
    interpolation, antialias:
        As in :class:`Resize`.

    Examples
    --------
    >>> import lucid
    >>> from PIL import Image
    >>> from lucid.vision.transforms import RandomResizedCrop
    >>> _ = lucid.manual_seed(0)
    >>> RandomResizedCrop(8)(Image.new("RGB", (20, 30))).size
    (8, 8)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: str = "bilinear",
        antialias: bool | None = True,
    ) -> None:
        self.size = _size_pair(size, "RandomResizedCrop size")
        self.scale = _range(scale, "scale")
        self.ratio = _range(ratio, "ratio")
        self.interpolation = _check_interpolation(interpolation)
        self.antialias = antialias

    @staticmethod
    def get_params(
        img: Image.Image, scale: Sequence[float], ratio: Sequence[float]
    ) -> tuple[int, int, int, int]:
        """The crop ``(top, left, height, width)``: torchvision's ten tries, then a centre crop."""
        width, height = _check_image(img, "RandomResizedCrop").size
        area = height * width
        rng = _random.numpy_rng(None)
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(scale[0], scale[1])
            aspect_ratio = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = round(math.sqrt(target_area * aspect_ratio))
            h = round(math.sqrt(target_area / aspect_ratio))
            if 0 < w <= width and 0 < h <= height:
                i = int(rng.integers(0, height - h + 1))
                j = int(rng.integers(0, width - w + 1))
                return i, j, h, w
        # Fallback to a central crop of the nearest allowed aspect ratio.
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, round(width / min(ratio))
        elif in_ratio > max(ratio):
            h, w = height, round(height * max(ratio))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img: Image.Image) -> Image.Image:
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        crop = img.crop((j, i, j + w, i + h))
        return _resize(crop, self.size[1], self.size[0], self.interpolation)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
            f"interpolation={self.interpolation}, antialias={self.antialias})"
        )


class RandomHorizontalFlip:
    """Mirror a Pillow image left to right with probability ``p``, as torchvision's.

    Examples
    --------
    >>> import numpy as np
    >>> from PIL import Image
    >>> from lucid.vision.transforms import RandomHorizontalFlip
    >>> img = Image.frombytes("L", (2, 1), bytes([0, 255]))
    >>> np.asarray(RandomHorizontalFlip(p=1.0)(img)).tolist()
    [[255, 0]]
    """

    def __init__(self, p: float = 0.5) -> None:
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.p: float = float(p)

    def __call__(self, img: Image.Image) -> Image.Image:
        from PIL import Image

        img = _check_image(img, "RandomHorizontalFlip")
        if _random.numpy_rng(None).random() < self.p:
            return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


# ---------------------------------------------------------------- colour ---


def _jitter_range(
    value: Any, name: str, center: float, bound: tuple[float, float], clip_at_zero: bool
) -> tuple[float, float] | None:
    """torchvision's ``ColorJitter._check_input``: a number ``v`` means ``[c - v, c + v]``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative, got {value}")
        low, high = center - float(value), center + float(value)
        if clip_at_zero:
            low = max(low, 0.0)
    elif (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, numbers.Real) for v in value)
    ):
        low, high = float(value[0]), float(value[1])
    else:
        raise TypeError(f"{name} should be a single number or a (min, max) pair, got {value!r}")
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, got {value!r}")
    return None if low == high == center else (low, high)


class ColorJitter:
    """Randomly change brightness, contrast, saturation and hue, as torchvision's ``ColorJitter``.

    Each factor is drawn uniformly from its range (a number ``v`` means
    ``[max(0, 1 - v), 1 + v]``, and ``[-v, v]`` for hue, ``v <= 0.5``), and
    the four adjustments run in a random order, with Pillow's
    ``ImageEnhance`` and a shift of the HSV hue channel as torchvision does.

    Examples
    --------
    >>> import lucid
    >>> from PIL import Image
    >>> from lucid.vision.transforms import ColorJitter
    >>> _ = lucid.manual_seed(0)
    >>> ColorJitter(brightness=0.4, hue=0.1)(Image.new("RGB", (4, 4), (90, 30, 200))).size
    (4, 4)
    """

    def __init__(
        self,
        brightness: float | Sequence[float] = 0,
        contrast: float | Sequence[float] = 0,
        saturation: float | Sequence[float] = 0,
        hue: float | Sequence[float] = 0,
    ) -> None:
        inf = float("inf")
        self.brightness = _jitter_range(brightness, "brightness", 1.0, (0.0, inf), True)
        self.contrast = _jitter_range(contrast, "contrast", 1.0, (0.0, inf), True)
        self.saturation = _jitter_range(saturation, "saturation", 1.0, (0.0, inf), True)
        self.hue = _jitter_range(hue, "hue", 0.0, (-0.5, 0.5), False)

    @staticmethod
    def get_params(
        brightness: tuple[float, float] | None,
        contrast: tuple[float, float] | None,
        saturation: tuple[float, float] | None,
        hue: tuple[float, float] | None,
    ) -> tuple[np.ndarray, float | None, float | None, float | None, float | None]:
        """The order of the four adjustments and their factors (None: not applied)."""
        rng = _random.numpy_rng(None)
        order = rng.permutation(4)
        factors = [
            None if r is None else float(rng.uniform(r[0], r[1]))
            for r in (brightness, contrast, saturation, hue)
        ]
        return order, factors[0], factors[1], factors[2], factors[3]

    def __call__(self, img: Image.Image) -> Image.Image:
        from PIL import ImageEnhance

        img = _check_image(img, "ColorJitter")
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
        for index in order:
            factor = factors[index]
            if factor is None:
                continue
            img = enhancers[index](img).enhance(factor) if index < 3 else _shift_hue(img, factor)
        return img

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )


def _shift_hue(img: Image.Image, hue_factor: float) -> Image.Image:
    """torchvision's Pillow ``adjust_hue``: rotate the 8-bit HSV hue by ``hue_factor`` turns."""
    from PIL import Image

    if img.mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    # The hue wraps around: add modulo 256, with the factor truncated toward
    # zero as torchvision's cast of hue_factor * 255 to an 8-bit integer does.
    shift = np.uint8(int(hue_factor * 255) % 256)
    hue = (np.asarray(h, dtype=np.uint8) + shift).astype(np.uint8)
    return Image.merge("HSV", (Image.fromarray(hue, "L"), s, v)).convert(img.mode)


# ------------------------------------------------------------ to tensors ---


class ToTensor:
    """A Pillow image or ``(H, W[, C])`` uint8 array as a float32 ``(C, H, W)`` tensor in [0, 1].

    As ``torchvision.transforms.ToTensor``: 8-bit images are divided by 255;
    other data types (Pillow modes ``I``, ``F``, integer arrays) keep their
    values and dtype.

    Examples
    --------
    >>> from PIL import Image
    >>> from lucid.vision.transforms import ToTensor
    >>> t = ToTensor()(Image.new("RGB", (3, 2), (255, 0, 51)))
    >>> t.shape, t.dtype, t[:, 0, 0].tolist()
    ((3, 2, 3), dtype('float32'), [1.0, 0.0, 0.2])
    """

    def __call__(self, pic: Image.Image | np.ndarray) -> Tensor:
        from PIL import Image

        if isinstance(pic, Image.Image):
            array = np.array(pic)
            if pic.mode == "1":
                array = array.astype(np.uint8) * 255
        elif isinstance(pic, np.ndarray):
            if pic.ndim not in (2, 3):
                raise ValueError(f"ToTensor takes a (H, W) or (H, W, C) array, got {pic.shape}")
            array = pic
        else:
            raise TypeError(
                f"ToTensor takes a PIL.Image.Image or a numpy.ndarray, got {type(pic).__name__}"
            )
        if array.ndim == 2:
            array = array[:, :, None]
        chw = array.transpose(2, 0, 1)
        if chw.dtype == np.uint8:
            return from_numpy(np.ascontiguousarray(chw, dtype=np.float32) / np.float32(255))
        return from_numpy(np.array(chw, order="C"))  # a copy: never shares the caller's array

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """``(x - mean) / std`` per channel of a ``(..., C, H, W)`` float tensor, as torchvision's.

    Examples
    --------
    >>> import lucid
    >>> from lucid.vision.transforms import Normalize
    >>> x = lucid.ones(2, 1, 1)
    >>> Normalize(mean=(0.5, 0.0), std=(0.5, 2.0))(x).flatten().tolist()
    [1.0, 0.5]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        channels = max(len(self.mean), len(self.std))
        if not self.mean or not self.std or {len(self.mean), len(self.std)} - {1, channels}:
            raise ValueError(
                f"mean and std need one value per channel (or one for all), "
                f"got mean={mean!r}, std={std!r}"
            )
        if any(s == 0 for s in self.std):
            raise ValueError(f"std contains a zero, which would divide by zero: std={std!r}")
        self.inplace = inplace

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Normalize takes a lucid.Tensor, got {type(x).__name__}; use ToTensor")
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize takes a floating-point tensor, got dtype {x.dtype}")
        channels = max(len(self.mean), len(self.std))
        if x.ndim < 3 or channels not in (1, x.shape[-3]):
            raise ValueError(
                f"expected a (..., C, H, W) tensor with C = {channels}, got shape {x.shape}"
            )
        mean = tensor(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
        std = tensor(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        if self.inplace:
            return x.sub_(mean).div_(std)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


# ---------------------------------------------------------- from a config ---


def create_transform(
    pretrained_cfg: Mapping[str, Any],
    is_training: bool = False,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    hflip: float = 0.5,
    color_jitter: float | None = 0.4,
) -> Compose:
    """The preprocessing a model's ``pretrained_cfg`` asks for, as timm's ``create_transform``.

    Missing keys fall back to timm's ``resolve_data_config`` defaults:
    ``input_size`` (3, 224, 224), ``interpolation`` ``"bicubic"``, ImageNet
    ``mean``/``std`` and ``crop_pct`` 0.875.

    Evaluation (timm's ``transforms_imagenet_eval``, ``crop_mode="center"``):
    resize the shorter side to ``floor(size / crop_pct)``, centre-crop to
    ``input_size``, :class:`ToTensor`, :class:`Normalize`. Only square input
    sizes are supported for evaluation (timm's aspect-keeping resize for
    non-square ones is not implemented).

    Training (timm's ``transforms_imagenet_train``):
    :class:`RandomResizedCrop` (``scale``, ``ratio``),
    :class:`RandomHorizontalFlip` (``hflip``, left out when 0),
    :class:`ColorJitter` (``color_jitter`` for brightness, contrast and
    saturation, left out when None), :class:`ToTensor`, :class:`Normalize`.

    Parameters
    ----------
    pretrained_cfg:
        A mapping with any of ``input_size``, ``interpolation``, ``mean``,
        ``std``, ``crop_pct``.
    is_training:
        Build the random training augmentation instead of the evaluation pipeline.
    scale, ratio, hflip, color_jitter:
        The training augmentation's settings, named and defaulting as timm's.

    Examples
    --------
    >>> from PIL import Image
    >>> from lucid.vision.transforms import create_transform
    >>> t = create_transform({"input_size": (3, 32, 32), "crop_pct": 0.9})
    >>> t.transforms[0]
    Resize(size=35, interpolation=bicubic, max_size=None, antialias=True)
    >>> t(Image.new("RGB", (50, 40))).shape
    (3, 32, 32)
    """
    if not isinstance(pretrained_cfg, Mapping):
        raise TypeError(f"pretrained_cfg must be a mapping, got {type(pretrained_cfg).__name__}")
    input_size = pretrained_cfg.get("input_size") or (3, 224, 224)
    if isinstance(input_size, Sequence) and len(input_size) == 3:
        input_size = input_size[1:]
    img_size = _size_pair(input_size, "input_size")
    interpolation = _check_interpolation(pretrained_cfg.get("interpolation") or "bicubic")
    mean = pretrained_cfg.get("mean") or IMAGENET_DEFAULT_MEAN
    std = pretrained_cfg.get("std") or IMAGENET_DEFAULT_STD
    crop_pct = pretrained_cfg.get("crop_pct") or DEFAULT_CROP_PCT
    if not isinstance(crop_pct, numbers.Real) or not 0 < float(crop_pct) <= 1:
        raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct!r}")
    final: list[Callable[[Any], Any]] = [ToTensor(), Normalize(mean, std)]
    if is_training:
        steps: list[Callable[[Any], Any]] = [
            RandomResizedCrop(img_size, scale=scale, ratio=ratio, interpolation=interpolation)
        ]
        if hflip > 0:
            steps.append(RandomHorizontalFlip(hflip))
        if color_jitter is not None:
            steps.append(ColorJitter(color_jitter, color_jitter, color_jitter))
        return Compose(steps + final)
    if img_size[0] != img_size[1]:
        raise ValueError(
            f"create_transform builds the evaluation pipeline for square input sizes only, "
            f"got input_size {tuple(input_size)}; compose Resize and CenterCrop yourself"
        )
    resize = Resize(math.floor(img_size[0] / float(crop_pct)), interpolation=interpolation)
    return Compose([resize, CenterCrop(img_size), *final])

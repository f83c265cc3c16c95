"""lucid.vision.transforms against Pillow/NumPy references of torchvision's documented semantics."""

from __future__ import annotations

import colorsys
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageEnhance

import lucid
from lucid.vision import transforms as T


def _image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1}[mode]
    data = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(data[:, :, 0] if mode == "L" else data, mode)


def _array(img: Image.Image) -> np.ndarray:
    return np.asarray(img)


# ---------------------------------------------------------------- Resize ---


@pytest.mark.parametrize(
    ("size", "wh", "expected"),
    [
        # The shorter side becomes `size`, the longer int(size * long / short).
        (32, (100, 50), (64, 32)),
        (32, (50, 100), (32, 64)),
        (20, (33, 47), (20, 28)),  # int(20 * 47 / 33) = int(28.48)
        (7, (9, 9), (7, 7)),
        ((5, 9), (20, 30), (9, 5)),  # (height, width) is exact
        ([6], (30, 20), (9, 6)),  # a 1-sequence means the shorter side
    ],
)
def test_resize_output_size_follows_torchvision(size, wh, expected):
    assert T.Resize(size)(_image(*wh)).size == expected


def test_resize_pixels_are_pillows_resample_of_the_same_size():
    img = _image(40, 30)
    for name, flt in [
        ("bilinear", Image.Resampling.BILINEAR),
        ("bicubic", Image.Resampling.BICUBIC),
        ("nearest", Image.Resampling.NEAREST),
    ]:
        out = T.Resize(15, interpolation=name)(img)
        np.testing.assert_array_equal(_array(out), _array(img.resize((20, 15), flt)))


def test_resize_nearest_upscale_repeats_pixels():
    data = np.array([[0, 50], [100, 200]], dtype=np.uint8)
    out = T.Resize(4, interpolation="nearest")(Image.fromarray(data, "L"))
    np.testing.assert_array_equal(_array(out), data.repeat(2, 0).repeat(2, 1))


def test_resize_max_size_caps_the_longer_side():
    # short 10 -> long int(10 * 100 / 20) = 50 > 30: long 30, short int(30 * 10 / 50) = 6
    assert T.Resize(10, max_size=30)(_image(100, 20)).size == (30, 6)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"size": 0}, ValueError),
        ({"size": (1, 2, 3)}, ValueError),
        ({"size": 8, "interpolation": "cubic"}, ValueError),
        ({"size": 8, "max_size": 8}, ValueError),
        ({"size": (8, 8), "max_size": 20}, ValueError),
    ],
)
def test_resize_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        T.Resize(**kwargs)


def test_geometric_transforms_refuse_tensors_with_advice():
    x = lucid.zeros(3, 4, 4)
    for t in (T.Resize(2), T.CenterCrop(2), T.RandomResizedCrop(2), T.RandomHorizontalFlip()):
        with pytest.raises(TypeError, match="before ToTensor"):
            t(x)


# ------------------------------------------------------------ CenterCrop ---


@pytest.mark.parametrize(("wh", "crop"), [((10, 7), (4, 4)), ((5, 5), (2, 3)), ((8, 9), 3)])
def test_center_crop_offsets_are_rounded_half_differences(wh, crop):
    img = _image(*wh)
    ch, cw = (crop, crop) if isinstance(crop, int) else crop
    top, left = round((wh[1] - ch) / 2.0), round((wh[0] - cw) / 2.0)
    expected = _array(img)[top : top + ch, left : left + cw]
    np.testing.assert_array_equal(_array(T.CenterCrop(crop)(img)), expected)


def test_center_crop_larger_than_image_pads_with_zeros_as_torchvision():
    img = _image(3, 2)
    # torchvision pads (crop - size) // 2 before and the rest after, then crops.
    ph, pw = 5 - 2, 6 - 3
    expected = np.pad(_array(img), ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    np.testing.assert_array_equal(_array(T.CenterCrop((5, 6))(img)), expected)


# ----------------------------------------------------- RandomResizedCrop ---


def test_random_resized_crop_is_pillow_resize_of_the_drawn_crop():
    img = _image(37, 29)
    t = T.RandomResizedCrop((12, 10), interpolation="bicubic")
    lucid.manual_seed(3)
    i, j, h, w = t.get_params(img, t.scale, t.ratio)
    lucid.manual_seed(3)
    out = t(img)
    expected = img.crop((j, i, j + w, i + h)).resize((10, 12), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(_array(out), _array(expected))


def test_random_resized_crop_params_respect_scale_ratio_and_bounds():
    img = _image(64, 48)
    lucid.manual_seed(0)
    seen = set()
    for _ in range(200):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i <= 48 - h and 0 <= j <= 64 - w and h > 0 and w > 0
        # w and h are rounded from an area in scale and a ratio in range.
        assert 0.08 * 64 * 48 * 0.8 <= h * w <= 64 * 48
        assert 3 / 4 * 0.8 <= w / h <= 4 / 3 * 1.25
        seen.add((i, j, h, w))
    assert len(seen) > 150  # really random


def test_random_resized_crop_falls_back_to_a_central_crop():
    # No crop with an area of 2-3x the image fits in ten tries: torchvision's
    # fallback crops the centre at the nearest allowed ratio (here 4/3 of a 100x20 image:
    # width round(20 * 4 / 3) = 27 at left (100 - 27) // 2 = 36).
    img = _image(100, 20)
    assert T.RandomResizedCrop.get_params(img, (2.0, 3.0), (3 / 4, 4 / 3)) == (0, 36, 20, 27)
    # An image whose ratio is allowed is taken whole.
    assert T.RandomResizedCrop.get_params(_image(30, 30), (2.0, 3.0), (0.5, 2.0)) == (0, 0, 30, 30)


def test_random_transforms_repeat_under_the_same_seed():
    img = _image(50, 40)
    t = T.Compose(
        [T.RandomResizedCrop(16), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0.1)]
    )
    lucid.manual_seed(11)
    first = [_array(t(img)) for _ in range(5)]
    lucid.manual_seed(11)
    again = [_array(t(img)) for _ in range(5)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any((first[0] != other).any() for other in first[1:])


def test_random_resized_crop_rejects_bad_ranges():
    with pytest.raises(ValueError, match="scale"):
        T.RandomResizedCrop(8, scale=(1.0, 0.5))
    with pytest.raises(ValueError, match="ratio"):
        T.RandomResizedCrop(8, ratio=(0.0, 1.0))


# --------------------------------------------------------- flips, jitter ---


def test_horizontal_flip_mirrors_columns_with_probability_p():
    img = _image(7, 5)
    np.testing.assert_array_equal(_array(T.RandomHorizontalFlip(1.0)(img)), _array(img)[:, ::-1])
    assert T.RandomHorizontalFlip(0.0)(img) is img
    lucid.manual_seed(0)
    flips = sum(T.RandomHorizontalFlip(0.3)(img) is not img for _ in range(1000))
    assert 240 < flips < 360
    with pytest.raises(ValueError, match="probability"):
        T.RandomHorizontalFlip(1.5)


def test_color_jitter_fixed_factors_equal_pillow_enhance():
    img = _image(9, 6)
    for name, enhancer in [
        ("brightness", ImageEnhance.Brightness),
        ("contrast", ImageEnhance.Contrast),
        ("saturation", ImageEnhance.Color),
    ]:
        out = T.ColorJitter(**{name: (1.7, 1.7)})(img)
        np.testing.assert_array_equal(_array(out), _array(enhancer(img).enhance(1.7)))


def test_color_jitter_brightness_scales_pixel_values():
    img = _image(9, 6)
    out = T.ColorJitter(brightness=(0.5, 0.5))(img)
    np.testing.assert_allclose(_array(out), _array(img) * 0.5, atol=1)


@pytest.mark.parametrize("hue", [0.25, -0.2, 0.5])
def test_color_jitter_hue_rotates_the_hue_circle(hue):
    colour = (200, 40, 90)
    out = T.ColorJitter(hue=(hue, hue))(Image.new("RGB", (1, 1), colour)).getpixel((0, 0))
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    expected = colorsys.hsv_to_rgb((h + hue) % 1.0, s, v)
    # 8-bit HSV quantises the hue to 1/255 of a turn (twice: in and shifted), and
    # a channel moves 6 * s * v per turn: up to 12/255 * s * v ~ 0.04 here.
    np.testing.assert_allclose(np.array(out) / 255, expected, atol=0.05)


def test_color_jitter_hue_leaves_grayscale_alone():
    img = _image(4, 4, "L")
    assert T.ColorJitter(hue=0.3)(img) is img


def test_color_jitter_params_order_and_ranges():
    lucid.manual_seed(5)
    orders = set()
    for _ in range(100):
        order, b, c, s, h = T.ColorJitter.get_params((0.6, 1.4), None, (0.0, 2.0), (-0.1, 0.1))
        assert sorted(order.tolist()) == [0, 1, 2, 3]
        orders.add(tuple(order.tolist()))
        assert 0.6 <= b <= 1.4 and c is None and 0 <= s <= 2 and -0.1 <= h <= 0.1
    assert len(orders) > 10


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"brightness": -0.1}, ValueError),
        ({"hue": 0.6}, ValueError),
        ({"contrast": (2.0, 1.0)}, ValueError),
        ({"saturation": "a lot"}, TypeError),
    ],
)
def test_color_jitter_rejects_bad_ranges(kwargs, error):
    with pytest.raises(error):
        T.ColorJitter(**kwargs)


def test_color_jitter_ranges_as_torchvision():
    t = T.ColorJitter(brightness=1.5, contrast=0.2, hue=0.0)
    assert t.brightness == (0.0, 2.5) and t.contrast == (0.8, 1.2)
    assert t.saturation is None and t.hue is None


# ------------------------------------------------- ToTensor and Normalize ---


def test_to_tensor_is_chw_float32_over_255():
    img = _image(5, 4)
    t = T.ToTensor()(img)
    assert t.dtype == np.float32 and t.shape == (3, 4, 5)
    expected = _array(img).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(t.numpy(), expected)
    gray = T.ToTensor()(_image(5, 4, "L"))
    assert gray.shape == (1, 4, 5)
    binary = T.ToTensor()(Image.new("1", (2, 2), 1))
    assert binary.numpy().tolist() == [[[1.0, 1.0], [1.0, 1.0]]]


def test_to_tensor_takes_arrays_and_keeps_non_byte_values():
    hwc = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    np.testing.assert_array_equal(
        T.ToTensor()(hwc).numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / 255
    )
    floats = np.full((2, 2), 3.5, dtype=np.float32)
    out = T.ToTensor()(Image.fromarray(floats, "F"))
    assert out.dtype == np.float32 and out.numpy().tolist() == [[[3.5, 3.5], [3.5, 3.5]]]
    out = T.ToTensor()(floats)
    floats[0, 0] = 0  # the tensor holds a copy
    assert out.numpy()[0, 0, 0] == 3.5
    with pytest.raises(TypeError, match="PIL"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="H, W"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_normalize_matches_numpy_and_keeps_the_input():
    x = lucid.rand(2, 3, 4, 5)
    before = x.numpy().copy()
    mean, std = (0.1, 0.2, 0.3), (0.5, 1.0, 2.0)
    out = T.Normalize(mean, std)(x)
    expected = (before - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[
        :, None, None
    ]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(x.numpy(), before)
    assert T.Normalize(mean, std, inplace=True)(x) is x
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6)


def test_normalize_is_differentiable():
    x = lucid.rand(3, 2, 2, requires_grad=True)
    T.Normalize((0.0, 0.0, 0.0), (2.0, 4.0, 8.0))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 0, 0], [0.5, 0.25, 0.125])


@pytest.mark.parametrize(
    ("x", "mean", "std", "error"),
    [
        (lucid.rand(3, 2, 2), (0.5,), (0.0,), ValueError),
        (lucid.rand(3, 2, 2), (0.5, 0.5), (1.0, 1.0), ValueError),
        (lucid.rand(2, 2), (0.5,), (1.0,), ValueError),
        (lucid.zeros(3, 2, 2, dtype=lucid.int64), (0.5,), (1.0,), TypeError),
        (np.zeros((3, 2, 2)), (0.5,), (1.0,), TypeError),
    ],
)
def test_normalize_rejects_bad_input(x, mean, std, error):
    with pytest.raises(error):
        T.Normalize(mean, std)(x)


# ------------------------------------------------------ create_transform ---


def _eval_reference(img: Image.Image, size: int, crop_pct: float, flt: int, mean, std):
    """timm's transforms_imagenet_eval written out with Pillow and NumPy."""
    scale = math.floor(size / crop_pct)
    w, h = img.size
    ow, oh = (scale, int(scale * h / w)) if w <= h else (int(scale * w / h), scale)
    resized = img.resize((ow, oh), flt)
    top, left = round((oh - size) / 2.0), round((ow - size) / 2.0)
    arr = np.asarray(resized)[top : top + size, left : left + size].astype(np.float32) / 255
    return (arr - np.array(mean, np.float32)) / np.array(std, np.float32)


def test_create_transform_eval_equals_timm_pipeline():
    img = _image(61, 45)
    cfg = {
        "input_size": (3, 24, 24),
        "interpolation": "bilinear",
        "crop_pct": 0.9,
        "mean": (0.5, 0.4, 0.3),
        "std": (0.2, 0.25, 0.3),
    }
    out = T.create_transform(cfg)(img)
    expected = _eval_reference(img, 24, 0.9, Image.Resampling.BILINEAR, cfg["mean"], cfg["std"])
    np.testing.assert_allclose(out.numpy(), expected.transpose(2, 0, 1), rtol=1e-5, atol=1e-6)


def test_create_transform_defaults_are_timms():
    t = T.create_transform({})
    resize, crop, _, norm = t.transforms
    # floor(224 / 0.875) = 256, bicubic, ImageNet statistics.
    assert (resize.size[0], resize.interpolation) == (256, "bicubic")
    assert crop.size == (224, 224)
    assert norm.mean == T.IMAGENET_DEFAULT_MEAN and norm.std == T.IMAGENET_DEFAULT_STD
    img = _image(300, 260)
    expected = _eval_reference(
        img, 224, 0.875, Image.Resampling.BICUBIC, T.IMAGENET_DEFAULT_MEAN, T.IMAGENET_DEFAULT_STD
    )
    np.testing.assert_allclose(t(img).numpy(), expected.transpose(2, 0, 1), rtol=1e-5, atol=1e-5)


def test_create_transform_training_pipeline():
    t = T.create_transform({"input_size": (3, 16, 16), "interpolation": "bicubic"}, True)
    kinds = [type(step) for step in t.transforms]
    assert kinds == [
        T.RandomResizedCrop,
        T.RandomHorizontalFlip,
        T.ColorJitter,
        T.ToTensor,
        T.Normalize,
    ]
    assert t.transforms[0].interpolation == "bicubic" and t.transforms[0].scale == (0.08, 1.0)
    assert t.transforms[2].brightness == (0.6, 1.4) and t.transforms[2].hue is None
    assert t(_image(40, 30)).shape == (3, 16, 16)


def test_create_transform_training_settings_as_timms():
    t = T.create_transform({}, True, scale=(0.5, 1.0), hflip=0.0, color_jitter=None)
    assert [type(step) for step in t.transforms] == [T.RandomResizedCrop, T.ToTensor, T.Normalize]
    assert t.transforms[0].scale == (0.5, 1.0)
    t = T.create_transform({}, True, hflip=0.25, color_jitter=0.1)
    assert t.transforms[1].p == 0.25 and t.transforms[2].saturation == (0.9, 1.1)


def test_create_transform_rejects_bad_configs():
    with pytest.raises(ValueError, match="square"):
        T.create_transform({"input_size": (3, 32, 48)})
    with pytest.raises(ValueError, match="crop_pct"):
        T.create_transform({"crop_pct": 1.5})
    with pytest.raises(TypeError, match="mapping"):
        T.create_transform([224])


def test_compose_repr_and_validation():
    t = T.Compose([T.Resize(8), T.ToTensor()])
    assert repr(t).splitlines()[1].strip().startswith("Resize(size=8")
    with pytest.raises(TypeError, match="callables"):
        T.Compose([T.Resize(8), 3])


def test_import_lucid_does_not_import_pillow():
    code = "import sys, lucid, lucid.vision; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

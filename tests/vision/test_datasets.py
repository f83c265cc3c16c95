"""ImageFolder: torchvision's classes, sample order and file selection, on real Pillow images."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import lucid
from lucid.data import DataLoader
from lucid.vision import transforms as T
from lucid.vision.datasets import IMG_EXTENSIONS, ImageFolder, find_classes


def _save(path, value, size=(6, 4), mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


@pytest.fixture
def folder(tmp_path):
    _save(tmp_path / "zebra" / "b.png", 10)
    _save(tmp_path / "zebra" / "A.PNG", 20)  # extensions match case-insensitively
    _save(tmp_path / "zebra" / "deeper" / "c.jpg", 30)
    _save(tmp_path / "cat" / "x.bmp", 40, mode="L")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "README").write_text("a file at the top is not a class")
    return tmp_path


def test_classes_and_sample_order_are_torchvisions(folder):
    ds = ImageFolder(folder)
    assert ds.classes == ["cat", "zebra"] and ds.class_to_idx == {"cat": 0, "zebra": 1}
    # torchvision: classes sorted; per class, sorted(os.walk) folders, sorted file names.
    rel = [(os.path.relpath(p, folder), t) for p, t in ds.samples]
    assert rel == [
        ("cat/x.bmp", 0),
        ("zebra/A.PNG", 1),
        ("zebra/b.png", 1),
        ("zebra/deeper/c.jpg", 1),
    ]
    assert ds.targets == [0, 1, 1, 1] and ds.imgs == ds.samples and len(ds) == 4
    assert find_classes(folder) == (ds.classes, ds.class_to_idx)


def test_samples_are_rgb_pillow_images_and_transforms_apply(folder):
    ds = ImageFolder(folder)
    image, target = ds[0]
    assert image.mode == "RGB" and image.size == (6, 4) and target == 0
    assert np.asarray(image)[0, 0].tolist() == [40, 40, 40]  # grayscale becomes RGB
    ds = ImageFolder(folder, transform=T.ToTensor(), target_transform=lambda t: t * 10)
    x, y = ds[1]
    assert x.shape == (3, 4, 6) and y == 10
    np.testing.assert_allclose(x.numpy()[:, 0, 0], np.array([20, 0, 235]) / 255, rtol=1e-6)


def test_loader_and_is_valid_file(folder):
    ds = ImageFolder(
        folder, loader=os.path.getsize, is_valid_file=lambda p: p.endswith(".txt"), allow_empty=True
    )
    assert [os.path.basename(p) for p, _ in ds.samples] == ["notes.txt"]
    assert ds[0] == (len("not an image"), 0)


def test_empty_class_and_missing_classes_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="any class folder"):
        ImageFolder(tmp_path)
    _save(tmp_path / "full" / "a.png", 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no valid file for the classes empty\..*\.webp"):
        ImageFolder(tmp_path)
    ds = ImageFolder(tmp_path, allow_empty=True)
    assert ds.classes == ["empty", "full"] and ds.targets == [1]


def test_symlink_loop_is_walked_once(folder):
    os.symlink(folder / "zebra", folder / "zebra" / "deeper" / "loop")
    ds = ImageFolder(folder)
    assert len(ds) == 4


def test_image_folder_in_a_dataloader_with_workers(folder):
    ds = ImageFolder(folder, transform=T.Compose([T.Resize((4, 4)), T.ToTensor()]))
    batches = list(DataLoader(ds, batch_size=2, num_workers=2))
    assert [b[0].shape for b in batches] == [(2, 3, 4, 4), (2, 3, 4, 4)]
    assert [t for b in batches for t in b[1].tolist()] == ds.targets
    assert isinstance(batches[0][0], lucid.Tensor)


def test_extension_list_is_torchvisions():
    assert IMG_EXTENSIONS == (
        ".jpg",
        ".jpeg",
        ".png",
        ".ppm",
        ".bmp",
        ".pgm",
        ".tif",
        ".tiff",
        ".webp",
    )

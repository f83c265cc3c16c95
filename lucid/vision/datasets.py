"""Image datasets: ``ImageFolder``, a folder per class, as torchvision's."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lucid.data.dataset import Dataset

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["IMG_EXTENSIONS", "ImageFolder", "find_classes", "pil_loader"]

#: The file endings ImageFolder accepts (case-insensitive), torchvision's list
#: (``torchvision/datasets/folder.py``).
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path: str) -> Image.Image:
    """Open an image file with Pillow and convert it to RGB, as torchvision's ``pil_loader``.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from lucid.vision.datasets import pil_loader
    >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
    >>> Image.new("L", (3, 2)).save(path)
    >>> pil_loader(path).mode, pil_loader(path).size
    ('RGB', (3, 2))
    """
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def find_classes(directory: str | os.PathLike[str]) -> tuple[list[str], dict[str, int]]:
    """The class folders of ``directory``, sorted, and their indices, as torchvision's.

    Examples
    --------
    >>> import os, tempfile
    >>> from lucid.vision.datasets import find_classes
    >>> root = tempfile.mkdtemp()
    >>> for name in ("dog", "cat"):
    ...     os.mkdir(os.path.join(root, name))
    >>> find_classes(root)
    (['cat', 'dog'], {'cat': 0, 'dog': 1})
    """
    with os.scandir(directory) as entries:
        classes = sorted(entry.name for entry in entries if entry.is_dir())
    if not classes:
        raise FileNotFoundError(
            f"Couldn't find any class folder in {os.fspath(directory)!r}; ImageFolder expects "
            "root/<class name>/<image file>"
        )
    return classes, {name: i for i, name in enumerate(classes)}


def _walk(top: str) -> list[tuple[str, list[str]]]:
    """``(folder, file names)`` under ``top``, following links but never around a loop."""
    seen: set[str] = set()
    found = []
    for root, dirs, files in os.walk(top, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []  # a link back to a folder already walked: stop here
            continue
        seen.add(real)
        found.append((root, files))
    return sorted(found)


class ImageFolder(Dataset[tuple[Any, Any]]):
    """Images in ``root/<class>/**/<file>``, labelled by class, as torchvision's ``ImageFolder``.

    Classes are the sub-folders of ``root``, sorted by name, numbered from 0;
    samples are listed class by class, each class's folders and files in
    sorted order. Files count if their name ends with one of
    :data:`IMG_EXTENSIONS` (or if ``is_valid_file`` says so).

    Parameters
    ----------
    root:
        The folder holding one sub-folder per class.
    transform:
        Applied to the loaded image, e.g. a :class:`~lucid.vision.transforms.Compose`.
    target_transform:
        Applied to the class index.
    loader:
        Opens a path (default: :func:`pil_loader`, an RGB Pillow image).
    is_valid_file:
        Decides which files are samples (instead of the extension list).
    allow_empty:
        Accept class folders without any valid file.

    Attributes
    ----------
    classes:
        The class names, sorted.
    class_to_idx:
        Class name to index.
    samples:
        ``(path, class_index)`` pairs, in order (also as ``imgs``).
    targets:
        The class index of every sample.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from lucid.vision.datasets import ImageFolder
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("b", "a"):
    ...     os.mkdir(os.path.join(root, cls))
    ...     Image.new("RGB", (4, 4)).save(os.path.join(root, cls, "x.png"))
    >>> ds = ImageFolder(root)
    >>> ds.classes, ds.targets, ds[1][0].size
    (['a', 'b'], [0, 1], (4, 4))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        loader: Callable[[str], Any] = pil_loader,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        self.root = os.fspath(root)
        self.transform = transform
        self.target_transform = target_transform
        self.loader = loader
        self.classes, self.class_to_idx = find_classes(self.root)
        valid = is_valid_file or (lambda path: path.lower().endswith(IMG_EXTENSIONS))
        self.samples: list[tuple[str, int]] = []
        empty = []
        for name in self.classes:
            count = len(self.samples)
            for folder, files in _walk(os.path.join(self.root, name)):
                for file in sorted(files):
                    path = os.path.join(folder, file)
                    if valid(path):
                        self.samples.append((path, self.class_to_idx[name]))
            if len(self.samples) == count:
                empty.append(name)
        if empty and not allow_empty:
            what = (
                "" if is_valid_file else f" Supported extensions are: {', '.join(IMG_EXTENSIONS)}"
            )
            raise FileNotFoundError(
                f"Found no valid file for the classes {', '.join(empty)}.{what} "
                "(pass allow_empty=True to accept empty classes)"
            )
        self.targets = [target for _, target in self.samples]
        self.imgs = self.samples

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        return sample, (target if self.target_transform is None else self.target_transform(target))

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={self.root!r}, samples={len(self)}, "
            f"classes={len(self.classes)}, transform={self.transform!r})"
        )

"""Computer vision: image transforms and image datasets (Pillow is imported on first use)."""

from lucid.vision import datasets, transforms

__all__ = ["datasets", "transforms"]

"""Computer vision: image transforms and image datasets (Pillow is imported on first use)."""

from lucid.vision import transforms

__all__ = ["transforms"]

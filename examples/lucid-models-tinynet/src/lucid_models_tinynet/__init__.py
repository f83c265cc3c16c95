"""TinyNet models for lucid: the complete example of a model plugin."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from lucid.models import hookimpl


@hookimpl
def register_models(register: Callable[[ModuleType | Callable[..., Any]], None]) -> None:
    """Hand the TinyNet builders to lucid's model registry."""
    # Imported inside the hook, not at the top of the package: lucid imports
    # this package only to find the hook, and the family module is the costly part.
    from lucid_models_tinynet import tinynet

    register(tinynet)

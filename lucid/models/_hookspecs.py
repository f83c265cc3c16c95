"""The markers and hook specifications a lucid model plugin implements."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("lucid")
hookimpl = pluggy.HookimplMarker("lucid")


@hookspec
def register_models(register: Callable[[ModuleType | Callable[..., Any]], None]) -> None:
    """Hand this plugin's model builders to the registry.

    Called once, with keywords only, when lucid first needs the list of models.
    Import the family modules here rather than at the plugin's top level, so
    that finding the plugin stays cheap, and pass each to ``register``: a module
    registers every ``@register_model`` builder defined in it, a function
    registers that one builder.

    Parameters
    ----------
    register
        Callback that records models under this plugin's name and distribution.
    """

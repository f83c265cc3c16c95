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

    Optional: a plugin whose entry-point module decorates its builders with
    ``@register_model`` needs no hook. With one, lucid calls it once, with
    keywords only, right after importing the module, when it first needs the
    list of models. Import the family modules here rather than at the
    plugin's top level, so that importing the plugin's package stays cheap, and
    pass each to ``register``: a module registers every ``@register_model``
    builder defined in it, a function registers that one builder (under its
    ``__name__`` if it is not decorated).

    Parameters
    ----------
    register
        Callback that records models under this plugin's name and distribution.
    """

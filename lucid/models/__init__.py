"""The model registry: ``@register_model``, plugin discovery, and finding and building models."""

from __future__ import annotations

import os
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from lucid.models import _plugins
from lucid.models._hookspecs import hookimpl, hookspec
from lucid.models._plugins import PluginError, PluginInfo, PluginWarning
from lucid.models._registry import (
    REGISTRY,
    DuplicateModelError,
    ModelInfo,
    UnknownModelError,
    natural_key,
    register_model,
)

if TYPE_CHECKING:
    from lucid import nn

__all__ = [
    "DuplicateModelError",
    "ModelInfo",
    "PluginError",
    "PluginInfo",
    "PluginWarning",
    "UnknownModelError",
    "create_model",
    "hookimpl",
    "hookspec",
    "is_model",
    "list_models",
    "list_plugins",
    "model_info",
    "plugin_errors",
    "register_model",
]


def list_models(
    pattern: str | None = None, *, family: str | None = None, plugin: str | None = None
) -> list[str]:
    """Names of the registered models, in natural order (``b2`` before ``b10``).

    Parameters
    ----------
    pattern
        Shell-style pattern the name must match, such as ``"pvt_v2_*"``.
    family
        Keep only this model family.
    plugin
        Keep only models from this plugin, given by entry-point name or
        distribution name.

    Examples
    --------
    >>> from lucid import nn
    >>> from lucid.models import list_models, register_model
    >>> @register_model(family="examples")
    ... def tiny_mlp_b10() -> nn.Module:
    ...     return nn.Linear(2, 2)
    >>> @register_model(family="examples")
    ... def tiny_mlp_b2() -> nn.Module:
    ...     return nn.Linear(2, 2)
    >>> list_models("tiny_mlp_*", family="examples")
    ['tiny_mlp_b2', 'tiny_mlp_b10']
    """
    _plugins.ensure_loaded()
    names = [
        info.name
        for info in REGISTRY.infos()
        if (pattern is None or fnmatchcase(info.name, pattern))
        and (family is None or info.family == family)
        and (plugin is None or plugin in (info.plugin, info.distribution))
    ]
    return sorted(names, key=natural_key)


def is_model(name: str) -> bool:
    """Whether a usable model is registered under ``name``.

    Examples
    --------
    >>> from lucid.models import is_model
    >>> is_model("no_such_model")
    False
    """
    _plugins.ensure_loaded()
    return name in REGISTRY


def create_model(
    name: str, *, checkpoint_path: str | os.PathLike[str] | None = None, **kwargs: Any
) -> nn.Module:
    """Build the model registered as ``name``, optionally loading its weights.

    Parameters
    ----------
    name
        A registered model name (see :func:`list_models`).
    checkpoint_path
        A safetensors file saved with :func:`lucid.save`; its tensors are loaded
        strictly, so every parameter must be present with the right shape.
    **kwargs
        Passed to the builder, overriding its defaults.

    Raises
    ------
    UnknownModelError
        No model has that name; the message suggests close names.
    DuplicateModelError
        Two plugins claim the name.
    RuntimeError
        The checkpoint does not fit the model.

    Examples
    --------
    >>> from lucid import nn
    >>> from lucid.models import create_model, register_model
    >>> @register_model(family="examples")
    ... def tiny_head(num_classes: int = 10) -> nn.Module:
    ...     return nn.Linear(8, num_classes)
    >>> create_model("tiny_head", num_classes=3).weight.shape
    (3, 8)
    """
    _plugins.ensure_loaded()
    model = REGISTRY.get(name).builder(**kwargs)
    if checkpoint_path is not None:
        from lucid._serialization import load

        path = os.fspath(checkpoint_path)
        state = load(path)
        try:
            model.load_state_dict(state, strict=True)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise RuntimeError(
                f"checkpoint {path!r} does not fit model {name!r} (built with "
                f"{kwargs or 'its defaults'}): {exc}; check that the file was saved from "
                "this model built with the same arguments"
            ) from exc
    return model


def model_info(name: str, *, count_params: bool = True) -> ModelInfo:
    """Metadata of the model ``name``, with its parameter count.

    The count comes from building the model once with its defaults under
    :func:`lucid.nn.meta_init`, so no weight is allocated or initialised even
    for the largest models (a builder that writes into its weights by hand,
    which placeholders refuse, is built for real instead); it is cached, so
    later calls are free. With ``count_params=False`` nothing is built and
    ``num_params`` is ``None`` unless it was counted before.

    Raises
    ------
    UnknownModelError
        No model has that name; the message suggests close names.
    DuplicateModelError
        Two sources claim the name.

    Examples
    --------
    >>> from lucid import nn
    >>> from lucid.models import model_info, register_model
    >>> @register_model(family="examples")
    ... def tiny_probe(features: int = 4) -> nn.Module:
    ...     '''A linear probe.'''
    ...     return nn.Linear(features, 1)
    >>> info = model_info("tiny_probe")
    >>> info.family, info.defaults, info.num_params
    ('examples', {'features': 4}, 5)
    """
    _plugins.ensure_loaded()
    info = REGISTRY.get(name)
    if count_params and info.num_params is None:
        from lucid import nn

        try:
            with nn.meta_init():
                model = info.builder()
        except Exception:
            model = info.builder()  # raises the builder's own error if it cannot run
        info = REGISTRY.set_count(info, sum(int(p.numel()) for p in model.parameters()))
    return info


def list_plugins() -> list[PluginInfo]:
    """Every plugin found through an entry point: its distribution, models and errors.

    Plugins are distributions declaring an entry point in group ``lucid.models``;
    a plugin is identified by its distribution and entry-point name together.
    They are loaded on the first lookup (this function, :func:`list_models`,
    :func:`create_model`, ``lucid.models.<name>``, ...), never by ``import lucid``.
    Set ``LUCID_DISABLE_PLUGIN_AUTOLOAD=1`` to load none, or
    ``LUCID_PLUGINS=name1,name2`` to load only those entry-point names (an
    empty value loads none).

    Examples
    --------
    >>> from lucid.models import list_plugins
    >>> all(plugin.name for plugin in list_plugins())
    True
    """
    _plugins.ensure_loaded()
    return _plugins.plugin_infos()


def plugin_errors() -> list[PluginError]:
    """What went wrong while loading plugins: import failures, failing hooks, name clashes.

    Each failure was also reported with a :class:`PluginWarning` when it happened.

    Examples
    --------
    >>> from lucid.models import PluginError, plugin_errors
    >>> all(isinstance(error, PluginError) for error in plugin_errors())
    True
    """
    return [error for plugin in list_plugins() for error in plugin.errors]


# ------------------------------------------------ lucid.models.<model name> ---


def __getattr__(name: str) -> Callable[..., Any]:
    # Private and dunder names are asked for by import machinery and tools
    # (`from lucid.models import _x`, `__wrapped__`, IPython probes): they must
    # neither trigger plugin loading nor suggest model names.
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _plugins.ensure_loaded()
    return REGISTRY.get(name).builder


def __dir__() -> list[str]:
    return sorted({*__all__, *list_models()})


# Names of this module hide models of the same name from lucid.models.<name>:
# the registry refuses them. Kept last, so every name above is included.
REGISTRY.reserve(globals())

"""The model registry: ``@register_model``, plugins, finding and building models, their weights."""

from __future__ import annotations

import os
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from lucid.models import _plugins, _pretrained
from lucid.models._hookspecs import hookimpl, hookspec
from lucid.models._plugins import PluginError, PluginInfo, PluginWarning
from lucid.models._pretrained import (
    PretrainedWeightsError,
    adapt_input_conv,
    get_cache_dir,
    get_pretrained_cfg,
    list_pretrained,
    read_weights,
    register_pretrained,
)
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
    "PretrainedWeightsError",
    "UnknownModelError",
    "adapt_input_conv",
    "create_model",
    "get_cache_dir",
    "get_pretrained_cfg",
    "hookimpl",
    "hookspec",
    "is_model",
    "list_models",
    "list_plugins",
    "list_pretrained",
    "model_info",
    "plugin_errors",
    "read_weights",
    "register_model",
    "register_pretrained",
]


def list_models(
    pattern: str | None = None,
    *,
    family: str | None = None,
    plugin: str | None = None,
    pretrained: bool = False,
    include_tags: bool | None = None,
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
    pretrained
        Keep only models that have pretrained weights.
    include_tags
        List each model's weights by tagged name (``"pvt_v2_b0.in1k"``);
        defaults to ``pretrained``, as in timm.

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
        if (family is None or info.family == family)
        and (plugin is None or plugin in (info.plugin, info.distribution))
    ]
    if pretrained or include_tags:
        tagged = pretrained if include_tags is None else include_tags
        names = _pretrained.with_weights(names, pattern, pretrained=pretrained, tagged=tagged)
    else:
        names = [name for name in names if pattern is None or fnmatchcase(name, pattern)]
    return sorted(names, key=natural_key)


def is_model(name: str) -> bool:
    """Whether a usable model is registered under ``name`` (a weights tag is ignored, as in timm).

    Examples
    --------
    >>> from lucid.models import is_model
    >>> is_model("no_such_model"), is_model("no_such_model.in1k")
    (False, False)
    """
    _plugins.ensure_loaded()
    return _pretrained.split_tag(name)[0] in REGISTRY


def create_model(
    name: str,
    pretrained: bool = False,
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    strict: bool = True,
    pretrained_cfg_overlay: dict[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build the model registered as ``name``, optionally loading its weights.

    Parameters
    ----------
    name
        A registered model name (see :func:`list_models`), optionally with a
        weights tag as in timm: ``"pvt_v2_b0.in1k"`` (see :func:`list_pretrained`).
    pretrained
        Load the pretrained weights of the tag (the model's default tag when
        none is given), downloading them into :func:`get_cache_dir` once. With
        another ``num_classes`` everything but the classifier is loaded (it
        keeps its fresh initialisation); with another number of input
        channels the first convolution is adapted (see :func:`adapt_input_conv`).
    checkpoint_path
        A weights file to load after building: safetensors (from
        :func:`lucid.save` or the PVT converter, whose recorded settings such as
        ``attn_proj=True`` are applied), ``.npz``, or a PyTorch checkpoint, read
        without torch and without running code. The classifier is re-initialised
        on a ``num_classes`` change, as with ``pretrained``.
    strict
        Passed to :meth:`~lucid.nn.Module.load_state_dict`: every parameter
        must be present in the weights, and nothing else.
    pretrained_cfg_overlay
        Entries replacing the pretrained cfg's, as in timm: ``{"source": "url"}``
        loads the original release file instead of the Hub copy, ``{"file": path}``
        a local copy.
    cache_dir
        Download directory for this call, instead of ``$LUCID_HOME``.
    **kwargs
        Passed to the builder, overriding its defaults.

    Raises
    ------
    UnknownModelError
        No model has that name; the message suggests close names.
    DuplicateModelError
        Two plugins claim the name.
    PretrainedWeightsError
        No weights under that tag, or they cannot be fetched (offline, server,
        hash mismatch); the message names the file and where to put it.
    ValueError
        The weights need a setting that contradicts one passed.
    RuntimeError
        The weights do not fit the model.

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
    return _pretrained.build(
        name,
        pretrained=pretrained,
        checkpoint_path=checkpoint_path,
        strict=strict,
        pretrained_cfg_overlay=pretrained_cfg_overlay,
        cache_dir=cache_dir,
        kwargs=kwargs,
    )


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

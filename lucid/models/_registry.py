"""The model registry: ``@register_model``, the metadata it records and the errors it raises."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

# The attribute ``@register_model`` leaves on a builder: the (name, family)
# pairs it was registered under, so ``register(module)`` can find it again.
_SPECS_ATTR = "_lucid_model_specs"
_DIGITS = re.compile(r"(\d+)")

# ----------------------------------------------------------------- errors ---


class UnknownModelError(KeyError, AttributeError):
    """No model is registered under the requested name.

    Both a :class:`KeyError` (for ``create_model``) and an :class:`AttributeError`
    (for ``lucid.models.<name>``), so either ``except`` clause catches it.
    """

    def __init__(self, name: str, known: Iterable[str]) -> None:
        import difflib

        known = list(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif known:
            hint = "see lucid.models.list_models() or run `lucid models list` for the names"
        else:
            hint = (
                "no model is registered at all: install a model plugin such as "
                "lucid-models-pvt, and see lucid.models.plugin_errors() for plugins that failed"
            )
        super().__init__(f"unknown model {name!r}; {hint}")
        self.model_name = name
        self.suggestions = close

    def __str__(self) -> str:
        # KeyError would show the message quoted, as if it were the missing key.
        return str(self.args[0])


class DuplicateModelError(ValueError):
    """Two different builders claim the same model name."""

    def __init__(self, name: str, sources: Iterable[ModelInfo]) -> None:
        self.model_name = name
        self.sources = tuple(sources)
        described = " and ".join(info.source for info in self.sources)
        super().__init__(
            f"model name {name!r} is registered by more than one source: {described}; "
            "rename one with @register_model(name=...), or uninstall one of the "
            "distributions (or leave its plugin out of LUCID_PLUGINS)"
        )


# --------------------------------------------------------------- metadata ---


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model.

    Attributes
    ----------
    name
        The registered model name.
    builder
        The decorated function itself.
    family
        Model family, by default the last component of the builder's module name.
    module, qualname
        Where the builder is defined.
    signature
        The builder's signature.
    defaults
        The builder's keyword arguments that have defaults, with those defaults.
    plugin
        Entry-point name of the plugin that registered the model, or ``None`` for a
        direct registration.
    distribution, version
        The installed distribution providing the model, when there is one.
    num_params
        Parameter count of the model built with its defaults; filled in by
        :func:`lucid.models.model_info`, ``None`` until then.
    """

    name: str
    builder: Callable[..., Any] = dataclasses.field(repr=False, compare=False)
    family: str
    module: str
    qualname: str
    signature: inspect.Signature = dataclasses.field(repr=False, compare=False)
    defaults: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)
    plugin: str | None = None
    distribution: str | None = None
    version: str | None = None
    num_params: int | None = None

    @property
    def summary(self) -> str:
        """First line of the builder's docstring (empty when it has none)."""
        doc = inspect.getdoc(self.builder) or ""
        return doc.strip().partition("\n")[0]

    @property
    def source(self) -> str:
        """Human-readable origin, as used in error messages."""
        origin = f"{self.module}.{self.qualname}"
        provider = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        if self.plugin is not None:
            return f"{origin} (plugin {self.plugin!r}, {provider})"
        return f"{origin} ({provider})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view: the signature as text, defaults that JSON cannot hold as ``repr``."""
        return {
            "name": self.name,
            "family": self.family,
            "summary": self.summary,
            "signature": f"{self.name}{self.signature}",
            "defaults": {k: _jsonable(v) for k, v in self.defaults.items()},
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "qualname": self.qualname,
            "num_params": self.num_params,
        }


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple) and all(
        v is None or isinstance(v, bool | int | float | str) for v in value
    ):
        return list(value)
    return repr(value)


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    try:
        # Evaluated annotations read as `depth: int`, not `depth: 'int'`.
        return inspect.signature(fn, eval_str=True)
    except Exception:  # an annotation naming a TYPE_CHECKING-only import
        return inspect.signature(fn)


@functools.cache
def _packages_distributions() -> Mapping[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()


@functools.cache
def _distribution_of(module: str) -> tuple[str | None, str | None]:
    """Distribution name and version that ship ``module``, if exactly one does."""
    if module == "__main__":
        return None, None
    from importlib import metadata

    names = set(_packages_distributions().get(module.partition(".")[0], ()))
    if len(names) != 1:
        return None, None
    (name,) = names
    try:
        return name, metadata.version(name)
    except metadata.PackageNotFoundError:
        return name, None


def describe(
    builder: Callable[..., Any],
    name: str,
    family: str,
    *,
    plugin: str | None = None,
    distribution: str | None = None,
    version: str | None = None,
) -> ModelInfo:
    """Build the :class:`ModelInfo` for ``builder``; plugin-less sources find their distribution."""
    module = getattr(builder, "__module__", None) or "__main__"
    if plugin is None:
        distribution, version = _distribution_of(module)
    signature = _signature(builder)
    return ModelInfo(
        name=name,
        builder=builder,
        family=family,
        module=module,
        qualname=getattr(builder, "__qualname__", name),
        signature=signature,
        defaults={
            p.name: p.default
            for p in signature.parameters.values()
            if p.default is not inspect.Parameter.empty
        },
        plugin=plugin,
        distribution=distribution,
        version=version,
    )


# --------------------------------------------------------------- registry ---


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders digit runs by value: ``pvt_v2_b2`` before ``pvt_v2_b10``."""
    # re.split with a capturing group alternates text and digits, so keys
    # compare str with str and int with int, position by position.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(name)))


def _same_builder(a: ModelInfo, b: ModelInfo) -> bool:
    # A re-run notebook cell or a reloaded module makes a new function object
    # for the same definition: that is an update, not a clash.
    return (a.module, a.qualname) == (b.module, b.qualname)


class Registry:
    """Model names mapped to :class:`ModelInfo`, plus names that two sources claim."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, ModelInfo] = {}
        self._conflicts: dict[str, tuple[ModelInfo, ...]] = {}

    def add(self, info: ModelInfo, *, record_conflict: bool = False) -> DuplicateModelError | None:
        """Register ``info``; on a clash raise, or with ``record_conflict`` block the name.

        A blocked name is removed from the registry and raises the returned error
        whenever it is looked up, so neither source is picked silently.
        """
        with self._lock:
            sources = self._conflicts.get(info.name)
            if sources is None:
                old = self._models.get(info.name)
                if old is None or _same_builder(old, info):
                    if old is not None and info.plugin is None and old.plugin is not None:
                        # Reloading a plugin's module keeps the plugin's attribution.
                        info = dataclasses.replace(
                            info,
                            plugin=old.plugin,
                            distribution=old.distribution,
                            version=old.version,
                        )
                    self._models[info.name] = info
                    return None
                sources = (old,)
            error = DuplicateModelError(info.name, (*sources, info))
            if not record_conflict:
                raise error
            self._models.pop(info.name, None)
            self._conflicts[info.name] = (*sources, info)
            return error

    def get(self, name: str) -> ModelInfo:
        """The entry for ``name``.

        Raises :class:`UnknownModelError`, or :class:`DuplicateModelError` for a blocked name.
        """
        with self._lock:
            info = self._models.get(name)
            if info is not None:
                return info
            if name in self._conflicts:
                raise DuplicateModelError(name, self._conflicts[name])
            raise UnknownModelError(name, list(self._models))

    def replace(self, old: ModelInfo, new: ModelInfo) -> None:
        """Swap in ``new`` (``old`` with its parameter count) unless ``old`` was re-registered."""
        with self._lock:
            if self._models.get(old.name) is old:
                self._models[old.name] = new

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def __iter__(self) -> Iterator[ModelInfo]:
        with self._lock:
            return iter(list(self._models.values()))

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            self._conflicts.clear()


REGISTRY = Registry()

# ------------------------------------------------------------- decorator ---

# While a plugin is imported and while its hook runs, the decorators executed
# by its modules hand their builders to the plugin's callback held here, so the
# models are attributed to the plugin and kept only if it loads. A context
# variable keeps other threads, which may register models meanwhile, out of it.
_plugin_sink: contextvars.ContextVar[Callable[[Callable[..., Any], str, str], None] | None] = (
    contextvars.ContextVar("lucid_plugin_sink", default=None)
)


@contextlib.contextmanager
def collecting(sink: Callable[[Callable[..., Any], str, str], None]) -> Iterator[None]:
    """Route ``@register_model`` calls in this context to ``sink(builder, name, family)``."""
    token = _plugin_sink.set(sink)
    try:
        yield
    finally:
        _plugin_sink.reset(token)


def specs_of(builder: Callable[..., Any]) -> tuple[tuple[str, str], ...]:
    """The (name, family) pairs ``@register_model`` recorded on ``builder``."""
    return vars(builder).get(_SPECS_ATTR, ()) if hasattr(builder, "__dict__") else ()


def default_family(builder: Callable[..., Any]) -> str:
    return (getattr(builder, "__module__", None) or "__main__").rpartition(".")[2]


def _check_name(name: object, builder: Callable[..., Any]) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError(
            f"model name {name!r} for {builder!r} is not usable: a model name must be a "
            "Python identifier not starting with '_', so that lucid.models.<name> works"
        )
    # Attribute lookup finds the module's own names first, so a model named
    # like one of them would be unreachable as lucid.models.<name>.
    if name in vars(sys.modules["lucid.models"]):
        raise ValueError(
            f"model name {name!r} would hide lucid.models.{name}; pass another name "
            "with @register_model(name=...)"
        )
    return name


@overload
def register_model(fn: F, /) -> F: ...
@overload
def register_model(*, name: str | None = None, family: str | None = None) -> Callable[[F], F]: ...
def register_model(
    fn: F | None = None, /, *, name: str | None = None, family: str | None = None
) -> F | Callable[[F], F]:
    """Register a model builder under its function name (or ``name``).

    The function is returned unchanged. In a script or notebook the model is
    registered at once; in a plugin's family module it is registered when the
    plugin is loaded, attributed to the plugin's distribution. Registering the
    same function again (a re-run cell) just updates the entry; another
    function under a taken name raises :class:`DuplicateModelError`.

    Parameters
    ----------
    fn
        The builder, when used as ``@register_model`` without parentheses.
    name
        Model name, by default the function's ``__name__``.
    family
        Family name, by default the last component of the function's module name.

    Returns
    -------
    callable
        The builder itself, or a decorator when called with keywords only.

    Examples
    --------
    >>> from lucid import nn
    >>> from lucid.models import create_model, register_model
    >>> @register_model(family="examples")
    ... def tiny_linear(out_features: int = 2) -> nn.Module:
    ...     '''A single linear layer.'''
    ...     return nn.Linear(4, out_features)
    >>> create_model("tiny_linear", out_features=3).weight.shape
    (3, 4)
    """

    def decorate(builder: F) -> F:
        if not callable(builder):
            raise TypeError(
                f"@register_model decorates a model builder function, got {builder!r}; "
                "to choose the name, write @register_model(name='...')"
            )
        model_name = _check_name(builder.__name__ if name is None else name, builder)
        model_family = default_family(builder) if family is None else family
        spec = (model_name, model_family)
        if spec not in specs_of(builder):
            setattr(builder, _SPECS_ATTR, (*specs_of(builder), spec))
        sink = _plugin_sink.get()
        if sink is not None:
            sink(builder, model_name, model_family)
        else:
            REGISTRY.add(describe(builder, model_name, model_family))
        return builder

    if fn is None:
        return decorate
    return decorate(fn)

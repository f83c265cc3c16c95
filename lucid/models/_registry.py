"""The model registry: ``@register_model``, the metadata it records, its state object, errors."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import keyword
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

# The attribute ``@register_model`` leaves on a builder: the ModelInfo of each
# name it was registered under, so a plugin's ``register(module)`` finds the
# builders again without describing them a second time.
_INFOS_ATTR = "_lucid_model_infos"
_DIGITS = re.compile(r"(\d+)")

# ----------------------------------------------------------------- errors ---


class UnknownModelError(KeyError, AttributeError):
    """No model is registered under the requested name.

    Both a :class:`KeyError` (for ``create_model``) and an :class:`AttributeError`
    (for ``lucid.models.<name>``), so either ``except`` clause catches it.

    Attributes
    ----------
    model_name
        The name asked for.
    suggestions
        Close registered names, best first (possibly empty).
    """

    def __init__(self, name: str, known: Iterable[str], note: str | None = None) -> None:
        import difflib

        known = list(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
        elif note is not None:
            hint = note
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
        The installed distribution providing the model (the plugin's, or the one
        shipping the builder's module), when there is one.
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
        """First paragraph of the builder's docstring as plain text (empty without one).

        reStructuredText markup is removed: ````attn_proj=True```` reads
        ``attn_proj=True`` and ``:class:`~pkg.PVT``` reads ``PVT``.
        """
        doc = inspect.getdoc(self.builder) or ""
        return plain_text(" ".join(doc.strip().split("\n\n")[0].split()))

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


# Inline reStructuredText, in the order it is undone: roles (keeping a link's
# title, or a path's last part after `~`), literals, emphasis, references.
_ROLE = re.compile(r":[\w:.-]+:`(~?)([^`<]*?)\s*(?:<[^`>]*>)?`")
_INLINE = re.compile(r"``(.+?)``|\*\*(.+?)\*\*|\*(.+?)\*|`([^`<]+?)\s*(?:<[^`>]*>)?`_{0,2}")


def plain_text(text: str) -> str:
    """``text`` with its inline reStructuredText markup removed.

    Examples
    --------
    >>> plain_text("PVT-Tiny (``attn_proj=True``), see :class:`~lucid_models_pvt.pvt.PVT`")
    'PVT-Tiny (attn_proj=True), see PVT'
    """

    def role(match: re.Match[str]) -> str:
        target = match.group(2)
        return target.rpartition(".")[2] if match.group(1) else target

    text = _ROLE.sub(role, text)
    return _INLINE.sub(lambda m: next(g for g in m.groups() if g is not None), text)


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


def default_family(builder: Callable[..., Any]) -> str:
    return (getattr(builder, "__module__", None) or "__main__").rpartition(".")[2]


def describe(builder: Callable[..., Any], name: object, family: object = None) -> ModelInfo:
    """The :class:`ModelInfo` of ``builder`` under ``name``: the one place a builder is described.

    The name and family are validated first; the distribution is the one
    shipping the builder's module (a plugin replaces it with its own).
    """
    if not callable(builder):
        raise TypeError(
            f"@register_model decorates a model builder function, got {builder!r}; "
            "to choose the name, write @register_model(name='...')"
        )
    model_name = REGISTRY.check_name(name, builder)
    model_family = default_family(builder) if family is None else family
    if not isinstance(model_family, str) or not model_family:
        raise ValueError(
            f"model family {model_family!r} for {model_name!r} must be a non-empty string"
        )
    module = getattr(builder, "__module__", None) or "__main__"
    distribution, version = _distribution_of(module)
    signature = _signature(builder)
    return ModelInfo(
        name=model_name,
        builder=builder,
        family=model_family,
        module=module,
        qualname=getattr(builder, "__qualname__", model_name),
        signature=signature,
        defaults={
            p.name: p.default
            for p in signature.parameters.values()
            if p.default is not inspect.Parameter.empty
        },
        distribution=distribution,
        version=version,
    )


def infos_of(builder: object) -> tuple[ModelInfo, ...]:
    """The entries ``@register_model`` recorded on ``builder`` (one per name)."""
    return vars(builder).get(_INFOS_ATTR, ()) if hasattr(builder, "__dict__") else ()


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders digit runs by value: ``pvt_v2_b2`` before ``pvt_v2_b10``."""
    # re.split with a capturing group alternates text and digits, so keys
    # compare str with str and int with int, position by position.
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGITS.split(name)))


# ----------------------------------------------------------------- state ---


@dataclasses.dataclass(eq=False)
class PluginRecord:
    """One plugin (a distribution's entry point) as the registry tracks it.

    While the plugin loads, its models are staged in ``staged`` and join the
    registry only if the import and the hook both succeed.
    """

    name: str
    value: str
    distribution: str | None
    version: str | None
    errors: list[Any] = dataclasses.field(default_factory=list)  # of PluginError
    staged: dict[str, ModelInfo] | None = dataclasses.field(default_factory=dict)
    failed: bool = False

    @property
    def key(self) -> tuple[str | None, str, str]:
        # Entry-point names are unique per distribution only: the distribution
        # is part of a plugin's identity.
        return (self.distribution, self.name, self.value)

    @property
    def label(self) -> str:
        provider = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{self.name!r} (entry point {self.name} = {self.value}, from {provider})"

    def attribute(self, info: ModelInfo) -> ModelInfo:
        return dataclasses.replace(
            info, plugin=self.name, distribution=self.distribution, version=self.version
        )


def _same_builder(a: ModelInfo, b: ModelInfo) -> bool:
    # A re-run notebook cell or a reloaded module makes a new function object
    # for the same definition: that is an update, not a clash.
    return (a.module, a.qualname) == (b.module, b.qualname)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The registry's state at one moment, for :meth:`Registry.restore`."""

    models: dict[str, ModelInfo]
    conflicts: dict[str, tuple[ModelInfo, ...]]
    plugins: list[PluginRecord]
    loaded: bool
    note: str | None


class Registry:
    """Everything the registry holds: models, blocked names, plugins, and the discovery flags.

    One instance, :data:`REGISTRY`. Tests take a :meth:`snapshot`, :meth:`reset`
    it, and :meth:`restore` the snapshot afterwards.
    """

    def __init__(self) -> None:
        # Reentrant and held for the whole discovery: a plugin's hook may call
        # list_models() and sees the models registered so far. The tables have
        # their own lock, so a thread a plugin starts can register its models
        # while discovery holds the first one.
        self.discovery_lock = threading.RLock()
        self._lock = threading.Lock()
        self._models: dict[str, ModelInfo] = {}
        self._conflicts: dict[str, tuple[ModelInfo, ...]] = {}
        self.plugins: list[PluginRecord] = []
        self.loaded = False
        self.loading = False
        # Why discovery loaded fewer plugins than are installed (an environment
        # variable), for the unknown-model message.
        self.note: str | None = None
        self.reserved: frozenset[str] = frozenset()
        # The plugin whose import or hook is running in this context: the
        # decorators it runs stage their models into it.
        self.current: contextvars.ContextVar[PluginRecord | None] = contextvars.ContextVar(
            "lucid_loading_plugin", default=None
        )

    # ------------------------------------------------------------ names ---

    def reserve(self, names: Iterable[str]) -> None:
        """Names a model may not take: those of ``lucid.models`` itself, which would hide it."""
        self.reserved = frozenset(names)

    def check_name(self, name: object, builder: object) -> str:
        """``name`` if it can be a model name, else a :class:`ValueError` saying why not."""
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or keyword.iskeyword(name)
            or name.startswith("_")
        ):
            raise ValueError(
                f"model name {name!r} for {builder!r} is not usable: a model name must be a "
                "Python identifier, not a keyword and not starting with '_', so that "
                "lucid.models.<name> works; pass one with @register_model(name=...)"
            )
        # Attribute lookup finds the module's own names first, so a model named
        # like one of them would be unreachable as lucid.models.<name>.
        if name in self.reserved:
            raise ValueError(
                f"model name {name!r} for {builder!r} would hide lucid.models.{name}; pass "
                "another name with @register_model(name=...)"
            )
        return name

    # ----------------------------------------------------- registration ---

    def _owner(self, info: ModelInfo) -> PluginRecord | None:
        """The plugin a new registration belongs to, if any."""
        current = self.current.get()
        if current is not None:
            return current
        # A thread the plugin started does not see its context: the builder's
        # distribution tells, if exactly one healthy plugin comes from it.
        if info.distribution is None:
            return None
        owners = [p for p in self.plugins if p.distribution == info.distribution and not p.failed]
        return owners[0] if len(owners) == 1 else None

    def register(self, info: ModelInfo) -> None:
        """Route a decorated builder: into a loading plugin, or into the registry at once."""
        owner = self._owner(info)
        if owner is not None and owner.staged is not None:
            self.stage(owner, info)
        else:
            self._add(owner.attribute(info) if owner is not None else info)

    def stage(self, plugin: PluginRecord, info: ModelInfo) -> None:
        """Hold ``info`` for ``plugin`` until it has loaded (see :meth:`commit`)."""
        with self._lock:
            if plugin.staged is None:
                raise RuntimeError(
                    f"lucid plugin {plugin.label} registered {info.name!r} after it finished "
                    "loading; register every model inside the register_models hook"
                )
            old = plugin.staged.get(info.name)
            if old is not None and not _same_builder(old, info):
                raise DuplicateModelError(info.name, (old, plugin.attribute(info)))
            plugin.staged[info.name] = plugin.attribute(info)

    def commit(self, plugin: PluginRecord) -> list[DuplicateModelError]:
        """Move ``plugin``'s staged models into the registry; returns the names that clashed."""
        with self._lock:
            staged, plugin.staged = plugin.staged or {}, None
            errors = [self._insert(info) for info in staged.values()]
        return [e for e in errors if e is not None]

    def discard(self, plugin: PluginRecord, *, forget: bool = False) -> None:
        """Drop ``plugin``'s staged models; with ``forget``, the plugin too (a retry loads it)."""
        with self._lock:
            plugin.staged = None
            plugin.failed = True
            if forget and plugin in self.plugins:
                self.plugins.remove(plugin)

    def _add(self, info: ModelInfo) -> None:
        with self._lock:
            error = self._insert(info, block=False)
        if error is not None:
            raise error

    def _insert(self, info: ModelInfo, *, block: bool = True) -> DuplicateModelError | None:
        """Add ``info`` (lock held); on a clash return the error, with ``block`` blocking the name.

        A blocked name is removed from the registry and raises the error
        whenever it is looked up, so neither source is picked silently.
        """
        sources = self._conflicts.get(info.name)
        if sources is None:
            old = self._models.get(info.name)
            if old is None:
                self._models[info.name] = info
                return None
            if _same_builder(old, info):
                if info.plugin is None and old.plugin is not None:
                    # Reloading a plugin's module keeps the plugin's attribution.
                    info = dataclasses.replace(
                        info, plugin=old.plugin, distribution=old.distribution, version=old.version
                    )
                # Otherwise an update, or a plugin claiming the models of its
                # module imported before discovery; two plugins sharing one
                # builder still clash, since only one can be credited.
                if old.plugin in (None, info.plugin):
                    self._models[info.name] = info
                    return None
            sources = (old,)
        error = DuplicateModelError(info.name, (*sources, info))
        if block:
            self._models.pop(info.name, None)
            self._conflicts[info.name] = (*sources, info)
        return error

    def set_count(self, old: ModelInfo, num_params: int) -> ModelInfo:
        """``old`` with its parameter count, kept unless the name was re-registered meanwhile."""
        new = dataclasses.replace(old, num_params=num_params)
        with self._lock:
            if self._models.get(old.name) is old:
                self._models[old.name] = new
        return new

    # ----------------------------------------------------------- lookup ---

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
            known = list(self._models)
        raise UnknownModelError(name, known, self.note)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def infos(self) -> list[ModelInfo]:
        """Every registered model's entry (blocked names excluded)."""
        with self._lock:
            return list(self._models.values())

    # ------------------------------------------------------------ tests ---

    def snapshot(self) -> Snapshot:
        """The current models, blocked names, plugins and discovery flags."""
        with self.discovery_lock, self._lock:
            return Snapshot(
                dict(self._models),
                dict(self._conflicts),
                list(self.plugins),
                self.loaded,
                self.note,
            )

    def restore(self, snapshot: Snapshot) -> None:
        """Put back the state :meth:`snapshot` saw."""
        with self.discovery_lock, self._lock:
            self._models = dict(snapshot.models)
            self._conflicts = dict(snapshot.conflicts)
            self.plugins = list(snapshot.plugins)
            self.loaded = snapshot.loaded
            self.note = snapshot.note

    def reset(self) -> None:
        """Forget every model and plugin; the next lookup discovers the plugins again."""
        self.restore(Snapshot({}, {}, [], False, None))


REGISTRY = Registry()

# ------------------------------------------------------------- decorator ---


@overload
def register_model(fn: F, /) -> F: ...
@overload
def register_model(*, name: str | None = None, family: str | None = None) -> Callable[[F], F]: ...
def register_model(
    fn: F | None = None, /, *, name: str | None = None, family: str | None = None
) -> F | Callable[[F], F]:
    """Register a model builder under its function name (or ``name``).

    The function is returned unchanged. In a script or notebook the model is
    registered at once; in a plugin's modules it is registered when the
    plugin is loaded, attributed to the plugin's distribution (a plugin needs
    no hook for that). Registering the same function again (a re-run cell)
    just updates the entry; another function under a taken name raises
    :class:`DuplicateModelError`.

    Parameters
    ----------
    fn
        The builder, when used as ``@register_model`` without parentheses.
    name
        Model name, by default the function's ``__name__``: a Python identifier,
        not a keyword, not starting with ``_`` and not a name of
        :mod:`lucid.models` itself (such as ``list_models``).
    family
        Family name, by default the last component of the function's module name.

    Returns
    -------
    callable
        The builder itself, or a decorator when called with keywords only.

    Raises
    ------
    ValueError
        The name is not usable.
    DuplicateModelError
        Another builder is registered under the name.

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
        model_name = getattr(builder, "__name__", None) if name is None else name
        info = describe(builder, model_name, family)
        REGISTRY.register(info)
        # Recorded after a successful registration, so a refused name leaves no trace.
        others = tuple(i for i in infos_of(builder) if i.name != info.name)
        setattr(builder, _INFOS_ATTR, (*others, info))
        return builder

    return decorate if fn is None else decorate(fn)

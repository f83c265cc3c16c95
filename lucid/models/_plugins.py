"""Plugin discovery: entry points of group ``lucid.models``, loaded lazily, once, thread-safely."""

from __future__ import annotations

import dataclasses
import os
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, Literal

import pluggy

from lucid.models import _hookspecs
from lucid.models._registry import (
    REGISTRY,
    Registry,
    collecting,
    default_family,
    describe,
    natural_key,
    specs_of,
)

ENTRY_POINT_GROUP = "lucid.models"
DISABLE_AUTOLOAD_ENV = "LUCID_DISABLE_PLUGIN_AUTOLOAD"
ONLY_PLUGINS_ENV = "LUCID_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin could not be loaded, or could not register one of its models."""


@dataclasses.dataclass(frozen=True)
class PluginError:
    """One failure met while loading a plugin.

    Attributes
    ----------
    plugin
        Entry-point name of the plugin.
    distribution, version
        The distribution that declares the entry point.
    stage
        ``"import"`` (loading the entry point failed), ``"register"`` (its hook
        failed; none of its models were kept) or ``"conflict"`` (one model name is
        also claimed by another source; the plugin's other models were kept).
    error
        The exception, with its traceback.
    """

    plugin: str
    distribution: str | None
    version: str | None
    stage: Literal["import", "register", "conflict"]
    error: BaseException = dataclasses.field(compare=False)

    @property
    def message(self) -> str:
        """The error on one line, as ``"ExceptionType: text"``."""
        return " ".join(f"{type(self.error).__name__}: {self.error}".split())

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "stage": self.stage,
            "error": self.message,
        }


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """A plugin found through its entry point, the models it provides and what failed."""

    name: str
    distribution: str | None
    version: str | None
    models: tuple[str, ...]
    errors: tuple[PluginError, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "models": list(self.models),
            "errors": [e.to_dict() for e in self.errors],
        }


@dataclasses.dataclass
class _Plugin:
    name: str
    value: str
    distribution: str | None
    version: str | None
    errors: list[PluginError] = dataclasses.field(default_factory=list)

    @property
    def label(self) -> str:
        provider = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{self.name!r} (entry point {self.name} = {self.value}, from {provider})"

    def fail(self, stage: Literal["import", "register", "conflict"], error: BaseException) -> None:
        failure = PluginError(self.name, self.distribution, self.version, stage, error)
        self.errors.append(failure)
        consequence = {
            "import": "failed to import and was skipped",
            "register": "failed to register its models and was skipped",
            "conflict": "clashes with another source; the clashing name is unusable",
        }[stage]
        warnings.warn(
            f"lucid plugin {self.label} {consequence}: {failure.message}",
            PluginWarning,
            stacklevel=2,
        )


# ------------------------------------------------------------ loading state ---

# Reentrant: a plugin's hook may itself call list_models(); it sees the models
# registered so far instead of deadlocking.
_lock = threading.RLock()
_loaded = False
_loading = False
_manager: pluggy.PluginManager | None = None
_plugins: list[_Plugin] = []


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def ensure_loaded() -> None:
    """Load the plugins once; later calls (from any thread) return at once."""
    global _loaded, _loading
    if _loaded:
        return
    with _lock:
        if _loaded or _loading:
            return
        _loading = True
        try:
            _load_entry_points()
            _loaded = True
        finally:
            _loading = False


def reset() -> None:
    """Forget every model and plugin; the next lookup discovers again. For tests."""
    global _loaded, _manager
    with _lock:
        REGISTRY.clear()
        _plugins.clear()
        _manager = None
        _loaded = False


def _plugin_manager() -> pluggy.PluginManager:
    global _manager
    if _manager is None:
        _manager = pluggy.PluginManager("lucid")
        _manager.add_hookspecs(_hookspecs)
    return _manager


def _load_entry_points() -> None:
    if _env_flag(DISABLE_AUTOLOAD_ENV):
        return
    from importlib.metadata import entry_points

    # Sorted so that which of two clashing plugins reports the clash does not
    # depend on the order of files in site-packages.
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    wanted = os.environ.get(ONLY_PLUGINS_ENV)
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip()}
        missing = sorted(names - {ep.name for ep in found})
        if missing:
            installed = ", ".join(sorted(ep.name for ep in found)) or "none"
            warnings.warn(
                f"{ONLY_PLUGINS_ENV} names {', '.join(missing)}, but no installed plugin has "
                f"that entry-point name (installed: {installed})",
                PluginWarning,
                stacklevel=3,
            )
        found = [ep for ep in found if ep.name in names]
    for ep in found:
        dist = ep.dist
        load_plugin(
            ep.load,
            name=ep.name,
            value=ep.value,
            distribution=dist.name if dist is not None else None,
            version=dist.version if dist is not None else None,
        )


def load_plugin(
    loader: Callable[[], object],
    *,
    name: str,
    value: str = "",
    distribution: str | None = None,
    version: str | None = None,
) -> None:
    """Import a plugin with ``loader()``, call its hook and register what it hands over.

    Every failure is recorded on the plugin and warned about, never raised, so
    one broken plugin cannot stop the others.
    """
    plugin = _Plugin(name, value or name, distribution, version)
    _plugins.append(plugin)
    # Registrations made while the plugin imports and while its hook runs are
    # staged, and kept only if both succeed: a plugin that fails half-way
    # leaves nothing behind.
    staged = Registry()

    def stage(builder: Callable[..., Any], model_name: str, family: str) -> None:
        staged.add(
            describe(
                builder,
                model_name,
                family,
                plugin=name,
                distribution=distribution,
                version=version,
            )
        )

    def register(target: ModuleType | Callable[..., Any]) -> None:
        for builder in _builders_in(target):
            for model_name, family in specs_of(builder) or (
                (builder.__name__, default_family(builder)),
            ):
                stage(builder, model_name, family)

    try:
        with collecting(stage):
            obj = loader()
    except Exception as exc:
        plugin.fail("import", exc)
        return

    manager = _plugin_manager()
    try:
        manager.register(obj, name=name)
    except Exception as exc:  # a hook whose arguments do not match the spec
        plugin.fail("register", exc)
        return
    try:
        manager.check_pending()  # a misspelt hook name would otherwise be ignored silently
        if not any(i.plugin is obj for i in manager.hook.register_models.get_hookimpls()):
            raise LookupError(
                f"{plugin.value} defines no register_models hook; decorate one with "
                "@lucid.models.hookimpl"
            )
        # Called one plugin at a time, so each gets its own `register` and the
        # failure of one cannot hide the models of the next.
        others = [p for p in manager.get_plugins() if p is not obj]
        with collecting(stage):
            manager.subset_hook_caller("register_models", remove_plugins=others)(register=register)
    except Exception as exc:
        manager.unregister(obj)
        plugin.fail("register", exc)
        return

    for info in staged:
        conflict = REGISTRY.add(info, record_conflict=True)
        if conflict is not None:
            plugin.fail("conflict", conflict)


def _builders_in(target: ModuleType | Callable[..., Any]) -> list[Callable[..., Any]]:
    if isinstance(target, ModuleType):
        builders = [
            obj
            for obj in vars(target).values()
            if specs_of(obj) and getattr(obj, "__module__", None) == target.__name__
        ]
        if not builders:
            raise ValueError(
                f"module {target.__name__} defines no @register_model builders; "
                "pass register() the family module that defines them"
            )
        return builders
    if callable(target):
        return [target]
    raise TypeError(f"register() takes a module or a model builder function, got {target!r}")


# ------------------------------------------------------------------ queries ---


def plugin_infos() -> list[PluginInfo]:
    """Every plugin attempted so far, with the models it currently provides."""
    provided: dict[str, list[str]] = {}
    for info in REGISTRY:
        if info.plugin is not None:
            provided.setdefault(info.plugin, []).append(info.name)
    return [
        PluginInfo(
            name=p.name,
            distribution=p.distribution,
            version=p.version,
            models=tuple(sorted(provided.get(p.name, ()), key=natural_key)),
            errors=tuple(p.errors),
        )
        for p in _plugins
    ]

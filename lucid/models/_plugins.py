"""Plugin discovery: entry points of group ``lucid.models``, loaded lazily, once, thread-safely."""

from __future__ import annotations

import dataclasses
import difflib
import os
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any, Literal

import pluggy

from lucid.models import _hookspecs
from lucid.models._registry import (
    REGISTRY,
    ModelInfo,
    PluginRecord,
    describe,
    infos_of,
    natural_key,
)

ENTRY_POINT_GROUP = "lucid.models"
DISABLE_AUTOLOAD_ENV = "LUCID_DISABLE_PLUGIN_AUTOLOAD"
ONLY_PLUGINS_ENV = "LUCID_PLUGINS"
HOOK = "register_models"

Stage = Literal["import", "register", "conflict"]

# What a plugin may raise and still leave the others loading: every error,
# and SystemExit (a stray sys.exit() must not end the user's program).
# KeyboardInterrupt is the user's, and propagates.
_PLUGIN_FAILURES = (Exception, SystemExit)


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
        failed, or it registered nothing; none of its models were kept) or
        ``"conflict"`` (one model name is also claimed by another source; the
        plugin's other models were kept).
    error
        The exception, with its traceback.
    """

    plugin: str
    distribution: str | None
    version: str | None
    stage: Stage
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
    """A plugin found through its entry point, the models it provides and what failed.

    A plugin is identified by its distribution and its entry point: two
    distributions may both declare an entry point named ``pvt``, and each is
    listed with its own models.

    Attributes
    ----------
    name
        The entry-point name (what ``LUCID_PLUGINS`` lists).
    distribution, version
        The distribution declaring the entry point.
    models
        The names of the models it provides, in natural order.
    errors
        What failed while loading it.
    entry_point
        The entry point's value: the module (and object) lucid imports.
    """

    name: str
    distribution: str | None
    version: str | None
    models: tuple[str, ...]
    errors: tuple[PluginError, ...]
    entry_point: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "models": list(self.models),
            "errors": [e.to_dict() for e in self.errors],
        }


def _fail(plugin: PluginRecord, stage: Stage, error: BaseException) -> None:
    """Record and warn about ``error``; an import or hook failure drops the plugin's models."""
    if stage != "conflict":
        REGISTRY.discard(plugin)
    failure = PluginError(plugin.name, plugin.distribution, plugin.version, stage, error)
    plugin.errors.append(failure)
    consequence = {
        "import": "failed to import and was skipped",
        "register": "failed to register its models and was skipped",
        "conflict": "clashes with another source; the clashing name is unusable",
    }[stage]
    warnings.warn(
        f"lucid plugin {plugin.label} {consequence}: {failure.message}",
        PluginWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------- loading ---


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def ensure_loaded() -> None:
    """Load the plugins once; later calls (from any thread) return at once.

    Interrupted (``KeyboardInterrupt``), discovery is retried on the next
    call: the plugins loaded so far are kept, the interrupted one starts over.
    """
    if REGISTRY.loaded:
        return
    with REGISTRY.discovery_lock:
        if REGISTRY.loaded or REGISTRY.loading:
            return
        REGISTRY.loading = True
        try:
            _load_entry_points()
            REGISTRY.loaded = True
        finally:
            REGISTRY.loading = False


def _load_entry_points() -> None:
    if _env_flag(DISABLE_AUTOLOAD_ENV):
        REGISTRY.note = (
            f"plugin loading is switched off ({DISABLE_AUTOLOAD_ENV}="
            f"{os.environ[DISABLE_AUTOLOAD_ENV]}); unset it to load the installed plugins"
        )
        return
    from importlib.metadata import entry_points

    # Sorted so that which of two clashing plugins reports the clash does not
    # depend on the order of files in site-packages.
    found = sorted(
        entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (ep.name, ep.dist.name if ep.dist else "", ep.value),
    )
    wanted = os.environ.get(ONLY_PLUGINS_ENV)
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip()}
        missing = sorted(names - {ep.name for ep in found})
        if missing:
            installed = ", ".join(sorted({ep.name for ep in found})) or "none"
            warnings.warn(
                f"{ONLY_PLUGINS_ENV} names {', '.join(missing)}, but no installed plugin has "
                f"that entry-point name (installed: {installed})",
                PluginWarning,
                stacklevel=3,
            )
        skipped = sorted({ep.name for ep in found} - names)
        found = [ep for ep in found if ep.name in names]
        if skipped:
            REGISTRY.note = (
                f"{ONLY_PLUGINS_ENV}={wanted!r} left out the installed plugins {', '.join(skipped)}"
            )
    attempted = {plugin.key for plugin in REGISTRY.plugins}
    for ep in found:
        dist = ep.dist
        distribution = dist.name if dist is not None else None
        if (distribution, ep.name, ep.value) in attempted:
            continue  # loaded before an interrupted discovery
        load_plugin(
            ep.load,
            name=ep.name,
            value=ep.value,
            distribution=distribution,
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
    """Import a plugin with ``loader()``, call its hook (if any) and register its models.

    Every failure, ``SystemExit`` included, is recorded on the plugin and
    warned about, never raised, so one broken plugin cannot stop the others.
    A ``KeyboardInterrupt`` propagates and leaves no trace of the plugin, so a
    retry loads it afresh.
    """
    plugin = PluginRecord(name, value or name, distribution, version)
    REGISTRY.plugins.append(plugin)
    # The models registered while the plugin imports and while its hook runs
    # are staged on it, and kept only if both succeed: a plugin that fails
    # half-way leaves nothing behind.
    token = REGISTRY.current.set(plugin)
    try:
        try:
            obj = loader()
        except _PLUGIN_FAILURES as exc:
            _fail(plugin, "import", exc)
            return
        try:
            _run_hook(obj, plugin)
        except _PLUGIN_FAILURES as exc:
            _fail(plugin, "register", exc)
            return
        # Interrupted half-way, the retry re-registers the same builders for
        # the same plugin: updates, not clashes.
        conflicts = REGISTRY.commit(plugin)
    except BaseException:
        REGISTRY.discard(plugin, forget=True)
        raise
    finally:
        REGISTRY.current.reset(token)
    for conflict in conflicts:
        _fail(plugin, "conflict", conflict)


def _run_hook(obj: object, plugin: PluginRecord) -> None:
    """Call ``obj``'s ``register_models`` hook; without one, keep what its decorators registered."""
    # A manager per plugin: pluggy keys plugins by name and by object, and
    # neither is unique across distributions (two may declare an entry point
    # `pvt`, or point at one module).
    manager = pluggy.PluginManager("lucid")
    manager.add_hookspecs(_hookspecs)
    manager.register(obj)
    for hook_name, caller in vars(manager.hook).items():
        if not caller.has_spec() and caller.get_hookimpls():
            close = difflib.get_close_matches(hook_name, [HOOK], n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"lucid's only hook is `{HOOK}`"
            raise LookupError(f"{plugin.value} defines the unknown hook `{hook_name}`; {hint}")
    if manager.hook.register_models.get_hookimpls():
        manager.hook.register_models(register=lambda target: _register(plugin, target))
        return
    if callable(getattr(obj, HOOK, None)):
        raise LookupError(
            f"{plugin.value} defines {HOOK} without marking it; decorate it with "
            "@lucid.models.hookimpl"
        )
    # The simplest plugin: a module whose @register_model builders are all it
    # provides. Builders it defines are claimed even if the module was imported
    # (and its decorators run) before discovery.
    if isinstance(obj, ModuleType):
        for builder in _builders_in(obj):
            for info in infos_of(builder):
                REGISTRY.stage(plugin, info)
    if not plugin.staged:
        raise LookupError(
            f"{plugin.value} registered no model: decorate its builders with "
            f"@lucid.models.register_model in the module the entry point names, or define a "
            f"{HOOK} hook marked with @lucid.models.hookimpl"
        )


def _register(plugin: PluginRecord, target: ModuleType | Callable[..., Any]) -> None:
    """The ``register`` callback a hook receives: stage a module's builders, or one function."""
    if isinstance(target, ModuleType):
        builders = _builders_in(target)
        if not builders:
            raise ValueError(
                f"module {target.__name__} defines no @register_model builders; "
                "pass register() the family module that defines them"
            )
    elif callable(target):
        builders = [target]
    else:
        raise TypeError(f"register() takes a module or a model builder function, got {target!r}")
    for builder in builders:
        infos: tuple[ModelInfo, ...] = infos_of(builder) or (
            describe(builder, getattr(builder, "__name__", None)),
        )
        for info in infos:
            REGISTRY.stage(plugin, info)


def _builders_in(module: ModuleType) -> list[Callable[..., Any]]:
    # Builders defined in the module, not those it imports from elsewhere.
    return [
        obj
        for obj in vars(module).values()
        if infos_of(obj) and getattr(obj, "__module__", None) == module.__name__
    ]


# ------------------------------------------------------------------ queries ---


def plugin_infos() -> list[PluginInfo]:
    """Every plugin attempted so far, with the models it currently provides."""
    provided: dict[tuple[str | None, str | None], list[str]] = {}
    for info in REGISTRY.infos():
        if info.plugin is not None:
            provided.setdefault((info.distribution, info.plugin), []).append(info.name)
    return [
        PluginInfo(
            name=p.name,
            distribution=p.distribution,
            version=p.version,
            models=tuple(sorted(provided.get((p.distribution, p.name), ()), key=natural_key)),
            errors=tuple(p.errors),
            entry_point=p.value,
        )
        for p in REGISTRY.plugins
    ]

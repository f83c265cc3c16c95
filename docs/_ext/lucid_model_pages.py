"""Sphinx extension that writes one documentation page per registered lucid model.

At ``builder-inited`` every model in the registry is built once with its
defaults, shapes only (``lucid.nn.meta_init``: no weight is allocated); its
parameter count, its multiply-accumulates for one image at the default size
(``lucid.nn.utils.count_macs``) and its ``config`` are recorded, and
``models/generated/<name>.rst`` is written next to one page per family.

All prose comes from the plugin that registers the model, so a plugin
documents its models without any change to lucid:

- a model page quotes its builder's docstring (summary, ``Parameters``,
  ``Returns``) and, for each setting of the model's ``config`` that
  ``**kwargs`` passes on, that setting's own entry in the ``Parameters``
  section of the model class (or of its ``__init__``);
- a family page shows the family module's docstring and the model classes
  (rendered by autodoc);
- the weights, their tags and published accuracies come from the plugin's
  pretrained configurations (:func:`lucid.models.get_pretrained_cfg`).

Docstrings are parsed with numpydoc's ``NumpyDocString``. Each docstring is
rendered once: a model page declares its builder with ``py:function`` (the
signature) and lays out the parsed sections itself; autodoc renders only the
model classes, on the family pages.

Directives for hand-written pages:

``.. lucid-model-index::``
    Every registered model, in :func:`lucid.models.list_models` order, with its
    figures, input size, weights and published top-1.
``.. lucid-model-table::``
    Chosen models side by side, with columns for other settings
    (``params[attn_proj=True]``) and reference figures typed from a paper.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import gc
import importlib
import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from numpydoc.docscrape import NumpyDocString, Parameter
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.typing import stringify_annotation

logger = logging.getLogger(__name__)

GENERATED = "models/generated"

# ------------------------------------------------------------------ facts ---


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What building one model and running one image through it tells."""

    params: int
    macs: int
    image_size: int
    in_channels: int
    config: Mapping[str, Any]
    model_class: type
    repr_head: str
    output_shape: tuple[int, ...] | None


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """One registered model: its registry entry and its default measurement."""

    info: Any  # lucid.models.ModelInfo
    measurement: Measurement

    @property
    def name(self) -> str:
        return str(self.info.name)


# Per build process: measurements by (model name, settings), and the facts of
# the current build, in list_models() order, which the directives read.
_cache: dict[tuple[str, str], Measurement] = {}
_facts: dict[str, ModelFacts] = {}


def measure(info: Any, overrides: Mapping[str, Any], fallback_size: int) -> Measurement:
    """Build ``info.name`` with ``overrides``, count its parameters and MACs; cached per process."""
    key = (info.name, repr(sorted(overrides.items())))
    if key in _cache:
        return _cache[key]
    import lucid
    from lucid import nn
    from lucid.models import create_model
    from lucid.nn.utils import count_macs

    settings = {**info.defaults, **overrides}
    size, channels = (
        int(settings.get("img_size", fallback_size)),
        int(settings.get("in_channels", settings.get("in_chans", 3))),
    )
    outputs: list[tuple[int, ...]] = []
    # Placeholder weights and no graph: the largest models fit in memory, and
    # neither the counts nor the output shape depend on the values.
    with lucid.no_grad():
        with nn.meta_init():
            model = create_model(info.name, **overrides).eval()
        handle = model.register_forward_hook(
            lambda _m, _i, out: (
                outputs.append(tuple(out.shape)) if isinstance(out, lucid.Tensor) else None
            )
        )
        macs = count_macs(model, (1, channels, size, size))
        handle.remove()
    result = Measurement(
        params=sum(p.numel() for p in model.parameters()),
        macs=macs,
        image_size=size,
        in_channels=channels,
        config=dict(getattr(model, "config", None) or {}),
        model_class=type(model),
        repr_head=repr(model).splitlines()[0],
        output_shape=outputs[0] if outputs else None,
    )
    del model
    gc.collect()
    _cache[key] = result
    logger.info("[lucid] measured %s %s: %s", info.name, dict(overrides), format_macs(macs))
    return result


def registry_entry(name: str) -> Any:
    """The registry's :class:`lucid.models.ModelInfo` for ``name``, without building the model."""
    import lucid.models

    return lucid.models.model_info(name, count_params=False)


def registered_models() -> list[Any]:
    """The registry entries of every model, in :func:`lucid.models.list_models` order."""
    import lucid.models

    return [registry_entry(name) for name in lucid.models.list_models()]


# -------------------------------------------------------------- formatting ---


def format_count(value: int) -> str:
    """``41492648`` as ``41,492,648``."""
    return f"{value:,}"


def format_macs(macs: int) -> str:
    """MACs in GMACs, or in MMACs below one GMAC (where two decimals of GMACs read 0.00)."""
    if macs >= 10**9:
        return f"{macs / 1e9:.2f} GMACs"
    return f"{macs / 1e6:.2f} MMACs"


_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")


def short_annotation(annotation: Any) -> str:
    """An annotation as a reader writes it: ``int``, ``list[int]``, ``PVT`` (no module paths)."""
    return _QUALIFIED.sub(r"\1", stringify_annotation(annotation, "smart").replace("~", ""))


def value_type(value: Any) -> str:
    """The type of a configuration value, e.g. ``list[int]`` for ``[8, 4, 2, 1]``."""
    if isinstance(value, list | tuple) and value:
        inner = " | ".join(sorted({type(v).__name__ for v in value}))
        return f"{type(value).__name__}[{inner}{', ...' if isinstance(value, tuple) else ''}]"
    return type(value).__name__


def signature_text(info: Any, annotate: Any = short_annotation) -> str:
    """``name(a: int = 1, **kwargs) -> PVT``: the builder's signature, ``**kwargs`` untyped."""
    parts = []
    for param in info.signature.parameters.values():
        star = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        text = star + param.name
        if param.annotation is not param.empty and not star:
            text += f": {annotate(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    ret = info.signature.return_annotation
    returns = "" if ret is info.signature.empty else f" -> {annotate(ret)}"
    return f"{info.name}({', '.join(parts)}){returns}"


def _target(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _indent(lines: Iterable[str], prefix: str = "  ") -> list[str]:
    return [prefix + line if line else "" for line in lines]


def _title(text: str, underline: str = "=") -> list[str]:
    return [text, underline * len(text), ""]


def _provider(info: Any) -> str:
    if not info.distribution:
        return f"registered directly, outside any installed distribution, module ``{info.module}``"
    plugin = f" (plugin ``{info.plugin}``)" if info.plugin else ""
    version = f" {info.version}" if info.version else ""
    return f"``{info.distribution}``{version}{plugin}, module ``{info.module}``"


# ------------------------------------------------------------- docstrings ---


def docstring(obj: object) -> NumpyDocString:
    """``obj``'s docstring, parsed by numpydoc."""
    return NumpyDocString(inspect.getdoc(obj) or "")


def documented_parameters(*objects: object) -> dict[str, Parameter]:
    """Each name of the objects' ``Parameters`` sections with its entry; the first object wins."""
    found: dict[str, Parameter] = {}
    for obj in objects:
        for entry in docstring(obj)["Parameters"]:
            for name in entry.name.split(","):
                found.setdefault(name.strip().lstrip("*"), entry)
    return found


# -------------------------------------------------------------- rendering ---


def _parameter(
    name: str, type_text: str, description: Sequence[str], default: str | None, optional: bool
) -> list[str]:
    kind = f" (*{type_text}*{', optional' if optional else ''})" if type_text else ""
    body = [*description, *([f"Default is ``{default}``."] if default is not None else [])]
    return [f"- **{name}**{kind}:", *_indent(body), ""]


def render_parameters(facts: ModelFacts) -> list[str]:
    """The builder's arguments, then each setting of the model's ``config`` ``**kwargs`` takes.

    Each description is the plugin's own: the builder's ``Parameters`` entry,
    else the model class's.
    """
    info, m = facts.info, facts.measurement
    docs = documented_parameters(info.builder, m.model_class, m.model_class.__init__)
    annotations = {
        p.name: p.annotation
        for p in inspect.signature(m.model_class).parameters.values()
        if p.annotation is not p.empty
    }
    lines = _title("Parameters", "-")
    for param in info.signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            settings = [key for key in m.config if key not in info.signature.parameters]
            lines += [
                f"- **{param.name}** (*dict*, optional):",
                "  Additional settings of the architecture, passed on to "
                f":class:`~{_target(m.model_class)}`" + (", including:" if settings else "."),
                "",
            ]
            for key in settings:
                entry = docs.get(key)
                # The docstring's type is what users pass (``list[float]``);
                # the annotation may be wider (``Sequence[float]``).
                if entry is not None and entry.type:
                    type_text = entry.type
                elif key in annotations:
                    type_text = short_annotation(annotations[key])
                else:
                    type_text = value_type(m.config[key])
                description = entry.desc if entry is not None else []
                lines += _indent(
                    _parameter(key, type_text, description, repr(m.config[key]), False)
                )
            continue
        entry = docs.get(param.name)
        if param.annotation is not param.empty:
            type_text = short_annotation(param.annotation)
        else:
            type_text = entry.type if entry is not None else ""
        has_default = param.default is not param.empty
        default = repr(param.default) if has_default else None
        description = entry.desc if entry is not None else []
        lines += _parameter(param.name, type_text, description, default, has_default)
    return lines


def weights(name: str) -> list[tuple[str, dict[str, Any]]]:
    """The model's published weights: each tag with its pretrained configuration."""
    from lucid.models import get_pretrained_cfg, list_models

    return [(tag, get_pretrained_cfg(tag)) for tag in list_models(name, pretrained=True)]


def _settings_text(cfg: Mapping[str, Any]) -> str:
    """The builder settings the weights need, e.g. ``attn_proj=True``."""
    return ", ".join(f"``{k}={v!r}``" for k, v in cfg.get("settings", {}).items())


def render_weights(name: str) -> list[str]:
    """The weights section: each tag with its published accuracy and the layout it needs."""
    published = weights(name)
    if not published:
        return ["**Pretrained weights**: none published", ""]
    lines = ["**Pretrained weights** (see :doc:`/guide/pretrained`):", ""]
    for tag, cfg in published:
        scores = ", ".join(f"top-{k[-1]} {cfg[k]}%" for k in ("top1", "top5") if k in cfg)
        text = f"- ``{tag}``: " + (f"ImageNet-1k {scores}; " if scores else "")
        text += f'``create_model("{tag}", pretrained=True)``'
        if cfg.get("settings"):
            text += f" (builds the layout these weights need: {_settings_text(cfg)})"
        lines.append(text)
    return [*lines, ""]


def render_example(facts: ModelFacts) -> list[str]:
    """A doctest that builds the model, prints it and runs one image through it."""
    m = facts.measurement
    lines = [
        ">>> import lucid",
        ">>> import lucid.models as models",
        f">>> model = models.{facts.name}()",
        ">>> print(model)  # doctest: +ELLIPSIS",
        m.repr_head,
        "...",
        ">>> model = model.eval()",
        f">>> images = lucid.randn(1, {m.in_channels}, {m.image_size}, {m.image_size})",
        ">>> with lucid.no_grad():",
        "...     output = model(images)",
    ]
    if m.output_shape is not None:
        lines += [">>> output.shape", repr(m.output_shape)]
    return lines


def render_model_page(facts: ModelFacts) -> str:
    """The reStructuredText of one model's page, in the order of the spec page."""
    info, m = facts.info, facts.measurement
    doc = docstring(info.builder)
    description = "\n".join([*doc["Summary"], "", *doc["Extended Summary"]]).strip()
    returns = doc["Returns"][0] if doc["Returns"] else None
    return_class = info.signature.return_annotation
    if not isinstance(return_class, type):
        return_class = m.model_class
    qualified = signature_text(info, lambda a: stringify_annotation(a, "smart"))
    lines = [
        ".. This page is generated by docs/_ext/lucid_model_pages.py from the registry;",
        "   edit the plugin's docstrings instead.",
        "",
        ".. meta::",
        f"   :description: {info.name}: {format_count(m.params)} parameters,"
        f" {format_macs(m.macs)}, from {info.distribution or info.module}",
        "",
        *_title(info.name),
        # Names in the quoted docstrings are relative to the builder's module.
        f".. currentmodule:: {info.module}",
        "",
        f".. py:function:: {qualified}",
        "   :module: lucid.models",
        "",
        description or f"Builds the ``{info.name}`` model of the ``{info.family}`` family.",
        "",
        f"**Total Parameters**: {format_count(m.params)}",
        "",
        f"**MACs**: {format_macs(m.macs)} for one {m.image_size}x{m.image_size} image"
        " (multiply-accumulates counted by :func:`lucid.nn.utils.count_macs`)",
        "",
        f"**Provided by**: {_provider(info)}",
        "",
        f"**Family**: :doc:`{info.family} <family-{info.family}>`",
        "",
        *render_weights(info.name),
        *_title("Function Signature", "-"),
        ".. code-block:: python",
        "",
        "    @register_model",
        f"    def {signature_text(info)}",
        "",
        *render_parameters(facts),
        *_title("Returns", "-"),
        f"- **{short_annotation(return_class)}**:",
        f"  An instance of the :class:`~{_target(return_class)}` class configured"
        f" as ``{info.name}``.",
        *_indent(returns.desc if returns is not None else []),
        "",
        *_title("Examples", "-"),
        *render_example(facts),
        "",
    ]
    return "\n".join(lines)


def render_family_page(family: str, members: Sequence[ModelFacts]) -> str:
    """A family's page: the family module's docstring, its models and the classes they build."""
    module = members[0].info.module
    classes = sorted(
        {
            f.measurement.model_class
            for f in members
            if f.measurement.model_class.__module__ == module
        },
        key=lambda c: c.__qualname__,
    )
    lines = [
        ".. This page is generated by docs/_ext/lucid_model_pages.py from the registry;",
        "   edit the plugin's docstrings instead.",
        "",
        *_title(f"{family} family"),
        f".. currentmodule:: {module}",
        "",
        inspect.getdoc(importlib.import_module(module)) or "",
        "",
        f"Provided by {_provider(members[0].info)}.",
        "",
        *model_table(members, with_family=False),
        "",
        ".. toctree::",
        "   :hidden:",
        "",
        *[f"   {f.name}" for f in members],
        "",
    ]
    if classes:
        lines += _title("Model classes" if len(classes) > 1 else "Model class", "-")
    for cls in classes:
        # Members inherited from private bases belong to the model; those of
        # lucid.nn.Module are documented in the API reference.
        lines += [
            f".. autoclass:: {_target(cls)}",
            "   :members:",
            "   :inherited-members: Module",
            "",
        ]
    return "\n".join(lines)


def _list_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """A ``list-table`` whose first row is the header."""
    lines = [".. list-table::", "   :header-rows: 1", "   :class: lucid-model-table", ""]
    for row in rows:
        lines += ["   * - " + row[0], *(f"     - {cell}" for cell in row[1:])]
    return lines


def _model_link(facts: ModelFacts) -> str:
    return f":doc:`{facts.name} </{GENERATED}/{facts.name}>`"


def model_table(facts: Sequence[ModelFacts], *, with_family: bool) -> list[str]:
    """Models with their figures, input size, weights and published top-1, linked to their pages.

    Top-1 is shown only where a pretrained configuration has it, next to the
    tag (and the settings) of the weights it was measured with.
    """
    header = ["Model", *(["Family"] if with_family else [])]
    rows = [[*header, "Parameters", "MACs", "Input size", "Weights", "Top-1 (%)"]]
    for f in facts:
        tags, top1 = [], []
        for tag, cfg in weights(f.name):
            settings = _settings_text(cfg)
            tags.append(f"``{tag}``" + (f" ({settings})" if settings else ""))
            if "top1" in cfg:
                top1.append(f"{cfg['top1']} (``{tag}``)" if len(tags) > 1 else str(cfg["top1"]))
        family = f":doc:`{f.info.family} </{GENERATED}/family-{f.info.family}>`"
        m = f.measurement
        rows.append(
            [
                _model_link(f),
                *([family] if with_family else []),
                format_count(m.params),
                format_macs(m.macs),
                f"{m.image_size}x{m.image_size}",
                ", ".join(tags) or "—",
                ", ".join(top1) or "—",
            ]
        )
    return _list_table(rows)


# ------------------------------------------------------------- generation ---


def _write_if_changed(path: Path, text: str) -> None:
    # An unchanged file keeps its mtime, so an incremental build skips it.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate_pages(app: Sphinx) -> None:
    """Measure every registered model and write its page and its family's page."""
    fallback = app.config.lucid_models_default_image_size
    _facts.clear()
    for info in registered_models():
        _facts[info.name] = ModelFacts(info, measure(info, {}, fallback))
    families: dict[str, list[ModelFacts]] = {}
    for f in _facts.values():
        families.setdefault(f.info.family, []).append(f)
    pages = {f"{name}.rst": render_model_page(f) for name, f in _facts.items()}
    pages |= {f"family-{fam}.rst": render_family_page(fam, m) for fam, m in families.items()}
    out = Path(app.srcdir) / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        _write_if_changed(out / filename, text)
    logger.info("[lucid] wrote %d model pages and %d family pages", len(_facts), len(families))


# ------------------------------------------------------------- directives ---


class _ModelDirective(SphinxDirective):
    """Base of the directives: remembers which documents show figures of this build."""

    def render(self, lines: list[str]) -> list[nodes.Node]:
        self.env.lucid_model_docs.add(self.env.docname)  # type: ignore[attr-defined]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), 0, container)
        return container.children


class ModelIndex(_ModelDirective):
    """``.. lucid-model-index::`` — every registered model, in list_models() order."""

    def run(self) -> list[nodes.Node]:
        if not _facts:
            return self.render(
                ["No model is registered: install a model plugin such as ``lucid-models-pvt``."]
            )
        families = dict.fromkeys(f.info.family for f in _facts.values())
        lines = [*model_table(list(_facts.values()), with_family=True), "", ".. toctree::"]
        lines += ["   :hidden:", "", *(f"   /{GENERATED}/family-{fam}" for fam in families)]
        return self.render(lines)


class ModelTable(_ModelDirective):
    """``.. lucid-model-table::`` — chosen models side by side.

    Options: ``:models:`` space-separated names or fnmatch patterns (in
    registry order); ``:columns:`` ``params`` or ``macs`` separated by ``;``,
    each optionally with settings in brackets, e.g. ``params[attn_proj=True]``;
    ``:reference:`` columns typed from a paper, one per line:
    ``Title | name=value name=value ...``.
    """

    option_spec = {  # noqa: RUF012 (the docutils API is a class attribute)
        "models": directives.unchanged_required,
        "columns": directives.unchanged_required,
        "reference": directives.unchanged,
    }
    _COLUMN = re.compile(r"(params|macs)(?:\[(.*?)\])?")

    def run(self) -> list[nodes.Node]:
        patterns = self.options["models"].split()
        # In the order of the patterns; in registry order within one pattern.
        matches = {n: f for p in patterns for n, f in _facts.items() if fnmatch.fnmatchcase(n, p)}
        chosen = list(matches.values())
        if not chosen:
            raise self.error(
                f"no registered model matches {patterns!r}; registered: {list(_facts)}"
            )
        header = ["Model"]
        cells = [[_model_link(f)] for f in chosen]
        for spec in self.options["columns"].split(";"):
            match = self._COLUMN.fullmatch(spec.strip())
            if match is None:
                raise self.error(
                    f"unknown column {spec.strip()!r}; write params or macs, optionally with "
                    "settings such as params[attn_proj=True], separated by ';'"
                )
            what, settings = match.group(1), match.group(2) or ""
            overrides = {
                key.strip(): ast.literal_eval(value.strip())
                for key, _, value in (s.partition("=") for s in settings.split(",") if s.strip())
            }
            title = "Parameters" if what == "params" else "MACs"
            header.append(f"{title} ({settings})" if settings else title)
            for row, f in zip(cells, chosen, strict=True):
                m = measure(f.info, overrides, self.config.lucid_models_default_image_size)
                row.append(format_count(m.params) if what == "params" else format_macs(m.macs))
        for line in filter(None, self.options.get("reference", "").splitlines()):
            title, _, values = line.partition("|")
            given = dict(item.split("=", 1) for item in values.split())
            header.append(title.strip())
            for row, f in zip(cells, chosen, strict=True):
                row.append(given.get(f.name, "—"))
        return self.render(_list_table([header, *cells]))


# ------------------------------------------------------------- env hooks ---
# The directives show figures measured in this build: their pages are re-read
# on every build, even when their source is unchanged.


def _init_env(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    if not hasattr(env, "lucid_model_docs"):
        env.lucid_model_docs = set()  # type: ignore[attr-defined]


def _outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    return sorted(getattr(env, "lucid_model_docs", set()) - removed)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "lucid_model_docs", set()).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    env.lucid_model_docs |= other.lucid_model_docs & docnames  # type: ignore[attr-defined]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("lucid_models_default_image_size", 224, "env", types=[int])
    app.add_directive("lucid-model-index", ModelIndex)
    app.add_directive("lucid-model-table", ModelTable)
    app.connect("builder-inited", generate_pages)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx extension that writes one documentation page per registered lucid model.

At ``builder-inited`` every model in the registry is built once with its
defaults, shapes only (``lucid.nn.meta_init``: no weight is allocated or
initialised); its parameter count, its multiply-accumulates for one image at the
default size (``lucid.nn.utils.count_macs``) and its configuration are
recorded, and ``models/generated/<name>.rst`` is written from them next to one
page per family. Nothing on those pages is typed by hand: a model added to a
plugin gets its page on the next build.

Directives for hand-written pages:

``.. lucid-model-index::``
    A table of every registered model with links to its page.
``.. lucid-model-table::``
    A comparison table of chosen models, with columns for other settings
    (``params[attn_proj=True]``) and reference figures typed from a paper.

A model's figures are computed once per build process and shared by the
generated pages and the tables.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import gc
import inspect
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

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
    seconds: float

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """One registered model: its registry entry and its default measurement."""

    info: Any
    measurement: Measurement

    @property
    def name(self) -> str:
        return self.info.name


# Per build process: measurements by (model name, settings), and the facts of
# the current build, which the directives read.
_cache: dict[tuple[str, tuple[tuple[str, str], ...]], Measurement] = {}
_facts: dict[str, ModelFacts] = {}


def _image_geometry(info: Any, overrides: Mapping[str, Any], fallback: int) -> tuple[int, int]:
    settings = {**info.defaults, **overrides}
    return int(settings.get("img_size", fallback)), int(settings.get("in_channels", 3))


def measure(info: Any, overrides: Mapping[str, Any], fallback_size: int) -> Measurement:
    """Build ``info.name`` with ``overrides``, count its parameters and MACs; cached per process."""
    key = (info.name, tuple(sorted((k, repr(v)) for k, v in overrides.items())))
    if key in _cache:
        return _cache[key]
    import lucid
    import lucid.models
    from lucid import nn
    from lucid.nn.utils import count_macs

    start = time.perf_counter()
    image_size, in_channels = _image_geometry(info, overrides, fallback_size)
    output_shapes: list[tuple[int, ...]] = []
    # Placeholder weights and no graph: the largest models fit in memory, and
    # the counts and output shape do not depend on the values.
    with lucid.no_grad():
        with nn.meta_init():
            model = lucid.models.create_model(info.name, **overrides).eval()
        params = sum(p.numel() for p in model.parameters())
        handle = model.register_forward_hook(
            lambda _module, _inputs, output: (
                output_shapes.append(tuple(output.shape))
                if isinstance(output, lucid.Tensor)
                else None
            )
        )
        macs = count_macs(model, (1, in_channels, image_size, image_size))
        handle.remove()
    result = Measurement(
        params=params,
        macs=macs,
        image_size=image_size,
        in_channels=in_channels,
        config=dict(getattr(model, "config", {}) or {}),
        model_class=type(model),
        repr_head=repr(model).splitlines()[0],
        output_shape=output_shapes[0] if output_shapes else None,
        seconds=time.perf_counter() - start,
    )
    del model
    gc.collect()
    _cache[key] = result
    overrides_text = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    logger.info(
        "[lucid] measured %s(%s): %s parameters, %.2f GMACs in %.1f s",
        info.name,
        overrides_text,
        f"{params:,}",
        result.gmacs,
        result.seconds,
    )
    return result


def registry_entry(name: str) -> Any:
    """The registry's :class:`lucid.models.ModelInfo` for ``name``, without building the model.

    :func:`measure` builds each model once and counts it there.
    """
    import lucid.models

    return lucid.models.model_info(name, count_params=False)


def registered_models() -> list[Any]:
    """The registry entries of every model, in the registry's natural order."""
    import lucid.models

    return [registry_entry(name) for name in lucid.models.list_models()]


# ----------------------------------------------------------- docstrings ---

_SECTION = re.compile(r"^(\S.*)\n-{3,}\s*$", re.MULTILINE)


def split_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a NumPy-style docstring into its description and its titled sections."""
    text = inspect.cleandoc(doc or "")
    matches = list(_SECTION.finditer(text))
    description = text[: matches[0].start()] if matches else text
    sections = {}
    ends = [m.start() for m in matches[1:]] + [len(text)]
    for match, end in zip(matches, ends, strict=False):  # no sections: nothing to pair
        sections[match.group(1).strip()] = text[match.end() : end].strip("\n")
    return description.strip(), sections


@dataclasses.dataclass(frozen=True)
class DocEntry:
    """One entry of a NumPy ``Parameters`` section."""

    type_text: str | None
    lines: tuple[str, ...]
    names: tuple[str, ...]  # every name the entry documents together


def parse_parameters(section: str) -> dict[str, DocEntry]:
    """Map each name in a NumPy ``Parameters`` section to its entry."""
    heads: list[tuple[str, str | None, list[str]]] = []
    for line in section.splitlines():
        if line and not line[0].isspace():
            names, _, type_text = line.partition(":")
            heads.append((names, type_text.strip() or None, []))
        elif heads and line.strip():
            heads[-1][2].append(line.strip())
    entries = {}
    for names_text, type_text, lines in heads:
        names = tuple(n.strip().lstrip("*") for n in names_text.split(","))
        for name in names:
            entries[name] = DocEntry(type_text, tuple(lines), names)
    return entries


_RELATIVE_MEMBER = re.compile(r":(meth|attr):`(~?)([A-Za-z_]\w*)`")


def _documented_parameters(builder: object, model_class: type) -> dict[str, DocEntry]:
    """Parameters documented by the builder or the model class (the builder's text wins)."""
    found: dict[str, DocEntry] = {}
    sources = [(builder, None), (model_class, model_class), (model_class.__init__, model_class)]
    for obj, owner in sources:
        _, sections = split_docstring(inspect.getdoc(obj))
        for name, entry in parse_parameters(sections.get("Parameters", "")).items():
            if owner is not None:
                # Quoted on a model page, ":meth:`forward`" must name its class.
                lines = tuple(
                    _RELATIVE_MEMBER.sub(rf":\1:`~{_class_target(owner)}.\3`", line)
                    for line in entry.lines
                )
                entry = dataclasses.replace(entry, lines=lines)
            found.setdefault(name, entry)
    return found


def describe_parameter(
    name: str, entry: DocEntry | None, descriptions: Mapping[str, str]
) -> list[str]:
    """The description of one setting: its own docstring entry, else ``conf.py``'s, else shared."""
    if entry is not None and entry.lines and len(entry.names) == 1:
        return list(entry.lines)
    if name in descriptions:
        return [descriptions[name]]
    if entry is not None and entry.lines:
        others = ", ".join(f"``{n}``" for n in entry.names if n != name)
        return [f"(Documented together with {others}.)", *entry.lines]
    return []


# -------------------------------------------------------------- rendering ---

_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")


def annotation_text(annotation: Any) -> str:
    """An annotation as a reader writes it: ``int``, ``list[int]``, ``PVT`` (no module paths)."""
    if isinstance(annotation, str):
        text = annotation
    elif isinstance(annotation, type):
        text = annotation.__qualname__
    else:
        text = inspect.formatannotation(annotation)
    return _QUALIFIED.sub(r"\1", text)


def value_type_text(value: Any) -> str:
    """The type of a configuration value, e.g. ``list[int]`` for ``[8, 4, 2, 1]``."""
    if isinstance(value, list | tuple) and value:
        inner = sorted({type(v).__name__ for v in value})
        suffix = ", ..." if isinstance(value, tuple) else ""
        return f"{type(value).__name__}[{' | '.join(inner)}{suffix}]"
    return type(value).__name__


def signature_text(info: Any) -> str:
    """``def name(a: int = 1, **kwargs) -> PVT`` from the registered signature."""
    parts = []
    for param in info.signature.parameters.values():
        prefix = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        text = prefix + param.name
        if param.annotation is not param.empty and not prefix:
            text += f": {annotation_text(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    ret = info.signature.return_annotation
    returns = "" if ret is info.signature.empty else f" -> {annotation_text(ret)}"
    return f"def {info.name}({', '.join(parts)}){returns}"


def _class_target(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _indent(lines: Iterable[str], prefix: str) -> list[str]:
    return [prefix + line if line else "" for line in lines]


def _title(text: str, underline: str = "=") -> list[str]:
    return [text, underline * len(text), ""]


def _provider(info: Any) -> str:
    if info.distribution:
        text = f"``{info.distribution}`` {info.version or ''}".rstrip()
        if info.plugin:
            text += f" (plugin ``{info.plugin}``)"
    else:
        text = "registered directly, outside any installed distribution"
    return f"{text}, module ``{info.module}``"


def format_count(value: int) -> str:
    return f"{value:,}"


def format_gmacs(measurement: Measurement) -> str:
    return f"{measurement.gmacs:.2f}"


@dataclasses.dataclass(frozen=True)
class PageOptions:
    """Settings from ``conf.py`` that shape the generated pages."""

    parameter_descriptions: Mapping[str, str]
    parameter_notes: Mapping[str, str]

    @classmethod
    def from_config(cls, config: Any) -> PageOptions:
        return cls(
            parameter_descriptions=config.lucid_models_parameter_descriptions,
            parameter_notes=config.lucid_models_parameter_notes,
        )


def _parameter_item(
    name: str,
    type_text: str | None,
    optional: bool,
    description: Sequence[str],
    default: str | None,
    note: str | None,
) -> list[str]:
    kind = f" (*{type_text}*{', optional' if optional else ''})" if type_text else ""
    body = list(description)
    if default is not None:
        body.append(f"Default is ``{default}``.")
    if note:
        body.append(note)
    return [f"- **{name}**{kind}:", *_indent(body, "  "), ""]


def render_parameters(facts: ModelFacts, options: PageOptions) -> list[str]:
    """The Parameters section: the builder's arguments, then every setting ``**kwargs`` takes."""
    info, measurement = facts.info, facts.measurement
    documented = _documented_parameters(info.builder, measurement.model_class)
    annotations = _init_annotations(measurement.model_class)
    lines = _title("Parameters", "-")
    for param in info.signature.parameters.values():
        entry = documented.get(param.name)
        if param.kind is param.VAR_KEYWORD:
            target = f":class:`~{_class_target(measurement.model_class)}`"
            settings = [k for k in measurement.config if k not in info.signature.parameters]
            lines += [
                f"- **{param.name}** (*dict*, optional):",
                f"  Additional settings of the architecture, passed on to {target}"
                + (", including:" if settings else "."),
                "",
            ]
            for key in settings:
                value = measurement.config[key]
                key_entry = documented.get(key)
                # The type a docstring gives is what users pass (``list[float]``);
                # an annotation may be wider (``Sequence[float]``).
                if key_entry is not None and key_entry.type_text:
                    type_text = key_entry.type_text
                elif key in annotations:
                    type_text = annotation_text(annotations[key])
                else:
                    type_text = value_type_text(value)
                item = _parameter_item(
                    key,
                    type_text,
                    False,
                    describe_parameter(key, key_entry, options.parameter_descriptions),
                    repr(value),
                    options.parameter_notes.get(key),
                )
                lines += _indent(item, "  ")
            continue
        if param.annotation is not param.empty:
            type_text = annotation_text(param.annotation)
        else:
            type_text = entry.type_text if entry is not None else None
        has_default = param.default is not param.empty
        lines += _parameter_item(
            param.name,
            type_text,
            has_default,
            describe_parameter(param.name, entry, options.parameter_descriptions),
            repr(param.default) if has_default else None,
            options.parameter_notes.get(param.name),
        )
    return lines


def _init_annotations(cls: type) -> dict[str, Any]:
    """Annotations of the model class's constructor parameters, by name."""
    try:
        signature = inspect.signature(cls, eval_str=False)
    except (TypeError, ValueError):
        return {}
    return {
        p.name: p.annotation for p in signature.parameters.values() if p.annotation is not p.empty
    }


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


def render_weights(name: str) -> list[str]:
    """The model's pretrained weights: each tag with its published accuracy (the plugin's table)."""
    from lucid.models import get_pretrained_cfg, list_models

    tags = list_models(name, pretrained=True)
    if not tags:
        return ["**Pretrained weights**: none published", ""]
    lines = ["**Pretrained weights** (see :doc:`/guide/pretrained`):", ""]
    for tag in tags:
        cfg = get_pretrained_cfg(tag)
        scores = ", ".join(f"top-{k[-1]} {cfg[k]}%" for k in ("top1", "top5") if k in cfg)
        lines.append(
            f'- ``{tag}``: ImageNet-1k {scores}; ``create_model("{tag}", pretrained=True)``'
        )
    return [*lines, ""]


def render_model_page(facts: ModelFacts, options: PageOptions) -> str:
    """The reStructuredText of one model's page, in the order of the spec page."""
    info, m = facts.info, facts.measurement
    description, sections = split_docstring(inspect.getdoc(info.builder))
    if not description:
        description = f"Builds the ``{info.name}`` model of the ``{info.family}`` family."
    returns_doc = sections.get("Returns", "")
    returns_lines = [ln.strip() for ln in returns_doc.splitlines()[1:] if ln.strip()]
    ret = info.signature.return_annotation
    return_class = ret if isinstance(ret, type) else m.model_class
    return_name = annotation_text(ret) if ret is not info.signature.empty else return_class.__name__
    lines = [
        ".. This page is generated by docs/_ext/lucid_model_pages.py from the registry;",
        "   edit the builder's docstring instead.",
        "",
        ".. meta::",
        f"   :description: {info.name}: {format_count(m.params)} parameters,"
        f" {format_gmacs(m)} GMACs, from {info.distribution or info.module}",
        "",
        *_title(info.name),
        # Names in the quoted docstrings are relative to the builder's module.
        f".. currentmodule:: {info.module}",
        "",
        f".. autofunction:: lucid.models.{info.name}",
        "",
        description,
        "",
        f"**Total Parameters**: {format_count(m.params)}",
        "",
        f"**GMACs**: {format_gmacs(m)} for one {m.image_size}x{m.image_size} image"
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
        f"    {signature_text(info)}",
        "",
        *render_parameters(facts, options),
        *_title("Returns", "-"),
        f"- **{return_name}**:",
        f"  An instance of the :class:`~{_class_target(return_class)}` class configured"
        f" as ``{info.name}``.",
        *_indent(returns_lines, "  "),
        "",
        *_title("Examples", "-"),
        *render_example(facts),
        "",
    ]
    return "\n".join(lines)


def render_family_page(family: str, members: Sequence[ModelFacts]) -> str:
    """A family's page: its models with their figures and the model classes they build."""
    first = members[0].info
    module_summary = _module_summary(first.module)
    classes = sorted(
        {
            f.measurement.model_class
            for f in members
            if f.measurement.model_class.__module__ == first.module
        },
        key=lambda c: c.__qualname__,
    )
    lines = [
        ".. This page is generated by docs/_ext/lucid_model_pages.py from the registry.",
        "",
        *_title(f"{family} family"),
        module_summary,
        "",
        f"Provided by {_provider(first)}.",
        "",
        *_model_table(members, with_family=False),
        "",
        f".. lucid-family-figures:: {family}\n",  # docs/_ext/lucid_figures.py
        ".. toctree::",
        "   :hidden:",
        "",
        *[f"   {f.name}" for f in members],
        "",
    ]
    if classes:
        lines += _title("Model classes" if len(classes) > 1 else "Model class", "-")
        for cls in classes:
            # Members inherited from private bases belong to the model;
            # those of lucid.nn.Module are documented in the API reference.
            lines += [
                f".. autoclass:: {_class_target(cls)}",
                "   :members:",
                "   :inherited-members: Module",
                "",
            ]
    return "\n".join(lines)


def _module_summary(module: str) -> str:
    import importlib

    doc = inspect.getdoc(importlib.import_module(module)) or ""
    return doc.split("\n\n")[0].strip()


def _model_link(facts: ModelFacts) -> str:
    return f":doc:`{facts.name} </{GENERATED}/{facts.name}>`"


def _list_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """A ``list-table`` whose first row is the header."""
    lines = [".. list-table::", "   :header-rows: 1", "   :class: lucid-model-table", ""]
    for row in rows:
        lines += ["   * - " + row[0], *(f"     - {cell}" for cell in row[1:])]
    return lines


def _model_table(facts: Sequence[ModelFacts], *, with_family: bool) -> list[str]:
    """Models with their parameter counts and GMACs, linked to their pages."""
    rows = [["Model", *(["Family"] if with_family else []), "Parameters", "GMACs"]]
    for f in facts:
        family = f":doc:`{f.info.family} </{GENERATED}/family-{f.info.family}>`"
        rows.append(
            [
                _model_link(f),
                *([family] if with_family else []),
                format_count(f.measurement.params),
                format_gmacs(f.measurement),
            ]
        )
    return _list_table(rows)


# ------------------------------------------------------------- generation ---


def collect_facts(app: Sphinx) -> list[ModelFacts]:
    fallback = app.config.lucid_models_default_image_size
    facts = []
    for info in registered_models():
        facts.append(ModelFacts(info, measure(info, {}, fallback)))
    return facts


def _write_if_changed(path: Path, text: str) -> None:
    # An unchanged file keeps its mtime, so an incremental build skips it.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate_pages(app: Sphinx) -> None:
    start = time.perf_counter()
    facts = collect_facts(app)
    _facts.clear()
    _facts.update((f.name, f) for f in facts)
    options = PageOptions.from_config(app.config)
    out = Path(app.srcdir) / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    pages = {f"{f.name}.rst": render_model_page(f, options) for f in facts}
    families: dict[str, list[ModelFacts]] = {}
    for f in sorted(facts, key=lambda f: f.measurement.params):
        families.setdefault(f.info.family, []).append(f)
    for family, members in families.items():
        pages[f"family-{family}.rst"] = render_family_page(family, members)
    for stale in out.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        _write_if_changed(out / filename, text)
    logger.info(
        "[lucid] wrote %d model pages and %d family pages in %.1f s",
        len(facts),
        len(families),
        time.perf_counter() - start,
    )


# ------------------------------------------------------------- directives ---


class _ModelDirective(SphinxDirective):
    """Base of the directives: remembers which documents show registry figures."""

    def render(self, lines: list[str]) -> list[nodes.Node]:
        self.env.lucid_model_docs.add(self.env.docname)  # type: ignore[attr-defined]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), 0, container)
        return container.children


class ModelIndex(_ModelDirective):
    """``.. lucid-model-index::`` — every registered model, linked to its page."""

    def run(self) -> list[nodes.Node]:
        # Grouped by family, smallest model first.
        facts = sorted(_facts.values(), key=lambda f: (f.info.family, f.measurement.params))
        if not facts:
            return self.render(
                ["No model is registered: install a model plugin such as ``lucid-models-pvt``."]
            )
        lines = _model_table(facts, with_family=True)
        families = dict.fromkeys(f.info.family for f in facts)
        lines += ["", ".. toctree::", "   :hidden:", ""]
        lines += [f"   /{GENERATED}/family-{family}" for family in families]
        return self.render(lines)


def _parse_overrides(text: str) -> dict[str, Any]:
    overrides = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        overrides[key.strip()] = ast.literal_eval(value.strip())
    return overrides


class ModelTable(_ModelDirective):
    """``.. lucid-model-table::`` — chosen models side by side.

    Options: ``:models:`` space-separated names or fnmatch patterns (in
    registry order); ``:columns:`` ``params`` or ``gmacs`` separated by ``;``,
    each optionally with settings in brackets, e.g. ``params[attn_proj=True]``;
    ``:reference:`` columns typed from a paper, one per line:
    ``Title | name=value name=value ...``.
    """

    option_spec = {  # noqa: RUF012 (the docutils API is a class attribute)
        "models": directives.unchanged_required,
        "columns": directives.unchanged_required,
        "reference": directives.unchanged,
    }
    _COLUMN = re.compile(r"(params|gmacs)(?:\[(.*?)\])?")

    def run(self) -> list[nodes.Node]:
        facts = _facts
        patterns = self.options["models"].split()
        # In the order of the patterns; the registry's order within one pattern.
        chosen = list(
            {
                name: f
                for pattern in patterns
                for name, f in facts.items()
                if fnmatch.fnmatchcase(name, pattern)
            }.values()
        )
        if not chosen:
            raise self.error(
                f"no registered model matches {patterns!r}; registered: {sorted(facts)}"
            )
        header = ["Model"]
        cells = [[_model_link(f)] for f in chosen]
        fallback = self.config.lucid_models_default_image_size
        for spec in self.options["columns"].split(";"):
            match = self._COLUMN.fullmatch(spec.strip())
            if match is None:
                raise self.error(
                    f"unknown column {spec.strip()!r}; write params or gmacs, optionally "
                    "with settings such as params[attn_proj=True], separated by ';'"
                )
            what, settings = match.group(1), match.group(2) or ""
            overrides = _parse_overrides(settings)
            title = "Parameters" if what == "params" else "GMACs"
            header.append(f"{title} ({settings})" if settings else title)
            for row, f in zip(cells, chosen, strict=True):
                m = f.measurement if not overrides else measure(f.info, overrides, fallback)
                row.append(format_count(m.params) if what == "params" else format_gmacs(m))
        for line in filter(None, self.options.get("reference", "").splitlines()):
            title, _, values = line.partition("|")
            given = dict(item.split("=", 1) for item in values.split())
            header.append(title.strip())
            for row, f in zip(cells, chosen, strict=True):
                row.append(given.get(f.name, "—"))
        return self.render(_list_table([header, *cells]))


# ------------------------------------------------------------- env hooks ---


def _init_env(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    if not hasattr(env, "lucid_model_docs"):
        env.lucid_model_docs = set()  # type: ignore[attr-defined]


def _outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    # Tables show figures measured in this build: their pages are always re-read.
    return sorted(getattr(env, "lucid_model_docs", set()) - removed)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "lucid_model_docs", set()).discard(docname)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    env.lucid_model_docs |= other.lucid_model_docs & docnames  # type: ignore[attr-defined]


def _strip_builder_docstring(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    # On a model page the builder's docstring is laid out by the page itself
    # (description, parameters, returns, examples): autodoc shows the signature.
    if what == "function" and app.env.docname.startswith(f"{GENERATED}/"):
        lines.clear()


# ------------------------------------------------------------------ setup ---


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("lucid_models_default_image_size", 224, "env", types=[int])
    app.add_config_value("lucid_models_parameter_descriptions", {}, "env", types=[dict])
    app.add_config_value("lucid_models_parameter_notes", {}, "env", types=[dict])
    app.add_directive("lucid-model-index", ModelIndex)
    app.add_directive("lucid-model-table", ModelTable)
    app.connect("builder-inited", generate_pages)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("autodoc-process-docstring", _strip_builder_docstring)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

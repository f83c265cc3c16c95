"""Sphinx extension that writes one documentation page per registered lucid model.

At ``builder-inited`` every model in the registry is built once with its
defaults, shapes only (``lucid.nn.meta_init``), its parameters and its
multiply-accumulates for one image (``lucid.nn.utils.count_macs``) are
counted, and ``models/generated/`` gets a page per model and per family from
the reStructuredText templates in ``lucid_model_templates/`` beside this file.

The words all come from the plugin that registers the model, so a plugin's
models are documented with no change to lucid: a model page quotes the
builder's docstring and, for each setting of ``model.config`` that
``**kwargs`` passes on, that setting's entry in the ``Parameters`` section of
the model class (or its ``__init__``); a family page shows the family
module's docstring and the model classes (autodoc); weights and published
accuracies come from the plugin's pretrained configurations. Docstrings are
parsed with numpydoc, and each is rendered once: the builder is declared with
``py:function``, so autodoc renders only the classes.

Directives for hand-written pages: ``.. lucid-model-index::`` (every model,
in :func:`lucid.models.list_models` order) and ``.. lucid-model-table::``
(chosen models side by side, see :class:`ModelTable`).
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import gc
import importlib
import inspect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
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
    model_class: type[Any]
    repr_head: str
    output_shape: tuple[int, ...] | None


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """One registered model: its registry entry (``lucid.models.ModelInfo``) and measurement."""

    info: Any
    measurement: Measurement

    @property
    def name(self) -> str:
        return str(self.info.name)


# Per build process: measurements by (model, settings), and the facts of the
# current build in list_models() order, which the directives read.
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
    size = int(settings.get("img_size", fallback_size))
    channels = int(settings.get("in_channels", settings.get("in_chans", 3)))
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
    result = _cache[key] = Measurement(
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


# ------------------------------------------------------------ formatting ---


def format_count(value: int) -> str:
    """``41492648`` as ``41,492,648``."""
    return f"{value:,}"


def format_macs(macs: int) -> str:
    """MACs in GMACs, or in MMACs below one GMAC (where two decimals of GMACs read 0.00)."""
    if macs >= 10**9:
        return f"{macs / 1e9:.2f} GMACs"
    return f"{macs / 1e6:.2f} MMACs"


def macs_cell(macs: int) -> str:
    """:func:`format_macs` for a table cell: figure and unit kept on one line."""
    return format_macs(macs).replace(" ", "\N{NO-BREAK SPACE}")


_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")


def short_annotation(annotation: Any) -> str:
    """An annotation as a reader writes it: ``Sequence[int]``, ``PVT`` (no module paths)."""
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


def target(cls: type) -> str:
    """The dotted name that cross-references ``cls``."""
    return f"{cls.__module__}.{cls.__qualname__}"


# ------------------------------------------------------------ docstrings ---


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


@dataclasses.dataclass(frozen=True)
class Setting:
    """One entry of a model page's Parameters section."""

    name: str
    type: str
    description: Sequence[str]
    default: str | None = None
    optional: bool = False
    nested: Sequence[Setting] = ()


def parameters(facts: ModelFacts) -> list[Setting]:
    """The builder's arguments; under ``**kwargs``, each setting of ``config`` it passes on.

    Each description is the plugin's: the builder's ``Parameters`` entry, else
    the model class's. A type comes from the docstring (what users pass,
    ``list[float]``), else from the annotation or the value itself.
    """
    info, m = facts.info, facts.measurement
    docs = documented_parameters(info.builder, m.model_class, m.model_class.__init__)
    annotations = {
        p.name: p.annotation
        for p in inspect.signature(m.model_class).parameters.values()
        if p.annotation is not p.empty
    }
    settings = []
    for key, value in m.config.items():
        if key in info.signature.parameters:
            continue
        entry = docs.get(key)
        if entry is not None and entry.type:
            type_text = entry.type
        elif key in annotations:
            type_text = short_annotation(annotations[key])
        else:
            type_text = value_type(value)
        settings.append(Setting(key, type_text, entry.desc if entry else [], repr(value)))
    found = []
    for param in info.signature.parameters.values():
        entry = docs.get(param.name)
        if param.kind is param.VAR_KEYWORD:
            passed_on = f"passed on to :class:`~{target(m.model_class)}`"
            text = f"Additional settings of the architecture, {passed_on}"
            text += ", including:" if settings else "."
            found.append(Setting(param.name, "dict", [text], optional=True, nested=settings))
            continue
        has_default = param.default is not param.empty
        annotated = param.annotation is not param.empty
        found.append(
            Setting(
                param.name,
                short_annotation(param.annotation) if annotated else entry.type if entry else "",
                entry.desc if entry else [],
                repr(param.default) if has_default else None,
                has_default,
            )
        )
    return found


def weights(name: str) -> list[dict[str, Any]]:
    """The model's published weights: tag, published scores and the settings they need."""
    from lucid.models import get_pretrained_cfg, list_models

    found = []
    for tag in list_models(name, pretrained=True):
        cfg = get_pretrained_cfg(tag)
        settings = ", ".join(f"``{k}={v!r}``" for k, v in cfg.get("settings", {}).items())
        found.append(
            {
                "tag": tag,
                "label": f"``{tag}``" + (f" ({settings})" if settings else ""),
                "settings": settings,
                "top1": cfg.get("top1"),
                "scores": ", ".join(f"top-{k[-1]} {cfg[k]}%" for k in ("top1", "top5") if k in cfg),
            }
        )
    return found


# ------------------------------------------------------------- rendering ---

# The pages' layout: reStructuredText templates beside this file.
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("lucid_model_templates")),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_templates.filters.update(count=format_count, macs=format_macs, target=target)


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A ``list-table`` whose first row is the header."""
    macros: Any = _templates.get_template("macros.rst.jinja").module
    return str(macros.table(rows))


def _provider(info: Any) -> str:
    if not info.distribution:
        return f"registered directly, outside any installed distribution, module ``{info.module}``"
    plugin = f" (plugin ``{info.plugin}``)" if info.plugin else ""
    version = f" {info.version}" if info.version else ""
    return f"``{info.distribution}``{version}{plugin}, module ``{info.module}``"


def render_model_page(facts: ModelFacts) -> str:
    """The reStructuredText of one model's page, in the order of the reference page."""
    info, m = facts.info, facts.measurement
    doc = docstring(info.builder)
    return_class = info.signature.return_annotation
    if not isinstance(return_class, type):
        return_class = m.model_class
    return _templates.get_template("model.rst.jinja").render(
        name=info.name,
        info=info,
        m=m,
        description="\n".join([*doc["Summary"], "", *doc["Extended Summary"]]).strip(),
        qualified_signature=signature_text(info, lambda a: stringify_annotation(a, "smart")),
        signature=signature_text(info),
        provider=_provider(info),
        weights=weights(info.name),
        parameters=parameters(facts),
        return_name=short_annotation(return_class),
        return_class=return_class,
        returns=doc["Returns"][0].desc if doc["Returns"] else [],
    )


def table_rows(facts: Sequence[ModelFacts], *, with_family: bool) -> list[list[str]]:
    """Models with their figures, input size, weights and published top-1, linked to their pages.

    Top-1 is shown only where a pretrained configuration has it, and the
    weights column names the settings those weights need.
    """
    rows = [["Model", *(["Family"] * with_family), "Parameters", "MACs", "Input size"]]
    rows[0] += ["Weights", "Top-1 (%)"]
    for f in facts:
        published = weights(f.name)
        # With several weights, each top-1 names its tag.
        top1 = [
            f"{w['top1']}" + (f" (``{w['tag']}``)" if len(published) > 1 else "")
            for w in published
            if w["top1"] is not None
        ]
        m = f.measurement
        rows.append(
            [
                _link(f),
                *([f":doc:`{f.info.family} </{GENERATED}/family-{f.info.family}>`"] * with_family),
                format_count(m.params),
                macs_cell(m.macs),
                f"{m.image_size}x{m.image_size}",
                ", ".join(w["label"] for w in published) or "—",
                ", ".join(top1) or "—",
            ]
        )
    return rows


def _link(facts: ModelFacts) -> str:
    return f":doc:`{facts.name} </{GENERATED}/{facts.name}>`"


def render_family_page(family: str, members: Sequence[ModelFacts]) -> str:
    """A family's page: the family module's docstring, its models and the classes they build."""
    module = members[0].info.module
    classes = {f.measurement.model_class for f in members}
    return _templates.get_template("family.rst.jinja").render(
        family=family,
        module=module,
        module_doc=inspect.getdoc(importlib.import_module(module)) or "",
        provider=_provider(members[0].info),
        rows=table_rows(members, with_family=False),
        members=[f.name for f in members],
        classes=sorted((c for c in classes if c.__module__ == module), key=target),
    )


# ------------------------------------------------------------ generation ---


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
    pages |= {f"family-{fam}.rst": render_family_page(fam, fs) for fam, fs in families.items()}
    out = Path(app.srcdir) / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        path = out / filename
        # An unchanged file keeps its mtime, so an incremental build skips it.
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    logger.info("[lucid] wrote %d model pages and %d family pages", len(_facts), len(families))


# ------------------------------------------------------------ directives ---


class _ModelDirective(SphinxDirective):
    """Base of the directives: remembers which documents show figures of this build."""

    def render(self, text: str) -> list[nodes.Node]:
        self.env.lucid_model_docs.add(self.env.docname)  # type: ignore[attr-defined]
        container = nodes.container()
        lines = StringList(text.splitlines(), source=self.get_source_info()[0])
        self.state.nested_parse(lines, 0, container)
        return container.children


class ModelIndex(_ModelDirective):
    """``.. lucid-model-index::``: every registered model, in list_models() order."""

    def run(self) -> list[nodes.Node]:
        if not _facts:
            return self.render(
                "No model is registered: install a model plugin such as ``lucid-models-pvt``."
            )
        families = dict.fromkeys(f.info.family for f in _facts.values())
        toctree = [".. toctree::", "   :hidden:", ""]
        toctree += [f"   /{GENERATED}/family-{family}" for family in families]
        rows = table_rows(list(_facts.values()), with_family=True)
        return self.render(_table(rows) + "\n".join(toctree))


class ModelTable(_ModelDirective):
    """``.. lucid-model-table::``: chosen models side by side.

    Options: ``:models:`` space-separated names or fnmatch patterns (in their
    order; registry order within one pattern); ``:columns:`` ``params`` or
    ``macs`` separated by ``;``, each optionally with settings in brackets,
    e.g. ``params[attn_proj=True]``; ``:reference:`` columns typed from a
    paper, one per line: ``Title | name=value name=value ...``.
    """

    option_spec = {  # noqa: RUF012 (the docutils API is a class attribute)
        "models": directives.unchanged_required,
        "columns": directives.unchanged_required,
        "reference": directives.unchanged,
    }
    _COLUMN = re.compile(r"(params|macs)(?:\[(.*?)\])?")

    def run(self) -> list[nodes.Node]:
        patterns = self.options["models"].split()
        matches = {n: f for p in patterns for n, f in _facts.items() if fnmatch.fnmatchcase(n, p)}
        if not matches:
            raise self.error(
                f"no registered model matches {patterns!r}; registered: {list(_facts)}"
            )
        rows = [["Model"], *([_link(f)] for f in matches.values())]
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
            rows[0].append(f"{title} ({settings})" if settings else title)
            for row, f in zip(rows[1:], matches.values(), strict=True):
                m = measure(f.info, overrides, self.config.lucid_models_default_image_size)
                row.append(format_count(m.params) if what == "params" else macs_cell(m.macs))
        for line in filter(None, self.options.get("reference", "").splitlines()):
            title, _, values = line.partition("|")
            given = dict(item.split("=", 1) for item in values.split())
            rows[0].append(title.strip())
            for row, name in zip(rows[1:], matches, strict=True):
                row.append(given.get(name, "—"))
        return self.render(_table(rows))


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
    app.setup_extension("lucid_figures")  # the figures of the family pages
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx extension that links annotations to lucid's public names and hides private bases.

It also keeps the source pages of ``sphinx.ext.viewcode`` linking back to the
right place when the objects of one module are documented under several
public names (see :func:`address_by_definition`).
"""

from __future__ import annotations

import sys
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext.viewcode import OUTPUT_DIRNAME, viewcode_anchor

# Annotations inside lucid's packages, written under ``TYPE_CHECKING``, name
# subpackages relative to ``lucid`` (``nn.Module``): their documented name.
_RELATIVE_ROOT = "lucid"


def _candidates(target: str) -> list[str]:
    """Documented names ``target`` may stand for, most specific first.

    ``lucid.nn.modules.linear.Linear`` and ``lucid._tensor.Tensor`` are how
    annotations record objects (their ``__module__``), while the API reference
    documents them where users import them: ``lucid.nn.Linear``, ``lucid.Tensor``.
    """
    parts = target.split(".")
    if parts[0] != _RELATIVE_ROOT:
        parts = [_RELATIVE_ROOT, *parts]
    modules, name = parts[:-1], parts[-1]
    return [".".join([*modules[:cut], name]) for cut in range(len(modules), 0, -1)]


def _definition_name(target: str) -> str | None:
    """``module.qualname`` of the object ``target`` names, e.g. for a re-export.

    ``lucid.no_grad`` is documented once, as ``lucid.autograd.no_grad``, and
    Sphinx knows it under its definition too (``lucid._grad_mode.no_grad``).
    """
    module_name, _, attribute = target.rpartition(".")
    module = sys.modules.get(module_name)
    obj = getattr(module, attribute, None) if module is not None else None
    module_of, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module_of}.{qualname}" if module_of and qualname else None


def resolve_public_name(
    app: Sphinx, env: BuildEnvironment, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    for candidate in [*_candidates(target), _definition_name(target)]:
        if candidate and candidate != target and candidate in domain.objects:  # type: ignore[attr-defined]
            return domain.resolve_xref(
                env, node.get("refdoc"), app.builder, node.get("reftype"), candidate, node, contnode
            )
    return None


def hide_private_bases(
    app: Sphinx, name: str, obj: object, options: object, bases: list[type]
) -> None:
    # "Bases: _GradMode" tells a reader nothing and links nowhere: show the
    # nearest public ancestors instead.
    public: list[type] = []
    pending = list(bases)
    while pending:
        base = pending.pop(0)
        if not getattr(base, "__name__", "").startswith("_"):
            public.append(base)
        else:
            pending[:0] = [b for b in getattr(base, "__bases__", ()) if b not in public]
    bases[:] = list(dict.fromkeys(public))


def address_by_definition(app: Sphinx, doctree: nodes.document) -> None:
    """Give each object with a source link an anchor named where it is defined.

    viewcode's "[docs]" link on a source page goes to ``<page>#<module>.<name>``
    with one documented ``<module>`` per source module: the one under which an
    object of that module was documented first (sphinx-doc/sphinx#6651). lucid
    documents one module's objects under several names (``lucid.abs`` and
    ``lucid.nn.functional.gelu`` come from ``lucid._ops.elementwise``; the
    builders of ``lucid_models_pvt.pvt`` are ``lucid.models.pvt_medium``, its
    class ``lucid_models_pvt.pvt.PVT``), so one module cannot serve them all.
    Every name can, though, be addressed by where it is defined: each
    documented object whose source viewcode links gets that anchor beside its
    own (``lucid._ops.elementwise.abs`` next to ``lucid.abs``), and viewcode
    links back to it. Runs after viewcode's own ``doctree-read`` handler.
    """
    prefix = OUTPUT_DIRNAME + "/"
    for anchor in doctree.findall(viewcode_anchor):
        # The source page is named after its module: _modules/lucid/_ops/elementwise.
        module = anchor["reftarget"].removeprefix(prefix).replace("/", ".")
        anchor_id = f"{module}.{anchor['refid']}"
        if anchor_id not in doctree.ids:
            anchor.parent["ids"].append(anchor_id)
            doctree.ids[anchor_id] = anchor.parent
    modules = getattr(app.env, "_viewcode_modules", {})
    for module, entry in modules.items():
        if entry:  # False: a module viewcode could not analyse
            code, tags, used, _documented_as = entry
            modules[module] = (code, tags, used, module)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.viewcode")
    app.connect("missing-reference", resolve_public_name)
    app.connect("autodoc-process-bases", hide_private_bases)
    # After viewcode's handler (priority 500), which records the objects and their anchors.
    app.connect("doctree-read", address_by_definition, priority=600)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

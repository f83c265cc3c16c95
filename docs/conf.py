"""Sphinx configuration of the lucid documentation site."""

from __future__ import annotations

import sys
import warnings
from importlib.metadata import version as _distribution_version
from pathlib import Path

# The local extensions: one page per registered model, links to public names,
# the benchmark table of the performance page, the figures drawn from the code.
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

from sphinx.deprecation import RemovedInSphinx10Warning

# sphinx-autodoc-typehints 3.6 still calls a Sphinx API deprecated for Sphinx
# 10; the notice is for its maintainers and would only clutter our build log.
warnings.filterwarnings(
    "ignore", category=RemovedInSphinx10Warning, module="sphinx_autodoc_typehints"
)

# ----------------------------------------------------------------- project ---

project = "lucid"
author = "the lucid authors"
copyright = "the lucid authors"
release = _distribution_version("lucid")
version = release.split("+")[0]

# ------------------------------------------------------------------ general ---

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_autodoc_typehints",
    "sphinx.ext.viewcode",
    "lucid_api_links",
    "lucid_benchmarks",
    "lucid_model_pages",
    "lucid_figures",
]

exclude_patterns = ["_build"]
templates_path: list[str] = []
default_role = "code"
pygments_style = "sphinx"

# Every cross-reference must resolve: a renamed function cannot leave a
# dangling link behind. Each exception below says why it cannot resolve.
nitpicky = True
nitpick_ignore = [
    # NumPy and the standard library appear in signatures. Linking them would
    # need intersphinx, which fetches inventories from the internet, and the
    # build must work offline.
    ("py:class", "numpy.ndarray"),
    ("py:class", "numpy.dtype"),
    ("py:class", "numpy.random._generator.Generator"),
    ("py:class", "collections.OrderedDict"),
    ("py:class", "enum.Enum"),
    ("py:class", "collections.abc.Callable"),
    ("py:class", "collections.abc.Iterable"),
    ("py:class", "collections.abc.Iterator"),
    ("py:class", "collections.abc.Mapping"),
    ("py:class", "collections.abc.Sequence"),
    ("py:class", "collections.abc.Sized"),
    ("py:class", "multiprocessing.context.BaseContext"),
    ("py:class", "os.PathLike"),
    ("py:class", "inspect.Signature"),
    # Pillow's image class, in the signatures of lucid.vision (same reason).
    ("py:class", "PIL.Image.Image"),
    ("py:data", "typing.Any"),
    ("py:data", "Ellipsis"),  # the "..." of tuple[int, ...]
    # Type variables of generic helpers: named in signatures, not objects to document.
    ("py:class", "lucid.models._registry.F"),
    ("py:class", "lucid.nn.modules.module.M"),
    # The sample type of lucid.data's generic classes (Dataset[T_co], as in PyTorch).
    ("py:class", "lucid.data.dataset.T_co"),
    ("py:obj", "lucid.data.dataset.T_co"),
    ("py:obj", "lucid.data.sampler.T_co"),
    ("py:class", "lucid.data.dataloader.T_co"),
    ("py:obj", "lucid.data.dataloader.T_co"),
    # What load_state_dict(strict=False) returns: a private named tuple whose
    # fields (missing_keys, unexpected_keys) the method's docstring describes.
    ("py:class", "lucid.nn.modules.module._IncompatibleKeys"),
    # The private base of the PVT model classes: its methods are documented on
    # each model class of the family pages (``:inherited-members:``).
    ("py:class", "lucid_models_pvt._common.PyramidTransformer"),
]

# -------------------------------------------------------------------- autodoc ---

# Classes first, then functions, each alphabetically: a reference to look things up in.
autodoc_member_order = "groupwise"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    # Every layer overrides it only to print its settings: noise in a reference.
    "exclude-members": "extra_repr",
}
# The signature stays on one line; the types are shown by sphinx-autodoc-typehints.
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
typehints_use_signature = True
typehints_use_signature_return = True
typehints_document_rtype = False
always_use_bars_union = True

napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
napoleon_use_param = True

# ------------------------------------------------------------------- doctest ---

# The model pages' runnable examples are executed by tests/docs, not by
# sphinx.ext.doctest, so the rendered blocks need no special markup.
trim_doctest_flags = True

# ---------------------------------------------------------------------- html ---

html_theme = "furo"
html_title = f"lucid {version}"
html_static_path = ["_static"]
html_css_files = ["lucid.css"]
html_show_sourcelink = True
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
}

# ---------------------------------------------------------------- lucid models ---

# Image side (pixels) used when a model's builder has no ``img_size`` default.
lucid_models_default_image_size = 224

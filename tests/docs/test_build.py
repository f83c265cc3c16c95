"""The documentation builds without a warning and its model pages carry computed figures."""

from __future__ import annotations

import doctest
import html
import re

import pytest

pytestmark = pytest.mark.slow

# What the reference page of pvt_medium (shared/spec/pvt_medium.rst) documents:
# the type and the default of each setting; the page must show both as written.
SPEC_DEFAULTS = {
    "embed_dims": ("list[int]", [64, 128, 320, 512]),
    "depths": ("list[int]", [3, 4, 18, 3]),
    "num_heads": ("list[int]", [1, 2, 5, 8]),
    "mlp_ratios": ("list[float]", [8.0, 8.0, 4.0, 4.0]),
    "sr_ratios": ("list[float]", [8.0, 4.0, 2.0, 1.0]),
}

# Issue 6's parameter table: (default layout, attn_proj=True).
PVT_PARAMS = {
    "pvt_tiny": (12_457_192, 13_229_288),
    "pvt_small": (23_003_048, 24_485_864),
    "pvt_medium": (41_492_648, 44_208_104),
    "pvt_large": (57_663_336, 61_369_320),
    "pvt_huge": (286_706_920, 304_945_512),
}


def test_build_passes_with_warnings_as_errors(built_docs) -> None:
    problems = [
        line for line in built_docs.output.splitlines() if "WARNING" in line or "ERROR" in line
    ]
    assert not problems, "\n".join(problems)
    assert (built_docs.html / "index.html").is_file()
    # The build time is reported, so a slower build shows up in the test log.
    print(f"docs build: {built_docs.seconds:.1f} s")


def test_pvt_medium_page_follows_the_spec(built_docs) -> None:
    text = built_docs.text("models/generated/pvt_medium")
    # The spec's parts, in the spec's order.
    position = 0
    for part in ["pvt_medium", "Total Parameters", "Function Signature", "Parameters", "Returns"]:
        position = text.find(part, position)
        assert position >= 0, f"{part!r} missing or out of order"
    assert text.find("Examples", position) > 0
    assert "Total Parameters: 41,492,648" in text
    signature = (
        "@register_model def pvt_medium(img_size: int = 224, num_classes: int = 1000,"
        " **kwargs) -> PVT"
    )
    assert signature in text
    assert "lucid.models.pvt_medium(img_size: int = 224, num_classes: int = 1000" in text
    assert "img_size (int, optional)" in text and "Default is 224." in text
    assert "num_classes (int, optional)" in text and "Default is 1000." in text
    assert "kwargs (dict, optional)" in text


def test_pvt_medium_page_documents_every_default(built_docs) -> None:
    import lucid.models

    text = built_docs.text("models/generated/pvt_medium")
    config = lucid.models.pvt_medium(img_size=32).config
    for name, (type_text, spec_value) in SPEC_DEFAULTS.items():
        assert config[name] == spec_value and repr(config[name]) == repr(spec_value), name
        assert f"{name} ({type_text})" in text, name
        assert f"Default is {spec_value!r}." in text, (name, spec_value)
    # Every other setting of the configuration is documented too.
    for name, value in config.items():
        if name not in ("img_size", "num_classes"):
            assert f"{name} (" in text and f"Default is {value!r}." in text, (name, value)
    # The page says why sr_ratios take whole numbers only.
    assert re.search(r"sr_ratios \(list\[float\]\):.{0,400}?must be whole numbers", text)


def test_models_index_lists_every_registered_model(
    built_docs, registered_models: list[str]
) -> None:
    page = built_docs.page("models/index")
    assert registered_models, "no model is registered: is lucid-models-pvt installed?"
    for name in registered_models:
        assert f'href="generated/{name}.html"' in page, name
        text = built_docs.text(f"models/generated/{name}")
        assert re.search(r"Total Parameters: \d{1,3}(,\d{3})*", text), name
        assert re.search(r"MACs: \d+\.\d\d [GM]MACs for one \d+x\d+ image", text), name
        assert "Provided by: lucid-models-pvt" in text, name


def test_pvt_table_shows_both_layouts(built_docs) -> None:
    for header, *rows in built_docs.tables("models/pvt"):
        if "Parameters (attn_proj=True)" in header:
            default, paper = header.index("Parameters"), header.index("Parameters (attn_proj=True)")
            shown = {row[0]: (row[default], row[paper]) for row in rows}
            break
    else:
        raise AssertionError("the PVT page has no table with both layouts")
    assert shown == {name: (f"{a:,}", f"{b:,}") for name, (a, b) in PVT_PARAMS.items()}


def _index_rows(built_docs) -> tuple[list[str], list[list[str]]]:
    for header, *rows in built_docs.tables("models/index"):
        if header[:2] == ["Model", "Family"]:
            return header, rows
    raise AssertionError("the model index has no table of every model")


def test_models_index_follows_list_models_with_its_columns(
    built_docs, registered_models: list[str]
) -> None:
    import lucid.models

    header, rows = _index_rows(built_docs)
    assert header == [
        "Model",
        "Family",
        "Parameters",
        "MACs",
        "Input size",
        "Weights",
        "Top-1 (%)",
    ]
    # The registry's order: pvt_v2_b2 before pvt_v2_b2_li, not by size.
    assert [row[0] for row in rows] == registered_models
    shown = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    for name, (params, _) in PVT_PARAMS.items():
        assert shown[name]["Parameters"] == f"{params:,}", name
    for name, row in shown.items():
        assert row["Input size"] == "224x224", name
        tags = lucid.models.list_models(name, pretrained=True)
        top1 = [str(lucid.models.get_pretrained_cfg(t)["top1"]) for t in tags]
        for tag in tags:
            assert tag in row["Weights"], (name, tag)
        # Published figures only, from the plugin's pretrained table; none invented.
        assert row["Top-1 (%)"] == (", ".join(top1) or "—"), name
        if not tags:
            assert row["Weights"] == "—", name
    # The PVT v1 weights are for the paper's layout, and the row says so.
    assert shown["pvt_medium"]["Weights"] == "pvt_medium.in1k (attn_proj=True)"
    assert shown["pvt_medium"]["Top-1 (%)"] == "81.2"
    assert shown["pvt_huge"]["Top-1 (%)"] == "—"


def test_small_models_show_mmacs(built_docs) -> None:
    # pvt_v2_b0 needs about 0.57 GMACs: shown as MMACs, not as "0.57 GMACs" or "0.00".
    _, rows = _index_rows(built_docs)
    macs = {row[0]: row[3] for row in rows}
    assert re.fullmatch(r"5\d\d\.\d\d MMACs", macs["pvt_v2_b0"]), macs["pvt_v2_b0"]
    assert re.fullmatch(r"\d+\.\d\d GMACs", macs["pvt_medium"]), macs["pvt_medium"]
    text = built_docs.text("models/generated/pvt_v2_b0")
    assert f"MACs: {macs['pvt_v2_b0']} for one 224x224 image" in text


def _documented_parameters(built_docs, page: str, cls: str) -> list[tuple[str, str]]:
    """(name, description) of each entry of the Parameters list of class ``cls`` on ``page``."""
    source = built_docs.page(page)
    source = source[source.index(f'id="{cls}"') :]
    field = source[source.index("Parameters<span") :]
    items = field[: field.index("</ul>")]
    entries = []
    for item in re.findall(r"<li>(.*?)</li>", items, re.DOTALL):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
        name, _, description = text.partition(" \u2013 ")  # napoleon's en dash
        entries.append((name.split(" (")[0], description))
    return entries


SPLIT_PARAMETERS = [
    "embed_dims",
    "depths",
    "num_heads",
    "mlp_ratios",
    "sr_ratios",
    "drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
]


@pytest.mark.parametrize(
    ("family", "cls"),
    [("pvt", "lucid_models_pvt.pvt.PVT"), ("pvt_v2", "lucid_models_pvt.pvt_v2.PVTv2")],
)
def test_family_page_gives_each_parameter_its_own_sentence(built_docs, family, cls) -> None:
    entries = _documented_parameters(built_docs, f"models/generated/family-{family}", cls)
    names = [name for name, _ in entries]
    assert len(names) == len(set(names)), names
    descriptions = dict(entries)
    for name in SPLIT_PARAMETERS:
        assert descriptions.get(name), f"{name} has no entry of its own: {names}"
    chosen = [descriptions[name] for name in SPLIT_PARAMETERS]
    assert len(set(chosen)) == len(chosen), "two parameters share one description"
    # The family page starts with the family module's docstring, from the plugin.
    import importlib
    import inspect

    summary = inspect.getdoc(importlib.import_module(cls.rpartition(".")[0])).split("\n")[0]
    assert built_docs.text(f"models/generated/family-{family}").startswith(
        f'id="furo-main-content"> {family} family¶ {summary}'
    )


def test_pvt_medium_page_does_not_pair_the_default_with_the_papers_top1(built_docs) -> None:
    text = built_docs.text("models/generated/pvt_medium")
    head = text[: text.index("Total Parameters")]
    # The paper's figure is the paper layout's, and the page says so.
    assert "81.2% ImageNet-1k top-1 for its layout, attn_proj=True" in head
    assert "the default layout has no published accuracy" in head
    assert "builds the layout these weights need: attn_proj=True" in text


def test_models_api_page_starts_with_what_users_call(built_docs) -> None:
    page = built_docs.page("api/models")
    ids = re.findall(r'id="(lucid\.models\.\w+)"', page)
    assert ids[:3] == [
        "lucid.models.create_model",
        "lucid.models.list_models",
        "lucid.models.model_info",
    ], ids[:5]


def _page_examples(built_docs, name: str) -> doctest.DocTest:
    source = (built_docs.html / "_sources/models/generated" / f"{name}.rst.txt").read_text()
    return doctest.DocTestParser().get_doctest(source, {}, name, f"{name}.rst", 0)


@pytest.mark.parametrize("name", ["pvt_tiny", "pvt_medium", "pvt_v2_b0"])
def test_generated_examples_run(built_docs, name: str) -> None:
    # Every page's example comes from one template: running it for a few
    # models (pvt_medium: the spec page) checks the template and the figures.
    test = _page_examples(built_docs, name)
    assert len(test.examples) >= 6
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    runner.run(test)
    assert runner.failures == 0, f"the example on the {name} page failed"


API_PAGES = {
    "lucid": "api/lucid",
    "lucid.autograd": "api/autograd",
    "lucid.data": "api/data",
    "lucid.nn": "api/nn",
    "lucid.nn.functional": "api/functional",
    "lucid.nn.init": "api/init",
    "lucid.nn.utils": "api/utils",
    "lucid.optim": "api/optim",
    "lucid.optim.lr_scheduler": "api/lr_scheduler",
    "lucid.models": "api/models",
    "lucid.vision.datasets": "api/vision",
    "lucid.vision.transforms": "api/vision",
}
# Documented under another name: lucid's grad-mode switches are lucid.autograd's.
DOCUMENTED_ELSEWHERE = {
    "lucid": {
        "no_grad",
        "enable_grad",
        "set_grad_enabled",
        "inference_mode",
        "is_grad_enabled",
        "is_inference_mode_enabled",
    }
}


@pytest.mark.parametrize("module_name", sorted(API_PAGES))
def test_api_reference_documents_every_public_name(built_docs, module_name: str) -> None:
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    page = built_docs.page(API_PAGES[module_name])
    public = getattr(module, "__all__", None) or [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) == module_name
    ]
    missing = [
        name
        for name in public
        if not name.startswith("__")
        and not inspect.ismodule(getattr(module, name))
        and name not in DOCUMENTED_ELSEWHERE.get(module_name, set())
        and f'id="{module_name}.{name}"' not in page
    ]
    assert not missing, f"{module_name}: not in the API reference: {missing}"

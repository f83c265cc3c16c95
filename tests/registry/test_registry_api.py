"""``@register_model`` and the lookup API, in process, on an empty registry per test."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lucid
import lucid.models
from lucid import nn
from lucid._serialization import save
from lucid.models import (
    DuplicateModelError,
    PluginWarning,
    UnknownModelError,
    _plugins,
    create_model,
    hookimpl,
    is_model,
    list_models,
    list_plugins,
    model_info,
    plugin_errors,
    register_model,
)
from lucid.models._registry import REGISTRY

pytestmark = pytest.mark.usefixtures("fresh_registry")

FAMILY = __name__.rpartition(".")[2]


def _define_linear(name: str) -> Callable[..., nn.Module]:
    """A builder defined at the same place on every call, like a re-run notebook cell."""

    @register_model(name=name)
    def build(out_features: int = 2, bias: bool = True) -> nn.Module:
        """A 4-in linear layer."""
        return nn.Linear(4, out_features, bias=bias)

    return build


def _plugin(name: str, hook: Callable[..., None]) -> types.ModuleType:
    module = types.ModuleType(f"fake_{name}")
    module.register_models = hookimpl(hook)
    return module


def _load(plugin: types.ModuleType, name: str) -> None:
    _plugins.load_plugin(lambda: plugin, name=name, distribution=f"lucid-{name}", version="9.9")


# -------------------------------------------------------------- decorator ---


def test_decorator_returns_the_function_itself_with_signature_and_doc() -> None:
    def tiny_net(width: int = 3) -> nn.Module:
        """Docstring kept for autodoc."""
        return nn.Linear(width, width)

    signature = inspect.signature(tiny_net)
    assert register_model(tiny_net) is tiny_net
    assert inspect.signature(tiny_net) == signature
    assert tiny_net.__doc__ == "Docstring kept for autodoc."
    assert lucid.models.tiny_net is tiny_net
    assert create_model("tiny_net").weight.shape == (3, 3)


def test_metadata_of_a_direct_registration() -> None:
    build = _define_linear("tiny_linear")
    info = model_info("tiny_linear")
    assert info.builder is build
    assert (info.name, info.family, info.module) == ("tiny_linear", FAMILY, build.__module__)
    assert info.qualname == "_define_linear.<locals>.build"
    assert info.defaults == {"out_features": 2, "bias": True}
    assert list(info.signature.parameters) == ["out_features", "bias"]
    assert info.signature.parameters["bias"].annotation is bool  # evaluated, not 'bool'
    assert (info.plugin, info.distribution, info.version) == (None, None, None)
    assert info.summary == "A 4-in linear layer."
    assert info.num_params == 4 * 2 + 2
    data = json.loads(json.dumps(info.to_dict()))
    assert data["signature"].startswith("tiny_linear(out_features: int = 2, bias: bool = True) ->")
    assert data["defaults"] == {"out_features": 2, "bias": True}


def test_name_and_family_arguments() -> None:
    @register_model(name="renamed", family="toys")
    def original() -> nn.Module:
        return nn.Linear(1, 1)

    assert list_models() == ["renamed"]
    assert model_info("renamed").family == "toys"
    assert not is_model("original")


def test_registering_the_same_function_again_updates_it() -> None:
    first = _define_linear("tiny_linear")
    second = _define_linear("tiny_linear")  # a new object for the same definition
    assert first is not second
    assert lucid.models.tiny_linear is second
    assert list_models() == ["tiny_linear"]


def test_another_function_under_a_taken_name_names_both_sources() -> None:
    _define_linear("taken")

    with pytest.raises(DuplicateModelError) as caught:

        @register_model(name="taken")
        def other() -> nn.Module:
            return nn.Linear(1, 1)

    message = str(caught.value)
    assert "'taken'" in message
    assert "_define_linear.<locals>.build" in message
    assert "test_another_function_under_a_taken_name_names_both_sources.<locals>.other" in message
    assert "register_model(name=" in message
    assert caught.value.model_name == "taken"
    assert len(caught.value.sources) == 2


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "is not usable"),
        ("my model", "is not usable"),
        ("1abc", "is not usable"),
        ("has-dash", "is not usable"),
        ("_hidden", "is not usable"),
        ("__init__", "is not usable"),
        ("class", "is not usable"),
        ("list_models", "would hide lucid.models.list_models"),
        ("create_model", "would hide lucid.models.create_model"),
        ("os", "would hide lucid.models.os"),
    ],
)
def test_unusable_names_are_refused_and_leave_nothing(name: str, match: str) -> None:
    def build() -> nn.Module:
        return nn.Linear(1, 1)

    build.__name__ = name
    for register in (register_model(name=name), register_model):
        with pytest.raises(ValueError, match=match):
            register(build)
    assert list_models() == []
    assert not hasattr(build, "_lucid_model_infos")


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(ValueError, match=r"'<lambda>' .* is not usable"):
        register_model(lambda: nn.Linear(1, 1))
    assert register_model(name="named_lambda")(lambda: nn.Linear(1, 1))().weight.shape == (1, 1)


def test_decorator_called_with_a_name_positionally_explains_itself() -> None:
    with pytest.raises(TypeError, match=r"@register_model\(name="):
        register_model("tiny")  # type: ignore[call-overload]


# ----------------------------------------------------------------- lookup ---


def test_unknown_name_suggests_close_matches() -> None:
    _define_linear("pvt_medium_like")
    with pytest.raises(UnknownModelError) as caught:
        create_model("pvt_medum_like")
    assert str(caught.value) == "unknown model 'pvt_medum_like'; did you mean 'pvt_medium_like'?"
    assert caught.value.suggestions == ["pvt_medium_like"]
    with pytest.raises(KeyError):
        model_info("nothing_like_it")
    with pytest.raises(AttributeError, match="did you mean 'pvt_medium_like'"):
        lucid.models.pvt_medium_lik  # noqa: B018


def test_unknown_name_without_any_model_says_how_to_get_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(_plugins.DISABLE_AUTOLOAD_ENV)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kwargs: [])
    with pytest.raises(UnknownModelError, match="install a model plugin"):
        create_model("anything")


def test_unknown_name_with_autoload_disabled_says_so() -> None:
    _define_linear("tiny_linear")
    with pytest.raises(UnknownModelError) as caught:
        create_model("pvt_tiny")
    assert str(caught.value) == (
        "unknown model 'pvt_tiny'; plugin loading is switched off "
        "(LUCID_DISABLE_PLUGIN_AUTOLOAD=1); unset it to load the installed plugins"
    )


def test_private_attributes_do_not_trigger_discovery() -> None:
    with pytest.raises(AttributeError, match="has no attribute '_nothing'") as caught:
        lucid.models._nothing  # noqa: B018
    assert not isinstance(caught.value, UnknownModelError)
    assert not REGISTRY.loaded


def test_list_models_sorts_naturally_and_filters() -> None:
    for name in ("net_b10", "net_b2", "net_b1", "other_a"):
        _define_linear(name)

    @register_model(family="special")
    def net_special() -> nn.Module:
        return nn.Linear(1, 1)

    assert list_models() == ["net_b1", "net_b2", "net_b10", "net_special", "other_a"]
    assert list_models("net_b?") == ["net_b1", "net_b2"]
    assert list_models("net_*", family=FAMILY) == ["net_b1", "net_b2", "net_b10"]
    assert list_models(family="special") == ["net_special"]
    assert list_models("NET_*") == []  # patterns are case-sensitive
    assert is_model("net_b2") and not is_model("net_b3")


def test_dir_lists_api_and_models() -> None:
    _define_linear("tiny_linear")
    names = dir(lucid.models)
    assert "tiny_linear" in names
    assert set(lucid.models.__all__) <= set(names)
    assert "tiny_linear" not in lucid.models.__all__


# ------------------------------------------------------------ create_model ---


def test_create_model_kwargs_override_defaults() -> None:
    _define_linear("tiny_linear")
    assert create_model("tiny_linear").weight.shape == (2, 4)
    model = create_model("tiny_linear", out_features=5, bias=False)
    assert model.weight.shape == (5, 4)
    assert model.bias is None


def test_create_model_loads_a_checkpoint_strictly(tmp_path: Path) -> None:
    _define_linear("tiny_linear")
    source = create_model("tiny_linear", out_features=3)
    path = tmp_path / "tiny.safetensors"
    save(source.state_dict(), path)

    loaded = create_model("tiny_linear", checkpoint_path=path, out_features=3)
    for name, tensor in source.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name].data, tensor.data)

    with pytest.raises(RuntimeError) as caught:
        create_model("tiny_linear", checkpoint_path=path)  # 2 outputs, file has 3
    message = str(caught.value)
    assert str(path) in message and "'tiny_linear'" in message


def test_model_info_counts_parameters_once() -> None:
    built = []

    @register_model
    def counted(features: int = 3) -> nn.Module:
        built.append(features)
        return nn.Linear(features, 2)

    assert model_info("counted", count_params=False).num_params is None
    assert built == []
    assert model_info("counted").num_params == 3 * 2 + 2
    assert model_info("counted").num_params == 8
    assert built == [3]
    assert model_info("counted", count_params=False).num_params == 8


# ------------------------------------------------------ plugins in process ---


def test_plugin_models_are_attributed_to_the_plugin() -> None:
    def hook(register: Callable[[Any], None]) -> None:
        register(_define_linear("fake_net"))

    _load(_plugin("fake", hook), "fake")
    info = model_info("fake_net")
    assert (info.plugin, info.distribution, info.version) == ("fake", "lucid-fake", "9.9")
    assert list_models(plugin="fake") == ["fake_net"]
    assert list_models(plugin="lucid-fake") == ["fake_net"]
    assert list_models(plugin="other") == []
    (plugin,) = list_plugins()
    assert (plugin.name, plugin.models, plugin.errors) == ("fake", ("fake_net",), ())


def test_plugin_clashing_with_a_direct_registration_blocks_only_that_name() -> None:
    _define_linear("shared")

    def hook(register: Callable[[Any], None]) -> None:
        @register_model(name="shared")
        def own() -> nn.Module:
            return nn.Linear(1, 1)

        register(own)
        register(_define_linear("fake_only"))

    with pytest.warns(PluginWarning, match="'shared'"):
        _load(_plugin("fake", hook), "fake")
    assert list_models() == ["fake_only"]
    (error,) = plugin_errors()
    assert (error.plugin, error.stage) == ("fake", "conflict")
    assert isinstance(error.error, DuplicateModelError)
    with pytest.raises(DuplicateModelError, match=r"_define_linear\.<locals>\.build"):
        create_model("shared")
    # A user's later registration of the blocked name fails at once too.
    with pytest.raises(DuplicateModelError):
        _define_linear("shared")


def test_user_registration_clashing_with_a_plugin_raises_at_once() -> None:
    _load(_plugin("fake", lambda register: register(_define_linear("fake_net"))), "fake")

    with pytest.raises(DuplicateModelError, match=r"plugin 'fake', lucid-fake 9\.9"):

        @register_model(name="fake_net")
        def mine() -> nn.Module:
            return nn.Linear(1, 1)


@pytest.mark.parametrize(
    ("hook", "stage", "match"),
    [
        (lambda register: register(42), "register", "takes a module or a model builder"),
        (
            lambda register: register(types.ModuleType("empty")),
            "register",
            "defines no @register_model builders",
        ),
        # A hook argument the spec does not offer.
        (
            lambda registry: None,
            "register",
            "{'registry'} are declared in the hookimpl but can not be found",
        ),
    ],
)
def test_faulty_plugins_are_reported_not_raised(
    hook: Callable[..., None], stage: str, match: str
) -> None:
    with pytest.warns(PluginWarning, match="lucid plugin 'faulty'.*lucid-faulty 9.9"):
        _load(_plugin("faulty", hook), "faulty")
    (error,) = plugin_errors()
    assert (error.plugin, error.stage, error.distribution) == ("faulty", stage, "lucid-faulty")
    assert match in error.message


def test_hookless_plugin_keeps_what_its_module_decorated() -> None:
    def plugin_module() -> types.ModuleType:
        module = types.ModuleType("fake_hookless")
        exec(
            "from lucid import nn\n"
            "from lucid.models import register_model\n"
            "@register_model\n"
            "def hookless_net():\n"
            "    return nn.Linear(1, 1)\n",
            vars(module),
        )
        return module

    _plugins.load_plugin(
        plugin_module, name="hookless", distribution="lucid-hookless", version="1.0"
    )
    info = model_info("hookless_net")
    assert (info.plugin, info.distribution, info.version) == ("hookless", "lucid-hookless", "1.0")
    assert plugin_errors() == []


def test_unmarked_hook_is_reported() -> None:
    module = types.ModuleType("fake_unmarked")
    module.register_models = lambda register: None  # type: ignore[attr-defined]
    with pytest.warns(PluginWarning, match="without marking it; decorate it with"):
        _load(module, "unmarked")
    (error,) = plugin_errors()
    assert (error.plugin, error.stage) == ("unmarked", "register")


def test_register_kept_past_the_hook_is_refused() -> None:
    kept: list[Callable[[Any], None]] = []

    def hook(register: Callable[[Any], None]) -> None:
        kept.append(register)
        register(_define_linear("early_net"))

    def late_net() -> nn.Module:
        return nn.Linear(1, 1)

    _load(_plugin("keeper", hook), "keeper")
    with pytest.raises(RuntimeError, match="after it finished loading"):
        kept[0](late_net)
    assert list_models() == ["early_net"]


def test_snapshot_and_restore_bring_back_models_and_plugins() -> None:
    _define_linear("kept_net")
    _load(_plugin("fake", lambda register: register(_define_linear("fake_net"))), "fake")
    saved = REGISTRY.snapshot()
    REGISTRY.reset()
    assert list_models() == [] and list_plugins() == []
    _define_linear("other_net")
    REGISTRY.restore(saved)
    assert list_models() == ["fake_net", "kept_net"]
    assert [p.name for p in list_plugins()] == ["fake"]


def test_plugin_registering_nothing_and_failing_import_are_reported() -> None:
    def failing_import() -> object:
        raise ImportError("no module named 'missing_dependency'")

    with pytest.warns(PluginWarning) as caught:
        _plugins.load_plugin(lambda: types.ModuleType("hookless"), name="hookless")
        _plugins.load_plugin(failing_import, name="broken", value="broken_pkg:plugin")
    assert [e.stage for e in plugin_errors()] == ["register", "import"]
    assert "hookless registered no model" in str(caught[0].message)
    assert "entry point broken = broken_pkg:plugin" in str(caught[1].message)
    assert "missing_dependency" in str(caught[1].message)


def test_model_info_counts_a_builder_that_writes_its_weights_by_hand() -> None:
    @register_model
    def hand_written() -> nn.Module:
        layer = nn.Linear(3, 2)
        layer.weight.data[...] = 1.0  # refused by a meta_init placeholder
        return layer

    assert model_info("hand_written").num_params == 3 * 2 + 2

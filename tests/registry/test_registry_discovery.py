"""Plugin discovery through real entry-point metadata, each case in a fresh process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURE_PLUGINS = "good,broken,hookfail,twin_a,twin_b"


@pytest.fixture(scope="module")
def everything(plugin_site: Callable[..., Path], probe: Callable[..., Any]) -> dict[str, Any]:
    """One process loading a good plugin beside every kind of broken one."""
    site = plugin_site("good", "broken", "hookfail", "twins")
    return probe(site, {"LUCID_PLUGINS": FIXTURE_PLUGINS})


def _errors(report: dict[str, Any], plugin: str) -> list[dict[str, Any]]:
    return [e for e in report["errors"] if e["plugin"] == plugin]


def test_good_plugin_models_are_registered_with_their_source(everything: dict[str, Any]) -> None:
    models = everything["models"]
    assert {"tiny_mlp_b2", "tiny_mlp_b10", "tiny_probe"} <= set(models)
    mlp = models["tiny_mlp_b2"]
    assert mlp["plugin"] == "good"
    assert (mlp["distribution"], mlp["version"]) == ("lucid-fixture-good", "1.0")
    assert (mlp["module"], mlp["family"]) == ("lucid_fixture_good.tiny", "tiny")
    assert mlp["defaults"] == {"out_features": 2}
    assert mlp["summary"] == "A 4-to-2 linear layer."
    assert (models["tiny_probe"]["family"], models["tiny_probe"]["qualname"]) == (
        "probes",
        "build_probe",
    )
    assert _errors(everything, "good") == []
    good = next(p for p in everything["plugins"] if p["name"] == "good")
    assert good["models"] == ["tiny_mlp_b2", "tiny_mlp_b10", "tiny_probe"]


def test_plugin_failing_on_import_is_skipped_with_a_warning(everything: dict[str, Any]) -> None:
    (error,) = _errors(everything, "broken")
    assert error["stage"] == "import"
    assert (error["distribution"], error["version"]) == ("lucid-fixture-broken", "0.3")
    assert "not_installed_anywhere" in error["error"]
    (warning,) = [w for w in everything["warnings"] if "'broken'" in w]
    for part in ("lucid_fixture_broken", "lucid-fixture-broken 0.3", "ImportError", "skipped"):
        assert part in warning


def test_plugin_whose_hook_raises_keeps_none_of_its_models(everything: dict[str, Any]) -> None:
    (error,) = _errors(everything, "hookfail")
    assert error["stage"] == "register"
    assert error["error"] == "RuntimeError: hookfail cannot find its weights index"
    assert (error["distribution"], error["version"]) == ("lucid-fixture-hookfail", "2.1")
    # It registered hookfail_net before raising: a half-loaded plugin leaves nothing.
    assert "hookfail_net" not in everything["models"]
    assert any("'hookfail'" in w and "RuntimeError" in w for w in everything["warnings"])


def test_two_plugins_claiming_one_name_block_it_and_keep_the_rest(
    everything: dict[str, Any],
) -> None:
    assert {"twin_a_only", "twin_b_only"} <= set(everything["models"])
    assert "twin_net" not in everything["models"]
    # Plugins load in entry-point name order: the second one meets the clash.
    assert _errors(everything, "twin_a") == []
    (error,) = _errors(everything, "twin_b")
    assert error["stage"] == "conflict"
    for part in (
        "'twin_net'",
        "lucid_fixture_twin_a.twin_net",
        "lucid-fixture-twin-a 1.0",
        "lucid_fixture_twin_b.twin_net",
        "lucid-fixture-twin-b 2.0",
    ):
        assert part in error["error"]
    assert any("twin_net" in w for w in everything["warnings"])


def test_blocked_name_raises_the_conflict_when_used(
    plugin_site: Callable[..., Path], run_json: Callable[..., Any]
) -> None:
    report = run_json(
        """
        import json, warnings
        warnings.simplefilter("ignore")
        import lucid.models as models
        outcome = {}
        for how, get in [
            ("attribute", lambda: models.twin_net),
            ("create_model", lambda: models.create_model("twin_net")),
        ]:
            try:
                get()
            except models.DuplicateModelError as exc:
                outcome[how] = str(exc)
        outcome["is_model"] = models.is_model("twin_net")
        print(json.dumps(outcome))
        """,
        plugin_site("twins"),
        {"LUCID_PLUGINS": "twin_a,twin_b"},
    )
    assert "lucid_fixture_twin_a.twin_net" in report["attribute"]
    assert "lucid_fixture_twin_b.twin_net" in report["create_model"]
    assert report["is_model"] is False


def test_attribute_access_returns_the_plugin_builder_itself(
    plugin_site: Callable[..., Path], run_json: Callable[..., Any]
) -> None:
    report = run_json(
        """
        import json
        import lucid.models
        builder = lucid.models.tiny_mlp_b2  # first access: discovery runs here
        from lucid_fixture_good import tiny
        model = lucid.models.create_model("tiny_mlp_b10", out_features=3)
        print(json.dumps({
            "identity": builder is tiny.tiny_mlp_b2,
            "shape": list(model.weight.shape),
            "in_dir": "tiny_probe" in dir(lucid.models),
        }))
        """,
        plugin_site("good"),
        {"LUCID_PLUGINS": "good"},
    )
    assert report == {"identity": True, "shape": [3, 4], "in_dir": True}


def test_all_installed_plugins_load_without_a_filter(
    plugin_site: Callable[..., Path], probe: Callable[..., Any]
) -> None:
    report = probe(plugin_site("good", "broken"))
    assert {"tiny_mlp_b2", "tiny_probe"} <= set(report["models"])
    assert {p["name"] for p in report["plugins"]} >= {"good", "broken"}


def test_disable_autoload_loads_no_plugin(
    plugin_site: Callable[..., Path], probe: Callable[..., Any]
) -> None:
    report = probe(plugin_site("good", "broken"), {"LUCID_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert report == {"models": {}, "plugins": [], "errors": [], "warnings": [], "imported": []}


def test_lucid_plugins_limits_loading_to_named_entry_points(
    plugin_site: Callable[..., Path], probe: Callable[..., Any]
) -> None:
    report = probe(plugin_site("good", "broken"), {"LUCID_PLUGINS": " good , nosuch"})
    assert [p["name"] for p in report["plugins"]] == ["good"]
    assert report["errors"] == []
    assert report["imported"] == ["lucid_fixture_good", "lucid_fixture_good.tiny"]
    (warning,) = report["warnings"]
    assert "LUCID_PLUGINS names nosuch" in warning
    assert "broken" in warning and "good" in warning  # the installed names, to pick from


def test_module_imported_before_discovery_is_attributed_to_its_plugin(
    plugin_site: Callable[..., Path], run_json: Callable[..., Any]
) -> None:
    report = run_json(
        """
        import json
        from lucid.models._registry import REGISTRY
        import lucid_fixture_good.tiny  # registers directly, before any discovery
        before = REGISTRY.get("tiny_mlp_b2")
        import lucid.models
        after = lucid.models.model_info("tiny_mlp_b2")
        print(json.dumps({
            "before": [before.plugin, before.distribution, before.version],
            "after": [after.plugin, after.distribution, after.version],
            "params": after.num_params,
            "same": after.builder is lucid_fixture_good.tiny.tiny_mlp_b2,
        }))
        """,
        plugin_site("good"),
        {"LUCID_PLUGINS": "good"},
    )
    # Found through importlib.metadata.packages_distributions() for a direct registration.
    assert report["before"] == [None, "lucid-fixture-good", "1.0"]
    assert report["after"] == ["good", "lucid-fixture-good", "1.0"]
    assert report["params"] == 4 * 2 + 2
    assert report["same"] is True


def test_import_lucid_imports_no_plugin(
    plugin_site: Callable[..., Path], run_json: Callable[..., Any]
) -> None:
    report = run_json(
        """
        import json, sys
        import lucid
        import lucid.models
        from lucid.models import register_model, hookimpl
        print(json.dumps(sorted(
            name for name in sys.modules
            if name.startswith(("lucid_models_pvt", "lucid_fixture"))
        )))
        """,
        plugin_site("good"),
    )
    assert report == []


def test_concurrent_first_access_loads_each_plugin_once(
    plugin_site: Callable[..., Path], run_json: Callable[..., Any]
) -> None:
    report = run_json(
        """
        import collections, json, threading
        from lucid.models import _registry

        added = collections.Counter()
        insert = _registry.REGISTRY._insert
        def counting_insert(info, **kwargs):
            added[info.name] += 1
            return insert(info, **kwargs)
        _registry.REGISTRY._insert = counting_insert

        import lucid.models as models
        first_accesses = [
            lambda: models.list_models(),
            lambda: models.is_model("slow_net_0"),
            lambda: dir(models),
            lambda: models.slow_net_1,
            lambda: models.create_model("slow_net_2"),
            lambda: models.list_plugins(),
            lambda: models.model_info("slow_net_3"),
            lambda: models.list_models("slow_*"),
        ]
        barrier = threading.Barrier(len(first_accesses))
        seen = [None] * len(first_accesses)
        def race(i):
            barrier.wait()
            first_accesses[i]()
            seen[i] = models.list_models()
        threads = [threading.Thread(target=race, args=(i,)) for i in range(len(seen))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        import lucid_fixture_slow
        print(json.dumps({"calls": lucid_fixture_slow.calls, "added": added, "seen": seen}))
        """,
        plugin_site("slow"),
        {"LUCID_PLUGINS": "slow"},
    )
    names = [f"slow_net_{i}" for i in range(4)]
    assert report["calls"] == 1
    assert report["added"] == dict.fromkeys(names, 1)
    assert report["seen"] == [names] * 8

"""Hostile and broken plugin distributions, each seen by a fresh process through its entry point."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

HOSTILE = ["simple", "badnames", "samename", "intruder", "sysexit", "threaded", "misspelt"]
HOSTILE_PLUGINS = "good,simple,badnames,same,pvt,exit_import,exit_hook,threaded,misspelt"

_HOSTILE_PROBE = """
import json, warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import lucid.models as models

    models.list_models()  # discovery; the SystemExit plugins must not end this program
    import lucid_fixture_threaded

    lucid_fixture_threaded.go.set()  # the thread the hook left running registers now
    lucid_fixture_threaded.late_thread.join()
    report = {
        "models": {
            name: models.model_info(name, count_params=False).to_dict()
            for name in models.list_models()
        },
        "plugins": [plugin.to_dict() for plugin in models.list_plugins()],
        "errors": [error.to_dict() for error in models.plugin_errors()],
    }
    import lucid_fixture_badnames

    report["badnames"] = lucid_fixture_badnames.outcomes
    try:
        models.create_model("list_models")
        report["create_list_models"] = "built"
    except Exception as exc:
        report["create_list_models"] = type(exc).__name__
    report["list_models_is_the_api"] = models.list_models.__module__ == "lucid.models"
report["warnings"] = [str(w.message) for w in caught if w.category is models.PluginWarning]
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def hostile(plugin_site: Callable[..., Path], run_json: Callable[..., Any]) -> dict[str, Any]:
    """One process loading the good plugin, lucid-models-pvt and every hostile fixture."""
    site = plugin_site("good", *HOSTILE)
    return run_json(_HOSTILE_PROBE, site, {"LUCID_PLUGINS": HOSTILE_PLUGINS})


def _plugin(report: dict[str, Any], name: str, distribution: str) -> dict[str, Any]:
    (plugin,) = [
        p for p in report["plugins"] if (p["name"], p["distribution"]) == (name, distribution)
    ]
    return plugin


def _errors(report: dict[str, Any], plugin: str) -> list[dict[str, Any]]:
    return [e for e in report["errors"] if e["plugin"] == plugin]


def _source(model: dict[str, Any]) -> tuple[str, str, str]:
    return model["plugin"], model["distribution"], model["version"]


def test_simplest_plugin_registers_exactly_its_decorated_builders(
    hostile: dict[str, Any],
) -> None:
    models = hostile["models"]
    assert _source(models["simple_net"]) == ("simple", "lucid-fixture-simple", "0.1")
    assert _source(models["simple_probe"]) == ("simple", "lucid-fixture-simple", "0.1")
    assert models["simple_probe"]["family"] == "probes"
    assert models["simple_net"]["summary"] == "A 3-to-2 linear layer."
    assert "helper" not in models  # defined there, but not decorated
    plugin = _plugin(hostile, "simple", "lucid-fixture-simple")
    assert (plugin["models"], plugin["errors"]) == (["simple_net", "simple_probe"], [])
    assert not [w for w in hostile["warnings"] if "'simple'" in w]


def test_unusable_names_are_refused_on_the_hook_routes(hostile: dict[str, Any]) -> None:
    outcomes = hostile["badnames"]
    # Each bad name through register(function) and through @register_model(name=...).
    assert len(outcomes) == 2 * 7 + 1
    for label, outcome in outcomes.items():
        assert outcome.startswith("ValueError: model name"), (label, outcome)
    for route in ("register({!r})", "register_model(name={!r})"):
        assert "is not usable" in outcomes[route.format("my model")]
        assert "is not usable" in outcomes[route.format("class")]
        assert "would hide lucid.models.list_models" in outcomes[route.format("list_models")]
        assert "would hide lucid.models.create_model" in outcomes[route.format("create_model")]
    assert "'<lambda>'" in outcomes["register(lambda)"]
    assert _source(hostile["models"]["badnames_ok"])[0] == "badnames"
    assert {"", "my model", "1abc", "__init__", "class", "ok"}.isdisjoint(hostile["models"])
    assert hostile["create_list_models"] == "UnknownModelError"
    assert hostile["list_models_is_the_api"] is True


def test_one_entry_point_name_in_two_distributions_loads_both(hostile: dict[str, Any]) -> None:
    models = hostile["models"]
    assert _source(models["same_a_net"]) == ("same", "lucid-fixture-same-a", "1.0")
    assert _source(models["same_b_net"]) == ("same", "lucid-fixture-same-b", "2.0")
    assert _plugin(hostile, "same", "lucid-fixture-same-a")["models"] == ["same_a_net"]
    assert _plugin(hostile, "same", "lucid-fixture-same-b")["models"] == ["same_b_net"]
    # Both define shared_net: the clash names both distributions, and neither is picked.
    assert "shared_net" not in models
    (conflict,) = _errors(hostile, "same")
    assert (conflict["stage"], conflict["distribution"]) == ("conflict", "lucid-fixture-same-b")
    for part in ("'shared_net'", "lucid-fixture-same-a 1.0", "lucid-fixture-same-b 2.0"):
        assert part in conflict["error"]


def test_a_third_party_entry_point_named_pvt_leaves_the_pvt_plugin_intact(
    hostile: dict[str, Any],
) -> None:
    models = hostile["models"]
    pvt_models = [n for n, m in models.items() if m["distribution"] == "lucid-models-pvt"]
    assert len(pvt_models) == 12 and "pvt_tiny" in pvt_models
    assert all(models[n]["plugin"] == "pvt" for n in pvt_models)
    assert _source(models["intruder_net"]) == ("pvt", "lucid-fixture-intruder", "6.6")
    real = _plugin(hostile, "pvt", "lucid-models-pvt")
    intruder = _plugin(hostile, "pvt", "lucid-fixture-intruder")
    assert sorted(real["models"]) == sorted(pvt_models)
    assert (intruder["models"], intruder["errors"], real["errors"]) == (["intruder_net"], [], [])


def test_system_exit_in_import_or_hook_is_reported_like_any_failure(
    hostile: dict[str, Any],
) -> None:
    (on_import,) = _errors(hostile, "exit_import")
    assert (on_import["stage"], on_import["error"]) == ("import", "SystemExit: 7")
    (in_hook,) = _errors(hostile, "exit_hook")
    assert (in_hook["stage"], in_hook["error"]) == ("register", "SystemExit: 7")
    assert "exit_hook_net" not in hostile["models"]  # registered before the exit: dropped
    assert any("'exit_import'" in w and "SystemExit" in w for w in hostile["warnings"])
    assert any("'exit_hook'" in w and "SystemExit" in w for w in hostile["warnings"])


def test_models_registered_from_threads_a_plugin_starts_are_attributed_to_it(
    hostile: dict[str, Any],
) -> None:
    models = hostile["models"]
    assert _source(models["threaded_net"]) == ("threaded", "lucid-fixture-threaded", "1.0")
    assert _source(models["threaded_late_net"]) == ("threaded", "lucid-fixture-threaded", "1.0")
    plugin = _plugin(hostile, "threaded", "lucid-fixture-threaded")
    assert plugin["models"] == ["threaded_late_net", "threaded_net"]


def test_misspelt_hook_is_reported_with_the_right_name(hostile: dict[str, Any]) -> None:
    (error,) = _errors(hostile, "misspelt")
    assert error["stage"] == "register"
    assert "unknown hook `register_model`; did you mean `register_models`?" in error["error"]
    assert "misspelt_net" not in hostile["models"]


def test_keyboard_interrupt_propagates_and_a_retry_loads_each_plugin_once(
    plugin_site: Callable[..., Path], run_json: Callable[..., Any]
) -> None:
    report = run_json(
        """
        import json
        import lucid.models as models

        interrupts = 0
        for attempt in range(3):
            try:
                models.list_models()
                break
            except KeyboardInterrupt:
                interrupts += 1
        import lucid_fixture_interrupt_hook
        print(json.dumps({
            "interrupts": interrupts,
            "hook_calls": lucid_fixture_interrupt_hook.calls,
            "plugins": [p.to_dict() for p in models.list_plugins()],
            "models": {
                n: models.model_info(n, count_params=False).plugin for n in models.list_models()
            },
        }))
        """,
        plugin_site("good", "interrupt"),
        {"LUCID_PLUGINS": "good,interrupt_hook,interrupt_import"},
    )
    # Once in the hook, once in the import (plugins load in name order).
    assert (report["interrupts"], report["hook_calls"]) == (2, 2)
    assert [(p["name"], p["models"], p["errors"]) for p in report["plugins"]] == [
        ("good", ["tiny_mlp_b2", "tiny_mlp_b10", "tiny_probe"], []),
        ("interrupt_hook", ["interrupt_hook_net"], []),
        ("interrupt_import", ["interrupt_import_net"], []),
    ]
    assert report["models"] == {
        "interrupt_hook_net": "interrupt_hook",
        "interrupt_import_net": "interrupt_import",
        "tiny_mlp_b2": "good",
        "tiny_mlp_b10": "good",
        "tiny_probe": "good",
    }


def test_lucid_plugins_survives_system_exit_and_exits_1(
    run_python: Run, plugin_site: Callable[..., Path]
) -> None:
    site = plugin_site("good", "sysexit")
    env = {"LUCID_PLUGINS": "good,exit_import,exit_hook"}
    result = run_python(["-m", "lucid", "plugins"], site, env)
    assert result.returncode == 1, result.stderr  # not the plugins' 7
    assert "exit_import from lucid-fixture-exit-import 1.0 (import): SystemExit: 7" in result.stdout
    assert "exit_hook from lucid-fixture-exit-hook 1.0 (register): SystemExit: 7" in result.stdout
    listing = run_python(["-m", "lucid", "models", "list"], site, env)
    assert listing.returncode == 0, listing.stderr
    assert [row.split()[0] for row in listing.stdout.splitlines()[1:]] == [
        "tiny_mlp_b2",
        "tiny_mlp_b10",
        "tiny_probe",
    ]


def test_each_builder_is_described_once(run_json: Callable[..., Any]) -> None:
    report = run_json(
        """
        import json
        from lucid.models import _registry

        described = []
        signature = _registry._signature
        def counting_signature(fn):
            described.append(fn.__name__)
            return signature(fn)
        _registry._signature = counting_signature

        import lucid.models as models
        names = models.list_models()
        infos = [models.model_info(name, count_params=False) for name in names]
        print(json.dumps({"described": described, "names": names}))
        """,
        env={"LUCID_PLUGINS": "pvt"},
    )
    assert len(report["names"]) == 12
    assert sorted(report["described"]) == sorted(report["names"])

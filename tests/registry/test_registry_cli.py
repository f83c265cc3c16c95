"""The ``lucid`` command line, run in subprocesses against fixture plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def lucid_cli(run_python: Run, plugin_site: Callable[..., Path]) -> Run:
    """``lucid_cli(*args)``: ``python -m lucid ARGS`` seeing the good and broken fixture plugins."""
    site = plugin_site("good", "broken")
    return lambda *args: run_python(["-m", "lucid", *args], site, {"LUCID_PLUGINS": "good,broken"})


def test_models_list_text_is_aligned_and_naturally_sorted(lucid_cli: Run) -> None:
    result = lucid_cli("models", "list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "FAMILY", "PLUGIN", "DISTRIBUTION"]
    assert [row.split()[0] for row in rows] == ["tiny_mlp_b2", "tiny_mlp_b10", "tiny_probe"]
    assert rows[0].split()[1:] == ["tiny", "good", "lucid-fixture-good", "1.0"]
    column = header.index("PLUGIN")
    assert all(row[column:].startswith("good") for row in rows)
    # The broken plugin is reported on stderr, in one line, not as a Python warning.
    assert "lucid: warning: lucid plugin 'broken'" in result.stderr
    assert "PluginWarning" not in result.stderr


def test_models_list_json_with_filters(lucid_cli: Run) -> None:
    result = lucid_cli("models", "list", "tiny_*", "--family", "tiny", "--plugin", "good", "--json")
    assert result.returncode == 0, result.stderr
    models = json.loads(result.stdout)
    assert [m["name"] for m in models] == ["tiny_mlp_b2", "tiny_mlp_b10"]
    assert models[0]["distribution"] == "lucid-fixture-good"
    assert models[0]["summary"] == "A 4-to-2 linear layer."
    assert json.loads(lucid_cli("models", "list", "nothing*", "--json").stdout) == []


def test_models_info_text(lucid_cli: Run) -> None:
    result = lucid_cli("models", "info", "tiny_probe")
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert fields["signature"].startswith("tiny_probe(bias: bool = True)")
    assert fields["defaults"] == "bias=True"
    assert fields["family"] == "probes"
    assert fields["plugin"] == "good"
    assert fields["distribution"] == "lucid-fixture-good 1.0"
    assert fields["module"] == "lucid_fixture_good.tiny.build_probe"
    assert fields["parameters"] == "4"


def test_models_info_json(lucid_cli: Run) -> None:
    result = lucid_cli("models", "info", "tiny_mlp_b10", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["num_params"] == 4 * 10 + 10
    assert info["defaults"] == {"out_features": 10}
    assert (info["plugin"], info["version"]) == ("good", "1.0")


def test_unknown_model_exits_2_with_a_suggestion(lucid_cli: Run) -> None:
    result = lucid_cli("models", "info", "tiny_mlp_b3")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "lucid: error: unknown model 'tiny_mlp_b3'; did you mean 'tiny_mlp_b2'" in result.stderr


def test_plugins_text_and_json(lucid_cli: Run) -> None:
    result = lucid_cli("plugins")
    assert result.returncode == 1, result.stderr  # the broken plugin failed
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "MODELS", "STATUS"]
    assert lines[1].split() == ["broken", "lucid-fixture-broken", "0.3", "0", "1", "error"]
    assert lines[2].split() == ["good", "lucid-fixture-good", "1.0", "3", "ok"]
    assert (
        "broken from lucid-fixture-broken 0.3 (import): ImportError: lucid_fixture_broken needs"
        in result.stdout
    )
    assert result.stderr == ""  # the errors are the report here, not extra warnings

    result = lucid_cli("plugins", "--json")
    assert result.returncode == 1
    plugins = json.loads(result.stdout)
    assert [(p["name"], p["models"]) for p in plugins] == [
        ("broken", []),
        ("good", ["tiny_mlp_b2", "tiny_mlp_b10", "tiny_probe"]),
    ]
    (error,) = plugins[0]["errors"]
    assert (error["stage"], error["distribution"], error["version"]) == (
        "import",
        "lucid-fixture-broken",
        "0.3",
    )


def test_version_and_usage(run_python: Run) -> None:
    result = run_python(["-m", "lucid", "--version"])
    assert result.stdout == f"lucid {version('lucid')}\n"
    result = run_python(["-m", "lucid"])
    assert result.returncode == 2
    assert "models" in result.stderr and "plugins" in result.stderr


def test_console_script(run_python: Run, plugin_site: Callable[..., Path]) -> None:
    script = Path(sys.executable).with_name("lucid")
    if not script.exists():
        pytest.skip(f"no console script at {script}; reinstall lucid to create it")
    result = subprocess.run(
        [str(script), "models", "list", "--json"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(plugin_site("good")), "LUCID_PLUGINS": "good"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert [m["name"] for m in json.loads(result.stdout)][:1] == ["tiny_mlp_b2"]

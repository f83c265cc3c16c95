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


def test_summaries_are_plain_text(lucid_cli: Run) -> None:
    # The docstring says "A 4-to-10 :class:`~lucid.nn.Linear` layer (``out_features=10``)."
    plain = "A 4-to-10 Linear layer (out_features=10)."
    result = lucid_cli("models", "info", "tiny_mlp_b10")
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert fields["summary"] == plain
    listing = json.loads(lucid_cli("models", "list", "tiny_mlp_b10", "--json").stdout)
    assert listing[0]["summary"] == plain


def test_json_errors_are_json_objects(
    lucid_cli: Run, run_python: Run, plugin_site: Callable[..., Path]
) -> None:
    result = lucid_cli("models", "info", "tiny_mlp_b3", "--json")
    assert result.returncode == 2
    error = json.loads(result.stdout)
    assert error["error"].startswith("unknown model 'tiny_mlp_b3'; did you mean 'tiny_mlp_b2'")
    assert error["suggestions"][0] == "tiny_mlp_b2"
    assert set(error["suggestions"]) <= {"tiny_mlp_b2", "tiny_mlp_b10", "tiny_probe"}
    blocked = run_python(
        ["-m", "lucid", "models", "info", "twin_net", "--json"],
        plugin_site("twins"),
        {"LUCID_PLUGINS": "twin_a,twin_b"},
    )
    assert blocked.returncode == 1
    error = json.loads(blocked.stdout)
    assert error["suggestions"] == []
    assert "'twin_net' is registered by more than one source" in error["error"]


def test_unknown_model_with_autoload_disabled_says_so(
    run_python: Run, plugin_site: Callable[..., Path]
) -> None:
    result = run_python(
        ["-m", "lucid", "models", "info", "tiny_mlp_b2"],
        plugin_site("good"),
        {"LUCID_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "lucid: error: unknown model 'tiny_mlp_b2'; plugin loading is switched off "
        "(LUCID_DISABLE_PLUGIN_AUTOLOAD=1); unset it to load the installed plugins\n"
    )


def test_unknown_model_names_the_plugins_lucid_plugins_left_out(lucid_cli: Run) -> None:
    result = lucid_cli("models", "info", "pvt_tiny")  # lucid-models-pvt is installed
    assert result.returncode == 2
    assert "LUCID_PLUGINS='good,broken' left out the installed plugins " in result.stderr
    assert "pvt" in result.stderr.rpartition("left out the installed plugins ")[2]


def test_models_info_of_pvt_huge_allocates_no_weights(run_python: Run) -> None:
    # pvt_huge holds 287M parameters (1.1 GB of float32): built for real, the
    # peak resident memory would grow by more than ten times the bound.
    code = """
import contextlib, io, json, resource
import lucid, lucid.models, lucid._cli
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = io.StringIO()
with contextlib.redirect_stdout(out):
    status = lucid._cli.main(["models", "info", "pvt_huge", "--json"])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"status": status, "info": json.loads(out.getvalue()), "kib": after - before}))
"""
    result = run_python(["-c", code], env={"LUCID_PLUGINS": "pvt"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == 0
    assert report["info"]["num_params"] > 250_000_000
    assert report["kib"] < 100 * 1024, f"peak RSS grew by {report['kib'] / 1024:.0f} MB"


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

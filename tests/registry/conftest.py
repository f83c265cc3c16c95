"""Registry test fixtures: an empty registry, and fresh processes that see fixture plugins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lucid.models import _plugins
from lucid.models._registry import REGISTRY

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty registry that loads no entry point; the previous state comes back afterwards.

    Restoring (rather than clearing) keeps models that other test modules
    registered at import time.
    """
    saved = REGISTRY.snapshot()
    monkeypatch.setenv(_plugins.DISABLE_AUTOLOAD_ENV, "1")
    REGISTRY.reset()
    try:
        yield
    finally:
        REGISTRY.restore(saved)


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``plugin_site("good", "broken")``: a directory holding those fixture distributions.

    Each fixture directory holds a plugin's modules and its ``*.dist-info``
    (METADATA and entry_points.txt), as an installed distribution would, so
    ``importlib.metadata`` finds the entry points once the directory is on
    ``sys.path``.
    """

    def make(*scenarios: str) -> Path:
        site = tmp_path_factory.mktemp("site")
        for scenario in scenarios:
            shutil.copytree(FIXTURES / scenario, site, dirs_exist_ok=True)
        return site

    return make


def _run(
    args: list[str], site: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUCID_")}
    clean.pop("PYTHONPATH", None)
    if site is not None:
        clean["PYTHONPATH"] = str(site)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=clean, timeout=120
    )


@pytest.fixture(scope="session")
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(args, site=None, env=None)``: the test's Python in a fresh process.

    ``site`` goes on ``PYTHONPATH``; ``env`` is added to an environment without
    any ``LUCID_*`` variable of the outer run.
    """
    return _run


@pytest.fixture(scope="session")
def run_json() -> Callable[..., Any]:
    """``run_json(code, site=None, env=None)``: run ``code``, which prints JSON, and parse it."""

    def run(code: str, site: Path | None = None, env: dict[str, str] | None = None) -> Any:
        result = _run(["-c", textwrap.dedent(code)], site, env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return run


# Shared by the discovery tests: loads the plugins in a fresh process and
# reports what the registry ended up with, and the plugin warnings raised.
@pytest.fixture(scope="session")
def probe(run_json: Callable[..., Any]) -> Callable[..., Any]:
    """``probe(site, env)``: what a fresh process's registry holds, and the plugin warnings."""
    return lambda site, env=None: run_json(_PROBE, site, env)


_PROBE = """
import json, sys, warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import lucid.models as models

    report = {
        # Metadata only: no parameter count, so nothing is built.
        "models": {
            name: models.model_info(name, count_params=False).to_dict()
            for name in models.list_models()
        },
        "plugins": [plugin.to_dict() for plugin in models.list_plugins()],
        "errors": [error.to_dict() for error in models.plugin_errors()],
    }
report["warnings"] = [str(w.message) for w in caught if w.category is models.PluginWarning]
report["imported"] = sorted(name for name in sys.modules if name.startswith("lucid_fixture"))
print(json.dumps(report))
"""

"""Packaging: both wheels install into a fresh virtual environment and the plugin is found there."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    for project in (ROOT, ROOT / "lucid_models_pvt"):
        # --no-isolation builds with this environment's setuptools: no download.
        run(
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            out,
            project,
            cwd=out,
        )
    found = {p.name.split("-")[0]: p for p in out.glob("*.whl")}
    assert set(found) == {"lucid", "lucid_models_pvt"}, sorted(found)
    return found


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        wheels["lucid"],
        wheels["lucid_models_pvt"],
        cwd=env_dir,
    )
    return env_dir


def test_wheels_hold_only_their_packages(wheels: dict[str, Path]) -> None:
    core = {n.split("/")[0] for n in zipfile.ZipFile(wheels["lucid"]).namelist()}
    assert "lucid" in core
    assert not core & {"tests", "docs", "benchmarks", "examples", "lucid_models_pvt", "scripts"}
    plugin = zipfile.ZipFile(wheels["lucid_models_pvt"])
    assert "lucid_models_pvt/__init__.py" in plugin.namelist()
    entry_points = next(n for n in plugin.namelist() if n.endswith("entry_points.txt"))
    assert "[lucid.models]" in plugin.read(entry_points).decode()
    metadata = next(n for n in plugin.namelist() if n.endswith("METADATA"))
    # Only this repository's lucid can satisfy the plugin, never PyPI's unrelated one.
    assert "Requires-Dist: lucid==0.1.0+local" in plugin.read(metadata).decode()


def test_installed_plugin_is_discovered_through_its_entry_point(fresh_env: Path) -> None:
    python = fresh_env / "bin" / "python"
    script = (
        "import json, importlib.metadata as md, lucid, lucid.models as m\n"
        "eps = [ep.name for ep in md.entry_points(group='lucid.models')]\n"
        "print(json.dumps({'eps': eps, 'models': m.list_models(), 'file': lucid.__file__,\n"
        "    'is_pvt': m.pvt_medium.__module__, 'errors': [str(e) for e in m.plugin_errors()]}))\n"
    )
    # Run from the venv directory: the source tree must not be importable.
    result = json.loads(run(python, "-c", script, cwd=fresh_env))
    assert "pvt" in result["eps"]
    assert str(ROOT) not in result["file"] and "site-packages" in result["file"]
    assert {"pvt_tiny", "pvt_medium", "pvt_huge", "pvt_v2_b0", "pvt_v2_b2_li"} <= set(
        result["models"]
    )
    assert result["is_pvt"] == "lucid_models_pvt.pvt"
    assert result["errors"] == []


def test_installed_console_script_lists_the_plugin(fresh_env: Path) -> None:
    out = run(fresh_env / "bin" / "lucid", "plugins", "--json", cwd=fresh_env)
    plugins = json.loads(out)
    (pvt,) = [p for p in plugins if p["name"] == "pvt"]
    assert pvt["distribution"] == "lucid-models-pvt"
    assert "pvt_medium" in pvt["models"]

"""lucid-models-pvt as an installed plugin: found through its entry point, registered lazily."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import lucid.models
import lucid_models_pvt.pvt
import lucid_models_pvt.pvt_v2


def test_entry_point_is_installed():
    eps = importlib.metadata.entry_points(group="lucid.models")
    (ep,) = [e for e in eps if e.name == "pvt"]
    assert ep.value == "lucid_models_pvt"
    assert ep.dist.name == "lucid-models-pvt"


def test_registry_serves_the_plugins_builders():
    assert lucid.models.pvt_medium is lucid_models_pvt.pvt.pvt_medium
    assert lucid.models.pvt_v2_b2_li is lucid_models_pvt.pvt_v2.pvt_v2_b2_li
    assert len(lucid.models.list_models(plugin="lucid-models-pvt")) == 12


def test_importing_the_plugin_package_stays_light():
    code = (
        "import sys, lucid_models_pvt; "
        "print(any(m.startswith('lucid_models_pvt.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

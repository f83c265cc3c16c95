"""Pyramid Vision Transformer models for lucid (PVT v1 and v2), registered as a plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lucid.models import hookimpl


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    # The family modules load only when lucid first needs its model list.
    from lucid_models_pvt import pretrained, pvt, pvt_v2

    register(pvt)
    register(pvt_v2)
    pretrained.register()

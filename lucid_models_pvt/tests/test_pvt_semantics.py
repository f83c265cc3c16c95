"""Issue 14: fusions and in-place tricks never change what a PVT module means.

``Mlp`` may fuse ``fc1`` and ``act`` and ``Block`` may add residuals in place
(under ``no_grad``) only when no one can tell: these tests swap, wrap and hook
the modules and compare against computations that run every module.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import lucid
import lucid.models
from lucid import nn
from lucid.nn import functional as F
from lucid.nn.utils import summary
from lucid_models_pvt._common import Block, Mlp

SMALL = {"depths": [1, 1, 1, 1]}
BUILDERS = {
    "v1": lambda: lucid.models.pvt_tiny(img_size=64, num_classes=10, **SMALL),
    "v2": lambda: lucid.models.pvt_v2_b0(num_classes=10, **SMALL),
    "v2-li": lambda: lucid.models.pvt_v2_b2_li(num_classes=10, **SMALL),
}


def images(seed: int = 0) -> lucid.Tensor:
    return lucid.Tensor(np.random.default_rng(seed).standard_normal((2, 3, 64, 64)))


def blocks(model: nn.Module) -> list[Block]:
    return [m for m in model.modules() if isinstance(m, Block)]


def test_mlp_with_a_swapped_activation_computes_relu():
    """Against NumPy: fc2(relu(fc1(x))), where the fused kernel would compute GELU."""
    mlp = Mlp(8, 16)
    mlp.act = nn.ReLU()
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    w1, b1, w2, b2 = (p.data for p in (mlp.fc1.weight, mlp.fc1.bias, mlp.fc2.weight, mlp.fc2.bias))
    want = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    for grad in (False, True):
        with lucid.set_grad_enabled(grad):
            got = mlp(lucid.Tensor(x), (1, 5)).data
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_swapping_act_changes_the_model_as_an_unfused_model_would(version, monkeypatch):
    """Against the PyTorch reference with its GELU replaced by ReLU."""
    torch = pytest.importorskip("torch")
    from . import pvt_reference
    from .test_pvt_parity import twin

    model = BUILDERS[version]()
    if version == "v1":
        ref = twin(model, pvt_reference.TorchPVT, 3, img_size=64, num_classes=10, **SMALL)
    else:
        ref = twin(model, pvt_reference.TorchPVTv2, 3, num_classes=10, **SMALL)
    x = images(1)
    with lucid.no_grad():
        gelu_out = model(x).data
    for block in blocks(model):
        block.mlp.act = nn.ReLU()
    relu_functional = types.SimpleNamespace(**vars(torch.nn.functional))
    relu_functional.gelu = torch.relu
    monkeypatch.setattr(pvt_reference, "F", relu_functional)
    with torch.no_grad():
        want = ref(torch.from_numpy(x.data)).numpy()
    for grad in (False, True):
        with lucid.set_grad_enabled(grad):
            got = model(x).data
        assert np.abs(got - gelu_out).max() > 1e-3
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


class Doubled(nn.Module):
    """A wrapper in the way of LoRA or quantisation: here, twice the wrapped layer's output."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return self.inner(x) * 2.0


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_wrapped_fc1_takes_effect(version):
    model, same = BUILDERS[version](), BUILDERS[version]()
    same.load_state_dict(model.state_dict())
    for block, twin_block in zip(blocks(model), blocks(same), strict=True):
        block.mlp.fc1 = Doubled(block.mlp.fc1)
        # The same function without the wrapper: fc1's weight and bias doubled.
        twin_block.mlp.fc1.weight.data *= 2
        twin_block.mlp.fc1.bias.data *= 2
    x = images(2)
    with lucid.no_grad():
        np.testing.assert_allclose(model(x).data, same(x).data, rtol=1e-5, atol=1e-6)
    assert "mlp.fc1.inner.weight" in blocks(model)[0].state_dict()


@pytest.mark.parametrize("version", sorted(BUILDERS))
def test_hooks_on_every_block_submodule_fire_and_see_unfused_values(version):
    model = BUILDERS[version]().eval()
    seen: dict[str, list[tuple[lucid.Tensor, np.ndarray]]] = {}
    names = [
        f"{block_name}.{sub}"
        for block_name, block in model.named_modules()
        if isinstance(block, Block)
        for sub, _ in block.named_modules()
        if sub
    ]
    modules = dict(model.named_modules())
    handles = []
    for name in names:

        def keep(module, args, output, name=name):
            # The tensor itself, and its values when the hook saw it.
            seen.setdefault(name, []).append((output, output.data.copy()))

        handles.append(modules[name].register_forward_hook(keep))
    x = images(3)
    with lucid.no_grad():
        hooked = model(x).data
    assert sorted(seen) == sorted(names)  # every submodule ran, fc1 and act included
    assert any(n.endswith("mlp.fc1") for n in seen) and any(n.endswith("mlp.act") for n in seen)
    # No output changed after its hook saw it (an in-place residual would).
    for name, calls in seen.items():
        for tensor, values in calls:
            np.testing.assert_array_equal(tensor.data, values, err_msg=name)
    # The same values as a run that records a graph, where nothing is fused or in
    # place (up to the engine's float rounding, which differs between the modes).
    no_grad_values = {name: [v for _, v in calls] for name, calls in seen.items()}
    seen.clear()
    with lucid.enable_grad():
        recorded = model(x).data
    for name, values in no_grad_values.items():
        for got, want in zip(values, [v for _, v in seen[name]], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(hooked, recorded, rtol=1e-5, atol=1e-5)
    for handle in handles:
        handle.remove()
    # Without the hooks the fast path runs again, with the same result.
    with lucid.no_grad():
        np.testing.assert_allclose(model(x).data, hooked, rtol=1e-5, atol=1e-6)


def test_summary_lists_every_layer(capsys):
    model = lucid.models.pvt_tiny(img_size=64)
    table = summary(model, (1, 3, 64, 64))
    n_blocks = len(blocks(model))
    assert n_blocks == 8
    assert table.count("fc1 (Linear)") == n_blocks
    assert table.count("act (GELU)") == n_blocks
    assert table.count("fc2 (Linear)") == n_blocks


def test_the_fast_path_stays_when_nothing_observes(monkeypatch):
    """Stock, unhooked modules: fc1 and act fused, residuals in place."""
    calls = []
    fused = F.linear_gelu
    monkeypatch.setattr(F, "linear_gelu", lambda *a: calls.append(1) or fused(*a))
    model = BUILDERS["v1"]().eval()
    with lucid.no_grad():
        model(images(4))
    assert len(calls) == len(blocks(model))
    assert all(block._in_place_is_invisible() for block in blocks(model))
    # A hook anywhere in a branch turns off that block's in-place residual.
    block = blocks(model)[0]
    handle = block.attn.q.register_forward_hook(lambda *a: None)
    assert not block._in_place_is_invisible()
    handle.remove()
    assert block._in_place_is_invisible()
    # A GELU of another kind is not what the fused kernel computes.
    block.mlp.act = nn.GELU(approximate="tanh")
    calls.clear()
    with lucid.no_grad():
        model(images(4))
    assert len(calls) == len(blocks(model)) - 1

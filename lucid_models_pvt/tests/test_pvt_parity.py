"""Numerical parity of PVT and PVT v2 with a PyTorch implementation sharing their weights."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid_models_pvt.pvt import pvt_tiny
from lucid_models_pvt.pvt_v2 import pvt_v2_b0, pvt_v2_b2_li

torch = pytest.importorskip("torch")

from .pvt_reference import TorchPVT, TorchPVTv2  # noqa: E402  (needs torch)

B2 = {"embed_dims": (64, 128, 320, 512), "depths": (3, 4, 6, 3)}


def twin(model: lucid.nn.Module, reference: type, seed: int, **settings) -> torch.nn.Module:
    """A torch ``reference`` with ``model``'s weights, after moving them all off their init.

    Fresh LayerNorms (ones, zeros) and zero biases would leave parts of the
    computation untested. Both sides load strictly: the key names must agree.
    """
    rng = np.random.default_rng(seed)
    state = {
        k: v.data + rng.normal(0.0, 0.02, v.shape).astype(np.float32)
        for k, v in model.state_dict().items()
    }
    model.load_state_dict({k: lucid.Tensor(v) for k, v in state.items()})
    ref = reference(init=False, **settings)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    model.eval()
    return ref.eval()


def images(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def assert_same_outputs(model, ref, x: np.ndarray, maps: bool = True) -> None:
    """Logits and, with ``maps``, the four stage maps agree within 1e-4 relative."""
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
        want_maps = [m.numpy() for m in ref.stages(torch.from_numpy(x))[1]] if maps else []
    with lucid.no_grad():
        got = model(lucid.Tensor(x)).data
        got_maps = (
            [
                m.data
                for m in model.forward_intermediates(
                    lucid.Tensor(x), norm=True, intermediates_only=True
                )
            ]
            if maps
            else []
        )
    assert got.shape == want.shape
    assert relative_error(got, want) < 1e-4
    for g, w in zip(got_maps, want_maps, strict=True):
        assert g.shape == w.shape
        assert relative_error(g, w) < 1e-4


@pytest.mark.parametrize("attn_proj", [False, True], ids=["default", "attn_proj"])
def test_pvt_tiny_matches_torch_at_224(attn_proj):
    model = pvt_tiny(attn_proj=attn_proj)
    ref = twin(model, TorchPVT, seed=1, attn_proj=attn_proj)
    assert_same_outputs(model, ref, images(1, 3, 224, 224), maps=attn_proj)


@pytest.mark.parametrize("size", [(256, 256), (96, 160)], ids=["256", "96x160"])
def test_position_embeddings_resize_like_torch(size):
    """Inputs other than img_size resize the embeddings bilinearly; the class token's row stays."""
    model = pvt_tiny(img_size=224, attn_proj=True)
    ref = twin(model, TorchPVT, seed=2, img_size=224, attn_proj=True)
    assert_same_outputs(model, ref, images(1, 3, *size, seed=3))


def test_pvt_v2_b0_matches_torch_at_224():
    model = pvt_v2_b0()
    ref = twin(model, TorchPVTv2, seed=4)
    assert_same_outputs(model, ref, images(1, 3, 224, 224, seed=5))


@pytest.mark.slow
def test_pvt_v2_b2_li_matches_torch_at_224():
    model = pvt_v2_b2_li()
    ref = twin(model, TorchPVTv2, seed=6, linear=True, **B2)
    assert_same_outputs(model, ref, images(1, 3, 224, 224, seed=7), maps=False)


def test_pvt_v2_linear_attention_matches_torch_at_odd_sizes():
    """Adaptive pooling to 7x7 from maps that 7 does not divide, and from maps smaller than 7."""
    model = pvt_v2_b0(depths=[1, 1, 1, 1], linear=True)
    ref = twin(model, TorchPVTv2, seed=8, depths=(1, 1, 1, 1), linear=True)
    assert_same_outputs(model, ref, images(2, 3, 100, 76, seed=9))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_gradients_match_torch(version):
    if version == "v1":
        model = pvt_tiny(img_size=64, num_classes=10, attn_proj=True)
        ref = twin(model, TorchPVT, seed=10, img_size=64, num_classes=10, attn_proj=True)
    else:
        model = pvt_v2_b0(num_classes=10, linear=True)
        ref = twin(model, TorchPVTv2, seed=11, num_classes=10, linear=True)
    x = images(2, 3, 64, 64, seed=12)
    (ref(torch.from_numpy(x)) ** 2).mean().backward()
    (model(lucid.Tensor(x)) ** 2).mean().backward()
    want = {k: p.grad.numpy() for k, p in ref.named_parameters()}
    got = {k: p.grad.data for k, p in model.named_parameters()}
    assert got.keys() == want.keys()
    for k, w in want.items():
        np.testing.assert_allclose(got[k], w, rtol=0, atol=1e-3 * np.abs(w).max() + 1e-8, err_msg=k)

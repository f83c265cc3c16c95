"""The checkpoint converter: official PyTorch state dicts to safetensors files lucid loads."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid_models_pvt import convert
from lucid_models_pvt.pvt import pvt_tiny
from lucid_models_pvt.pvt_v2 import pvt_v2_b0

torch = pytest.importorskip("torch")

from .pvt_reference import TorchPVT, TorchPVTv2  # noqa: E402  (needs torch)


def logits_agree(ref: torch.nn.Module, model: lucid.nn.Module) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = ref.eval()(torch.from_numpy(x)).numpy()
    with lucid.no_grad():
        got = model.eval()(lucid.Tensor(x)).data
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def test_v1_checkpoint_converts_and_loads_with_attn_proj(tmp_path, capsys):
    ref = TorchPVT(attn_proj=True)
    src, dst = tmp_path / "pvt_tiny.pth", tmp_path / "pvt_tiny.safetensors"
    torch.save({"model": ref.state_dict(), "epoch": 300}, src)
    assert convert.main([str(src), str(dst)]) == 0
    assert "pvt_tiny" in capsys.readouterr().out
    model = pvt_tiny(attn_proj=True)
    model.load_state_dict(lucid.load(dst), strict=True)
    logits_agree(ref, model)


def test_v2_checkpoint_with_wrappers_and_prefix(tmp_path):
    ref = TorchPVTv2(num_classes=10)
    state = {f"module.{k}": v for k, v in ref.state_dict().items()}
    src, dst = tmp_path / "b0.pth", tmp_path / "b0.safetensors"
    torch.save({"state_dict": state}, src)
    assert convert.convert(src, dst) == "pvt_v2_b0"
    model = pvt_v2_b0(num_classes=10)
    model.load_state_dict(lucid.load(dst), strict=True)
    logits_agree(ref, model)


def test_named_model_must_fit(tmp_path, capsys):
    src = tmp_path / "pvt_tiny.pth"
    torch.save(TorchPVT(attn_proj=True).state_dict(), src)
    assert convert.main([str(src), str(tmp_path / "out.safetensors"), "--model", "pvt_small"]) == 1
    err = capsys.readouterr().err
    assert "does not fit pvt_small" in err
    assert "block1.2." in err
    assert not (tmp_path / "out.safetensors").exists()


def test_unknown_layout_asks_for_the_model_name():
    with pytest.raises(ValueError, match="--model"):
        convert.infer_model({"patch_embed1.proj.weight": np.zeros((48, 3, 4, 4))})

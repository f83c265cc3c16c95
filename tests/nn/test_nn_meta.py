"""``nn.meta_init()``: modules built for their shapes, with parameters that allocate nothing."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import lucid
from lucid import nn
from lucid.nn import init
from lucid.nn.utils import count_macs, summary


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.GELU(),
        nn.Flatten(),
        nn.Linear(8 * 6 * 6, 10),
        nn.LayerNorm(10),
    )


def test_parameters_have_their_shapes_and_no_storage() -> None:
    real = _net()
    with nn.meta_init():
        meta = _net()
    assert [(n, p.shape, p.dtype) for n, p in meta.named_parameters()] == [
        (n, p.shape, p.dtype) for n, p in real.named_parameters()
    ]
    for p in meta.parameters():
        assert nn.is_meta(p) and p.requires_grad
        assert all(stride == 0 for stride in p.data.strides)
        assert not p.data.flags.writeable
    assert not any(nn.is_meta(p) for p in real.parameters())
    # Buffers stay ordinary tensors.
    assert not nn.is_meta(meta[1].running_mean)
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel() for p in real.parameters())


def test_large_layer_allocates_nothing() -> None:
    with nn.meta_init():
        layer = nn.Linear(100_000, 100_000)  # 40 GB if allocated
    assert layer.weight.numel() == 10**10
    assert layer.weight.data.base is not None and layer.weight.data.base.nbytes == 4


def test_init_functions_check_their_arguments_then_skip_placeholders() -> None:
    with nn.meta_init():
        p = nn.Parameter(np.ones((4, 5), np.float32))
    version = p._version.value
    for fill in (
        init.zeros_,
        init.ones_,
        lambda t: init.constant_(t, 3.0),
        init.uniform_,
        init.normal_,
        init.trunc_normal_,
        init.xavier_uniform_,
        init.kaiming_normal_,
    ):
        assert fill(p) is p
    assert p._version.value == version
    assert float(p.data.max()) == 0.0
    with pytest.raises(ValueError, match="std >= 0"):
        init.normal_(p, std=-1.0)


def test_summary_and_count_macs_work_on_a_meta_model(capsys: pytest.CaptureFixture[str]) -> None:
    real = _net()
    with nn.meta_init():
        meta = _net()
    shape = (1, 3, 6, 6)
    assert count_macs(meta, shape) == count_macs(real, shape)
    assert summary(meta, shape) == summary(real, shape)
    capsys.readouterr()


def test_writing_weights_into_a_meta_model_is_refused_before_copying() -> None:
    source = _net()
    with nn.meta_init():
        meta = _net()
    with pytest.raises(RuntimeError, match=r"built under lucid\.nn\.meta_init") as caught:
        meta.load_state_dict(source.state_dict())
    assert "nothing was copied" in str(caught.value)
    assert all(nn.is_meta(p) for p in meta.parameters())


def test_cast_keeps_placeholders_and_embedding_padding_is_skipped() -> None:
    with nn.meta_init():
        layer = nn.Linear(3, 4).to(lucid.float64)
        table = nn.Embedding(5, 2, padding_idx=0)
    assert layer.weight.dtype == np.float64 and nn.is_meta(layer.weight)
    assert nn.is_meta(table.weight)


def test_meta_init_applies_to_its_own_thread_only() -> None:
    built: list[nn.Module] = []
    with nn.meta_init():
        worker = threading.Thread(target=lambda: built.append(nn.Linear(2, 2)))
        worker.start()
        worker.join()
        here = nn.Linear(2, 2)
    assert nn.is_meta(here.weight) and not nn.is_meta(built[0].weight)
    assert not nn.is_meta(nn.Linear(2, 2).weight)  # and only inside the block

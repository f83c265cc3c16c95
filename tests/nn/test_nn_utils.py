"""lucid.nn.utils: clip_grad_norm_ against torch; summary and count_macs on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid import nn
from lucid.nn.utils import clip_grad_norm_, count_macs, summary


@pytest.mark.parametrize(
    "max_norm, norm_type", [(0.5, 2.0), (100.0, 2.0), (0.1, 1.0), (0.2, float("inf"))]
)
def test_clip_grad_norm_matches_torch(rng, max_norm, norm_type):
    torch = pytest.importorskip("torch")
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), (2, 2, 2)]]
    ours = [lucid.zeros(*g.shape, requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, tp, g in zip(ours, theirs, grads, strict=True):
        p.grad = lucid.tensor(g)
        tp.grad = torch.tensor(g)
    ours.append(lucid.zeros(2, requires_grad=True))  # no gradient: skipped
    total = clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert float(total) == pytest.approx(float(ttotal), rel=1e-5)
    for p, tp in zip(ours, theirs, strict=False):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert all(p.grad.dtype == np.float32 for p in ours[:3])


def test_clip_grad_norm_edge_cases():
    assert float(clip_grad_norm_([lucid.zeros(2, requires_grad=True)], 1.0)) == 0.0
    p = lucid.zeros(2, requires_grad=True)
    p.grad = lucid.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)  # 4*9 + 4 = 40 parameters
        self.bn = nn.BatchNorm2d(4)  # 8 parameters, 3 buffers
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 10))  # 650 parameters
        self.bn.bias.requires_grad_(False)

    def forward(self, x):
        return self.head(self.pool(self.bn(self.conv(x)).relu()))


def test_summary_table(capsys):
    model = Tiny().train()
    lucid.manual_seed(5)
    expected_draw = lucid.rand(1).item()
    lucid.manual_seed(5)
    table = summary(model, (2, 1, 8, 8))
    assert capsys.readouterr().out == table + "\n"
    assert table.splitlines() == [
        "Layer (type)         Output shape    Param #",
        "============================================",
        "conv (Conv2d)        (2, 4, 8, 8)         40",
        "bn (BatchNorm2d)     (2, 4, 8, 8)          8",
        "pool (MaxPool2d)     (2, 4, 4, 4)          0",
        "head (Sequential)    (2, 10)               0",
        "  0 (Flatten)        (2, 64)               0",
        "  1 (Linear)         (2, 10)             650",
        "============================================",
        "Total params: 698",
        "Trainable params: 694",
        "Non-trainable params: 4",
    ]
    # Evaluation mode during the pass, training flags restored, hooks removed,
    # running statistics untouched, lucid's random stream not consumed.
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert int(model.bn.num_batches_tracked) == 0
    assert lucid.rand(1).item() == expected_draw


def test_count_macs_counts_linear_conv_and_attention():
    # conv: 2 samples * 8*8 positions * 4 channels * 9 taps; linear: 2 * 64 * 10.
    assert count_macs(Tiny(), (2, 1, 8, 8)) == 2 * 64 * 4 * 9 + 2 * 64 * 10

    class Attend(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(8, 24)
            self.dw = nn.Conv1d(8, 8, 3, groups=8)

        def forward(self, x):  # x: (B, L, 8)
            q, k, v = self.qkv(x).reshape(2, 5, 3, 8).permute(2, 0, 1, 3)
            out = nn.functional.scaled_dot_product_attention(q, k, v)
            return self.dw(out.transpose(1, 2))

    # qkv: 2*5 tokens * 8 * 24; attention: 2 * 5*5 * (8 + 8); depthwise: 2 * 8 * 3 outputs * 3 taps.
    assert count_macs(Attend(), (2, 5, 8)) == 10 * 8 * 24 + 2 * 25 * 16 + 2 * 8 * 3 * 3


def test_counting_costs_nothing_outside_count_macs():
    from lucid.nn._functional import counting

    nn.Linear(2, 2)(lucid.zeros(1, 2))
    assert counting._totals == []


def test_summary_shows_uncalled_containers_and_tuple_outputs(capsys):
    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3, bias=False)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x, x.shape[1]

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stack = Stack()

        def forward(self, x):
            return self.stack(x)[0]

    lines = summary(Outer(), (4, 3)).splitlines()
    capsys.readouterr()
    assert [line.rstrip() for line in lines[2:6]] == [
        "stack (Stack)            [(4, 3), 3]           0",
        "  layers (ModuleList)    -                     0",
        "    0 (Linear)           (4, 3)               12",
        "    1 (Linear)           (4, 3)                9",
    ]

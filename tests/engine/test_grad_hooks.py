"""Post-accumulate-grad hooks: once per backward, after the leaf's gradient is complete."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid


def test_hook_sees_the_complete_gradient_once_as_in_pytorch():
    seen, theirs = [], []
    w = lucid.tensor([1.0, 2.0], requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    tw.register_post_accumulate_grad_hook(lambda t: theirs.append(t.grad.numpy().copy()))
    for x, y in ((w, w), (tw, tw)):
        ((x * 3).sum() + (x * y).sum() + x.exp().sum()).backward()
        ((x * 3).sum()).backward()
    assert len(seen) == len(theirs) == 2
    for a, b in zip(seen, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_hook_on_a_leaf_that_is_the_root_and_removal():
    w = lucid.tensor(2.0, requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(calls.append)
    w.backward()
    assert calls == [w]
    handle.remove()
    w.backward()
    assert calls == [w]


def test_hook_fires_when_a_branch_passes_no_gradient():
    w = lucid.tensor([1.0, -1.0], requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    # argmax-style use: w feeds an integer cast that returns no gradient.
    (w * 2 + w.long().float()).sum().backward()
    assert calls == [[2.0, 2.0]]


def test_hooks_only_on_leaves_and_callables():
    w = lucid.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)

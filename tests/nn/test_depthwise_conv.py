"""Depthwise convolution: its compiled kernels and its NumPy path, against PyTorch and gradcheck."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F
from lucid import _kernels
from lucid._kernels import _threads

numba_kernels = pytest.importorskip("lucid._kernels._numba")
torch = pytest.importorskip("torch")

# Geometries the kernels must handle: padding inside the kernel, strides that
# skip input rows, dilation, asymmetric ("same" with an even kernel) padding.
CASES = [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 5), dilation=(2, 1), padding=(2, 2)),
    dict(kernel_size=4, padding="same"),
    dict(kernel_size=2, stride=(1, 2), padding=(1, 0), dilation=2),
    dict(kernel_size=3, stride=3),
    dict(kernel_size=1),
]
PATHS = ["compiled", "numpy"]


@pytest.fixture
def compiled_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the compiled depthwise kernels called during the test, in order."""
    calls: list[str] = []
    for kernel in ("depthwise", "depthwise_grad_input", "depthwise_grad_weight"):
        original = getattr(numba_kernels, kernel)

        def spy(*args, _original=original, _name=kernel):
            calls.append(_name)
            return _original(*args)

        monkeypatch.setattr(numba_kernels, kernel, spy)
    return calls


@contextlib.contextmanager
def path(name: str, calls: list[str]) -> Iterator[None]:
    """Run the block on the compiled or the NumPy path, and check that it did."""
    if name == "numpy":
        with _kernels.numpy_only():
            yield
        assert calls == []
    else:
        yield
        assert "depthwise" in calls


def conv_args(case: dict) -> dict:
    args = dict(case)
    kernel = args.pop("kernel_size")
    return {**args, "kernel": (kernel, kernel) if isinstance(kernel, int) else kernel}


@pytest.mark.parametrize("which", PATHS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(rng, gradcheck, compiled_calls, case, which):
    args = conv_args(case)
    kernel = args.pop("kernel")
    x = rng.standard_normal((2, 3, 6, 7))
    w = rng.standard_normal((3, 1, *kernel))
    with path(which, compiled_calls):
        gradcheck(lambda x, w, b: F.conv2d(x, w, b, groups=3, **args), x, w, rng.standard_normal(3))
    if which == "compiled":
        assert {"depthwise_grad_input", "depthwise_grad_weight"} <= set(compiled_calls)


# PyTorch notes that it pads a copy for "same" with an even kernel: not our concern here.
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("which", PATHS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(rng, assert_parity, compiled_calls, case, which):
    channels = 16
    conv = lucid.nn.Conv2d(channels, channels, groups=channels, **case)
    ref = torch.nn.Conv2d(channels, channels, groups=channels, **case)
    x = rng.standard_normal((2, channels, 9, 10)).astype(np.float32)
    with path(which, compiled_calls):
        assert_parity(conv, ref, x, atol=1e-4)


@pytest.mark.parametrize("which", PATHS)
def test_channels_last_input_without_bias(rng, compiled_calls, which):
    """PVT v2's case: tokens (B, N, C) seen as an NCHW grid, no copy; no bias."""
    b, c, h, w = 2, 24, 7, 5
    tokens = rng.standard_normal((b, h * w, c)).astype(np.float32)
    weight = rng.standard_normal((c, 1, 3, 3)).astype(np.float32)
    seed = rng.standard_normal((b, c, h, w)).astype(np.float32)
    x, wt = lucid.tensor(tokens, requires_grad=True), lucid.tensor(weight, requires_grad=True)
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (tokens, weight))
    with path(which, compiled_calls):
        out = F.conv2d(x.transpose(1, 2).reshape(b, c, h, w), wt, padding=1, groups=c)
        out.backward(seed)
    want = torch.nn.functional.conv2d(tx.transpose(1, 2).reshape(b, c, h, w), tw, None, 1, 1, 1, c)
    want.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(wt.grad.numpy(), tw.grad.numpy(), atol=1e-4, rtol=1e-4)


def test_threads_split_the_rows(rng, compiled_calls):
    """Above the parallel threshold, two threads give the single-threaded results."""
    before = lucid.get_num_threads()
    x = rng.standard_normal((4, 64, 32, 32)).astype(np.float32)
    w = rng.standard_normal((64, 1, 3, 3)).astype(np.float32)
    seed = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    try:
        for threads in (1, 2):
            lucid.set_num_threads(threads)
            xs, ws = lucid.tensor(x, requires_grad=True), lucid.tensor(w, requires_grad=True)
            out = F.conv2d(xs, ws, padding=1, groups=64)
            out.backward(seed)
            results.append([out.numpy(), xs.grad.numpy(), ws.grad.numpy()])
    finally:
        lucid.set_num_threads(before)
    assert compiled_calls.count("depthwise") == 2
    lucid.set_num_threads(2)
    assert len(_threads.spans(4 * 32, x.size)) == 2
    lucid.set_num_threads(before)
    for one, two in zip(*results, strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-4)


def test_channel_multiplier_takes_numpy_path(rng, compiled_calls, assert_parity):
    """Two outputs per input channel: no compiled kernel, the same results as PyTorch."""
    x = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    conv = lucid.nn.Conv2d(4, 8, 3, padding=1, groups=4)
    assert_parity(conv, torch.nn.Conv2d(4, 8, 3, padding=1, groups=4), x, atol=1e-4)
    assert compiled_calls == []


@pytest.mark.parametrize("which", PATHS)
def test_empty_batch(compiled_calls, which):
    """A batch of 0 images: empty output and input gradient, zero weight and bias gradients."""
    x = lucid.tensor(np.zeros((0, 4, 5, 5), np.float32), requires_grad=True)
    w = lucid.tensor(np.ones((4, 1, 3, 3), np.float32), requires_grad=True)
    b = lucid.tensor(np.ones(4, np.float32), requires_grad=True)
    with path(which, compiled_calls):
        out = F.conv2d(x, w, b, padding=1, groups=4)
        out.sum().backward()
    assert out.shape == x.grad.shape == (0, 4, 5, 5)
    assert not w.grad.numpy().any() and not b.grad.numpy().any()

"""Property tests: broadcasting arithmetic and reductions agree with NumPy on random shapes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lucid

FLOATS = st.floats(-100, 100, width=32, allow_nan=False, allow_subnormal=False)
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def broadcast_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    a, b = (draw(hnp.arrays(np.float32, s, elements=FLOATS)) for s in shapes.input_shapes)
    return a, b


OPS = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "maximum": (lucid.maximum, np.maximum),
    "minimum": (lucid.minimum, np.minimum),
}


@SETTINGS
@given(pair=broadcast_pair(), op=st.sampled_from(sorted(OPS)))
def test_broadcasting_arithmetic_matches_numpy(pair, op) -> None:
    a, b = pair
    fn, ref = OPS[op]
    x, y = lucid.tensor(a, requires_grad=True), lucid.tensor(b, requires_grad=True)
    out = fn(x, y)
    expected = ref(a, b)
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    out.sum().backward()
    # Every input element was broadcast to (output size / input size) places.
    assert x.grad.shape == a.shape and y.grad.shape == b.shape
    if op in ("add", "sub"):
        sign = 1 if op == "add" else -1
        np.testing.assert_array_equal(
            x.grad.numpy(), np.full(a.shape, expected.size // max(a.size, 1))
        )
        np.testing.assert_array_equal(
            y.grad.numpy(), np.full(b.shape, sign * (expected.size // max(b.size, 1)))
        )


@SETTINGS
@given(pair=broadcast_pair())
def test_division_matches_numpy(pair) -> None:
    a, b = pair
    b = np.where(np.abs(b) < 1, np.float32(1.5), b)
    np.testing.assert_allclose(
        (lucid.tensor(a) / lucid.tensor(b)).numpy(), a / b, rtol=1e-6, atol=0
    )


@st.composite
def array_and_axis(draw):
    a = draw(hnp.arrays(np.float32, hnp.array_shapes(max_dims=4, max_side=5), elements=FLOATS))
    axis = draw(
        st.none()
        | st.integers(-a.ndim, a.ndim - 1)
        | st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(tuple)
    )
    return a, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": (lambda t, ax, k: t.sum(ax, k), lambda a, ax, k: a.sum(ax, keepdims=k)),
    "mean": (lambda t, ax, k: t.mean(ax, k), lambda a, ax, k: a.mean(ax, keepdims=k)),
    "amax": (lambda t, ax, k: t.amax(ax, k), lambda a, ax, k: a.max(ax, keepdims=k)),
    "amin": (lambda t, ax, k: t.amin(ax, k), lambda a, ax, k: a.min(ax, keepdims=k)),
    "var": (
        lambda t, ax, k: t.var(ax, correction=0, keepdims=k),
        lambda a, ax, k: a.astype(np.float64).var(ax, keepdims=k),
    ),
    "logsumexp": (
        lambda t, ax, k: t.logsumexp(ax, k),
        lambda a, ax, k: np.log(np.exp(a.astype(np.float64)).sum(ax, keepdims=k)),
    ),
}


@SETTINGS
@given(case=array_and_axis(), name=st.sampled_from(sorted(REDUCTIONS)))
def test_reductions_match_numpy(case, name) -> None:
    a, axis, keepdims = case
    fn, ref = REDUCTIONS[name]
    x = lucid.tensor(a, requires_grad=True)
    out = fn(x, axis, keepdims)
    expected = np.asarray(ref(a, axis, keepdims))
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-3)
    out.sum().backward()
    assert x.grad.shape == a.shape and np.isfinite(x.grad.numpy()).all()

"""The shared reduction helpers behind every backward: ``unbroadcast`` and friends."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lucid._kernels import sum_axes
from lucid.autograd import unbroadcast, unbroadcast_product

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def product_case(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=5))
    x, y = (
        draw(hnp.arrays(np.float64, s, elements=st.floats(-10, 10))) for s in shapes.input_shapes
    )
    target = draw(st.sampled_from([*shapes.input_shapes, shapes.result_shape]))
    return x, y, target


@SETTINGS
@given(case=product_case())
def test_unbroadcast_product_matches_the_reference(case) -> None:
    x, y, target = case
    full = np.broadcast_shapes(x.shape, y.shape)
    reference = np.broadcast_to(x * y, full)
    extra = len(full) - len(target)
    reference = reference.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(target) if n == 1 and reference.shape[i] != 1)
    reference = reference.sum(axis=stretched, keepdims=True)
    np.testing.assert_allclose(unbroadcast_product(x, y, target), reference, atol=1e-9)
    np.testing.assert_allclose(unbroadcast(np.broadcast_to(x * y, full), target), reference)


@SETTINGS
@given(
    a=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6)),
    data=st.data(),
    keepdims=st.booleans(),
)
def test_sum_axes_matches_numpy(a, data, keepdims) -> None:
    a = np.nan_to_num(a, posinf=1.0, neginf=-1.0) % 100
    ndim = a.ndim
    axes = data.draw(
        st.sampled_from([(ndim - 1,), tuple(range(max(ndim - 1, 1))), tuple(range(ndim)), (0,), ()])
    )
    expected = a.astype(np.float64).sum(axis=axes, keepdims=keepdims)
    got = sum_axes(a, axes, keepdims)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)


def test_sum_axes_fast_paths_keep_dtype_and_layout_rules() -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for axes in [(2,), (0, 1), (0,), (1,)]:
        np.testing.assert_array_equal(sum_axes(a, axes), a.sum(axis=axes))
    # Non-contiguous and half-precision inputs take NumPy's own sum.
    np.testing.assert_array_equal(sum_axes(a.transpose(2, 0, 1), (2,)), a.sum(axis=1).T)
    assert sum_axes(a.astype(np.float16), (2,)).dtype == np.float16
    assert sum_axes(np.zeros((0, 3), np.float32), (0,)).tolist() == [0.0, 0.0, 0.0]

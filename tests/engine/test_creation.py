"""Creation functions: shapes in both spellings, dtypes, memory sharing, the seeded generator."""

from __future__ import annotations

import numpy as np
import pytest

import lucid


@pytest.mark.parametrize("fn", [lucid.zeros, lucid.ones, lucid.empty, lucid.rand, lucid.randn])
def test_shape_spellings_and_float32_default(fn) -> None:
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert t.shape == (2, 3) and t.dtype == lucid.float32 and not t.requires_grad
    assert fn(4).shape == (4,)
    assert fn(()).shape == ()
    assert fn(2, dtype=lucid.float64).dtype == lucid.float64
    assert fn(2, requires_grad=True).requires_grad


def test_constant_values() -> None:
    assert lucid.zeros(2).tolist() == [0.0, 0.0]
    assert lucid.ones(2, dtype=lucid.int32).tolist() == [1, 1]
    assert lucid.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert lucid.full((1,), True).dtype == lucid.bool_
    assert lucid.full((1,), 3).dtype == lucid.int64
    assert lucid.full((1,), 3, dtype=lucid.float32).dtype == lucid.float32
    assert lucid.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]


def test_like_forms_follow_the_template() -> None:
    t = lucid.ones(2, 3, dtype=lucid.float64)
    for fn in (lucid.zeros_like, lucid.ones_like, lucid.empty_like):
        assert fn(t).shape == (2, 3) and fn(t).dtype == lucid.float64
        assert fn(t, dtype=lucid.float32).dtype == lucid.float32
    assert lucid.full_like(t, 7).tolist() == [[7.0] * 3] * 2
    assert lucid.zeros_like(np.zeros((4,), np.int8)).dtype == lucid.int8
    assert lucid.ones_like(t, requires_grad=True).requires_grad


def test_ranges() -> None:
    assert lucid.arange(3).tolist() == [0, 1, 2]
    assert lucid.arange(3).dtype == lucid.int64
    assert lucid.arange(1, 2, 0.5).dtype == lucid.float32
    assert lucid.arange(1.0, 2.0, 0.1).shape == (10,)
    assert lucid.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert lucid.arange(3, dtype=lucid.float64).dtype == lucid.float64
    assert lucid.linspace(-1, 1, 3).tolist() == [-1.0, 0.0, 1.0]
    assert lucid.linspace(0, 1, 4).dtype == lucid.float32


def test_tensor_copies_and_from_numpy_shares() -> None:
    a = np.arange(3.0)
    t = lucid.tensor(a)
    assert t.dtype == lucid.float32
    f = lucid.from_numpy(a)
    a[0] = 9
    assert t.tolist()[0] == 0.0
    assert f.tolist()[0] == 9.0 and f.dtype == lucid.float64
    b = np.zeros(2, np.float32)
    tb = lucid.tensor(b)
    b[0] = 1
    assert tb.tolist() == [0.0, 0.0]
    src = lucid.ones(2)
    assert not np.shares_memory(lucid.tensor(src).numpy(), src.numpy())


def test_tensor_dtypes_and_requires_grad() -> None:
    assert lucid.tensor([1, 2]).dtype == lucid.int64
    assert lucid.tensor([True]).dtype == lucid.bool_
    assert lucid.tensor(1.5).shape == ()
    assert lucid.tensor([1, 2], dtype=lucid.float64).dtype == lucid.float64
    assert lucid.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="only floating tensors can require gradients"):
        lucid.tensor([1], requires_grad=True)
    with pytest.raises(TypeError, match="dtype <U1"):
        lucid.tensor(["a"])


def test_from_numpy_rejects_other_things() -> None:
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        lucid.from_numpy([1.0])
    with pytest.raises(TypeError, match="complex128"):
        lucid.from_numpy(np.zeros(2, complex))


def test_random_draws_are_float32_and_reproducible() -> None:
    lucid.manual_seed(123)
    a, b, c = lucid.rand(3), lucid.randn(3), lucid.randint(0, 10, (3,))
    lucid.manual_seed(123)
    assert lucid.rand(3).tolist() == a.tolist()
    assert lucid.randn(3).tolist() == b.tolist()
    assert lucid.randint(0, 10, (3,)).tolist() == c.tolist()
    assert a.dtype == b.dtype == lucid.float32
    # Drawn directly in float32: the float32 stream of the generator itself.
    expected = np.random.default_rng(5).standard_normal(4, dtype=np.float32)
    lucid.manual_seed(5)
    assert lucid.randn(4).tolist() == expected.tolist()


def test_random_ranges_and_forms() -> None:
    u = lucid.rand(1000)
    assert u.min().item() >= 0 and u.max().item() < 1
    n = lucid.randn(20000)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    r = lucid.randint(5, (1000,))
    assert r.dtype == lucid.int64 and set(np.unique(r.numpy())) == set(range(5))
    assert lucid.randint(3, 4, size=(2, 2)).tolist() == [[3, 3], [3, 3]]
    assert lucid.randint(10, size=5).shape == (5,)
    assert lucid.rand(2, dtype=lucid.float16).dtype == lucid.float16


def test_bad_sizes_and_dtypes() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        lucid.zeros(2, -1)
    with pytest.raises(TypeError, match=r"integers, got 2.5"):
        lucid.ones(2.5)
    with pytest.raises(TypeError, match="expected a float dtype"):
        lucid.randn(2, dtype=lucid.int64)
    with pytest.raises(ValueError, match="low < high"):
        lucid.randint(3, 3, (1,))
    with pytest.raises(ValueError, match="step"):
        lucid.arange(0, 1, 0)

"""Autograd semantics: accumulation, graph lifetime, grad modes, in-place rules, dtypes."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest

import lucid
from lucid.autograd import Function, GradcheckError, gradcheck

# ------------------------------------------------------ graph and backward ---


def test_gradients_accumulate_across_backward_calls() -> None:
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]


def test_retain_graph_allows_a_second_backward() -> None:
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_second_backward_through_a_freed_graph_raises() -> None:
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_backward_on_a_non_scalar_needs_a_gradient() -> None:
    y = lucid.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"one-element tensor, got shape \(2, 3\)"):
        y.backward()
    y.backward(np.ones((2, 3)))


def test_backward_gradient_of_the_wrong_shape_names_both_shapes() -> None:
    y = lucid.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"\(3,\) != \(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        (lucid.ones(2) * 2).sum().backward()


def test_backward_on_a_leaf_accumulates_into_it() -> None:
    x = lucid.ones(2, requires_grad=True)
    x.backward(np.array([1.0, 2.0]))
    assert x.grad.tolist() == [1.0, 2.0]


def test_shared_subexpression_gradients_add_up() -> None:
    x = lucid.tensor([2.0], requires_grad=True)
    h = x * x
    (h + h * h).sum().backward()
    # d/dx (x^2 + x^4) = 2x + 4x^3
    assert x.grad.tolist() == [4.0 + 32.0]


def test_deep_graph_does_not_hit_the_recursion_limit() -> None:
    x = lucid.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.tolist() == [1.0]
    del y
    gc.collect()


def test_detach_cuts_the_graph_and_shares_storage() -> None:
    x = lucid.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), d.detach().numpy())


# ----------------------------------------------------------------- no_grad ---


def test_no_grad_records_nothing() -> None:
    x = lucid.ones(3, requires_grad=True)
    with lucid.no_grad():
        y = (x * 2).exp().sum()
    assert y._ctx is None and not y.requires_grad


def test_no_grad_keeps_no_saved_arrays_alive() -> None:
    x = lucid.ones(3, requires_grad=True)
    h = x * 2
    ref = weakref.ref(h.data)
    y = h * h  # Mul saves both operands for backward
    del h
    assert ref() is not None
    del y

    with lucid.no_grad():
        h = x * 2
        ref = weakref.ref(h.data)
        y = h * h
        del h
    assert ref() is None
    assert y._ctx is None


def test_no_input_requiring_grad_records_nothing() -> None:
    y = lucid.ones(3) * lucid.ones(3)
    assert y._ctx is None and not y.requires_grad


def test_no_grad_as_decorator_and_restores_mode() -> None:
    @lucid.no_grad()
    def f(t: lucid.Tensor) -> lucid.Tensor:
        assert not lucid.is_grad_enabled()
        return t * 2

    x = lucid.ones(2, requires_grad=True)
    assert not f(x).requires_grad
    assert lucid.is_grad_enabled()


def test_set_grad_enabled_and_enable_grad_inside_no_grad() -> None:
    x = lucid.ones(2, requires_grad=True)
    with lucid.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with lucid.enable_grad():
            assert (x * 2).requires_grad
        assert not lucid.is_grad_enabled()
    with lucid.no_grad(), lucid.set_grad_enabled(True):
        assert (x * 2).requires_grad
    assert lucid.is_grad_enabled()

    @lucid.set_grad_enabled(False)
    def g() -> bool:
        return lucid.is_grad_enabled()

    assert g() is False and lucid.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call_stays_in_effect() -> None:
    torch = pytest.importorskip("torch")
    try:
        lucid.set_grad_enabled(False)
        torch.set_grad_enabled(False)
        assert lucid.is_grad_enabled() is torch.is_grad_enabled() is False
        assert not (lucid.ones(2, requires_grad=True) * 2).requires_grad
        lucid.set_grad_enabled(True)
        torch.set_grad_enabled(True)
        assert lucid.is_grad_enabled() is torch.is_grad_enabled() is True
    finally:
        lucid.set_grad_enabled(True)
        torch.set_grad_enabled(True)


def test_set_grad_enabled_block_restores_the_mode_before_the_call() -> None:
    with lucid.no_grad():
        with lucid.set_grad_enabled(True):
            assert lucid.is_grad_enabled()
        assert not lucid.is_grad_enabled()
    assert lucid.is_grad_enabled()


@pytest.mark.parametrize(
    "decorator", ["no_grad", "no_grad()", "inference_mode", "inference_mode()"]
)
def test_no_grad_and_inference_mode_decorate_with_or_without_parentheses(decorator: str) -> None:
    name, called = decorator.removesuffix("()"), decorator.endswith("()")
    manager = getattr(lucid, name)

    def f(x: lucid.Tensor) -> tuple[bool, bool, bool]:
        y = x * 2
        return lucid.is_grad_enabled(), lucid.is_inference_mode_enabled(), y.requires_grad

    wrapped = manager()(f) if called else manager(f)
    grad, inference, requires = wrapped(lucid.ones(2, requires_grad=True))
    assert (grad, requires) == (False, False)
    assert inference is (name == "inference_mode")
    assert wrapped.__name__ == "f"
    assert lucid.is_grad_enabled() and not lucid.is_inference_mode_enabled()


def test_inference_mode_false_changes_nothing_and_enable_grad_decorates() -> None:
    with lucid.inference_mode(False):
        assert lucid.is_grad_enabled() and not lucid.is_inference_mode_enabled()

    @lucid.enable_grad
    def g() -> bool:
        return lucid.is_grad_enabled()

    with lucid.no_grad():
        assert g() is True
        assert not lucid.is_grad_enabled()


def test_forward_skips_derivative_work_under_no_grad(monkeypatch: pytest.MonkeyPatch) -> None:
    from lucid import _kernels

    asked = []
    kernel = _kernels.gelu_tanh

    def spy(x: np.ndarray, derivative: bool):
        asked.append(derivative)
        return kernel(x, derivative)

    monkeypatch.setattr(_kernels, "gelu_tanh", spy)
    x = lucid.randn(4, requires_grad=True)
    lucid.gelu(x, approximate="tanh")
    with lucid.no_grad():
        lucid.gelu(x, approximate="tanh")
    lucid.gelu(x.detach(), approximate="tanh")
    assert asked == [True, False, False]


def test_exact_gelu_keeps_only_its_input() -> None:
    """As in PyTorch: the derivative is computed in backward, no array of it is kept."""
    x = lucid.randn(64, 300, requires_grad=True)  # large enough for the compiled kernels
    y = lucid.gelu(x)
    (saved,) = y._ctx.saved_arrays
    assert saved is x.data
    y.sum().backward()
    v = x.data.astype(np.float64)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(v / math.sqrt(2.0)))
    expected = cdf + v * np.exp(-0.5 * v * v) / math.sqrt(2.0 * math.pi)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ in-place ops ---


def test_inplace_on_a_leaf_that_requires_grad_raises() -> None:
    x = lucid.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x += 1
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="in-place"):
        x.zero_()


def test_inplace_under_no_grad_works() -> None:
    x = lucid.ones(2, requires_grad=True)
    with lucid.no_grad():
        x -= 0.5
        x *= 4
        x[1] = 7.0
    assert x.tolist() == [2.0, 7.0]
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 14.0]


def test_inplace_change_of_a_saved_tensor_is_caught_at_backward() -> None:
    x = lucid.ones(3, requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    with lucid.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match=r"modified in place.*version"):
        y.backward()


def test_inplace_change_through_a_view_is_caught() -> None:
    x = lucid.ones(2, 3, requires_grad=True)
    h = x * 1
    y = (h * h).sum()
    with lucid.no_grad():
        h[0] += 1  # a view of h: it shares h's version counter
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_change_of_a_constant_operand_is_caught() -> None:
    x = lucid.ones(3, requires_grad=True)
    w = lucid.ones(3)
    y = (x * w).sum()
    w += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_on_an_expanded_view_is_refused() -> None:
    v = lucid.ones(3, 1).expand(3, 4)
    with pytest.raises(ValueError, match="read-only"):
        v += 1


# ------------------------------------------------------------------ dtypes ---


def test_float32_survives_scalars_of_every_kind() -> None:
    x = lucid.ones(3, requires_grad=True)
    for y in (
        x * 2,
        x * 2.5,
        x * np.float64(2.0),
        np.float64(2.0) * x,
        x + np.float32(1),
        x - np.int64(1),
        x / 3,
        x**2,
        2**x,
        x + np.array(1.0),
        x.mean(),
        x.var(),
        lucid.where(x > 0, x, 0.0),
        x.maximum(0.5),
        x.clip(0, 0.5),
    ):
        assert y.dtype == lucid.float32, y
    (x * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == lucid.float32


def test_int_tensor_with_float_gives_float32() -> None:
    i = lucid.tensor([1, 2, 3])
    assert i.dtype == lucid.int64
    assert (i + 0.5).dtype == lucid.float32
    assert (i * lucid.ones(3)).dtype == lucid.float32
    assert (i + 1).dtype == lucid.int64


def test_float64_is_kept_when_asked_for() -> None:
    x = lucid.ones(2, dtype=lucid.float64, requires_grad=True)
    y = (x * 2.0).exp()
    assert y.dtype == lucid.float64
    y.sum().backward()
    assert x.grad.dtype == lucid.float64


def test_mixed_precision_gradients_keep_each_inputs_dtype() -> None:
    a = lucid.ones(2, requires_grad=True)
    b = lucid.ones(2, dtype=lucid.float64, requires_grad=True)
    h = a * 2  # a float32 intermediate
    (h * b).sum().backward()
    assert a.grad.dtype == lucid.float32 and b.grad.dtype == lucid.float64


def test_astype_is_differentiable_between_floats() -> None:
    x = lucid.ones(2, requires_grad=True)
    x.double().sum().backward()
    assert x.grad.dtype == lucid.float32 and x.grad.tolist() == [1.0, 1.0]
    assert not x.long().requires_grad


# ------------------------------------------------------- custom functions ---


class ScaledProduct(Function):
    """``scale * a * b`` with broadcasting, the way a user would write one."""

    @staticmethod
    def forward(ctx, a, b, *, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return scale * a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_arrays
        ga = lucid.autograd.unbroadcast(ctx.scale * grad * b, a.shape)
        gb = lucid.autograd.unbroadcast(ctx.scale * grad * a, b.shape)
        return (ga if ctx.needs_input_grad[0] else None, gb if ctx.needs_input_grad[1] else None)


def test_custom_function_forward_backward_and_gradcheck() -> None:
    a = lucid.randn(3, 4, requires_grad=True)
    b = lucid.randn(4, requires_grad=True)
    out = ScaledProduct.apply(a, b, scale=2.0)
    assert type(out._ctx).__name__ == "ScaledProduct"
    out.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), 2 * a.numpy().sum(0), rtol=1e-5)
    assert gradcheck(lambda x, y: ScaledProduct.apply(x, y, scale=0.5), [a, b])
    # With only b requiring a gradient, a's is never computed.
    c = lucid.randn(3, 4)
    ScaledProduct.apply(c, b, scale=1.0).sum().backward()
    assert c.grad is None


def test_custom_function_with_wrong_gradient_count_or_shape_is_reported() -> None:
    class TooMany(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    x = lucid.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 2 gradients, expected 1"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"gradient of shape \(\) for an input of shape \(3,\)"):
        WrongShape.apply(x).sum().backward()


# ---------------------------------------------------------------- gradcheck ---


class WrongSquare(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_arrays
        return grad * 3 * a  # should be 2 * a


def test_gradcheck_reports_the_input_the_element_and_both_values() -> None:
    x = lucid.tensor([[1.0, 2.0]], requires_grad=True)
    y = lucid.tensor([3.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * WrongSquare.apply(b), [y, x])
    message = str(info.value)
    assert "input 1" in message and "shape (1, 2)" in message
    assert "d input[0, 1]" in message
    assert "analytical 18" in message and "numerical 12" in message
    assert gradcheck(lambda a: WrongSquare.apply(a), x, raise_exception=False) is False


def test_gradcheck_runs_in_float64_and_leaves_inputs_alone() -> None:
    seen = []

    def f(t: lucid.Tensor) -> lucid.Tensor:
        seen.append(t.dtype)
        return t.sin()

    x = lucid.randn(3, requires_grad=True)
    before = x.numpy().copy()
    assert gradcheck(f, x)
    assert set(seen) == {lucid.float64}
    assert x.dtype == lucid.float32 and x.grad is None
    assert np.array_equal(x.numpy(), before)


def test_gradcheck_needs_an_input_that_requires_grad() -> None:
    with pytest.raises(ValueError, match="requires_grad=True"):
        gradcheck(lambda t: t * 2, lucid.ones(2))

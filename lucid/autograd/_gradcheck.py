"""``gradcheck``: autograd's gradients against central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lucid._grad_mode import no_grad
from lucid._tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def _float64_copy(x: Any) -> Any:
    # Finite differences in float32 drown in rounding error: check in float64.
    if isinstance(x, Tensor) and x.data.dtype.kind == "f":
        return Tensor(x.data, dtype=np.float64, requires_grad=x.requires_grad)
    return x


def _outputs(result: Any) -> list[Tensor]:
    results = result if isinstance(result, tuple | list) else (result,)
    outs = [r for r in results if isinstance(r, Tensor) and r.data.dtype.kind == "f"]
    if not outs:
        raise TypeError(
            f"gradcheck: fn must return a floating tensor or a tuple of them, got {result!r}"
        )
    return outs


def _flat_outputs(fn: Callable[..., Any], xs: Sequence[Any]) -> np.ndarray:
    with no_grad():
        return np.concatenate([o.data.astype(np.float64).ravel() for o in _outputs(fn(*xs))])


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against finite differences.

    Floating inputs are copied to float64; for each input with
    ``requires_grad=True`` the full Jacobian of every floating output is
    computed twice, by backward passes and by central differences
    ``(f(x + eps) - f(x - eps)) / (2 eps)``, and the two must agree within
    ``atol + rtol * |numerical|`` element by element. The Jacobian has one
    row per output element and one column per input element: keep the
    inputs small.

    Parameters
    ----------
    fn:
        A function of the inputs returning a tensor or a tuple of tensors.
    inputs:
        A tensor or a sequence of arguments for ``fn``; non-tensor arguments
        are passed through unchanged.
    eps:
        Finite-difference step.
    atol, rtol:
        Absolute and relative tolerance.
    raise_exception:
        Raise :class:`GradcheckError` on a mismatch (the default) instead of
        returning ``False``.

    Returns
    -------
    bool
        ``True`` when every gradient matches.

    Examples
    --------
    >>> import lucid
    >>> x = lucid.randn(3, 2, requires_grad=True)
    >>> lucid.autograd.gradcheck(lambda t: (t * t).sum(dim=1), x)
    True
    """
    xs = [_float64_copy(x) for x in ((inputs,) if isinstance(inputs, Tensor) else inputs)]
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(
            "gradcheck needs at least one floating input tensor with requires_grad=True"
        )

    outs = _outputs(fn(*xs))
    n_out = sum(o.numel() for o in outs)
    analytical = {i: np.zeros((n_out, xs[i].numel())) for i in checked}
    row = 0
    for out in outs:
        for j in range(out.numel()):
            if out.requires_grad:
                for i in checked:
                    xs[i].grad = None
                seed = np.zeros(out.shape, dtype=out.dtype)
                seed.flat[j] = 1
                out.backward(seed, retain_graph=True)
                for i in checked:
                    if xs[i].grad is not None:
                        analytical[i][row] = xs[i].grad.data.ravel()
            row += 1

    for i in checked:
        x = xs[i]
        flat = x.data.reshape(-1)
        numerical = np.empty((n_out, x.numel()))
        for k in range(x.numel()):
            orig = flat[k]
            flat[k] = orig + eps
            plus = _flat_outputs(fn, xs)
            flat[k] = orig - eps
            minus = _flat_outputs(fn, xs)
            flat[k] = orig
            numerical[:, k] = (plus - minus) / (2 * eps)

        excess = np.abs(analytical[i] - numerical) - (atol + rtol * np.abs(numerical))
        if excess.size and excess.max() > 0:
            r, col = np.unravel_index(np.argmax(excess), excess.shape)
            where = np.unravel_index(col, x.shape) if x.ndim else ()
            message = (
                f"gradcheck failed for input {i} (shape {x.shape!r}): d output element {r} / "
                f"d input{list(map(int, where))}: analytical {analytical[i][r, col]:.8g} vs "
                f"numerical {numerical[r, col]:.8g} (allowed difference atol={atol} + "
                f"rtol={rtol} * |numerical|); {int((excess > 0).sum())} of {excess.size} "
                "Jacobian entries differ"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True

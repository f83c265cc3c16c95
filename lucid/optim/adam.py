"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from lucid import _kernels
from lucid._tensor import Tensor
from lucid.optim.optimizer import Optimizer, ParamsT, _check_non_negative


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), PyTorch's update rule.

    For each parameter ``p`` with gradient ``g`` (negated when ``maximize``),
    at step ``t`` (counted from 1)::

        g = g + weight_decay * p              (AdamW instead: p = p * (1 - lr * weight_decay))
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                 (amsgrad; then v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Parameters
    ----------
    params:
        Tensors to optimize, or parameter-group dicts (see ``Optimizer``).
    lr:
        Learning rate.
    betas:
        Decay rates of the running averages of the gradient and of its square.
    eps:
        Added to the denominator for numerical stability.
    weight_decay:
        L2 penalty added to the gradient.
    amsgrad:
        Use the running maximum of the second moment (Reddi et al., 2018).
    maximize:
        Ascend the objective instead of descending it.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -1.9]
    """

    _state_kinds: ClassVar[Mapping[str, str]] = {
        "step": "count",
        "exp_avg": "moment",
        "exp_avg_sq": "square",
        "max_exp_avg_sq": "square",
    }
    # AdamW sets this: weight decay shrinks the parameters instead of joining the gradient.
    _decoupled_weight_decay = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative(group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"betas[{i}] must be in [0, 1), got {beta!r}")

    def _required_state(self, group: Mapping[str, Any]) -> set[str]:
        required = {"step", "exp_avg", "exp_avg_sq"}
        return required | {"max_exp_avg_sq"} if group["amsgrad"] else required

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update to every parameter that has a gradient.

        Parameters
        ----------
        closure:
            Optional function that recomputes the loss and its gradients.

        Returns
        -------
        Any
            The closure's result, or ``None`` without a closure.
        """
        loss = self._evaluate(closure)
        for group, grads in zip(self.param_groups, self._grads(), strict=True):
            # Python floats keep float32 arrays float32 (NumPy scalars would promote them).
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            for p, grad in grads:
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = Tensor._from_array(np.zeros_like(p.data))
                    state["exp_avg_sq"] = Tensor._from_array(np.zeros_like(p.data))
                if group["amsgrad"] and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = Tensor._from_array(np.zeros_like(p.data))
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"].data, state["exp_avg_sq"].data
                second = state["max_exp_avg_sq"].data if group["amsgrad"] else None
                _kernels.adam_update(
                    p.data,
                    grad,
                    exp_avg,
                    exp_avg_sq,
                    second,
                    step=t,
                    lr=lr,
                    beta1=beta1,
                    beta2=beta2,
                    eps=eps,
                    weight_decay=weight_decay,
                    decoupled=self._decoupled_weight_decay,
                    maximize=group["maximize"],
                )
                p._version.value += 1
        return loss


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), PyTorch's update rule.

    Identical to ``Adam`` except that weight decay multiplies the parameters
    by ``1 - lr * weight_decay`` before the update rather than adding an L2
    term to the gradient, and defaults to ``1e-2``.

    Parameters
    ----------
    params:
        Tensors to optimize, or parameter-group dicts (see ``Optimizer``).
    lr:
        Learning rate.
    betas:
        Decay rates of the running averages of the gradient and of its square.
    eps:
        Added to the denominator for numerical stability.
    weight_decay:
        Decoupled weight decay factor.
    amsgrad:
        Use the running maximum of the second moment.
    maximize:
        Ascend the objective instead of descending it.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.85, -1.8]
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

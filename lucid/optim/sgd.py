"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from lucid._tensor import Tensor
from lucid.optim.optimizer import Optimizer, ParamsT, _check_non_negative


class SGD(Optimizer):
    r"""Stochastic gradient descent, PyTorch's update rule.

    For each parameter ``p`` with gradient ``g`` (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g                                         at the first step
        b = momentum * b + (1 - dampening) * g        afterwards
        g = g + momentum * b  if nesterov  else  b    (when momentum != 0)
        p = p - lr * g

    Parameters
    ----------
    params:
        Tensors to optimize, or parameter-group dicts (see ``Optimizer``).
    lr:
        Learning rate.
    momentum:
        Momentum factor; ``0`` keeps no state.
    dampening:
        Dampening of the gradient's contribution to the momentum buffer.
    weight_decay:
        L2 penalty added to the gradient.
    nesterov:
        Use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize:
        Ascend the objective instead of descending it.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.46, -0.92]
    """

    _state_kinds: ClassVar[Mapping[str, str]] = {"momentum_buffer": "moment"}

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_non_negative(group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"nesterov=True needs momentum > 0 and dampening == 0, got momentum="
                f"{group['momentum']!r} and dampening={group['dampening']!r}"
            )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one SGD update to every parameter that has a gradient.

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
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            for p, grad in grads:
                if group["maximize"]:
                    grad = -grad
                if weight_decay != 0:
                    grad = grad + weight_decay * p.data
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        state["momentum_buffer"] = buf = Tensor._from_array(grad.copy())
                    else:
                        buf.data *= momentum
                        buf.data += grad if dampening == 0 else (1 - dampening) * grad
                    grad = grad + momentum * buf.data if group["nesterov"] else buf.data
                p.data -= lr * grad
                p._version.value += 1
        return loss

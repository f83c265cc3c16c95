"""``scaled_dot_product_attention`` as one fused function: two batched matmuls and a softmax."""

from __future__ import annotations

import math

import numpy as np

from lucid import _kernels, _random
from lucid._tensor import Tensor
from lucid.autograd import Function, unbroadcast
from lucid.nn._functional import counting


class _Attention(Function):
    @staticmethod
    def forward(ctx, q, k, v, bias, *, scale, keep):
        scores = _kernels.matmul(q, np.swapaxes(k, -1, -2))
        kernels = _kernels.compiled(scores) if bias is None and scale > 0 else None
        if kernels is not None:
            # Scaling and softmax in one pass, in place.
            kernels.softmax(scores.reshape(-1, scores.shape[-1]), scale)
        else:
            scores *= scale
            if bias is not None:
                if np.broadcast_shapes(scores.shape, bias.shape) == scores.shape:
                    scores += bias
                else:
                    scores = scores + bias
            # Softmax over keys, in place: scores becomes the attention weights.
            top = scores.max(axis=-1, keepdims=True, initial=-np.inf)
            # A query whose every key is masked out (all -inf), or that has no
            # keys, gets weights 0, hence output 0 and gradients 0, as in
            # PyTorch, not -inf - -inf = NaN.
            blind = top == -np.inf
            top[blind] = 0
            scores -= top
            np.exp(scores, out=scores)
            total = scores.sum(axis=-1, keepdims=True)
            total[blind] = 1
            scores /= total
        weights = scores if keep is None else scores * keep
        if ctx.needs_input_grad:
            ctx.scale = scale
            ctx.save_for_backward(q, k, v, scores, keep)
        batch = np.broadcast_shapes(weights.shape[:-2], v.shape[:-2])
        if not batch:
            return _kernels.matmul(weights, v)
        # (..., H, L, Ev) written in (..., L, H, Ev) memory: merging the heads
        # back into one (L, H * Ev) width, as every caller does, is then free.
        length, width = weights.shape[-2], v.shape[-1]
        out = np.empty((*batch[:-1], length, batch[-1], width), np.result_type(weights, v))
        _kernels.matmul(weights, v, out=np.swapaxes(out, -2, -3))
        return np.swapaxes(out, -2, -3)

    @staticmethod
    def backward(ctx, grad):
        q, k, v, attn, keep = ctx.saved_arrays
        needs_q, needs_k, needs_v, needs_bias = ctx.needs_input_grad
        weights = attn if keep is None else attn * keep
        gv = (
            unbroadcast(_kernels.matmul(np.swapaxes(weights, -1, -2), grad), v.shape)
            if needs_v
            else None
        )
        gq = gk = gbias = None
        if needs_q or needs_k or needs_bias:
            gs = _kernels.matmul(grad, np.swapaxes(v, -1, -2))
            if keep is not None:
                gs *= keep
            kernels = None if needs_bias else _kernels.compiled(gs, attn)
            if kernels is not None and gs.shape == attn.shape:
                rows = (-1, attn.shape[-1])
                kernels.softmax_backward(gs.reshape(rows), attn.reshape(rows), ctx.scale)
            else:
                # Softmax backward: attn * (g - sum(g * attn)) along the keys.
                gs -= np.einsum("...s,...s->...", gs, attn)[..., None]
                gs *= attn
                if needs_bias:
                    gbias = unbroadcast(gs, ctx.input_shapes[3])
                gs *= ctx.scale
            gq = unbroadcast(_kernels.matmul(gs, k), q.shape) if needs_q else None
            gk = (
                unbroadcast(_kernels.matmul(np.swapaxes(gs, -1, -2), q), k.shape)
                if needs_k
                else None
            )
        return gq, gk, gv, gbias


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value``, fused into one graph node.

    Parameters
    ----------
    query:
        Shape ``(*, L, E)``.
    key:
        Shape ``(*, S, E)``; the leading dimensions broadcast with ``query``'s.
    value:
        Shape ``(*, S, Ev)``.
    attn_mask:
        Broadcastable to ``(*, L, S)``: bool (``True`` where attention is
        allowed) or floating (added to the scores; it receives a gradient
        when it requires one). A query whose keys are all masked out
        (``False`` or ``-inf``) gets an output of zeros and no gradient, as
        in PyTorch.
    dropout_p:
        Probability of dropping an attention weight (pass 0 in evaluation).
    is_causal:
        Let position ``i`` attend only to keys ``j <= i`` (no ``attn_mask`` then).
    scale:
        Factor on the scores; ``1 / sqrt(E)`` by default.

    Returns
    -------
    Tensor of shape ``(*, L, Ev)``.

    Examples
    --------
    >>> import lucid
    >>> import lucid.nn.functional as F
    >>> q = k = v = lucid.randn(2, 4, 5, 8)
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (2, 4, 5, 8)
    """
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(
            f"scaled_dot_product_attention expects (*, L, E) tensors, got shapes "
            f"{query.shape}, {key.shape}, {value.shape}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: query {query.shape}, key {key.shape} and value "
            f"{value.shape} do not fit; expected query (*, L, E), key (*, S, E), value (*, S, Ev)"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
    length, source = query.shape[-2], key.shape[-2]
    bias: Tensor | np.ndarray | None = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("give either attn_mask or is_causal=True, not both")
        bias = np.triu(np.full((length, source), -np.inf, dtype=query.dtype), k=1)
    elif attn_mask is not None:
        if attn_mask.dtype.kind == "b":
            bias = np.where(attn_mask.data, 0.0, -np.inf).astype(query.dtype)
        else:
            bias = attn_mask
    batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    keep = None
    if dropout_p > 0:
        draws = _random.numpy_rng().random((*batch, length, source), dtype=np.float32)
        keep = (draws >= dropout_p).astype(query.dtype) / np.asarray(1 - dropout_p, query.dtype)
    if counting._totals:
        counting.add(int(np.prod(batch)) * length * source * (query.shape[-1] + value.shape[-1]))
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return _Attention.apply(query, key, value, bias, scale=factor, keep=keep)

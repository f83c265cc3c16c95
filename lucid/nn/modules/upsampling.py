"""``Upsample``: resize the spatial axes with ``lucid.nn.functional.interpolate``."""

from __future__ import annotations

from collections.abc import Sequence

from lucid._tensor import Tensor
from lucid.nn import functional as F
from lucid.nn.modules.module import Module


class Upsample(Module):
    """Resize ``(N, C, L)`` or ``(N, C, H, W)`` input to ``size`` or by ``scale_factor``.

    Parameters
    ----------
    size, scale_factor, mode, align_corners:
        As for ``lucid.nn.functional.interpolate``.

    Examples
    --------
    >>> import lucid
    >>> up = lucid.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> up(lucid.zeros(1, 3, 4, 4)).shape
    (1, 3, 8, 8)
    >>> up
    Upsample(scale_factor=2.0, mode='bilinear')
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        if isinstance(scale_factor, int | float):
            scale_factor = float(scale_factor)
        elif scale_factor is not None:
            scale_factor = tuple(float(f) for f in scale_factor)
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"

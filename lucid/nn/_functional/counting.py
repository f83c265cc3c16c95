"""The multiply-accumulate counter that ``lucid.nn.utils.count_macs`` switches on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# One running total per active ``counting()`` block, innermost last. Empty
# almost always, so the functions pay one truth test when nobody counts.
_totals: list[list[int]] = []


def add(macs: int) -> None:
    """Credit ``macs`` multiply-accumulates to every active counter."""
    for total in _totals:
        total[0] += int(macs)


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the MACs of matmul-like functions run inside the block into ``total[0]``."""
    total = [0]
    _totals.append(total)
    try:
        yield total
    finally:
        _totals.pop()  # blocks nest, so ours is the innermost

"""The one random generator behind every random number lucid draws."""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed lucid's generator: the same seed gives the same numbers everywhere in lucid.

    Examples
    --------
    >>> import lucid
    >>> _ = lucid.manual_seed(0)
    >>> a = lucid.rand(2)
    >>> _ = lucid.manual_seed(0)
    >>> bool((lucid.rand(2) == a).all())
    True
    """
    global _generator
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator in use (initialisers, dropout and the ``rand*`` functions draw from it)."""
    return _generator

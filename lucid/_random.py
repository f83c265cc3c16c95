"""Random number generators: ``lucid.Generator``, the default one, and saving their state."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lucid._tensor import Tensor

# A state is a flat uint8 tensor, as in PyTorch, so it goes into a checkpoint
# like any other tensor. Layout: tag, PCG64 state and increment (128 bits
# each), NumPy's buffered 32-bit half (flag + value), and the initial seed.
_STATE_TAG = b"LRNG\x01"
_STATE_BYTES = len(_STATE_TAG) + 16 + 16 + 1 + 4 + 8
_U64 = 1 << 64


def _check_seed(seed: Any) -> int:
    """``seed`` as an unsigned 64-bit number; PyTorch's range and wrap-around for negatives."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    if not -(1 << 63) <= seed < _U64:
        raise ValueError(
            f"seed must be in [-2**63, 2**64 - 1], got {seed}; reduce it, e.g. seed % 2**64"
        )
    return seed % _U64


class Generator:
    """A random number generator whose state can be saved and restored, as ``torch.Generator``.

    lucid draws every random number (``rand*``, ``randperm``, initialisers,
    dropout, data loading) from a generator: the one passed as ``generator=``,
    else :data:`lucid.default_generator`. NumPy's PCG64 does the drawing; the
    same seed always gives the same numbers.

    Parameters
    ----------
    device
        Only ``"cpu"`` exists in lucid.

    Examples
    --------
    >>> import lucid
    >>> g = lucid.Generator().manual_seed(7)
    >>> state = g.get_state()
    >>> a = lucid.rand(3, generator=g)
    >>> _ = g.set_state(state)
    >>> bool((lucid.rand(3, generator=g) == a).all())
    True
    """

    def __init__(self, device: Any = "cpu") -> None:
        if str(device) != "cpu":
            raise ValueError(f"lucid runs on the CPU only; got device={device!r}, use 'cpu'")
        self._initial_seed = 0
        self._rng = np.random.Generator(np.random.PCG64())
        self.seed()

    def manual_seed(self, seed: int) -> Generator:
        """Seed the generator; returns it, so ``Generator().manual_seed(0)`` reads as in PyTorch."""
        self._initial_seed = _check_seed(seed)
        # PCG64 seeded exactly as np.random.default_rng(seed) seeds it.
        self._rng = np.random.Generator(np.random.PCG64(self._initial_seed))
        return self

    def seed(self) -> int:
        """Seed the generator from the operating system's entropy and return that seed."""
        self.manual_seed(secrets.randbits(64))
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._initial_seed

    def get_state(self) -> Tensor:
        """The generator's full state as a 1-D ``uint8`` tensor (for checkpoints)."""
        from lucid._tensor import Tensor

        st = self._rng.bit_generator.state
        raw = (
            _STATE_TAG
            + st["state"]["state"].to_bytes(16, "little")
            + st["state"]["inc"].to_bytes(16, "little")
            + bytes([st["has_uint32"]])
            + int(st["uinteger"]).to_bytes(4, "little")
            + self._initial_seed.to_bytes(8, "little")
        )
        return Tensor._from_array(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state that :meth:`get_state` returned; the next draws repeat exactly."""
        raw = _state_bytes(new_state)
        at = len(_STATE_TAG)
        state = int.from_bytes(raw[at : at + 16], "little")
        inc = int.from_bytes(raw[at + 16 : at + 32], "little")
        has_uint32 = raw[at + 32]
        uinteger = int.from_bytes(raw[at + 33 : at + 37], "little")
        if has_uint32 > 1 or inc % 2 == 0:
            # PCG64 increments are odd by construction: anything else was not written by get_state.
            raise ValueError("not a lucid generator state: its fields are out of range")
        bit_generator = np.random.PCG64()
        bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": state, "inc": inc},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }
        self._rng = np.random.Generator(bit_generator)
        self._initial_seed = int.from_bytes(raw[at + 37 :], "little")
        return self

    def __repr__(self) -> str:
        return f"<lucid.Generator initial_seed={self._initial_seed}>"


def _state_bytes(state: Any) -> bytes:
    """The bytes of a saved generator state, checked before anything is changed."""
    from lucid._tensor import Tensor

    arr = state.data if isinstance(state, Tensor) else state
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 1:
        got = f"{type(state).__name__}" + (
            f" of dtype {arr.dtype} and shape {arr.shape}" if isinstance(arr, np.ndarray) else ""
        )
        raise TypeError(
            "a generator state is a 1-D uint8 tensor from get_state() or get_rng_state(); "
            f"got {got}"
        )
    if arr.size != _STATE_BYTES or arr[: len(_STATE_TAG)].tobytes() != _STATE_TAG:
        raise ValueError(
            f"not a lucid generator state: expected {_STATE_BYTES} bytes starting with "
            f"{_STATE_TAG!r} (as get_state() returns), got {arr.size} bytes"
        )
    return arr.tobytes()


default_generator = Generator()
"""The generator lucid draws from when no ``generator=`` is given."""


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator to draw from: ``generator``'s, or the default one's."""
    if generator is None:
        return default_generator._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a lucid.Generator, got {type(generator).__name__}")
    return generator._rng


def manual_seed(seed: int) -> Generator:
    """Seed the default generator: the same seed gives the same numbers everywhere in lucid.

    Returns :data:`lucid.default_generator`, as ``torch.manual_seed`` does.

    Examples
    --------
    >>> import lucid
    >>> _ = lucid.manual_seed(0)
    >>> a = lucid.rand(2)
    >>> _ = lucid.manual_seed(0)
    >>> bool((lucid.rand(2) == a).all())
    True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state as a ``uint8`` tensor; :func:`set_rng_state` restores it.

    Saved in a checkpoint, it lets a resumed run draw the same dropout masks
    and augmentations as an uninterrupted one.

    Examples
    --------
    >>> import lucid
    >>> state = lucid.get_rng_state()
    >>> a = lucid.randn(2)
    >>> lucid.set_rng_state(state)
    >>> bool((lucid.randn(2) == a).all())
    True
    """
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    """Restore the default generator's state from :func:`get_rng_state`."""
    default_generator.set_state(new_state)

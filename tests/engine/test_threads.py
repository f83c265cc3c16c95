"""Backward from several threads at once: gradients accumulate into shared leaves exactly."""

from __future__ import annotations

import threading

import numpy as np

import lucid

THREADS = 8
ROUNDS = 10


def test_threads_backpropagating_into_the_same_leaves_lose_nothing() -> None:
    # Arrays large enough that NumPy releases the GIL inside ``grad += g``:
    # without a lock, concurrent read-modify-writes lose whole contributions.
    leaves = [lucid.zeros(256, 256, requires_grad=True) for _ in range(6)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            # Each thread builds its own graph over the shared leaves; the
            # gradients are small integers, so every sum is exact.
            loss = lucid.stack([(leaf * (k + 1)).sum() for leaf in leaves]).sum()
            barrier.wait()
            loss.backward()
        except BaseException as e:  # reported by the main thread below
            errors.append(e)

    expected = sum(range(1, THREADS + 1))
    for _ in range(ROUNDS):
        for leaf in leaves:
            leaf.grad = None
        threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for leaf in leaves:
            np.testing.assert_array_equal(leaf.grad.numpy(), np.full((256, 256), expected))

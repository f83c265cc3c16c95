"""Thread control: set_num_threads governs lucid's threads (BLAS runs on one in each)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

import lucid
import lucid.nn.functional as F
from lucid._kernels import _threads

numba_kernels = pytest.importorskip("lucid._kernels._numba")
threadpoolctl = pytest.importorskip("threadpoolctl")

# Rows x features above the parallel threshold (PARALLEL_MIN elements).
BIG = (2048, 320)
# OpenBLAS runs at most as many threads as the machine has cores.
two_cores = pytest.mark.skipif(_threads.cores() < 2, reason="needs two cores for two BLAS threads")


@pytest.fixture(autouse=True)
def restore_threads() -> Iterator[None]:
    """Give the next test the thread setting this one found."""
    saved = (_threads._fixed, _threads._env_read, _threads._current, _threads._sample)
    yield
    with _threads._lock:
        _threads._fixed, _threads._env_read, _threads._current, _threads._sample = saved
        _threads._checked_at = 0.0
        _threads._blas_on_one_thread(fresh=True)


def blas_threads() -> set[int]:
    return {
        lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"
    }


def kernel_thread_idents(monkeypatch: pytest.MonkeyPatch, x: np.ndarray) -> set[int]:
    """The threads that ran a piece of one GELU over ``x``."""
    seen: set[int] = set()
    kernel = numba_kernels._gelu_rows

    def spy(*args):
        seen.add(threading.get_ident())
        kernel(*args)

    monkeypatch.setattr(numba_kernels, "_gelu_rows", spy)
    with lucid.no_grad():
        F.gelu(lucid.tensor(x))
    return seen


@pytest.mark.parametrize("n", [1, pytest.param(2, marks=two_cores)])
def test_set_num_threads_limits_blas_and_kernels(monkeypatch, rng, n):
    lucid.set_num_threads(n)
    assert lucid.get_num_threads() == n
    # BLAS runs on one thread in each of lucid's: n in all.
    assert blas_threads() == {1}
    x = rng.standard_normal(BIG).astype(np.float32)
    # Exactly n: the split works, and never uses more than it was given.
    assert len(kernel_thread_idents(monkeypatch, x)) == n


def test_set_num_threads_rejects_bad_counts():
    before = lucid.get_num_threads()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            lucid.set_num_threads(bad)  # type: ignore[arg-type]
    assert lucid.get_num_threads() == before


@two_cores
def test_default_follows_the_load(monkeypatch):
    """Another process taking a core's worth of CPU time leaves one thread."""
    monkeypatch.setattr(_threads, "cores", lambda: 2)
    monkeypatch.setattr(_threads, "_fixed", None)
    monkeypatch.setattr(_threads, "_env_read", True)
    monkeypatch.setattr(_threads, "_blas_cap", 2)
    # (wall, busy CPU seconds of our cores, our own CPU seconds), one second apart.
    monkeypatch.setattr(_threads, "_sample", (1000.0, 0.0, 0.0))
    monkeypatch.setattr(_threads, "_current", 2)
    samples = iter(
        [
            (1001.0, 2.0, 1.0),  # busy 2 core-seconds, 1 of them ours: 1 core taken
            (1002.0, 3.9, 2.9),  # busy 1.9, ours 1.9: the machine is ours again
        ]
    )
    monkeypatch.setattr(_threads, "_measure", lambda: next(samples))
    monkeypatch.setattr(_threads, "INTERVAL", 0.0)
    assert _threads.kernel_threads() == 1
    # Within the interval nothing is measured (a third measurement would raise).
    monkeypatch.setattr(_threads, "INTERVAL", 3600.0)
    assert _threads.kernel_threads() == 1
    monkeypatch.setattr(_threads, "INTERVAL", 0.0)
    assert _threads.kernel_threads() == 2
    assert blas_threads() == {1}  # BLAS stays on one thread in each of lucid's


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )


SHOW = (
    "import sys, lucid, numpy; print('threadpoolctl' in sys.modules); "
    "lucid.gelu(lucid.ones(256, 256)); from threadpoolctl import threadpool_info; "
    "print(lucid.get_num_threads(), "
    "sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))"
)


def test_environment_sets_the_default_lazily():
    done = _run(SHOW, LUCID_NUM_THREADS="1")
    assert done.stdout.split("\n")[:2] == ["False", "1 [1]"]


def test_bad_environment_value_warns_and_is_ignored():
    done = _run("import warnings; warnings.simplefilter('always'); " + SHOW, LUCID_NUM_THREADS="x")
    assert "LUCID_NUM_THREADS='x' is not a positive integer" in done.stderr
    count = int(done.stdout.split("\n")[1].split()[0])
    assert 1 <= count <= _threads.cores()


def test_helpers_keep_no_array_alive(rng):
    """After a split kernel call, dropping input and output frees them at once."""
    lucid.set_num_threads(2)
    x = rng.standard_normal(BIG).astype(np.float32)
    out = np.empty_like(x)
    assert len(_threads.spans(*BIG[:1], x.size)) == 2
    numba_kernels.gelu(x, None, out, None)
    refs = [weakref.ref(x), weakref.ref(out)]
    del x, out
    gc.collect()
    assert all(r() is None for r in refs), "a helper thread still holds the arrays"


def test_environment_reaches_blas_at_the_first_layer():
    code = (
        "import lucid, numpy; from threadpoolctl import threadpool_info; "
        "lucid.nn.Linear(4, 4, bias=False)(lucid.ones(2, 4)); "
        "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))"
    )
    assert _run(code, LUCID_NUM_THREADS="1").stdout.strip() == "[1]"


def test_numpy_integers_are_counts():
    before = lucid.get_num_threads()
    lucid.set_num_threads(np.int64(1))
    assert lucid.get_num_threads() == 1 and isinstance(lucid.get_num_threads(), int)
    lucid.set_num_threads(before)


def test_first_choice_counts_the_processes_running_now(monkeypatch):
    """Before any interval can be measured: the cores other running processes leave."""
    monkeypatch.setattr(_threads, "cores", lambda: 2)
    monkeypatch.setattr(_threads, "_fixed", None)
    monkeypatch.setattr(_threads, "_env_read", True)
    monkeypatch.setattr(_threads, "_blas_cap", 2)
    monkeypatch.setattr(_threads, "_sample", None)
    monkeypatch.setattr(_threads, "_current", None)
    monkeypatch.setattr(_threads, "_measure", lambda: (1000.0, 0.0, 0.0))
    for others, expected in ((0, 2), (1, 1), (5, 1)):
        monkeypatch.setattr(_threads, "_others_running", lambda o=others: o)
        monkeypatch.setattr(_threads, "_current", None)
        monkeypatch.setattr(_threads, "_sample", None)
        monkeypatch.setattr(_threads, "_checked_at", 0.0)
        assert _threads.kernel_threads() == expected


def test_running_processes_are_read_from_proc():
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg on this system")
    assert 0 <= _threads._others_running() < 10_000

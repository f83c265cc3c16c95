"""How many threads lucid uses, and the helper threads that share its work.

``set_num_threads(n)`` fixes the count at ``n``; the environment variable
``LUCID_NUM_THREADS`` does the same from the first layer on. Without either,
lucid adapts: every quarter of a second at most (checked whenever a layer
dispatches its work: linear layers, convolutions, the compiled kernels) it
measures how much CPU time other processes took on the cores
this process may run on, and uses the cores left, at least one.

Why adapt rather than use every core: a split operation waits for its
slowest thread. When another process holds a core, every one of the
thousands of operations of a training step can wait for a time slice of the
scheduler: with another process holding one of two cores, a PVT v2-b0
training step took 3x longer on two threads than on one. On an idle
machine every core is used.

The work of one operation is split by rows between the calling thread and
up to ``n - 1`` helper threads, which sleep between calls and hold no array
between them. That includes matrix products (``lucid._kernels._matmul``):
BLAS itself runs on one thread, limited through threadpoolctl (imported on
first need) as soon as lucid dispatches work, because OpenBLAS's own
workers busy-wait for a while after each parallel call, on the cores
lucid's next kernel needs. Only a workload of small products alone (a
batch of one) runs them on BLAS's ``n`` threads (:func:`blas_threads`).
BLAS's own settings (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``) cap
what the adaptive default may use.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import queue
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "get_num_threads",
    "kernel_threads",
    "run_parts",
    "run_rows",
    "set_num_threads",
    "spans",
]

# Seconds between two measurements of the load: long enough for the kernel's
# tick counters (100 a second per core) to say something, short enough to
# follow a competing job that starts or stops.
INTERVAL = 0.25

_lock = threading.Lock()
_fixed: int | None = None  # set_num_threads or LUCID_NUM_THREADS
_env_read = False
_current: int | None = None  # the adaptive choice, once made
_blas_cap: int | None = None  # BLAS threads before lucid changed them
_blas_limited = False  # BLAS on one thread, as lucid runs it
_controller: Any = None  # threadpoolctl.ThreadpoolController, created on first need
_blas_controllers: list[Any] = []  # its BLAS libraries
_modules_seen = -1  # len(sys.modules) when _controller was created
_sample: tuple[float, float, float] | None = None  # wall, busy CPU seconds, own CPU seconds
_checked_at = 0.0


def cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _check_count(n: Any, source: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(
            f"{source} must be a positive integer, got {n!r}; e.g. lucid.set_num_threads(2)"
        )
    return int(n)


# ------------------------------------------------------------------ BLAS ---


def _blas_libraries(fresh: bool = False) -> bool:
    """Make sure the controller knows every loaded BLAS library; ``True`` if it looked again.

    A new module may have brought its own BLAS (numba loads SciPy's, for
    one), and threadpoolctl only knows the libraries loaded when it looked:
    it looks again whenever ``sys.modules`` has grown, or when ``fresh``.
    """
    global _controller, _modules_seen, _blas_cap
    if _controller is not None and not fresh and len(sys.modules) == _modules_seen:
        return False
    from threadpoolctl import ThreadpoolController

    _controller = ThreadpoolController()
    _blas_controllers[:] = _controller.select(user_api="blas").lib_controllers
    _modules_seen = len(sys.modules)
    if _blas_cap is None:
        # Before lucid changes anything: BLAS's own environment variables speak here.
        counts = [lib.num_threads for lib in _blas_controllers]
        _blas_cap = max(counts, default=cores())
    return True


def _blas_cap_found() -> int:
    """The most BLAS threads the adaptive default may use: what BLAS was started with."""
    _blas_libraries()
    assert _blas_cap is not None
    return _blas_cap


def _blas_on_one_thread(fresh: bool = False) -> None:
    """Limit BLAS to one thread (``fresh``: look for BLAS libraries again first).

    lucid splits its products over its own threads (``lucid._kernels._matmul``),
    each running BLAS on one thread: OpenBLAS's own workers busy-wait for a
    while after each parallel call, on the cores lucid's next kernel needs.
    """
    global _blas_limited
    if _blas_libraries(fresh) or not _blas_limited:
        _controller.limit(limits=1, user_api="blas")
        _blas_limited = True


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """BLAS on ``n`` threads of its own inside the ``with`` block, one again after it."""
    for lib in _blas_controllers:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib in _blas_controllers:
            lib.set_num_threads(1)


# ----------------------------------------------------------- measuring ---


def _busy_seconds(cpus: set[int]) -> float | None:
    """CPU seconds the given cores have spent busy since boot (``None`` without /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as f:
            lines = f.read().split(b"\n")
    except OSError:
        return None
    ticks = 0
    for line in lines:
        if not line.startswith(b"cpu") or line.startswith(b"cpu "):
            continue
        name, *fields = line.split()
        if int(name[3:]) in cpus:
            # user, nice, system, irq, softirq, steal: all but idle and iowait.
            values = [int(v) for v in fields[:8]]
            ticks += sum(values[i] for i in (0, 1, 2, 5, 6, 7))
    return ticks / os.sysconf("SC_CLK_TCK")


def _others_running() -> int:
    """Threads of other processes running or ready to run now (``/proc/loadavg``), or 0."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - 1)  # this thread is one of them


def _measure() -> tuple[float, float, float] | None:
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None
    busy = _busy_seconds(cpus)
    if busy is None:
        return None
    own = os.times()
    return time.monotonic(), busy, own.user + own.system


def _adapt() -> int:
    """Threads to use now: the cores other processes left free (at least one)."""
    global _current, _sample, _checked_at
    now = time.monotonic()
    if _current is not None and now - _checked_at < INTERVAL:
        return _current
    _checked_at = now
    sample = _measure()
    n = cores()
    if sample is not None and _sample is not None and sample[0] > _sample[0]:
        wall = sample[0] - _sample[0]
        others = max(0.0, (sample[1] - _sample[1]) - (sample[2] - _sample[2])) / wall
        n = int(n - others + 0.5)
    elif sample is not None and _current is None:
        # The first call: until there is an interval to measure, the cores
        # that the other processes running at this moment leave. (Not the
        # load average: a minute long, it still counts a job that has just
        # ended, such as the previous run of the same script.)
        n -= _others_running()
    elif _current is not None:
        n = _current  # no measurement possible
    _sample = sample
    _current = max(1, min(n, cores(), _blas_cap_found()))
    _blas_on_one_thread()
    return _current


# ----------------------------------------------------------- the helpers ---

# Arrays with fewer elements run on the calling thread alone: waking a
# helper thread costs about 0.08 ms on a VM.
PARALLEL_MIN = 1 << 18


class _Helpers:
    """Threads that run a kernel on their share of the rows while the caller runs its own."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.inboxes: list[queue.SimpleQueue[Any]] = []

    def _serve(self, inbox: queue.SimpleQueue[Any]) -> None:
        while True:
            kernel, args = inbox.get()
            try:
                kernel(*args)
            except BaseException as error:  # handed to the caller, which raises it
                result: BaseException | None = error
            else:
                result = None
            # Hold no array while waiting for the next call: the caller may
            # have dropped them, and they can be hundreds of megabytes.
            del kernel, args
            self.done.put(result)

    def run(self, kernel: Callable[..., None], calls: Sequence[tuple[Any, ...]]) -> None:
        # One caller at a time: the helpers' answers share one queue.
        with self.lock:
            # Started as needed: the thread count may rise (set_num_threads, less load).
            while len(self.inboxes) < len(calls) - 1:
                inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
                thread = threading.Thread(target=self._serve, args=(inbox,), daemon=True)
                thread.name = "lucid-kernels"
                thread.start()
                self.inboxes.append(inbox)
            for inbox, args in zip(self.inboxes, calls[1:], strict=False):
                inbox.put((kernel, args))
            errors = []
            try:
                kernel(*calls[0])
            finally:
                for _ in calls[1:]:
                    error = self.done.get()
                    if error is not None:
                        errors.append(error)
            if errors:
                raise errors[0]


_helpers: _Helpers | None = None
_helpers_lock = threading.Lock()


def spans(rows: int, size: int) -> list[tuple[int, int]]:
    """The rows ``[lo, hi)`` of each thread: one span for arrays below PARALLEL_MIN."""
    parts = 1 if size < PARALLEL_MIN else max(1, min(rows, kernel_threads()))
    return [(k * rows // parts, (k + 1) * rows // parts) for k in range(parts)]


def run_parts(kernel: Callable[..., None], calls: Sequence[tuple[Any, ...]]) -> None:
    """Run ``kernel(*args)`` for every ``args`` in ``calls``, all at once."""
    global _helpers
    if len(calls) == 1:
        kernel(*calls[0])
        return
    with _helpers_lock:
        # None yet, or a forked child, which has the object but not the threads.
        if _helpers is None or _helpers.pid != os.getpid():
            _helpers = _Helpers()
    _helpers.run(kernel, calls)


def run_rows(kernel: Callable[..., None], rows: int, size: int, *args: Any) -> None:
    """Run ``kernel(*args, lo, hi)`` over ``rows`` rows (``size`` elements) on the threads."""
    run_parts(kernel, [(*args, lo, hi) for lo, hi in spans(rows, size)])


# ------------------------------------------------------------------- API ---


def _from_environment() -> None:
    global _fixed, _env_read
    _env_read = True
    value = os.environ.get("LUCID_NUM_THREADS", "").strip()
    if not value:
        return
    try:
        _fixed = _check_count(int(value), "LUCID_NUM_THREADS")
    except ValueError:
        warnings.warn(
            f"LUCID_NUM_THREADS={value!r} is not a positive integer and is ignored; "
            "lucid chooses its thread count from the load instead",
            RuntimeWarning,
            stacklevel=4,
        )


def kernel_threads() -> int:
    """The number of threads a kernel may use now (checked at every dispatch, so it is cheap)."""
    with _lock:
        if not _env_read:
            _from_environment()
        if _fixed is None:
            return _adapt()
        _blas_on_one_thread()  # cheap, unless a module that may bring a BLAS library was loaded
        return _fixed


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for lucid's operations, matrix products included, from now on.

    lucid splits each large operation over ``n`` threads, BLAS running on
    one thread in each (so BLAS's own limit, as threadpoolctl reports it,
    is 1 once lucid has run; NumPy code of your own shares that limit).
    Without this call (or ``LUCID_NUM_THREADS``), lucid uses the cores other
    processes leave free, measured as it runs: see the performance guide.

    Parameters
    ----------
    n
        A positive number of threads.

    Examples
    --------
    >>> import lucid
    >>> before = lucid.get_num_threads()
    >>> lucid.set_num_threads(1)
    >>> lucid.get_num_threads()
    1
    >>> lucid.set_num_threads(before)
    """
    global _fixed, _env_read
    n = _check_count(n, "the number of threads")
    with _lock:
        _env_read = True
        _fixed = n
        _blas_on_one_thread(fresh=True)


def get_num_threads() -> int:
    """The number of threads lucid's operations use now.

    Returns
    -------
    int
        The number set by :func:`set_num_threads` or ``LUCID_NUM_THREADS``,
        else the adaptive choice (the cores other processes leave free).

    Examples
    --------
    >>> import lucid
    >>> lucid.get_num_threads() >= 1
    True
    """
    return kernel_threads()

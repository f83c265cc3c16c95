"""DataLoader against torch.utils.data.DataLoader's documented semantics, with real workers."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from torch.utils.data._utils.worker import _generate_state

import lucid
from lucid import _random
from lucid.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info


class Numbers(Dataset):
    """Sample i is (i, i * 10); optionally fails or dies at one index."""

    def __init__(self, n, fail_at=None, error=ValueError, kill_at=None, sleep=0.0):
        self.n, self.fail_at, self.error, self.kill_at, self.sleep = (
            n,
            fail_at,
            error,
            kill_at,
            sleep,
        )

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.sleep)
        if i == self.fail_at:
            raise self.error(f"sample {i} is broken")
        if i == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return i, i * 10


class NeedsTwo(Exception):
    """An exception whose constructor cannot take just a message."""

    def __init__(self, a, b):
        super().__init__(a, b)


class WorkerState(Dataset):
    """What each sample sees of its worker's random state."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "worker": info.id,
            "seed": info.seed,
            "num_workers": info.num_workers,
            "lucid": lucid.rand(1).item(),
            "random": random.random(),
            "numpy": np.random.random(),
        }


class Stream(IterableDataset):
    """0 .. n-1, split between the workers if `shard`, else repeated by each."""

    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __len__(self):
        return self.n

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class TorchStream(tud.IterableDataset):
    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = tud.get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def _batches(loader):
    return [[t.tolist() for t in batch] if isinstance(batch, list) else batch for batch in loader]


def _torch_batches(loader):
    return [[t.tolist() for t in batch] if isinstance(batch, list) else batch for batch in loader]


# ------------------------------------------------------------- batching ---


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 3},
        {"batch_size": 3, "drop_last": True},
        {"batch_size": 10},
        {"batch_size": 4, "drop_last": True},
        {"batch_size": None},
    ],
)
def test_batches_equal_torchs(kwargs):
    ours = list(DataLoader(Numbers(10), **kwargs))
    theirs = list(tud.DataLoader(Numbers(10), **kwargs))
    assert len(ours) == len(theirs) == len(DataLoader(Numbers(10), **kwargs))
    for a, b in zip(ours, theirs, strict=True):
        if kwargs["batch_size"] is None:
            assert a == b
        else:
            assert [t.tolist() for t in a] == [t.tolist() for t in b]
            assert [str(t.dtype) for t in a] == ["int64", "int64"]


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize(("batch_size", "drop_last"), [(3, False), (3, True), (None, False)])
def test_iterable_dataset_batches_equal_torchs(num_workers, batch_size, drop_last):
    kwargs = {"batch_size": batch_size, "drop_last": drop_last, "num_workers": num_workers}
    ours = [b.tolist() if hasattr(b, "tolist") else b for b in DataLoader(Stream(11), **kwargs)]
    theirs = [
        b.tolist() if hasattr(b, "tolist") else b for b in tud.DataLoader(TorchStream(11), **kwargs)
    ]
    assert ours == theirs
    assert len(DataLoader(Stream(11), batch_size=batch_size, drop_last=drop_last)) == (
        11 if batch_size is None else (3 if drop_last else 4)
    )


def test_unsharded_iterable_dataset_repeats_per_worker_as_torch_documents():
    ours = [b.tolist() for b in DataLoader(Stream(4, shard=False), batch_size=2, num_workers=2)]
    theirs = [
        b.tolist() for b in tud.DataLoader(TorchStream(4, shard=False), batch_size=2, num_workers=2)
    ]
    assert ours == theirs == [[0, 1], [0, 1], [2, 3], [2, 3]]


def test_custom_collate_and_batch_sampler():
    loader = DataLoader(Numbers(6), batch_sampler=[[5, 0], [2]], collate_fn=lambda b: b)
    assert list(loader) == [[(5, 50), (0, 0)], [(2, 20)]]


# ------------------------------------------------------------ shuffling ---


def _shuffled(seed, num_workers, epochs=2, **kwargs):
    loader = DataLoader(
        Numbers(23),
        batch_size=4,
        shuffle=True,
        num_workers=num_workers,
        generator=lucid.Generator().manual_seed(seed),
        **kwargs,
    )
    return [_batches(loader) for _ in range(epochs)]


def test_shuffle_is_a_fresh_permutation_each_epoch_and_repeats_with_the_seed():
    first, second = _shuffled(0, 0)
    for epoch in (first, second):
        indices = [i for batch in epoch for i in batch[0]]
        assert sorted(indices) == list(range(23))
    assert first != second
    assert _shuffled(0, 0) == [first, second]
    assert _shuffled(1, 0) != [first, second]


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_give_the_same_batches_as_none(num_workers):
    assert _shuffled(7, num_workers) == _shuffled(7, 0)


def test_shuffle_without_generator_follows_the_default_generator():
    lucid.manual_seed(5)
    a = _batches(DataLoader(Numbers(9), batch_size=3, shuffle=True))
    lucid.manual_seed(5)
    assert _batches(DataLoader(Numbers(9), batch_size=3, shuffle=True, num_workers=2)) == a


# ---------------------------------------------------------- worker seeds ---


def test_workers_are_seeded_as_pytorch_seeds_them():
    seed = 123
    samples = list(
        DataLoader(
            WorkerState(),
            batch_size=None,
            num_workers=2,
            generator=lucid.Generator().manual_seed(seed),
        )
    )
    # The base seed is the first draw from the loader's generator.
    base_seed = int(_random.numpy_rng(lucid.Generator().manual_seed(seed)).integers(0, 2**63))
    assert [s["worker"] for s in samples] == [0, 1, 0, 1]
    for worker in (0, 1):
        mine = [s for s in samples if s["worker"] == worker]
        assert mine[0]["seed"] == base_seed + worker and mine[0]["num_workers"] == 2
        lucid_rng = lucid.Generator().manual_seed(base_seed + worker)
        assert [s["lucid"] for s in mine] == lucid.rand(2, generator=lucid_rng).tolist()
        py_rng = random.Random(base_seed + worker)
        assert [s["random"] for s in mine] == [py_rng.random(), py_rng.random()]
        # NumPy's global state: the words PyTorch's own _generate_state computes.
        np_rng = np.random.RandomState(_generate_state(base_seed, worker))
        assert [s["numpy"] for s in mine] == np_rng.random_sample(2).tolist()


def test_worker_info_and_worker_init_fn():
    assert get_worker_info() is None

    class Report(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            info = get_worker_info()
            return [info.id, info.dataset is self, os.getpid(), self.initialised]

    def init(worker_id):
        get_worker_info().dataset.initialised = worker_id + 100

    ds = Report()
    ds.initialised = None
    rows = [r for r in DataLoader(ds, batch_size=None, num_workers=2, worker_init_fn=init)]
    assert [r[0] for r in rows] == [0, 1] and all(r[1] for r in rows)
    assert {r[2] for r in rows}.isdisjoint({os.getpid()}) and len({r[2] for r in rows}) == 2
    assert [r[3] for r in rows] == [100, 101]
    assert ds.initialised is None  # the workers changed their own copies


# -------------------------------------------------------------- failures ---


def test_worker_exception_is_raised_with_the_worker_traceback():
    loader = DataLoader(Numbers(8, fail_at=5), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    message = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in message
    assert "Original Traceback" in message and "in __getitem__" in message
    assert "sample 5 is broken" in message


def test_worker_key_error_reads_clearly_and_odd_exceptions_become_runtime_errors():
    with pytest.raises(KeyError) as info:
        list(DataLoader(Numbers(4, fail_at=1, error=KeyError), num_workers=1))
    assert str(info.value).startswith("Caught KeyError in DataLoader worker process 0")

    def broken(batch):
        raise NeedsTwo(1, 2)

    with pytest.raises(RuntimeError, match="Caught NeedsTwo in DataLoader worker process 0"):
        list(DataLoader(Numbers(2), num_workers=1, collate_fn=broken))

    class Local(Exception):
        pass

    def local(batch):
        raise Local("made in a function")

    with pytest.raises(RuntimeError, match="Caught Local in DataLoader worker process 0"):
        list(DataLoader(Numbers(2), num_workers=1, collate_fn=local))


def test_worker_exception_leaves_the_other_batches_loadable():
    it = iter(DataLoader(Numbers(6, fail_at=2), batch_size=1, num_workers=2))
    assert next(it)[0].tolist() == [0] and next(it)[0].tolist() == [1]
    with pytest.raises(ValueError):
        next(it)
    assert [b[0].item() for b in it] == [3, 4, 5]


def test_unpicklable_batch_is_reported_not_hung():
    loader = DataLoader(Numbers(2), batch_size=1, num_workers=1, collate_fn=lambda b: lambda: b)
    with pytest.raises(Exception, match="while sending the batch"):
        list(loader)


def test_failing_worker_init_fn_is_reported():
    def init(worker_id):
        raise OSError(f"cannot open the shard of worker {worker_id}")

    with pytest.raises(OSError, match="cannot open the shard of worker 0"):
        list(DataLoader(Numbers(4), num_workers=1, worker_init_fn=init))


def test_killed_worker_names_itself_and_stops_the_others():
    it = iter(DataLoader(Numbers(12, kill_at=5), batch_size=1, num_workers=2))
    pids = [p.pid for p in it._workers]
    with pytest.raises(RuntimeError, match=r"DataLoader worker 1 \(pid \d+\) exited unexpectedly"):
        list(it)
    assert all(not p.is_alive() for p in it._workers)
    assert it._workers[1].pid == pids[1] and it._workers[1].exitcode == -signal.SIGKILL
    with pytest.raises(RuntimeError, match="killed by SIGKILL"):
        list(DataLoader(Numbers(4, kill_at=0), num_workers=1))


def test_timeout_raises_and_stops_the_workers():
    it = iter(DataLoader(Numbers(4, sleep=2.0), num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match=r"timed out after 0\.2 seconds"):
        next(it)
    assert not it._workers[0].is_alive()


def test_ctrl_c_ends_the_workers(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            from lucid.data import DataLoader, Dataset

            class Slow(Dataset):
                def __len__(self):
                    return 1000
                def __getitem__(self, i):
                    time.sleep(0.05)
                    return i

            it = iter(DataLoader(Slow(), num_workers=2))
            next(it)
            print(*[p.pid for p in it._workers], flush=True)
            for _ in it:
                pass
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    for pid in pids:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"worker {pid} still runs after Ctrl-C")


# ------------------------------------------------------ worker lifetime ---


def test_workers_stop_after_the_epoch_unless_persistent():
    it = iter(DataLoader(Numbers(4), num_workers=2))
    list(it)
    assert all(p.exitcode == 0 for p in it._workers)

    loader = DataLoader(
        Numbers(9),
        batch_size=2,
        shuffle=True,
        num_workers=2,
        persistent_workers=True,
        generator=lucid.Generator().manual_seed(0),
    )
    first = iter(loader)
    pids = [p.pid for p in first._workers]
    epoch = _batches(first)
    assert sorted(i for b in epoch for i in b[0]) == list(range(9))
    # An abandoned epoch, then a full one, all with the same workers.
    partial = iter(loader)
    next(partial)
    again = iter(loader)
    assert again is first and [p.pid for p in again._workers] == pids
    assert sorted(i for b in _batches(again) for i in b[0]) == list(range(9))
    assert all(p.is_alive() for p in again._workers)
    again._shutdown_workers()


def test_an_abandoned_epoch_stops_its_workers():
    it = iter(DataLoader(Numbers(64, sleep=0.01), batch_size=2, num_workers=2))
    next(it)
    workers = it._workers
    del it  # the last reference: busy workers are not waited for
    for process in workers:
        process.join(5)
        assert process.exitcode is not None


def test_persistent_workers_restart_iterable_datasets():
    loader = DataLoader(Stream(5), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4]]
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4]]
    loader._iterator._shutdown_workers()


def test_spawned_workers_give_the_same_batches():
    ds = TensorDataset(lucid.arange(10))
    g = lucid.Generator().manual_seed(3)
    spawned = DataLoader(
        ds, batch_size=3, shuffle=True, num_workers=1, generator=g, multiprocessing_context="spawn"
    )
    ref = DataLoader(ds, batch_size=3, shuffle=True, generator=lucid.Generator().manual_seed(3))
    assert _batches(spawned) == _batches(ref)


# ------------------------------------------------------------- arguments ---


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_workers": -1},
        {"timeout": -1},
        {"prefetch_factor": 2},
        {"persistent_workers": True},
        {"shuffle": True, "sampler": [0, 1]},
        {"batch_sampler": [[0]], "batch_size": 2},
        {"batch_sampler": [[0]], "drop_last": True},
        {"batch_size": None, "drop_last": True},
        {"batch_size": 0},
    ],
)
def test_refuses_what_torch_refuses(kwargs):
    with pytest.raises(ValueError):
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError):
        DataLoader(list(range(4)), **kwargs)


@pytest.mark.parametrize("kwargs", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}])
def test_iterable_dataset_refuses_samplers_as_torch(kwargs):
    with pytest.raises(ValueError, match="IterableDataset"):
        tud.DataLoader(TorchStream(3), **kwargs)
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(3), **kwargs)


def test_other_bad_arguments_are_refused_clearly():
    with pytest.raises(TypeError, match=r"lucid\.Generator"):
        DataLoader(Numbers(3), generator=torch.Generator())
    with pytest.raises(ValueError, match="must be one of"):
        DataLoader(Numbers(3), num_workers=1, multiprocessing_context="threads")
    with pytest.raises(TypeError, match="callable"):
        DataLoader(Numbers(3), collate_fn=3)
    loader = DataLoader(Numbers(3), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 4
    assert loader.batch_size == 2 and len(loader) == 2
    with pytest.warns(UserWarning, match="pin_memory"):
        DataLoader(Numbers(3), pin_memory=True)

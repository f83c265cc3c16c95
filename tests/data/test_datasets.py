"""Datasets, samplers and collation of lucid.data against torch.utils.data's behaviour."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import lucid
from lucid.data import (
    BatchSampler,
    ConcatDataset,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)

# ------------------------------------------------------------- datasets ---


def test_tensor_dataset_rows_and_errors():
    x, y = lucid.arange(12).reshape(4, 3), lucid.tensor([5, 6, 7, 8])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    row, label = ds[2]
    assert row.tolist() == [6, 7, 8] and label.item() == 7
    with pytest.raises(ValueError, match=r"\[4, 3\]"):
        TensorDataset(x, lucid.zeros(3))
    with pytest.raises(TypeError, match=r"lucid\.tensor"):
        TensorDataset(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_and_concat_index_as_torch():
    data = list(range(10, 20))
    subset, ref = Subset(data, [4, 1, 7]), tud.Subset(data, [4, 1, 7])
    assert [subset[i] for i in range(3)] == [ref[i] for i in range(3)] and len(subset) == 3
    parts = [list(range(3)), list(range(100, 104)), [7]]
    ours, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [3, 7, 8]
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    with pytest.raises(ValueError, match="absolute value"):
        ours[-9]
    with pytest.raises(IndexError, match="out of range"):
        ours[8]


def test_dataset_addition_concatenates():
    class Items(Dataset):
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    both = Items("ab") + Items("cde")
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(5)] == list("abcde")


def test_concat_dataset_refuses_what_torch_refuses():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Stream()])
    with pytest.raises(TypeError, match="iterate"):
        Stream()[0]
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


@pytest.mark.parametrize(
    ("n", "lengths"),
    [(10, [3, 7]), (10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.2, 0.7]), (5, [1.0])],
)
def test_random_split_lengths_match_torch_and_partition(n, lengths):
    g = lucid.Generator().manual_seed(1)
    parts = random_split(range(n), lengths, generator=g)
    expected = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [len(p) for p in expected]
    assert sorted(i for p in parts for i in p) == list(range(n))
    again = random_split(range(n), lengths, generator=lucid.Generator().manual_seed(1))
    assert [list(p) for p in parts] == [list(p) for p in again]


def test_random_split_uses_the_default_generator():
    lucid.manual_seed(3)
    first = [list(p) for p in random_split(range(20), [10, 10])]
    lucid.manual_seed(3)
    assert [list(p) for p in random_split(range(20), [10, 10])] == first


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [-1, 11], ["a", 1]])
def test_random_split_rejects_bad_lengths(lengths):
    with pytest.raises((ValueError, TypeError)):
        random_split(range(10), lengths)


# ------------------------------------------------------------- samplers ---


def test_sequential_and_batch_samplers_equal_torchs():
    for n, bs in [(10, 3), (9, 3), (1, 4), (0, 2)]:
        for drop_last in (False, True):
            ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
            ref = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
            assert list(ours) == list(ref)
            assert len(ours) == len(ref)


def test_random_sampler_permutes_and_repeats_with_a_seed():
    ds = range(17)
    order = list(RandomSampler(ds, generator=lucid.Generator().manual_seed(0)))
    assert sorted(order) == list(ds) and order != list(ds)
    assert order == list(RandomSampler(ds, generator=lucid.Generator().manual_seed(0)))
    # Without a generator, each pass seeds a new one from the default generator.
    lucid.manual_seed(4)
    sampler = RandomSampler(ds)
    a, b = list(sampler), list(sampler)
    assert a != b
    lucid.manual_seed(4)
    assert list(sampler) == a


def test_random_sampler_num_samples_spans_whole_passes():
    out = list(RandomSampler(range(5), num_samples=12, generator=lucid.Generator().manual_seed(2)))
    assert len(out) == 12
    assert sorted(out[:5]) == sorted(out[5:10]) == list(range(5))
    assert len(set(out[10:])) == 2


def test_random_sampler_with_replacement():
    sampler = RandomSampler(range(4), True, 100, lucid.Generator().manual_seed(0))
    out = list(sampler)
    assert len(out) == len(sampler) == 100 and set(out) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((range(0),), ValueError),
        ((range(3), 1), TypeError),
        ((range(3), False, 0), ValueError),
        ((range(3), False, None, 5), TypeError),
    ],
)
def test_random_sampler_rejects_bad_arguments(args, error):
    with pytest.raises(error):
        RandomSampler(*args)


@pytest.mark.parametrize(("bs", "drop_last"), [(0, False), (True, False), (2, 1), (2.5, False)])
def test_batch_sampler_rejects_what_torch_rejects(bs, drop_last):
    with pytest.raises(ValueError):
        tud.BatchSampler(range(3), bs, drop_last)
    with pytest.raises(ValueError):
        BatchSampler(range(3), bs, drop_last)


# ------------------------------------------------------------ collation ---

Point = collections.namedtuple("Point", "x y")


def _plain(value):
    """Torch or lucid batches as nested Python values with their container types."""
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype).removeprefix("torch."), value.tolist())
    if isinstance(value, lucid.Tensor):
        return ("tensor", str(value.dtype).replace("bool", "bool"), value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Point):
        return ("Point", [_plain(v) for v in value])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_plain(v) for v in value])
    return value


@pytest.mark.parametrize(
    "batch",
    [
        [(np.arange(4).reshape(2, 2), 0), (np.ones((2, 2), np.int64), 1)],
        [{"x": 1.5, "n": "a", "m": {"k": True}}, {"x": -2.0, "n": "b", "m": {"k": False}}],
        [[1, 2, 3], [4, 5, 6]],
        [Point(1, 2.5), Point(3, 4.5)],
        [np.float32(1.5), np.float32(2.5)],
        [b"ab", b"cd"],
        [(np.zeros(3, np.float32), {"label": 2, "names": ["p", "q"]})] * 3,
    ],
)
def test_default_collate_matches_torch(batch):
    ours, theirs = _plain(default_collate(batch)), _plain(tud.default_collate(batch))
    assert ours == theirs


def test_default_collate_stacks_lucid_tensors_and_refuses_ragged_input():
    out = default_collate([lucid.ones(2, 3), lucid.zeros(2, 3)])
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    with pytest.raises(RuntimeError, match=r"shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="numpy array of dtype"):
        default_collate([np.array(["a"]), np.array(["b"])])


@pytest.mark.parametrize(
    "data", [np.arange(3), {"a": np.ones(2), "b": "s"}, (np.zeros(1), 5), [np.int64(4)], 3.5]
)
def test_default_convert_matches_torch(data):
    assert _plain(default_convert(data)) == _plain(tud.default_convert(data))

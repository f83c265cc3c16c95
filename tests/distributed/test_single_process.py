"""lucid.distributed without a launcher: a group of one, the sampler, DDP's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch.utils.data

import lucid
import lucid.distributed as dist
from lucid import nn


@pytest.fixture
def group():
    dist.init_process_group()
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_a_process_without_mpirun_is_a_group_of_one(group):
    assert dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    x = lucid.tensor([1.0, 2.0])
    dist.all_reduce(x, op=dist.ReduceOp.AVG)
    assert x.tolist() == [1.0, 2.0]
    w = lucid.tensor([[1.0, 2.0], [3.0, 4.0]]).T  # not contiguous: staged and written back
    dist.broadcast(w)
    assert w.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    parts = [lucid.zeros(2)]
    dist.all_gather(parts, x)
    assert parts[0].tolist() == [1.0, 2.0]
    dist.barrier()


def test_process_group_errors():
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="mpirun"):
        dist.init_process_group("nccl")
    with pytest.raises(TypeError, match="launcher sets rank"):
        dist.init_process_group(world_size=2)
    dist.init_process_group()
    try:
        with pytest.raises(RuntimeError, match="twice"):
            dist.init_process_group()
        with pytest.raises(ValueError, match="list of 1 tensors"):
            dist.all_gather([], lucid.zeros(2))
        with pytest.raises(ValueError, match="shape"):
            dist.all_gather([lucid.zeros(3)], lucid.zeros(2))
        with pytest.raises(TypeError, match="AVG needs a floating"):
            dist.all_reduce(lucid.tensor([1, 2]), op=dist.ReduceOp.AVG)
        with pytest.raises(ValueError, match="src must be a rank"):
            dist.broadcast(lucid.zeros(2), src=1)
        with pytest.raises(TypeError, match=r"lucid\.Tensor or numpy"):
            dist.all_reduce([1.0, 2.0])
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shares_match_pytorch(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        ours = dist.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(
            data, replicas, rank, shuffle=False, drop_last=drop_last
        )
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_sampler_covers_every_sample_once_per_epoch_and_reshuffles():
    n, replicas = 23, 4

    def epoch(e: int) -> list[list[int]]:
        shares = []
        for rank in range(replicas):
            s = dist.DistributedSampler(range(n), replicas, rank, seed=5)
            s.set_epoch(e)
            shares.append(list(s))
        return shares

    first = epoch(0)
    assert len({len(s) for s in first}) == 1  # every rank gets the same count
    flat = [i for s in first for i in s]
    assert sorted(set(flat)) == list(range(n))
    assert len(flat) - n == 1  # 24 slots: exactly one sample is repeated as padding
    assert epoch(0) == first  # the same on every rank and every call
    assert epoch(1) != first


def test_sampler_rejects_bad_ranks():
    with pytest.raises(ValueError, match="Invalid rank 3"):
        dist.DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="num_replicas"):
        dist.DistributedSampler(range(4), num_replicas=0, rank=0)


def _net() -> nn.Module:
    lucid.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.GELU(), nn.Linear(3, 2))


def test_ddp_of_one_process_computes_the_plain_gradients(group):
    x = lucid.randn(5, 4)
    plain = _net()
    (plain(x) ** 2).sum().backward()
    ddp = dist.DistributedDataParallel(_net(), bucket_cap_mb=1e-5)  # one bucket per tensor
    assert len(ddp._buckets) == 4
    (ddp(x) ** 2).sum().backward()
    for p, q in zip(plain.parameters(), ddp.module.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert next(iter(ddp.state_dict())) == "module.0.weight"  # PyTorch's key prefix


def test_no_sync_accumulates_and_the_next_backward_averages_it_all(group):
    ddp = dist.DistributedDataParallel(_net())
    x = lucid.randn(3, 4)
    with ddp.no_sync():
        ddp(x).sum().backward()
        assert all(b.ready == 0 for b in ddp._buckets)
    ddp(x).sum().backward()
    assert ddp._launched == 0 and all(b.work is None for b in ddp._buckets)
    ref = _net()
    ref(x).sum().backward()
    ref(x).sum().backward()
    for p, q in zip(ref.parameters(), ddp.module.parameters(), strict=True):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-6)


def test_a_parameter_without_gradient_is_named_at_the_next_forward(group):
    net = _net()
    ddp = dist.DistributedDataParallel(net)
    x = lucid.randn(2, 4)
    net[0](x).sum().backward()  # the last layer gets no gradient
    with pytest.raises(RuntimeError, match=r"no gradient: 2\.weight, 2\.bias"):
        ddp(x)
    ddp(x).sum().backward()  # the error reset the bookkeeping: training can go on


def test_ddp_wraps_modules_only(group):
    with pytest.raises(TypeError, match=r"lucid\.nn\.Module"):
        dist.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        dist.DistributedDataParallel(_net(), bucket_cap_mb=0)

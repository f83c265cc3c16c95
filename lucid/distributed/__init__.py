"""Data-parallel training across processes and machines, on MPI (``torch.distributed``'s API).

Start the processes with an MPI launcher (``mpirun -n 2 python train.py``);
each calls :func:`init_process_group`, wraps its model in
:class:`DistributedDataParallel` and reads its share of the data through
:class:`DistributedSampler`. Without a launcher, a script runs as a group of
one process. Needs ``mpi4py`` and an MPI library: ``pip install
'lucid[distributed]'`` installs both.
"""

from lucid.distributed._ddp import DistributedDataParallel
from lucid.distributed._group import (
    ReduceOp,
    Work,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)
from lucid.distributed._sampler import DistributedSampler

__all__ = [
    "DistributedDataParallel",
    "DistributedSampler",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
]

"""Datasets, samplers and ``DataLoader``, with the names and meaning of ``torch.utils.data``."""

from lucid.data._collate import default_collate, default_convert
from lucid.data._worker import WorkerInfo, get_worker_info
from lucid.data.dataloader import DataLoader
from lucid.data.dataset import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from lucid.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "WorkerInfo",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]

"""Data-parallel training with lucid.distributed: `mpirun -n 2 python distributed_train.py`."""

import sys

import numpy as np

import lucid
import lucid.distributed as dist
from lucid import nn
from lucid.data import DataLoader, TensorDataset

dist.init_process_group()
rank = dist.get_rank()

# The same data on every rank; the sampler picks each rank's share.
rng = np.random.default_rng(0)
images = rng.standard_normal((256, 3, 8, 8), dtype=np.float32)
labels = (images.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
dataset = TensorDataset(lucid.tensor(images), lucid.tensor(labels))
sampler = dist.DistributedSampler(dataset, shuffle=True, seed=0)
loader = DataLoader(dataset, batch_size=16, sampler=sampler)

lucid.manual_seed(rank)  # differs per rank: DDP starts every rank from rank 0's weights
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(512, 2))
model = dist.DistributedDataParallel(model)
optimizer = lucid.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(3):
    sampler.set_epoch(epoch)
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # Average the last loss over the ranks for the log.
    mean_loss = lucid.tensor([loss.item()])
    dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG)
    if rank == 0:
        print(f"epoch {epoch}: loss {mean_loss.item():.3f}")
        lucid.save(
            model.module.state_dict(), sys.argv[1] if len(sys.argv) > 1 else "model.safetensors"
        )

dist.destroy_process_group()

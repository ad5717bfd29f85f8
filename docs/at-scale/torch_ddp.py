"""unielu with PyTorch DTensor and DDP: two processes on one machine (gloo).

Run: python torch_ddp.py [PORT]
"""

import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor
from torch.nn.parallel import DistributedDataParallel as DDP

import unielu
from unielu.layers.torch import ELU


def main(rank, world, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)

    # DTensor: each rank computes the rows it holds; the result is still Shard(0).
    mesh = init_device_mesh("cpu", (world,))
    x = distribute_tensor(torch.randn(8, 4), mesh, [Shard(0)])
    y = unielu.elu(x, alpha=1.0)
    assert y.placements == (Shard(0),)

    # DDP: the layer is an ordinary module; DDP averages the gradients as usual.
    model = DDP(nn.Sequential(nn.Linear(4, 16), ELU(), nn.Linear(16, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        optimizer.zero_grad()
        loss = model(torch.randn(32, 4)).pow(2).mean()
        loss.backward()
        optimizer.step()
    if rank == 0:
        print(f"rank 0: 5 steps, loss {loss.item():.4f}")
    # Both ranks done before either tears gloo down: a rank that exits while the
    # other still holds the connection can abort it.
    dist.barrier()
    del model
    dist.destroy_process_group()


if __name__ == "__main__":
    port = sys.argv[1] if len(sys.argv) > 1 else "29500"
    mp.spawn(main, args=(2, port), nprocs=2)

"""Two PyTorch processes on the gloo backend (loopback): DTensor, DDP and FSDP2
with unielu. Run by tests/test_torch_distributed.py; prints one JSON line.

``python torch_gloo.py PORT``: rank 0 prints the checks of both ranks.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

WORLD = 2
STEPS = 5


def _bits_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    same_kind = a.dtype == b.dtype == torch.float32 and a.shape == b.shape
    return same_kind and torch.equal(a.view(torch.int32), b.view(torch.int32))


def dtensor_checks(mesh) -> dict:
    from torch.distributed.tensor import Replicate, Shard, distribute_module, distribute_tensor
    from torch.distributed.tensor.debug import CommDebugMode

    import unielu
    from unielu.layers.torch import ELU

    full = torch.linspace(-20.0, 3.0, 24, dtype=torch.float32).reshape(6, 4)
    full[0, :4] = torch.tensor([-0.0, 0.0, -1e-30, 1e-30])
    alpha = 1.5
    found = {}
    for placement in (Shard(0), Shard(1), Replicate()):
        row = {}
        x = distribute_tensor(full, mesh, [placement]).requires_grad_()
        with CommDebugMode() as comm:
            y = unielu.elu(x, alpha)
            d = unielu.elu_derivative(x, alpha)
            y.backward(torch.ones_like(y))
        row["collectives"] = comm.get_total_counts()
        row["placements"] = [str(p) for p in (*y.placements, *d.placements, *x.grad.placements)]
        # Each rank computes its own shard: the local result is unielu's of the local input.
        row["local_elu"] = _bits_equal(y.to_local(), unielu.elu(x.to_local().detach(), alpha))
        row["local_shape_kept"] = tuple(y.to_local().shape) == tuple(x.to_local().shape)
        row["elu"] = _bits_equal(y.full_tensor().detach(), unielu.elu(full, alpha))
        row["elu_derivative"] = _bits_equal(d.full_tensor(), unielu.elu_derivative(full, alpha))
        row["grad_x"] = _bits_equal(x.grad.full_tensor(), unielu.elu_derivative(full, alpha))

        # A learned alpha, replicated as distribute_module does with parameters.
        layer = distribute_module(ELU(alpha, learn_alpha=True), mesh)
        x = distribute_tensor(full, mesh, [placement]).requires_grad_()
        with CommDebugMode() as comm:
            y = layer(x)
            y.backward(torch.ones_like(y))
        row["learned_collectives"] = comm.get_total_counts()
        row["learned_placements"] = [str(p) for p in y.placements]
        row["alpha_grad_placements"] = [str(p) for p in layer.alpha.grad.placements]
        reference = ELU(alpha, learn_alpha=True)
        plain = full.clone().requires_grad_()
        reference(plain).backward(torch.ones_like(plain))
        row["learned_elu"] = _bits_equal(y.full_tensor().detach(), unielu.elu(full, alpha))
        row["learned_grad_x"] = _bits_equal(x.grad.full_tensor(), plain.grad)
        # Summed in another order across ranks: equal to rounding.
        got, want = layer.alpha.grad.full_tensor().item(), reference.alpha.grad.item()
        row["grad_alpha_error"] = abs(got - want) / abs(want)
        found[str(placement)] = row
    # The counter sees a collective where there is one (so that 0 above means none).
    x = distribute_tensor(full, mesh, [Shard(0)])
    with CommDebugMode() as comm:
        x.redistribute(mesh, [Replicate()])
    found["control_collectives"] = comm.get_total_counts()
    return found


def _model(activation: nn.Module) -> nn.Module:
    torch.manual_seed(0)  # the same weights in every model and process
    return nn.Sequential(
        nn.Linear(8, 16), activation, nn.Linear(16, 16), activation, nn.Linear(16, 1)
    )


def _data(rank: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(100 + rank)  # each rank its own batches
    return [
        (3 * torch.randn(32, 8, generator=g), torch.randn(32, 1, generator=g)) for _ in range(STEPS)
    ]


def _train(model: nn.Module, rank: int) -> tuple[list[float], list[torch.Tensor]]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for x, target in _data(rank):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().clone() for p in model.parameters()]


def ddp_checks(rank: int) -> dict:
    from torch.nn.parallel import DistributedDataParallel as DDP

    from unielu.layers.torch import ELU

    ours_losses, ours = _train(DDP(_model(ELU())), rank)
    theirs_losses, theirs = _train(DDP(_model(nn.ELU())), rank)
    start = [p.detach() for p in _model(ELU()).parameters()]
    gathered = [None] * WORLD
    dist.all_gather_object(gathered, [p.tolist() for p in ours])
    return {
        "max_param_diff": max(
            (a - b).abs().max().item() for a, b in zip(ours, theirs, strict=True)
        ),
        "max_loss_diff": max(abs(a - b) for a, b in zip(ours_losses, theirs_losses, strict=True)),
        "trained": min((a - b).abs().max().item() for a, b in zip(ours, start, strict=True)) > 0,
        "same_on_every_rank": gathered[0] == gathered[1],
    }


def fsdp_checks(rank: int) -> dict:
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    from unielu.layers.torch import ELU

    def sharded(activation: nn.Module) -> nn.Module:
        model = _model(activation)
        for layer in model:
            if isinstance(layer, nn.Linear):
                fully_shard(layer)
        return fully_shard(model)

    ours = sharded(ELU())
    placements = sorted({str(p.placements) for p in ours.parameters() if isinstance(p, DTensor)})
    ours_losses, ours_params = _train(ours, rank)
    theirs_losses, theirs_params = _train(sharded(nn.ELU()), rank)
    return {
        "placements": placements,
        "max_param_diff": max(
            (a.full_tensor() - b.full_tensor()).abs().max().item()
            for a, b in zip(ours_params, theirs_params, strict=True)
        ),
        "max_loss_diff": max(abs(a - b) for a, b in zip(ours_losses, theirs_losses, strict=True)),
    }


def worker(rank: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(
        "gloo", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=30)
    )
    try:
        from torch.distributed.device_mesh import init_device_mesh

        mesh = init_device_mesh("cpu", (WORLD,))
        found = {
            "dtensor": dtensor_checks(mesh),
            "ddp": ddp_checks(rank),
            "fsdp2": fsdp_checks(rank),
        }
        everyone = [None] * WORLD
        dist.all_gather_object(everyone, found)
        if rank == 0:
            print(json.dumps({"world": WORLD, "ranks": everyone}), flush=True)
        # Both ranks done before either tears gloo down.
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # The models above keep the process group, and so gloo's worker threads, alive
    # after destroy_process_group. A worker still releasing a finished collective's
    # tensors waits for the GIL; if the interpreter is finalizing by then, the thread
    # is ended inside C++ and the process aborts ("terminate called without an active
    # exception", SIGABRT: seen in about 1 run in 20 on a loaded machine, core dumps
    # inspected). Every check is done and reported here, so the rank leaves at once.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    torch.set_num_threads(1)
    mp.spawn(worker, args=(int(sys.argv[1]),), nprocs=WORLD)

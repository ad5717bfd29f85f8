"""PyTorch at scale: two processes on the gloo backend (loopback), as
docs/at-scale.rst describes. DTensor with Shard and Replicate placements,
DistributedDataParallel and FSDP2's fully_shard, each with unielu.

The processes run tests/at_scale/torch_gloo.py (torch.multiprocessing.spawn),
once for the module, under a hard time limit; every rank reports its checks.
"""

from __future__ import annotations

import pytest
from at_scale import EXAMPLES, HERE, free_port, run, run_json

pytest.importorskip("torch", reason="needs torch (its own session has it)")

pytestmark = [pytest.mark.distributed, pytest.mark.only("torch", reason="PyTorch's engines")]

PLACEMENTS = ("S(0)", "S(1)", "R")  # Shard(0), Shard(1), Replicate()


@pytest.fixture(scope="module")
def ranks():
    found = run_json(HERE / "torch_gloo.py", str(free_port()))
    assert found["world"] == len(found["ranks"]) == 2
    return found["ranks"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_dtensor_values_and_gradients_are_unielus(backend, ranks, placement):
    for rank, found in enumerate(ranks):
        row = found["dtensor"][placement]
        # Computed where each shard lives: the local result is that of the local input.
        assert row["local_elu"] and row["local_shape_kept"], (rank, row)
        # Bitwise the single-process results, for elu, elu_derivative and the input's gradient.
        assert row["elu"] and row["elu_derivative"] and row["grad_x"], (rank, row)
        assert row["learned_elu"] and row["learned_grad_x"], (rank, row)
        # A learned alpha's gradient is summed over the shards by DTensor: equal to rounding.
        assert row["grad_alpha_error"] <= 1e-6, (rank, row)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_dtensor_placements_are_kept(backend, ranks, placement):
    for rank, found in enumerate(ranks):
        row = found["dtensor"][placement]
        # The result, the derivative and the input's gradient have the input's placement.
        assert row["placements"] == [placement] * 3, (rank, row)
        assert row["learned_placements"] == [placement], (rank, row)
        # A replicated alpha's gradient from a sharded input is a pending sum: DTensor
        # reduces it when it is read (by an optimizer), not unielu.
        expected = "R" if placement == "R" else "P(sum)"
        assert row["alpha_grad_placements"] == [expected], (rank, row)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_dtensor_adds_no_collective(backend, ranks, placement):
    for rank, found in enumerate(ranks):
        row = found["dtensor"][placement]
        assert row["collectives"] == 0 and row["learned_collectives"] == 0, (rank, row)
        # CommDebugMode counts the one all-gather of a redistribution: 0 above means none.
        assert found["dtensor"]["control_collectives"] >= 1, rank


def test_ddp_trains_as_nn_elu(backend, ranks):
    for rank, found in enumerate(ranks):
        row = found["ddp"]
        assert row["trained"] and row["same_on_every_rank"], (rank, row)
        assert row["max_param_diff"] <= 1e-6 and row["max_loss_diff"] <= 1e-6, (rank, row)


def test_fsdp2_trains_as_nn_elu(backend, ranks):
    for rank, found in enumerate(ranks):
        row = found["fsdp2"]
        assert row["placements"] == ["(Shard(dim=0),)"], (rank, row)  # really sharded
        assert row["max_param_diff"] <= 1e-6 and row["max_loss_diff"] <= 1e-6, (rank, row)


def test_docs_example(backend):
    out = run(EXAMPLES / "torch_ddp.py", str(free_port()))
    assert "rank 0: 5 steps" in out, out

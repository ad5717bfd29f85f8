"""unielu with JAX sharding: two devices made from the host CPU.

Run: python jax_sharding.py
"""

import os

# Before JAX is imported: two CPU devices (on GPUs or TPUs, leave this out).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import unielu

mesh = jax.make_mesh((2,), ("data",))
x = jax.device_put(jnp.linspace(-3, 3, 16).reshape(8, 2), NamedSharding(mesh, P("data")))

# jit: each device computes its rows; the result keeps x's sharding.
y = jax.jit(unielu.elu)(x)
dy = jax.jit(jax.vmap(jax.vmap(jax.grad(unielu.elu))))(x)  # elementwise derivative
assert y.sharding.is_equivalent_to(x.sharding, x.ndim)

# shard_map: unielu on the block each device holds.
z = jax.shard_map(unielu.elu, mesh=mesh, in_specs=P("data"), out_specs=P("data"))(x)
assert (z == y).all()
print(f"{len(y.addressable_shards)} shards, kept NamedSharding: {y.sharding.spec}")

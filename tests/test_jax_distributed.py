"""JAX at scale: two host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2,
set by tests/conftest.py before JAX is imported), as docs/at-scale.rst describes.

A NamedSharding input keeps its sharding through jit, grad and vmap of unielu,
each device computes its own shard and the compiled program has no collective;
shard_map works; a Flax NNX model trains data-parallel with the loss of the
unsharded model.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from at_scale import EXAMPLES, run

import unielu
from unielu._registry import release

jax = pytest.importorskip("jax", reason="needs jax (its own session has it)")
jnp = pytest.importorskip("jax.numpy", reason="needs jax (its own session has it)")
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

pytestmark = [pytest.mark.distributed, pytest.mark.only("jax", reason="JAX's sharding")]

ALPHA = 1.5
#: HLO instructions that move data between devices.
COLLECTIVES = re.compile(r"all-gather|all-reduce|all-to-all|collective-permute|reduce-scatter")
SPECS = {"rows": P("data"), "columns": P(None, "data"), "replicated": P()}


@pytest.fixture(scope="module")
def mesh():
    devices = jax.devices("cpu")
    assert len(devices) >= 2, (
        "JAX has one CPU device: XLA_FLAGS=--xla_force_host_platform_device_count=2 was not "
        "set before JAX was imported"
    )
    return jax.make_mesh((2,), ("data",), devices=devices[:2])


def _values() -> np.ndarray:
    values = np.linspace(-20.0, 3.0, 64, dtype=np.float32).reshape(8, 8)
    values[0, :4] = [-0.0, 0.0, -1e-30, 1e-30]
    return values


def _bits(a) -> np.ndarray:
    a = np.asarray(a)
    assert a.dtype == np.float32, a.dtype
    return a.view(np.uint32)


def _transforms():
    def elementwise_grad(f):  # d f / d x per element, by the reverse mode (grad under vmap)
        return jax.vmap(jax.vmap(jax.grad(lambda x: f(x, ALPHA))))

    return {
        "jit(elu)": (jax.jit(lambda x: unielu.elu(x, ALPHA)), unielu.elu),
        "jit(elu_derivative)": (
            jax.jit(lambda x: unielu.elu_derivative(x, ALPHA)),
            unielu.elu_derivative,
        ),
        "jit(vmap(grad(elu)))": (jax.jit(elementwise_grad(unielu.elu)), unielu.elu_derivative),
        "jit(vjp(elu))": (
            jax.jit(lambda x: jax.vjp(lambda t: unielu.elu(t, ALPHA), x)[1](jnp.ones_like(x))[0]),
            unielu.elu_derivative,
        ),
        "vmap(elu)": (jax.vmap(lambda row: unielu.elu(row, ALPHA)), unielu.elu),
    }


@pytest.mark.parametrize("transform", list(_transforms()))
@pytest.mark.parametrize("spec", list(SPECS))
def test_sharding_is_kept_and_each_device_computes_its_shard(backend, mesh, spec, transform):
    values = _values()
    sharding = NamedSharding(mesh, SPECS[spec])
    x = jax.device_put(values, sharding)
    f, expected = _transforms()[transform]
    y = f(x)
    assert y.sharding.is_equivalent_to(x.sharding, x.ndim), (y.sharding, x.sharding)
    # Bitwise the results of unielu on the whole array, on one device.
    np.testing.assert_array_equal(_bits(y), _bits(expected(jnp.asarray(values), ALPHA)))
    # Each device holds the result of its own shard.
    for xs, ys in zip(x.addressable_shards, y.addressable_shards, strict=True):
        assert ys.device == xs.device and ys.index == xs.index
        np.testing.assert_array_equal(_bits(ys.data), _bits(expected(xs.data, ALPHA)))


@pytest.mark.parametrize("transform", [t for t in _transforms() if t.startswith("jit")])
@pytest.mark.parametrize("spec", list(SPECS))
def test_compiled_program_moves_no_data(backend, mesh, spec, transform):
    x = jax.device_put(_values(), NamedSharding(mesh, SPECS[spec]))
    f, _ = _transforms()[transform]
    hlo = f.lower(x).compile().as_text()
    assert not COLLECTIVES.findall(hlo), COLLECTIVES.findall(hlo)
    # The check sees a collective where there is one (a sum over the sharded rows).
    total = jax.jit(lambda x: x.sum(axis=0)).lower(x).compile().as_text()
    assert COLLECTIVES.search(total) or spec != "rows"


def test_learned_alpha_gradient(backend, mesh):
    values = _values()
    x = jax.device_put(values, NamedSharding(mesh, P("data")))

    def loss(alpha, x):
        return unielu.elu(x, alpha).sum()

    alpha = jnp.float32(ALPHA)
    g_sharded = jax.jit(jax.grad(loss))(alpha, x)
    g_one = jax.jit(jax.grad(loss))(alpha, jnp.asarray(values))
    # Summed per shard then across devices: equal to rounding.
    np.testing.assert_allclose(float(g_sharded), float(g_one), rtol=1e-6)


def _shard_map():
    """jax.shard_map came in JAX 0.6.1; jax.experimental.shard_map's before it.

    Before JAX 0.6, shard_map's replication check has no rule for a custom_jvp
    call inside a jit that takes a replicated operand (alpha): it raises
    NotImplementedError and names ``check_rep=False`` as the workaround, which
    users of those releases pass too (docs/versions.rst)."""
    if release(jax.__version__) < (0, 6):
        from jax.experimental.shard_map import shard_map

        return functools.partial(shard_map, check_rep=False)
    if release(jax.__version__) < (0, 6, 1):
        from jax.experimental.shard_map import shard_map

        return shard_map
    return jax.shard_map


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_shard_map(backend, mesh, func):
    values = _values()
    f = getattr(unielu, func)
    mapped = jax.jit(
        _shard_map()(
            lambda block: f(block, ALPHA), mesh=mesh, in_specs=P("data"), out_specs=P("data")
        )
    )
    x = jax.device_put(values, NamedSharding(mesh, P("data")))
    y = mapped(x)
    assert y.sharding.is_equivalent_to(x.sharding, x.ndim)
    assert not COLLECTIVES.findall(mapped.lower(x).compile().as_text())
    np.testing.assert_array_equal(_bits(y), _bits(f(jnp.asarray(values), ALPHA)))


def test_flax_nnx_data_parallel_step_has_the_unsharded_loss(backend, mesh):
    nnx = pytest.importorskip("flax.nnx", reason="the Flax layer needs flax")
    optax = pytest.importorskip("optax", reason="the Flax training step needs optax")
    from unielu.layers.flax import ELU

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(8, 32, rngs=rngs)
            self.act = ELU(1.0, learn_alpha=True)
            self.out = nnx.Linear(32, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(self.act(self.hidden(x)))

    rng = np.random.default_rng(0)
    x = (2 * rng.normal(size=(64, 8))).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)

    def train(shard: bool) -> tuple[list[float], object]:
        model = MLP(nnx.Rngs(0))
        optimizer = nnx.Optimizer(model, optax.sgd(0.01), wrt=nnx.Param)
        batch, target = jnp.asarray(x), jnp.asarray(y)
        if shard:  # data parallel: the batch split over the devices, the model replicated
            data = NamedSharding(mesh, P("data"))
            batch, target = jax.device_put(batch, data), jax.device_put(target, data)
            state = nnx.state((model, optimizer))
            nnx.update((model, optimizer), jax.device_put(state, NamedSharding(mesh, P())))

        @nnx.jit
        def step(model, optimizer, batch, target):
            def loss(m):
                return ((m(batch) - target) ** 2).mean()

            value, grads = nnx.value_and_grad(loss)(model)
            optimizer.update(model, grads)
            return value

        with jax.default_matmul_precision("float32"):
            losses = [float(step(model, optimizer, batch, target)) for _ in range(5)]
        return losses, model

    sharded, sharded_model = train(shard=True)
    single, single_model = train(shard=False)
    assert sharded[-1] < sharded[0]  # it trains
    # The mean's sum runs per device then across them: equal to rounding.
    np.testing.assert_allclose(sharded, single, rtol=1e-5)
    alpha = sharded_model.act.alpha[...]
    assert alpha.sharding.is_fully_replicated and len(alpha.sharding.device_set) == 2
    np.testing.assert_allclose(float(alpha), float(single_model.act.alpha[...]), rtol=1e-5)
    assert float(alpha) != 1.0  # the learned alpha moved


@pytest.mark.skipif(
    release(jax.__version__) < (0, 6, 1),
    reason=f"jax {jax.__version__}: the example calls jax.shard_map, which came in JAX 0.6.1",
)
def test_docs_example(backend):
    out = run(EXAMPLES / "jax_sharding.py")
    assert "kept NamedSharding" in out, out

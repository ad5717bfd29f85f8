"""``alpha`` as an array (docs/contract.rst, "alpha"), on the backend(s) under test.

An array of ``x``'s framework (for Dask also a NumPy array), 0-d or
broadcastable to ``x``'s shape without changing it: each element is computed
with its own alpha, to the contract's accuracy, and the result keeps ``x``'s
shape and dtype. Bad alpha arrays raise, naming ``alpha``.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import grid, numpy_dtype, ulp_errors

import unielu
from unielu._threads import PARALLEL_MIN

FUNCS = ("elu", "elu_derivative")
FLOATS = ("float16", "bfloat16", "float32", "float64")
#: One alpha per channel: 0 (ReLU), below, at and above 1.
CHANNELS = np.array([0.0, 0.5, 1.0, 1.7, 3.0])
C = len(CHANNELS)
#: alpha's dtype: x's own, or another floating one (the result keeps x's).
ALPHA_DTYPES = ("x's", "other")


def alpha_dtype(kind, dtype):
    if kind == "x's":
        return dtype
    return "float32" if dtype == "float64" else "float64"


def worst(errors, x):
    i = int(np.argmax(errors))
    return f"worst {errors[i]:.2f} ULP at x={x[i]!r}"


def check_lines(backend, func, dtype, y, stored_alphas, axis):
    """Each line of y along ``axis`` holds the grid, computed with its own alpha (1-d: one line)."""
    assert backend.dtype_name(y) == dtype
    got = backend.to_numpy(y)
    got = got[None] if got.ndim == 1 else np.moveaxis(got, axis, 0)
    x = grid(dtype)
    assert got.shape == (len(stored_alphas), len(x))
    for line, alpha in zip(got, stored_alphas, strict=True):
        errors = ulp_errors(line, func, dtype, float(alpha), backend.flush_subnormals)
        assert errors.max() <= backend.ulp, f"alpha {alpha}: {worst(errors, x)}"


def snapshot(backend, *arrays):
    return [backend.to_numpy(a).copy() for a in arrays]


def assert_untouched(backend, before, *arrays):
    for old, a in zip(before, arrays, strict=True):
        np.testing.assert_array_equal(backend.to_numpy(a), old)
        assert (np.signbit(backend.to_numpy(a)) == np.signbit(old)).all()


# -- values ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALPHA_DTYPES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_zero_d_alpha(backend, func, dtype, kind):
    x = backend.asarray(grid(dtype), dtype)
    alpha = backend.asarray(np.array(1.7), alpha_dtype(kind, dtype))
    before = snapshot(backend, x, alpha)
    y = getattr(unielu, func)(x, alpha)
    check_lines(backend, func, dtype, y, backend.to_numpy(alpha).reshape(1), 0)
    assert_untouched(backend, before, x, alpha)


@pytest.mark.parametrize("shape", [(C,), (1, C)], ids=["(C,)", "(1, C)"])
@pytest.mark.parametrize("kind", ALPHA_DTYPES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_per_channel(backend, func, dtype, kind, shape):
    # x of shape (N, C): every column holds the whole grid.
    x = backend.asarray(np.repeat(grid(dtype)[:, None], C, axis=1), dtype)
    alpha = backend.asarray(CHANNELS.reshape(shape), alpha_dtype(kind, dtype))
    before = snapshot(backend, x, alpha)
    y = getattr(unielu, func)(x, alpha)
    check_lines(backend, func, dtype, y, backend.to_numpy(alpha).ravel(), 1)
    assert_untouched(backend, before, x, alpha)


@pytest.mark.parametrize("kind", ALPHA_DTYPES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_with_the_full_shape_of_x(backend, func, dtype, kind):
    n = len(grid(dtype))
    x = backend.asarray(np.repeat(grid(dtype)[None, :], C, axis=0), dtype)  # (C, N)
    alpha = backend.asarray(np.repeat(CHANNELS[:, None], n, axis=1), alpha_dtype(kind, dtype))
    before = snapshot(backend, x, alpha)
    y = getattr(unielu, func)(x, alpha)
    check_lines(backend, func, dtype, y, backend.to_numpy(alpha)[:, 0], 0)
    assert_untouched(backend, before, x, alpha)


@pytest.mark.parametrize("int_dtype", ["int32", "int64", "uint8"])
@pytest.mark.parametrize("func", FUNCS)
def test_integer_alpha(backend, func, int_dtype):
    x = backend.asarray(np.repeat(grid("float32")[:, None], 4, axis=1), "float32")
    alpha = backend.asarray(np.array([0, 1, 2, 3]), int_dtype)
    y = getattr(unielu, func)(x, alpha)
    check_lines(backend, func, "float32", y, [0, 1, 2, 3], 1)


@pytest.mark.parametrize("func", FUNCS)
def test_integer_input_with_alpha_array_gives_default_float(backend, func):
    x = backend.asarray(np.array([[-3, 0, 2], [5, -1, 0]]), "int32")
    alpha = backend.asarray(np.array([0.5, 1.0, 2.0]), backend.default_float)
    y = getattr(unielu, func)(x, alpha)
    assert backend.dtype_name(y) == backend.default_float
    expected = getattr(unielu, func)(np.array([[-3.0, 0, 2], [5, -1, 0]]), np.array([0.5, 1, 2]))
    np.testing.assert_allclose(backend.to_numpy(y), expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(0,), (2, 0, 3)])
def test_empty_x_with_alpha_array(backend, shape):
    x = backend.asarray(np.zeros(shape), "float32")
    alpha = backend.asarray(np.ones(shape[-1:]), "float32")
    for func in FUNCS:
        y = getattr(unielu, func)(x, alpha)
        assert backend.to_numpy(y).shape == shape


# -- errors ------------------------------------------------------------------------


@pytest.mark.only(
    "torch", "tensorflow", "jax", "cupy", "array_api",
    reason="NumPy takes NumPy arrays, and Dask takes them too",
)  # fmt: skip
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_alpha_for_another_framework_raises_type_error(backend, func):
    x = backend.asarray(np.linspace(-2, 2, 6).reshape(2, 3), "float32")
    alpha = np.array([1.0, 2.0, 3.0], np.float32)
    before = snapshot(backend, x)
    with pytest.raises(TypeError, match=r"argument 'alpha'.*numpy.ndarray"):
        getattr(unielu, func)(x, alpha)
    assert_untouched(backend, before, x)
    np.testing.assert_array_equal(alpha, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("bad", ["bool", "complex64"])
@pytest.mark.parametrize("func", FUNCS)
def test_bool_and_complex_alpha_raise_type_error(backend, func, bad):
    x = backend.asarray(np.linspace(-2, 2, 6).reshape(2, 3), "float32")
    alpha = backend.asarray(np.array([1, 0, 1]), bad)
    before = snapshot(backend, x)
    with pytest.raises(TypeError, match=rf"argument 'alpha'.*{bad}"):
        getattr(unielu, func)(x, alpha)
    assert_untouched(backend, before, x)


@pytest.mark.parametrize(
    "shape",
    [(4,), (2,), (3, 1), (2, 2, 3), (1, 2, 3)],
    ids=["too long", "not trailing", "wrong rows", "adds a dimension", "adds a unit dimension"],
)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_that_does_not_broadcast_to_x_raises_value_error(backend, func, shape):
    x = backend.asarray(np.linspace(-2, 2, 6).reshape(2, 3), "float32")
    alpha = backend.asarray(np.ones(shape), "float32")
    before = snapshot(backend, x, alpha)
    with pytest.raises(ValueError, match=r"argument 'alpha'.*broadcast"):
        getattr(unielu, func)(x, alpha)
    assert_untouched(backend, before, x, alpha)


# -- NumPy and Dask alone ---------------------------------------------------------------


@pytest.mark.only("numpy", reason="a 0-d NumPy alpha takes the scalar path")
@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_zero_d_alpha_gives_the_float_alphas_values(backend, func, dtype, size):
    n = PARALLEL_MIN + 3 if size == "large" else 100
    x = np.resize(np.concatenate([[np.nan, np.inf, -np.inf, -0.0, 0.0], grid(dtype)]), n)
    x = x.astype(numpy_dtype(dtype))
    for alpha in (0.0, 1.0, 1.7):
        expected = getattr(unielu, func)(x, alpha)
        got = getattr(unielu, func)(x, np.array(alpha))
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


@pytest.mark.only("numpy", reason="out= with an array alpha (NumPy writes in place)")
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_alpha_array_with_out(backend, func):
    x = np.repeat(grid("float32")[:, None], C, axis=1).astype(np.float32)
    alpha = CHANNELS.astype(np.float32)
    expected = getattr(unielu, func)(x, alpha)
    out = np.empty_like(x)
    assert getattr(unielu, func)(x, alpha, out=out) is out
    np.testing.assert_array_equal(out, expected)
    assert getattr(unielu, func)(x, alpha, out=x) is x
    np.testing.assert_array_equal(x, expected)


@pytest.mark.only("dask", reason="Dask stays lazy and keeps its chunks")
@pytest.mark.parametrize("source", ["dask", "numpy"])
@pytest.mark.parametrize("func", FUNCS)
def test_dask_alpha_array_stays_lazy_and_keeps_chunks(backend, func, source):
    dask, da = backend.dask, backend.da

    def refuse_to_compute(*args, **kwargs):
        raise AssertionError("something was computed")

    values = np.linspace(-3, 3, 30).reshape(6, 5)
    x = da.from_array(values, chunks=(2, 3))
    alphas = {
        "per channel": CHANNELS,
        "(1, C)": CHANNELS[None, :],
        "per row": np.arange(6.0)[:, None],
        "full shape": np.resize(CHANNELS, (6, 5)),
        "0-d": np.array(1.5),
    }
    for label, a in alphas.items():
        alpha = da.from_array(a, chunks=2) if source == "dask" else a
        with dask.config.set(scheduler=refuse_to_compute):
            y = getattr(unielu, func)(x, alpha)
        assert isinstance(y, da.Array) and y.chunks == x.chunks, label
        np.testing.assert_array_equal(
            y.compute(scheduler="sync"), getattr(unielu, func)(values, a), label
        )

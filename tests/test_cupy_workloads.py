"""CuPy specifics: ``out=`` as the kernel's output argument, array ``alpha``
broadcast by the kernel, and arrays on a GPU other than the current one."""

from __future__ import annotations

import numpy as np
import pytest
from reference import ALPHAS, grid, ulp_errors

import unielu

pytestmark = pytest.mark.only("cupy", reason="CuPy's out= and array alpha (kernel arguments)")

FUNCS = ("elu", "elu_derivative")
DTYPES = ("float16", "float32", "float64")
VALUES = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-30, -3.0, -100.0, 0.5, 2.0]


@pytest.fixture
def cp(backend):
    return backend.cp


def same_bits(a, b):
    """Equal values, NaN where NaN, and the same sign of zeros."""
    import cupy

    a, b = cupy.asnumpy(a).astype(np.float64), cupy.asnumpy(b).astype(np.float64)
    zeros = b == 0
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return bool(same.all() and (np.signbit(a[zeros]) == np.signbit(b[zeros])).all())


# -- out= ------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 1.7])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_out_gets_the_out_of_place_result(backend, cp, func, dtype, alpha):
    x = backend.asarray(VALUES, dtype)
    expected = getattr(unielu, func)(x, alpha)
    out = cp.full_like(x, 42)
    assert getattr(unielu, func)(x, alpha, out=out) is out
    assert same_bits(out, expected)


@pytest.mark.parametrize("alpha", [0.0, 1.7])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_in_place_gives_the_same_values(backend, cp, func, dtype, alpha):
    x = backend.asarray(VALUES, dtype)
    expected = getattr(unielu, func)(x, alpha)
    assert getattr(unielu, func)(x, alpha, out=x) is x
    assert same_bits(x, expected)


@pytest.mark.parametrize("func", FUNCS)
def test_in_place_on_a_strided_view(backend, cp, func):
    base = backend.asarray(np.linspace(-3, 3, 24).reshape(4, 6), "float32")
    view = base.T[::2]
    expected = getattr(unielu, func)(view.copy(), 1.3)
    getattr(unielu, func)(view, 1.3, out=view)
    assert same_bits(view, expected)


@pytest.mark.parametrize("func", FUNCS)
def test_integer_input_writes_float64(backend, cp, func):
    x = backend.asarray([-2, 0, 3], "int32")
    out = cp.empty(3, cp.float64)
    assert getattr(unielu, func)(x, 1.5, out=out) is out
    assert same_bits(out, getattr(unielu, func)(x, 1.5))


def _refusals(backend, cp):
    """label -> (x, out, expected error)."""
    x = backend.asarray([-1.0, 0.5, 2.0, -3.0], "float32")
    base = backend.asarray(np.linspace(-1, 1, 5), "float32")
    ints = backend.asarray([1, 2], "int64")
    return {
        "NumPy array": (x, np.empty(4, np.float32), TypeError),
        "float64 for float32 x": (x, cp.empty(4, cp.float64), TypeError),
        "int64 for int64 x (result is float64)": (ints, cp.zeros(2, cp.int64), TypeError),
        "wrong shape": (x, cp.empty((2, 2), cp.float32), ValueError),
        "partial overlap": (base[:4], base[1:], ValueError),
        "reversed x": (x, x[::-1], ValueError),
        "x's memory as another dtype": (ints, ints.view(cp.float64), ValueError),
        "broadcast (elements share memory)": (
            x,
            cp.broadcast_to(cp.zeros(1, cp.float32), (4,)),
            ValueError,
        ),
    }


REFUSALS = [
    "NumPy array",
    "float64 for float32 x",
    "int64 for int64 x (result is float64)",
    "wrong shape",
    "partial overlap",
    "reversed x",
    "x's memory as another dtype",
    "broadcast (elements share memory)",
]


@pytest.mark.parametrize("label", REFUSALS)
@pytest.mark.parametrize("func", FUNCS)
def test_bad_out_is_refused_before_anything_is_written(backend, cp, func, label):
    x, out, error = _refusals(backend, cp)[label]
    before_x, before_out = x.copy(), out.copy()
    with pytest.raises(error, match="'out'") as info:
        getattr(unielu, func)(x, 1.0, out=out)
    assert "accepted" in str(info.value) and "got" in str(info.value)
    assert same_bits(x, before_x), "x was modified by a refused call"
    assert same_bits(out, before_out), "out was written by a refused call"


# -- array alpha -------------------------------------------------------------------


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_array_alpha_accuracy(backend, cp, func, dtype, alpha):
    x = grid(dtype)
    y = getattr(unielu, func)(backend.asarray(x, dtype), cp.full(x.shape, alpha, cp.float64))
    assert backend.dtype_name(y) == dtype
    errors = ulp_errors(backend.to_numpy(y), func, dtype, alpha)
    worst = int(np.argmax(errors))
    assert errors.max() <= backend.ulp, f"{errors[worst]:.2f} ULP at x={x[worst]!r}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_per_channel_alpha_matches_scalar_alpha(backend, cp, func, dtype):
    x = backend.asarray(np.tile(VALUES, (3, 1)), dtype)
    alphas = [0.0, 0.5, 1.7]
    y = getattr(unielu, func)(x, backend.asarray(np.reshape(alphas, (3, 1)), dtype))
    assert y.dtype == x.dtype and y.shape == x.shape
    for row, a in enumerate(alphas):
        expected = getattr(unielu, func)(x[row], float(np.asarray(a, dtype)))
        assert same_bits(y[row], expected), f"alpha={a}"


@pytest.mark.parametrize("alpha_dtype", ["float16", "float32", "float64", "int32", "uint8"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_dtype_does_not_change_the_result_dtype(backend, cp, func, dtype, alpha_dtype):
    x = backend.asarray([-2.0, -0.5, -0.0, 0.0, 1.5, np.nan], dtype)
    alpha = cp.asarray(2, dtype=alpha_dtype)  # 0-d
    y = getattr(unielu, func)(x, alpha)
    assert y.dtype == x.dtype
    assert same_bits(y, getattr(unielu, func)(x, 2.0))


@pytest.mark.parametrize("func", FUNCS)
def test_array_alpha_with_out_and_in_place(backend, cp, func):
    x = backend.asarray(np.linspace(-3, 3, 12).reshape(3, 4), "float32")
    alpha = backend.asarray([[0.5], [1.0], [2.0]], "float64")
    expected = getattr(unielu, func)(x, alpha)
    out = cp.empty_like(x)
    assert getattr(unielu, func)(x, alpha, out=out) is out
    assert same_bits(out, expected)
    assert getattr(unielu, func)(x, alpha, out=x) is x
    assert same_bits(x, expected)


REFUSED_ALPHAS = {
    "NumPy array": (lambda cp: np.ones(3), TypeError),
    "bool array": (lambda cp: cp.ones(3, cp.bool_), TypeError),
    "complex array": (lambda cp: cp.ones(3, cp.complex64), TypeError),
    "does not broadcast": (lambda cp: cp.ones(2, cp.float32), ValueError),
    "would change x's shape": (lambda cp: cp.ones((2, 3), cp.float32), ValueError),
}


@pytest.mark.parametrize("label", list(REFUSED_ALPHAS))
@pytest.mark.parametrize("func", FUNCS)
def test_bad_array_alpha_is_refused(backend, cp, func, label):
    make, error = REFUSED_ALPHAS[label]
    x = backend.asarray([-1.0, 0.0, 2.0], "float32")
    with pytest.raises(error, match="'alpha'"):
        getattr(unielu, func)(x, make(cp))


# -- two GPUs ------------------------------------------------------------------------


@pytest.fixture
def second_gpu(cp):
    count = cp.cuda.runtime.getDeviceCount()
    if count < 2:
        why = f"needs two GPUs to put x, out and alpha on different ones; found {count}"
        pytest.skip(reason=why)
    return 1


@pytest.mark.parametrize("func", FUNCS)
def test_out_and_alpha_on_the_input_gpu_while_another_is_current(cp, second_gpu, func):
    with cp.cuda.Device(second_gpu):
        x = cp.linspace(-3, 3, 12, dtype=cp.float32)
        alpha = cp.full(12, 1.5, cp.float32)
        out = cp.empty_like(x)
    with cp.cuda.Device(0):
        assert getattr(unielu, func)(x, alpha, out=out) is out
        y = getattr(unielu, func)(x, 1.5)
    assert y.device.id == second_gpu
    assert same_bits(out, y)


@pytest.mark.parametrize("func", FUNCS)
def test_out_or_alpha_on_another_gpu_is_refused(cp, second_gpu, func):
    with cp.cuda.Device(second_gpu):
        x = cp.linspace(-3, 3, 12, dtype=cp.float32)
    with cp.cuda.Device(0):
        out = cp.zeros(12, cp.float32)
        alpha = cp.ones(12, cp.float32)
    with pytest.raises(TypeError, match=r"'out'.*device"):
        getattr(unielu, func)(x, 1.0, out=out)
    assert not out.any()
    with pytest.raises(TypeError, match=r"'alpha'.*cuda"):
        getattr(unielu, func)(x, alpha)

"""``out=`` (docs/contract.rst, "out"), on the backend(s) under test.

Where arrays are mutable (the registry's ``mutable``) the result is written
into ``out``, which is returned, with the same values as without it, ``x``
itself included (in place); a bad ``out`` raises before anything is written.
Elsewhere ``out=`` raises TypeError naming it.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference import grid, numpy_dtype

import unielu
from unielu._registry import get_spec
from unielu._threads import PARALLEL_MIN
from unielu.backends._numpy_fallback import SMALL

FUNCS = ("elu", "elu_derivative")
FLOATS = ("float16", "bfloat16", "float32", "float64")
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0]
#: One size per path of the NumPy backend: whole-array ufuncs, blocks, threads.
SIZES = {
    "small": SMALL // 2,
    "blocked": 4 * SMALL,
    "threaded": PARALLEL_MIN + 4099,
}


@pytest.fixture
def mutable(backend):
    if not get_spec(backend.name).mutable:
        pytest.skip(reason=f"not applicable: {backend.name} arrays are immutable, out= is refused")
    return backend


@pytest.fixture
def threads(monkeypatch):
    # The threaded path even on a one-core machine (the NumPy backend reads this).
    monkeypatch.setenv("UNIELU_NUM_THREADS", "2")


def values(n, dtype):
    """n values of the accuracy grid, with the special values, exactly representable."""
    tile = np.concatenate([SPECIALS, grid(dtype)])
    return np.resize(tile, n).astype(numpy_dtype(dtype))


def assert_identical(got, expected, label=""):
    """Same values, NaN where NaN, and the same sign of every zero."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, label
    np.testing.assert_array_equal(got, expected, err_msg=label)
    assert (np.signbit(got) == np.signbit(expected)).all(), f"{label}: sign of a zero differs"


def snapshot(backend, *arrays):
    return [backend.to_numpy(a).copy() for a in arrays]


def assert_untouched(backend, before, *arrays):
    for i, (old, a) in enumerate(zip(before, arrays, strict=True)):
        assert_identical(backend.to_numpy(a), old, f"argument {i} was modified")


# -- mutable backends ----------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_out_gives_the_same_values_and_is_returned(mutable, threads, func, dtype, size, alpha):
    backend = mutable
    x = backend.asarray(values(SIZES[size], dtype), dtype)
    expected = backend.to_numpy(getattr(unielu, func)(x, alpha))
    before = snapshot(backend, x)
    out = backend.asarray(np.full(SIZES[size], 7.0), dtype)
    y = getattr(unielu, func)(x, alpha, out=out)
    assert y is out
    assert backend.dtype_name(out) == dtype
    assert_identical(backend.to_numpy(out), expected)
    assert_untouched(backend, before, x)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_in_place_gives_the_same_values(mutable, threads, func, dtype, size, alpha):
    backend = mutable
    x = backend.asarray(values(SIZES[size], dtype), dtype)
    expected = backend.to_numpy(getattr(unielu, func)(x, alpha))
    y = getattr(unielu, func)(x, alpha, out=x)
    assert y is x
    assert_identical(backend.to_numpy(x), expected)


@pytest.mark.parametrize("func", FUNCS)
def test_integer_input_writes_the_default_float(mutable, func):
    backend = mutable
    x = backend.asarray(np.array([-3, 0, 2, 5]), "int32")
    out = backend.asarray(np.zeros(4), backend.default_float)
    assert getattr(unielu, func)(x, 1.5, out=out) is out
    assert_identical(backend.to_numpy(out), backend.to_numpy(getattr(unielu, func)(x, 1.5)))


@pytest.mark.parametrize("size", ["small", "threaded"])
@pytest.mark.parametrize("func", FUNCS)
def test_wrong_shape_raises_value_error(mutable, func, size):
    backend = mutable
    n = SIZES[size]
    x = backend.asarray(values(n, "float32"), "float32")
    for label, shape in {"longer": (n + 1,), "2-d": (n, 1), "0-d": ()}.items():
        out = backend.asarray(np.zeros(shape), "float32")
        before = snapshot(backend, x, out)
        with pytest.raises(ValueError, match=r"argument 'out'.*shape"):
            getattr(unielu, func)(x, 1.7, out=out)
            pytest.fail(f"accepted a {label} out")
        assert_untouched(backend, before, x, out)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_wrong_dtype_raises_type_error(mutable, func, dtype):
    backend = mutable
    x = backend.asarray(values(64, dtype), dtype)
    other = "float32" if dtype == "float64" else "float64"
    out = backend.asarray(np.zeros(64), other)
    before = snapshot(backend, x, out)
    with pytest.raises(TypeError, match=rf"argument 'out'.*dtype.*{other}"):
        getattr(unielu, func)(x, 1.7, out=out)
    assert_untouched(backend, before, x, out)


@pytest.mark.parametrize("size", ["small", "threaded"])
@pytest.mark.parametrize("func", FUNCS)
def test_partial_overlap_raises_value_error(mutable, func, size):
    backend = mutable
    n = SIZES[size]
    base = backend.asarray(values(n + 1, "float32"), "float32")
    before = snapshot(backend, base)
    for label, (x, out) in {
        "out ahead": (base[:-1], base[1:]),
        "out behind": (base[1:], base[:-1]),
    }.items():
        with pytest.raises(ValueError, match=r"argument 'out'.*overlap"):
            getattr(unielu, func)(x, 1.7, out=out)
            pytest.fail(f"accepted an overlapping out ({label})")
        assert_untouched(backend, before, base)


@pytest.mark.parametrize("func", FUNCS)
def test_disjoint_views_of_one_allocation_are_accepted(mutable, func):
    backend = mutable
    base = backend.asarray(np.linspace(-3, 3, 16), "float32")
    x, out = base[:8], base[8:]
    copy = backend.asarray(backend.to_numpy(x), "float32")
    expected = backend.to_numpy(getattr(unielu, func)(copy, 0.7))
    assert getattr(unielu, func)(x, 0.7, out=out) is out
    np.testing.assert_array_equal(backend.to_numpy(out), expected)


# -- immutable backends ----------------------------------------------------------


@pytest.mark.parametrize("func", FUNCS)
def test_out_refused_where_arrays_are_immutable(backend, func):
    if get_spec(backend.name).mutable:
        pytest.skip(reason=f"not applicable: {backend.name} arrays are mutable, out= is accepted")
    x = backend.asarray(values(16, "float32"), "float32")
    before = snapshot(backend, x)
    with pytest.raises(TypeError, match=r"argument 'out' must be None"):
        getattr(unielu, func)(x, 1.7, out=x)
    assert_untouched(backend, before, x)


# -- NumPy alone ---------------------------------------------------------------------

numpy_only = pytest.mark.only("numpy", reason="NumPy's flags, views and 0-d arrays")


@numpy_only
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_read_only_out_raises_value_error(backend, func):
    x = values(64, "float32")
    out = np.zeros(64, np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"argument 'out' is read-only.*accepted"):
        getattr(unielu, func)(x, 1.7, out=out)
    assert not out.any()


@numpy_only
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_out_that_is_not_an_array_raises_type_error(backend, func):
    x = values(4, "float64")
    for out in ([0.0] * 4, (0.0,) * 4, np.float64(0.0)):
        with pytest.raises(
            TypeError, match=r"argument 'out' must be a NumPy array; got .*accepted"
        ):
            getattr(unielu, func)(x, out=out)


@numpy_only
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_noncontiguous_out_and_x(backend, threads, func, size):
    n = SIZES[size]
    flat = values(2 * n, "float32")
    f = getattr(unielu, func)
    cases = {
        "every other element": (flat[::2], np.zeros(2 * n, np.float32)[::2]),
        "reversed": (flat[:n], np.zeros(n, np.float32)[::-1]),
        "Fortran-ordered out": (flat.reshape(2, n), np.zeros((2, n), np.float32, order="F")),
        "Fortran-ordered x": (flat.reshape(2, n).T, np.zeros((n, 2), np.float32)),
    }
    # Interleaved views of one array share its buffer but no element: accepted.
    interleaved = flat.copy()
    cases["interleaved with x"] = (interleaved[::2], interleaved[1::2])
    for label, (x, out) in cases.items():
        expected = f(x.copy(), 1.7)
        before = x.copy()
        assert f(x, 1.7, out=out) is out, label
        assert_identical(out, expected, label)
        assert_identical(x, before, f"{label}: x was modified")


@numpy_only
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_in_place_on_a_strided_view(backend, threads, func, size):
    n = SIZES[size]
    base = values(2 * n, "float64")
    untouched = base[1::2].copy()
    x = base[::2]
    expected = getattr(unielu, func)(x.copy(), 0.5)
    assert getattr(unielu, func)(x, 0.5, out=x) is x
    assert_identical(x, expected)
    assert_identical(base[1::2], untouched, "elements between the view's were written")


@numpy_only
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_zero_d_input_with_out_returns_out(backend, func):
    for value in (-1.5, -0.0, np.nan):
        x = np.array(value, np.float32)
        out = np.array(9.0, np.float32)
        y = getattr(unielu, func)(x, 1.7, out=out)
        assert y is out and y.ndim == 0
        assert_identical(out, getattr(unielu, func)(x, 1.7))
        y = getattr(unielu, func)(x, 1.7, out=x)
        assert y is x and y.ndim == 0
        assert_identical(x, out)


@numpy_only
@pytest.mark.parametrize("func", FUNCS)
def test_numpy_integer_out_for_integer_input_raises_type_error(backend, func):
    x = np.array([-3, 0, 2], np.int64)
    with pytest.raises(TypeError, match=r"'out' has dtype int64.*float64"):
        getattr(unielu, func)(x, out=x)
    np.testing.assert_array_equal(x, [-3, 0, 2])

"""Hostile input (docs/contract.rst, "Hostile input"): a result or a refusal by name.

The fuzz tests draw ``x`` (dtypes, shapes, special values, strided views),
``alpha`` (numbers of every Python and NumPy type, arrays, junk) and ``out``
(mutable backends) from hypothesis strategies built on the adapter of the
backend under test. Each example must give the correct values (the mpmath
reference, within the backend's ULP bound) or a ``TypeError``/``ValueError``
whose message names the argument, leave ``x`` and ``out`` untouched when it
raises, and warn about nothing. The budget is small by default; ``nox -s fuzz``
runs them for minutes (``UNIELU_FUZZ_SECONDS``, per backend).

Below the fuzz tests, one named regression test per reproducer of the
hostile-input issue; crash-prone ones run in a subprocess.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import textwrap
import time
import warnings
from decimal import Decimal
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import pytest
from adapter import INTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import EXACT, FORMATS, numpy_dtype, ulp

import unielu
from unielu._registry import get_spec

FUNCS = ("elu", "elu_derivative")
INF, NAN = math.inf, math.nan
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)

#: Fuzz budget per backend, in seconds (``nox -s fuzz``); 0: hypothesis' examples only.
FUZZ_SECONDS = float(os.environ.get("UNIELU_FUZZ_SECONDS", "0"))
FUZZ_TESTS = 3 * len(FUNCS)  # fuzz test items per backend, which share the budget
settings.register_profile(
    "hostile",
    max_examples=int(os.environ.get("UNIELU_FUZZ_EXAMPLES", "25")),
    deadline=None,
    derandomize=FUZZ_SECONDS == 0,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
HOSTILE = settings.get_profile("hostile")


def run_for_budget(test: Any) -> None:
    """Run a hypothesis test once, or again and again for the fuzz budget."""
    end = time.monotonic() + FUZZ_SECONDS / FUZZ_TESTS
    test()
    while time.monotonic() < end:
        test()


# -- the oracle --------------------------------------------------------------------

SPECIAL = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 5e-324, -5e-324, 1e-40, -1e-40, -745.0]
SPECIAL += [-100.0, -87.5, -708.5, 88.7, 709.8, F32_MAX, -F32_MAX, F64_MAX, -F64_MAX, -1e-8]
SPECIAL += [65504.0, -65504.0, 3.3895314e38, -17.0, -18.0]


def compute_dtype(dtype: str, default_float: str) -> str:
    if dtype in INTS:
        return default_float
    return "float64" if dtype == "float64" else "float32"


def as_dtype(value: float, dtype: str) -> float:
    with np.errstate(all="ignore"):
        return float(np.array(value).astype(numpy_dtype(dtype)))


def check_values(
    backend: Any, func: str, x: np.ndarray, alpha: np.ndarray, y: np.ndarray, dtype: str
) -> None:
    """y (float64 values) against the exact func(x, alpha), rounded to ``dtype``, elementwise.

    ``alpha`` holds the alpha of each element, as the compute dtype holds it.
    """
    p, emin = FORMATS[dtype]
    largest = float(np.finfo(numpy_dtype(dtype)).max) if dtype != "bfloat16" else 3.3895314e38
    smallest_normal = mpmath.mpf(2) ** emin
    flat = (x.ravel().tolist(), alpha.ravel().tolist(), y.ravel().tolist())
    for xi, ai, yi in zip(*flat, strict=True):
        where = f"{func}(x={xi!r}, alpha={ai!r}) = {yi!r} ({dtype})"
        if math.isnan(xi):
            assert math.isnan(yi), where
            continue
        # The adapter may read a subnormal x back as 0 (TF's bfloat16): its results.
        if xi == 0 and backend.flush_subnormals and yi != 0 and func == "elu":
            assert abs(yi) <= max(1.0, abs(ai)) * 2.0**emin, where
            continue
        if xi == 0 and backend.flush_subnormals and yi == 1.0 and func == "elu_derivative":
            continue
        if xi == 0 and func == "elu":  # zeros as they are, whatever alpha (contract)
            assert yi == 0 and math.copysign(1, yi) == math.copysign(1, xi), where
            continue
        if xi > 0:
            expected = xi if func == "elu" else 1.0
            if not (backend.flush_subnormals and yi == 0 and abs(xi) < 2.0**emin):
                assert yi == expected, where
            continue
        if not math.isfinite(ai):  # an array alpha's values are applied as written
            assert math.isnan(yi) or math.isinf(yi) or yi == 0, where
            continue
        if math.isinf(xi):  # x = -inf
            expected = -ai if func == "elu" else 0.0
            if abs(expected) > largest:
                assert math.isinf(yi) and math.copysign(1, yi) == math.copysign(1, expected), where
            else:
                assert (
                    yi == as_dtype(expected, dtype)
                    or abs(yi - expected) <= abs(expected) * 2.0 ** (1 - p) * backend.ulp
                ), where
            continue
        if func == "elu" and ai == 0:  # 0 * expm1(x): -0.0, unless alpha is -0.0 (an array's)
            sign = -math.copysign(1, ai)
            assert yi == 0 and math.copysign(1, yi) == sign, f"{where}: {sign * 0.0} expected"
            continue
        exact = EXACT[func](xi, ai)
        if abs(exact) > largest:
            # Beyond the dtype: inf, or the largest finite value where the rounding is close.
            assert math.isinf(yi) or abs(yi) == largest, where
            assert (yi > 0) == (exact > 0), where
            continue
        if backend.flush_subnormals and yi == 0 and abs(exact) < smallest_normal:
            continue
        error = abs(mpmath.mpf(yi) - exact) / ulp(exact, dtype)
        assert error <= backend.ulp, f"{where}: {float(error):.2f} ULP, exact {exact}"


def names_argument(error: BaseException, *names: str) -> bool:
    return any(f"'{name}'" in str(error) for name in names)


def snapshot(backend: Any, *arrays: Any) -> list[np.ndarray]:
    return [np.array(backend.to_numpy(a), copy=True) for a in arrays]


def unchanged(backend: Any, before: list[np.ndarray], *arrays: Any) -> None:
    for old, a in zip(before, arrays, strict=True):
        new = backend.to_numpy(a)
        np.testing.assert_array_equal(new, old)
        assert (np.signbit(new) == np.signbit(old)).all()


def call(backend: Any, func: str, x: Any, alpha: Any, out: Any = None, *, expect: str = "") -> Any:
    """Call ``func``; a refusal must be TypeError/ValueError naming an argument.

    ``expect`` ("x", "alpha", "out") says that the call must be refused,
    naming that argument. Returns the result, or None if refused. No warning.
    """
    kwargs = {} if out is None else {"out": out}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            y = getattr(unielu, func)(x, alpha, **kwargs)
            if backend.name in ("dask", "keras"):  # lazy: the values come now
                backend.to_numpy(y)
        except (TypeError, ValueError) as error:
            assert names_argument(error, *([expect] if expect else ["x", "alpha", "out"])), (
                f"{type(error).__name__} does not name {expect or 'its argument'}: {error}"
            )
            return None
    assert not expect, f"accepted an invalid {expect}: {alpha if expect == 'alpha' else out!r}"
    return y


# -- strategies ----------------------------------------------------------------------


def values_strategy() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from(SPECIAL), st.floats(width=64), st.floats(-800, 1))


@st.composite
def x_arrays(draw: Any, backend: Any, dtypes: tuple[str, ...]) -> tuple[Any, str]:
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(st.sampled_from([(), (0,), (1,), (5,), (2, 3), (3, 1, 2), (2, 0, 2), (4, 6)]))
    values = np.array(draw(st.lists(values_strategy(), min_size=math.prod(shape),
                                    max_size=math.prod(shape))), dtype=np.float64)  # fmt: skip
    if dtype in INTS:
        values = np.nan_to_num(values, posinf=0, neginf=0).clip(-100, 100).round()
        if dtype == "bool":
            values = values != 0
        elif dtype == "uint8":
            values = np.abs(values)
    with np.errstate(all="ignore"):
        x = backend.asarray(values.reshape(shape), dtype)
    if len(shape) == 2 and shape[1] > 1 and draw(st.booleans()):
        views = backend.noncontiguous(x)
        if views:
            x = views[draw(st.sampled_from(sorted(views)))]
    return x, dtype


def number_alphas() -> st.SearchStrategy[Any]:
    """Numbers of every Python and NumPy type, valid or not."""
    floats = st.one_of(st.floats(width=64), st.sampled_from(
        [0.0, -0.0, 1.0, 1.7, F32_MAX, 3.5e38, 1e300, F64_MAX, -1.0, NAN, INF, -INF, 5e-324]
    ))  # fmt: skip
    ints = st.one_of(st.integers(-(10**3), 10**3), st.sampled_from([10**400, -(10**400), 2**1024]))
    return st.one_of(
        floats,
        ints,
        st.builds(Fraction, st.integers(-(10**400), 10**400), st.integers(1, 10**3)),
        st.builds(scalar, floats, st.sampled_from([np.float16, np.float32, np.float64])),
        st.builds(lambda v, t: t(v), st.integers(0, 100), st.sampled_from([np.int8, np.uint64])),
        pick(
            [
                True,
                np.bool_(False),
                1j,
                np.complex64(1),
                np.timedelta64(5, "s"),
                np.timedelta64(5),
                np.datetime64("2026-01-01"),
                Decimal("1.5"),
                np.longdouble("1e4000"),
                np.longdouble(0.5),
            ]
        ),
    )


def scalar(value: float, kind: type) -> Any:
    with np.errstate(all="ignore"):  # 1e300 as a float16 is inf, without a warning here
        return kind(value)


def pick(values: list[Any]) -> st.SearchStrategy[Any]:
    """sampled_from for values that cannot be hashed (generic timedelta64, dicts)."""
    return st.integers(0, len(values) - 1).map(values.__getitem__)


def junk_alphas() -> st.SearchStrategy[Any]:
    return pick(["1.0", None, [1.0], (1.0,), {}, object(), b"1", range(2), np.array]) | (
        st.builds(lambda v: np.array(v), st.floats(0, 2)).map(lambda a: a.astype(object))
    )


def valid_number(alpha: Any, compute: str) -> bool:
    if isinstance(alpha, (bool, np.bool_, complex, np.complexfloating, np.timedelta64)):
        return False
    if isinstance(alpha, (np.datetime64, Decimal)):  # not a real number type
        return False
    try:
        value = float(alpha)
    except OverflowError:
        return False
    return 0 <= value <= (F64_MAX if compute == "float64" else F32_MAX)


# -- fuzz ----------------------------------------------------------------------------


@pytest.mark.parametrize("func", FUNCS)
def test_fuzz_x_with_number_alpha(backend, func):
    """Any x of the backend's dtypes and shapes; alpha any number: values or refusal."""
    dtypes = backend.dtypes + backend.int_dtypes

    @HOSTILE
    @given(x_arrays(backend, dtypes), number_alphas())
    def check(drawn: tuple[Any, str], alpha: Any) -> None:
        x, dtype = drawn
        before = snapshot(backend, x)
        compute = compute_dtype(dtype, backend.default_float)
        valid = valid_number(alpha, compute)
        y = call(backend, func, x, alpha, expect="" if valid else "alpha")
        unchanged(backend, before, x)
        if y is None:
            assert not valid, f"refused a valid alpha {alpha!r} for {dtype}"
            return
        result = dtype if dtype not in INTS else backend.default_float
        assert backend.dtype_name(y) == result
        a = as_dtype(float(alpha), compute) + 0.0
        xs = before[0].astype(np.float64)
        check_values(backend, func, xs, np.full(xs.shape, a), backend.to_numpy(y), result)

    run_for_budget(check)


@pytest.mark.parametrize("func", FUNCS)
def test_fuzz_array_and_junk_alpha(backend, func):
    """alpha an array (any shape, dtype, values: NaN, inf, negative) or junk."""

    @HOSTILE
    @given(
        x_arrays(backend, backend.dtypes),
        st.sampled_from([(), (1,), (6,), (2, 1), (1, 6), (3,), (2, 6), (1, 1, 1, 6)]),
        st.sampled_from(backend.dtypes + backend.int_dtypes),
        st.lists(
            st.one_of(
                st.floats(-1e4, 1e4), st.sampled_from([NAN, INF, -INF, -0.0, 1e39, -1e300, 65520.0])
            ),
            min_size=12,
            max_size=12,
        ),
        st.one_of(st.none(), junk_alphas()),
        st.booleans(),
    )
    def check(drawn, a_shape, a_dtype, a_values, junk, numpy_alpha) -> None:
        x, dtype = drawn
        before = snapshot(backend, x)
        if junk is not None:
            y = call(backend, func, x, junk, expect="alpha")
            unchanged(backend, before, x)
            return
        values = np.array(a_values[: math.prod(a_shape)]).reshape(a_shape)
        if a_dtype in INTS:
            values = np.nan_to_num(values, posinf=0, neginf=0).clip(0, 100).round()
        with np.errstate(all="ignore"):
            alpha = (
                np.array(values, dtype=numpy_dtype(a_dtype))
                if numpy_alpha
                else backend.asarray(values, a_dtype)
            )
        x_shape = before[0].shape
        fits = len(a_shape) <= len(x_shape) and all(
            d in (1, e) for d, e in zip(reversed(a_shape), reversed(x_shape), strict=False)
        )
        framework = not numpy_alpha or backend.name in ("numpy", "dask")
        valid = fits and framework and a_dtype != "bool"
        y = call(backend, func, x, alpha, expect="" if valid else "alpha")
        unchanged(backend, before, x)
        if y is None:
            return
        compute = compute_dtype(dtype, backend.default_float)
        with np.errstate(all="ignore"):
            stored = np.asarray(values.astype(numpy_dtype(a_dtype)), dtype=np.float64)
            a = stored.astype(numpy_dtype(compute)).astype(np.float64)
        xs = before[0].astype(np.float64)
        check_values(backend, func, xs, np.broadcast_to(a, xs.shape), backend.to_numpy(y), dtype)

    run_for_budget(check)


@pytest.mark.parametrize("func", FUNCS)
def test_fuzz_out(backend, func):
    """out of every kind: right, in place, wrong dtype/shape, overlapping, self-overlapping."""
    if not get_spec(backend.name).mutable:
        pytest.skip(reason=f"not applicable: {backend.name} arrays are immutable (no out=)")

    @HOSTILE
    @given(x_arrays(backend, backend.dtypes), st.integers(0, 8), st.floats(0, 3))
    def check(drawn: tuple[Any, str], kind: int, alpha: float) -> None:
        x, dtype = drawn
        shape = tuple(backend.to_numpy(x).shape)
        n = math.prod(shape)
        base = backend.asarray(np.arange(2 * n + 2, dtype=np.float64), dtype)
        other = "float32" if dtype == "float64" else "float64"
        expect = "out"
        if kind == 0:
            out, expect = backend.asarray(np.zeros(shape), dtype), ""
        elif kind == 1:
            out = backend.asarray(np.zeros(shape), other)
        elif kind == 2:
            out = backend.asarray(np.zeros((n + 1,)), dtype)
        elif kind == 3:
            out = [0.0] * n
        elif kind == 4:  # every element at one address
            out = backend.as_strided(base, shape, (0,) * len(shape))
            expect = "out" if n > 1 else ""
        elif kind == 5:  # overlapping rows
            strides = tuple(1 for _ in shape)
            out = backend.as_strided(base, shape, strides)
            expect = "out" if n and sum(d > 1 for d in shape) > 1 else ""
        elif kind == 6:  # x and out from one buffer, one element apart
            x = backend.as_strided(base, shape, _contiguous(shape))
            out = backend.as_strided(base[1:], shape, _contiguous(shape))
            expect = "out" if n > 1 else ""
        elif kind == 7:  # disjoint halves of one buffer
            x = backend.as_strided(base, shape, _contiguous(shape))
            out, expect = backend.as_strided(base[n + 1 :], shape, _contiguous(shape)), ""
        else:
            out = x  # in place, where x has the result's dtype
            expect = ""
        if out is None:  # the framework has no as_strided
            return
        before = snapshot(backend, x, base)
        xs = before[0].astype(np.float64)
        y = call(backend, func, x, alpha, out, expect=expect)
        if y is None:
            unchanged(backend, before, x, base)
            return
        assert y is out
        a = as_dtype(alpha, compute_dtype(dtype, backend.default_float))
        check_values(backend, func, xs, np.full(xs.shape, a), backend.to_numpy(out), dtype)

    run_for_budget(check)


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


# -- regression lines, one per reproducer ----------------------------------------------


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter (a crash must not take the test run down)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("func", FUNCS)
def test_alpha_beyond_the_compute_dtype_is_refused(backend, func):
    for dtype in backend.dtypes:
        for shape in [(2,), (0,)]:
            x = backend.asarray(np.resize([2.0, 0.0], shape), dtype)
            if dtype == "float64":
                y = call(backend, func, x, 3.5e38)
                assert y is not None
                continue
            with pytest.raises(ValueError, match=r"'alpha'.*float32.*3\.4028"):
                backend.to_numpy(getattr(unielu, func)(x, 3.5e38))


@pytest.mark.parametrize("alpha", [10**400, -(10**400), Fraction(10**400, 3)], ids=str)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_too_large_for_a_float_is_a_value_error(backend, func, alpha):
    x = backend.asarray([1.0, -1.0], backend.dtypes[-1])
    with pytest.raises(ValueError, match=r"argument 'alpha' must be finite and >= 0"):
        getattr(unielu, func)(x, alpha)


@pytest.mark.parametrize(
    "alpha", [np.timedelta64(5, "s"), np.timedelta64(5), np.datetime64("2026-01-01")], ids=str
)
def test_time_alpha_is_a_type_error_naming_alpha(backend, alpha):
    with pytest.raises(TypeError, match=r"argument 'alpha'"):
        unielu.elu(backend.asarray([1.0], backend.dtypes[-1]), alpha)


def test_derivative_where_exp_is_subnormal(backend):
    if "float64" in backend.dtypes:
        y = backend.to_numpy(unielu.elu_derivative(backend.asarray([-745.0], "float64"), 1e300))
        exact = float(mpmath.mpf(1e300) * mpmath.exp(-745))
        assert abs(y[0] - exact) <= exact * 2**-50, f"{y[0]!r} vs {exact!r}"
    y = backend.to_numpy(unielu.elu_derivative(backend.asarray([-100.0], "float32"), 1e10))
    exact = float(mpmath.mpf(float(np.float32(1e10))) * mpmath.exp(-100))
    assert abs(y[0] - exact) <= exact * 2**-21, f"{y[0]!r} vs {exact!r}"


def test_alpha_minus_zero_is_zero(backend):
    x = backend.asarray([0.0, -0.0, -1.0, 2.0], backend.dtypes[-1])
    for alpha in (-0.0, 0.0, np.float64(-0.0)):
        y = backend.to_numpy(unielu.elu(x, alpha))
        np.testing.assert_array_equal(np.signbit(y), [False, True, True, False])
        np.testing.assert_array_equal(y, [0.0, 0.0, 0.0, 2.0])


@pytest.mark.parametrize("value", [NAN, INF, -1.5])
def test_zeros_are_kept_whatever_an_array_alpha_holds(backend, value):
    for dtype in backend.dtypes:
        x = backend.asarray([0.0, -0.0], dtype)
        y = backend.to_numpy(unielu.elu(x, backend.asarray(value, dtype)))
        assert (y == 0).all() and list(np.signbit(y)) == [False, True], (dtype, y)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_with_negative_array_alpha_has_the_right_sign(backend, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(reason=f"not applicable: {backend.name} has no {dtype}")
    y = backend.to_numpy(unielu.elu(backend.asarray([-1.0], dtype), backend.asarray(-1.5, dtype)))
    assert y[0] == pytest.approx(-1.5 * math.expm1(-1.0), rel=2**-7)


def test_float16_overflow_with_large_alpha_does_not_warn(backend):
    if "float16" not in backend.dtypes:
        pytest.skip(reason=f"not applicable: {backend.name} has no float16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = backend.to_numpy(unielu.elu(backend.asarray([-1.0], "float16"), 1e6))
    assert y[0] == -INF


def test_float8_inputs_are_refused_by_name(backend):
    kinds = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"]
    made = []
    for kind in kinds:
        try:
            made.append(backend.float8(np.array([1.0, -1.0], np.float32), kind))
        except (AttributeError, TypeError):
            continue  # the framework has no such dtype
    made = [m for m in made if m is not None]
    if not made:
        pytest.skip(reason=f"not applicable: {backend.name} makes no float8 arrays")
    for x in made:
        with pytest.raises(TypeError, match=r"argument 'x' has unsupported dtype.*float8"):
            backend.to_numpy(unielu.elu(x))


@pytest.mark.only("numpy", reason="a list goes to NumPy")
def test_list_of_tensors_that_require_grad_is_a_type_error_naming_x(backend):
    torch = pytest.importorskip("torch", reason="needs PyTorch installed")
    with pytest.raises(TypeError, match=r"argument 'x'.*torch\.stack"):
        unielu.elu([torch.ones(2, requires_grad=True)])


@pytest.mark.only("array_api", reason="the generic Array API path")
def test_array_namespace_returning_none_is_a_type_error_naming_x(backend):
    class Junk:
        dtype = shape = None

        def __array_namespace__(self, api_version=None):
            return None

    with pytest.raises(TypeError, match=r"argument 'x'"):
        unielu.elu(Junk())


@pytest.mark.only("array_api", reason="array-api-strict's api_version flag")
@pytest.mark.parametrize("version", ["2021.12", "2022.12"])
def test_array_api_strict_old_version_with_integer_x(backend, version):
    xp = backend.xp
    previous = xp.get_array_api_strict_flags()
    try:
        xp.set_array_api_strict_flags(api_version=version)
        y = unielu.elu(xp.asarray([-1, 0, 2]))
        assert y.dtype == xp.float64
    finally:
        xp.set_array_api_strict_flags(**previous)


@pytest.mark.only("array_api", reason="array-api-strict's devices")
def test_array_api_alpha_on_another_device_names_alpha(backend):
    xp = backend.xp
    devices = list(xp.__array_namespace_info__().devices())
    x = xp.asarray([1.0, -1.0], device=devices[0])
    alpha = xp.asarray(1.5, device=devices[1])
    with pytest.raises(TypeError, match=r"argument 'alpha' is on device"):
        unielu.elu(x, alpha)


@pytest.mark.only("torch", reason="PyTorch layouts")
@pytest.mark.parametrize("layout", ["sparse_coo", "sparse_csr", "nested", "jagged"])
@pytest.mark.parametrize("name", ["x", "alpha", "out"])
def test_torch_sparse_and_nested_tensors_are_refused_by_name(backend, layout, name):
    torch = backend.torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's own "beta"/"prototype" warnings
        if layout == "sparse_coo":
            odd = torch.eye(3).to_sparse()
        elif layout == "sparse_csr":
            odd = torch.eye(3).to_sparse_csr()
        else:
            extra = {"layout": torch.jagged} if layout == "jagged" else {}
            odd = torch.nested.nested_tensor([torch.ones(3), torch.ones(3)], **extra)
    x, alpha, out = -torch.ones(3, 3), torch.ones(3), torch.empty(3, 3)
    args = {"x": x, "alpha": alpha, "out": out, name: odd}
    for func in FUNCS:
        with pytest.raises(TypeError, match=rf"argument '{name}' is a \w+ tensor"):
            getattr(unielu, func)(args["x"], args["alpha"], out=args["out"])


@pytest.mark.only("torch", reason="as_strided")
def test_torch_as_strided_out_whose_elements_overlap_is_refused(backend):
    torch = backend.torch
    out = torch.zeros(6).as_strided((3, 4), (1, 1))
    with pytest.raises(ValueError, match=r"argument 'out' has elements that share memory"):
        unielu.elu(-torch.ones(3, 4), out=out)
    assert (out == 0).all()


@pytest.mark.only("numpy", reason="as_strided")
def test_numpy_out_whose_elements_share_memory_is_refused(backend):
    out = np.lib.stride_tricks.as_strided(np.zeros(1), (3,), (0,))
    with pytest.raises(ValueError, match=r"argument 'out' has elements that share memory"):
        unielu.elu(np.array([-1.0, 0, 2]), out=out)


#: A signaling NaN of each float dtype: exponent all ones, quiet bit clear.
SIGNALING_NAN = {"float16": 0x7C01, "bfloat16": 0x7F81, "float32": 0x7F800001}
SIGNALING_NAN["float64"] = 0x7FF0000000000001


@pytest.mark.parametrize("func", FUNCS)
def test_signaling_nans_give_nan_and_no_warning(backend, func):
    # NumPy's exp and expm1 flag one as invalid, and so does ml_dtypes' bfloat16 cast.
    # Sizes: the small and the blocked path, and for NumPy (Dask's blocks) the threaded one.
    threaded = [2**20 + 7] if backend.name in ("numpy", "dask") else []
    for n, dtype in itertools.product([7, 5000, *threaded], backend.dtypes):
        size = numpy_dtype(dtype).itemsize
        nan = SIGNALING_NAN[dtype]
        bits = np.array([nan, nan | 1 << (8 * size - 1), nan + 2], dtype=f"u{size}")
        values = np.concatenate([bits.view(numpy_dtype(dtype)), np.array([1, -1, 0], dtype)])
        values = np.resize(values, n)
        alpha = backend.asarray(np.resize([1.7, 0.5], n), dtype)
        for a in (1.7, 1.0, alpha):
            y = call(backend, func, backend.asarray(values, dtype), a)
            with np.errstate(invalid="ignore"):  # the test's own casts flag one too
                got = backend.to_numpy(y)
            assert np.isnan(got[:3]).all() and got[3] == 1, (n, dtype, a, got[:6])

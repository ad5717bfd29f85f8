"""The NumPy backend's compiled kernel (unielu._ufuncs) and its pure-NumPy fallback.

The same bits however the work is split or laid out, at every SIMD level the
CPU has; the two paths agree on the reference grid; subclasses behave as with
NumPy's own ufuncs at every size. Lines that need the compiled kernel skip,
with the reason, where it was not built or ``UNIELU_KERNEL=numpy`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest
from adapter import FLOATS, _float64
from reference import (
    ALPHAS,
    exact_derivative,
    float32_sweep_worst_ulp,
    grid,
    numpy_dtype,
    ulp,
    ulp_errors,
)

import unielu
from unielu._threads import PARALLEL_MIN
from unielu.backends import numpy as numpy_backend

pytestmark = pytest.mark.only("numpy", reason="the NumPy backend's own kernel")

compiled = pytest.mark.skipif(
    numpy_backend._ufuncs is None, reason=f"no compiled kernel: {numpy_backend.kernel()}"
)
FUNCS = ("elu", "elu_derivative")
#: The SIMD levels this CPU runs (tests that take one force each in turn).
_SIMD_LEVELS = numpy_backend._ufuncs.simd_levels() if numpy_backend._ufuncs else ("none",)
SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, -1e-310, -90.0, -750.0, -1e30]


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    """Each test on both paths: the compiled kernel (where built) and the pure-NumPy one."""
    if request.param == "compiled" and numpy_backend._ufuncs is None:
        pytest.skip(reason=f"no compiled kernel: {numpy_backend.kernel()}")
    if request.param == "numpy":
        monkeypatch.setattr(numpy_backend, "_ufuncs", None)
    return request.param


def _data(n: int, dtype: str) -> np.ndarray:
    x = np.random.default_rng(7).normal(0, 20, n)
    x[: len(SPECIALS)] = SPECIALS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the specials overflow float16
        return x.astype(numpy_dtype(dtype))


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def _assert_same_bits(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(_bits(got), _bits(expected))


def test_the_kernel_in_use_is_reported():
    text = numpy_backend.kernel()
    if numpy_backend._ufuncs is None:
        assert text.startswith("pure NumPy (") and text.endswith(")")
    else:
        assert text == f"compiled ufunc, SIMD {numpy_backend._ufuncs.simd_level()}"


@pytest.mark.parametrize("alpha", [1.0, 1.7])
@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_same_bits_however_split_or_laid_out(path, monkeypatch, dtype, func, alpha):
    f = getattr(unielu, func)
    n = PARALLEL_MIN + 2085  # above the threaded size, odd
    x = _data(n + 16, dtype)
    reference = f(x[:n].copy(), alpha)  # one call, default threads
    ref = _bits(reference)
    # Every element alone through the small path, and slices split at odd points.
    for start, stop in [(0, 1), (5, 4000), (n - 3, n), (1000, PARALLEL_MIN + 999)]:
        np.testing.assert_array_equal(_bits(f(x[start:stop].copy(), alpha)), ref[start:stop])
    # Thread counts: one, two, three, many.
    for threads in ("1", "2", "3", "8"):
        monkeypatch.setenv("UNIELU_NUM_THREADS", threads)
        _assert_same_bits(f(x[:n], alpha), reference)
    monkeypatch.delenv("UNIELU_NUM_THREADS")
    # Alignment: each offset 0-8 elements into a larger allocation.
    for offset in range(9):
        buffer = np.zeros(n + 9, dtype=x.dtype)
        buffer[offset : offset + n] = x[:n]
        _assert_same_bits(f(buffer[offset : offset + n], alpha), reference)
        out = np.zeros(n + 9, dtype=x.dtype)[offset : offset + n]
        f(x[:n], alpha, out=out)
        _assert_same_bits(out, reference)
    # Negative strides, Fortran order, transposed, out= a strided view.
    _assert_same_bits(f(x[:n][::-1], alpha)[::-1], reference)
    m = n - n % 9
    square = x[:m].reshape(-1, 9)
    _assert_same_bits(f(np.asfortranarray(square), alpha).ravel(order="C"), reference[:m])
    _assert_same_bits(f(square.T, alpha).T.ravel(), reference[:m])
    _assert_same_bits(f(square[:, ::2], alpha), reference[:m].reshape(-1, 9)[:, ::2])
    big = np.zeros((n, 2), dtype=x.dtype)
    out = big[:, 1]
    assert f(x[:n], alpha, out=out) is out
    _assert_same_bits(out, reference)
    # In place.
    inplace = x[:n].copy()
    f(inplace, alpha, out=inplace)
    _assert_same_bits(inplace, reference)


@compiled
@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_every_simd_level_gives_the_same_bits(dtype, func):
    ufuncs = numpy_backend._ufuncs
    f = getattr(unielu, func)
    x = np.concatenate([_data(5000, dtype), grid(dtype).astype(numpy_dtype(dtype))])
    x = _with_nans(x, dtype)
    alphas = _nan_alpha_array(x.shape, dtype)
    before = ufuncs.simd_level()
    results = {}
    try:
        for level in ufuncs.simd_levels():
            assert ufuncs.set_simd_level(level) == level
            results[level] = (f(x, 1.7), f(x, 0.5), f(x[::-3], 3.0), f(x, 1.0), f(x, alphas))
    finally:
        ufuncs.set_simd_level(before)
    first = next(iter(results.values()))
    for got in results.values():
        for a, b in zip(got, first, strict=True):
            _assert_same_bits(a, b)


#: Quiet bit of each dtype's significand (IEEE 754: its top bit).
_QUIET = {"float16": 0x200, "bfloat16": 0x40, "float32": 0x400000, "float64": 1 << 51}


def _nan_patterns(dtype: str) -> np.ndarray:
    """NaN bit patterns of dtype: signaling and quiet, both signs, several payloads."""
    q = _QUIET[dtype]
    sign = 1 << (8 * numpy_dtype(dtype).itemsize - 1)
    exponent = (sign - 1) ^ (2 * q - 1)  # every exponent bit
    alternating = int("01" * 26, 2) & (q - 1)
    payloads = [1, q - 1, q >> 1, alternating, q, q | 1, q | alternating, 2 * q - 1]
    bits = [exponent | p for p in payloads] + [sign | exponent | p for p in payloads]
    return np.array(bits, dtype=f"u{numpy_dtype(dtype).itemsize}").view(numpy_dtype(dtype))


def _with_nans(x: np.ndarray, dtype: str) -> np.ndarray:
    """x with a NaN pattern at one place in seven, across vector lanes and block ends."""
    y = x.copy()
    y[3::7] = np.resize(_nan_patterns(dtype), y[3::7].shape)
    return y


def _nan_alpha_array(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """An alpha per element: ordinary values, and NaN patterns at one place in five."""
    alpha_dtype = _alpha_dtype(dtype)
    a = np.resize(np.array([1.0, 1.7, 0.5, 37.0, 1e-30]), shape).astype(alpha_dtype)
    a[1::5] = np.resize(_nan_patterns(alpha_dtype), a[1::5].shape)
    return a


def _nan_rule(
    func: str, dtype: str, x: np.ndarray, alpha: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where the result is a NaN, and its bits (docs/contract.rst, same bits): x's
    NaN where x is one, else alpha's where the result uses alpha; quieted, sign and
    payload kept. bfloat16 results are rounded from float32 by ml_dtypes, which
    gives a NaN as the quiet NaN of its sign."""
    uint = f"u{numpy_dtype(dtype).itemsize}"
    x_nan = np.isnan(x)
    alpha = np.broadcast_to(alpha, x.shape)
    with np.errstate(invalid="ignore"):
        uses_alpha = x < 0 if func == "elu" else ~(x > 0)
    alpha_nan = np.isnan(alpha) & uses_alpha & ~x_nan
    x_bits = x.view(uint).astype(np.uint64)
    if alpha.dtype == x.dtype:
        alpha_bits = alpha.view(uint).astype(np.uint64)
    else:  # float32 alpha, float16 or bfloat16 x: its sign and the payload's top bits
        a32 = np.ascontiguousarray(alpha).view(np.uint32).astype(np.uint64)
        shift = 13 if dtype == "float16" else 16
        alpha_bits = ((a32 >> 16) & 0x8000) | np.uint64(0x7C00 if dtype == "float16" else 0x7F80)
        alpha_bits |= (a32 & 0x7FFFFF) >> shift
    bits = np.where(x_nan, x_bits, alpha_bits) | np.uint64(_QUIET[dtype])
    if dtype == "bfloat16":
        bits = (bits & 0x8000) | np.uint64(0x7FC0)
    return x_nan | alpha_nan, bits.astype(uint)


@pytest.fixture(params=_SIMD_LEVELS)
def simd_level(request):
    """Each SIMD level this CPU runs, restored afterwards."""
    ufuncs = numpy_backend._ufuncs
    if ufuncs is None:
        pytest.skip(reason=f"no compiled kernel: {numpy_backend.kernel()}")
    before = ufuncs.simd_level()
    assert ufuncs.set_simd_level(request.param) == request.param
    yield request.param
    ufuncs.set_simd_level(before)


@pytest.mark.parametrize("alpha", ["1.0", "1.7", "1e-30", "37.0", "array"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("func", FUNCS)
def test_nan_results_are_the_nan_they_come_from_quieted(func, dtype, alpha, simd_level):
    """Signaling and quiet NaNs of both signs and several payloads, in x and in an
    array alpha, among ordinary values: the contract's NaN rule, bit for bit."""
    x = _with_nans(_data(3001, dtype), dtype)
    a = _nan_alpha_array(x.shape, dtype) if alpha == "array" else float(alpha)
    y = getattr(unielu, func)(x, a)
    where, bits = _nan_rule(func, dtype, x, np.asarray(a, dtype=_alpha_dtype(dtype)))
    np.testing.assert_array_equal(np.isnan(y), where)
    np.testing.assert_array_equal(_bits(y)[where], bits[where])


def _recorded_sample(dtype: str) -> np.ndarray:
    """Inputs built from integers alone, so that every machine builds the same bits.

    The half precisions: all 65536 values. float32: every 4093rd bit pattern
    (about a million, every exponent and both signs). float64: 2**20 scattered
    bit patterns, a grid over [-750, 10] and one around 0.
    """
    if dtype in ("float16", "bfloat16"):
        return np.arange(2**16, dtype=np.uint16).view(numpy_dtype(dtype))
    if dtype == "float32":
        return np.arange(0, 2**32, 4093, dtype=np.uint64).astype(np.uint32).view(np.float32)
    k = np.arange(2**20, dtype=np.uint64)
    scattered = (k * np.uint64(0x9E3779B97F4A7C15)).view(np.float64)  # wraps modulo 2**64
    steps = k.astype(np.float64)
    return np.concatenate([scattered, steps * (760.0 / 2**20) - 750.0, (steps - 2**19) * 2.0**-45])


#: The alphas of the recorded results: numbers, and an array of one per element.
RECORDED_ALPHAS = ("1.0", "1.7", "0.5", "1e-30", "array")


def _recorded_digest(dtype: str, func: str, alpha: str) -> str:
    x = _recorded_sample(dtype)
    a = np.resize(np.array([1.0, 1.7, 0.5, 3.0, 1e-30]), x.shape).astype(_alpha_dtype(dtype))
    y = getattr(unielu, func)(x, a if alpha == "array" else float(alpha))
    bits = _bits(y).astype(f"<u{y.dtype.itemsize}")
    bits[np.isnan(y)] = 0  # NaN bits: test_nan_results_are_the_nan_they_come_from_quieted
    return hashlib.sha256(bits.tobytes()).hexdigest()[:16]


#: Digests of the compiled kernel's results on _recorded_sample (NaNs made one),
#: recorded on x86-64, where every SIMD level gives them. The contract's "same bits
#: everywhere" includes other CPUs, compilers and operating systems: each must give
#: these (cibuildwheel runs this file on every wheel it builds; docs/backends/numpy.rst).
RECORDED: dict[tuple[str, str, str], str] = {
    ("float16", "elu", "1.0"): "0f18f3d38c33f741",
    ("float16", "elu", "1.7"): "4bc707a26328c2b0",
    ("float16", "elu", "0.5"): "bf9b5b80842c97ea",
    ("float16", "elu", "1e-30"): "5a325c8749743504",
    ("float16", "elu", "array"): "9fcf0765f151867d",
    ("float16", "elu_derivative", "1.0"): "e6f6ff75f7b80c4c",
    ("float16", "elu_derivative", "1.7"): "a7879b1221f8d89f",
    ("float16", "elu_derivative", "0.5"): "a2d4771732119fdf",
    ("float16", "elu_derivative", "1e-30"): "d26fada55b429beb",
    ("float16", "elu_derivative", "array"): "2d3d040473b21a6f",
    ("bfloat16", "elu", "1.0"): "7187d4919bd82fd2",
    ("bfloat16", "elu", "1.7"): "8184584f8015cc9d",
    ("bfloat16", "elu", "0.5"): "b5fa3edca26317ff",
    ("bfloat16", "elu", "1e-30"): "8054cdf985c53480",
    ("bfloat16", "elu", "array"): "51e2a9e0aa9ee3fd",
    ("bfloat16", "elu_derivative", "1.0"): "e1e0850fb2fae4c9",
    ("bfloat16", "elu_derivative", "1.7"): "af5e7184cba1151f",
    ("bfloat16", "elu_derivative", "0.5"): "ca56858d8226318c",
    ("bfloat16", "elu_derivative", "1e-30"): "aefe1afcde45ab18",
    ("bfloat16", "elu_derivative", "array"): "f39123df734d0249",
    ("float32", "elu", "1.0"): "1699041ad49f6167",
    ("float32", "elu", "1.7"): "7c0e6fd109f32a23",
    ("float32", "elu", "0.5"): "b017b1c16fa7c250",
    ("float32", "elu", "1e-30"): "d6d157f6ca2cb35d",
    ("float32", "elu", "array"): "15f16ac202b706e4",
    ("float32", "elu_derivative", "1.0"): "15687931f4125df8",
    ("float32", "elu_derivative", "1.7"): "df18d09076884264",
    ("float32", "elu_derivative", "0.5"): "c2e8c14c30f4abe0",
    ("float32", "elu_derivative", "1e-30"): "0ebd52db3628f6fd",
    ("float32", "elu_derivative", "array"): "17c8b736553ab163",
    ("float64", "elu", "1.0"): "ac6e4507e528b2df",
    ("float64", "elu", "1.7"): "88abf31399529056",
    ("float64", "elu", "0.5"): "5d82ed4f10959532",
    ("float64", "elu", "1e-30"): "085f139ffc3f542f",
    ("float64", "elu", "array"): "f15a851443f300eb",
    ("float64", "elu_derivative", "1.0"): "e1ad25921a7a6d7d",
    ("float64", "elu_derivative", "1.7"): "b702cde08807c63d",
    ("float64", "elu_derivative", "0.5"): "087c15917718270c",
    ("float64", "elu_derivative", "1e-30"): "75cf620c6c1e94a1",
    ("float64", "elu_derivative", "array"): "a1231f801d5fb9a3",
}


@compiled
@pytest.mark.parametrize("alpha", RECORDED_ALPHAS)
@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_the_bits_recorded_on_x86_64(dtype, func, alpha):
    got = _recorded_digest(dtype, func, alpha)
    assert got == RECORDED[dtype, func, alpha], (
        f"{func}({dtype}, alpha={alpha}) on {numpy_backend.kernel()}: digest {got}, "
        f"recorded {RECORDED[dtype, func, alpha]}"
    )


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_alpha_one_same_bits_as_a_number_an_array_or_mixed(path, dtype, func):
    # The float32 loops skip the product for alpha 1 (a number); an array
    # holding 1 must give those bits too, element by element.
    f = getattr(unielu, func)
    # Tiny values, and float32 values near a tie where alpha 1's sum and the
    # product with alpha's halves round to different neighbours.
    tiny = [-1e-40, -(2.0**-40), -(2.0**-30), -1e-45, -1e-310, -5.9597372e-08, -2.9802326e-08]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny values flush in the half precisions
        extra = np.array(tiny, dtype=numpy_dtype(dtype))
    x = np.concatenate([_data(3000, dtype), extra, grid(dtype).astype(numpy_dtype(dtype))])
    ones = f(x, 1.0)
    _assert_same_bits(f(x, np.ones(x.shape, dtype=_alpha_dtype(dtype))), ones)
    mixed = np.resize(np.array([1.0, 1.7, 1.0, 0.5, 1e-70]), x.shape).astype(_alpha_dtype(dtype))
    got = f(x, mixed)
    for value in (1.0, 1.7, 0.5):
        where = mixed == mixed.dtype.type(value)
        _assert_same_bits(got[where], f(x, float(mixed[where][0]))[where])


def _alpha_dtype(dtype: str) -> str:
    """An alpha array's dtype that the kernel takes as is (float32 for the half precisions)."""
    return "float64" if dtype == "float64" else "float32"


@compiled
def test_simd_level_names_are_checked():
    with pytest.raises(ValueError, match="SIMD level must be one of"):
        numpy_backend._ufuncs.set_simd_level("sse9")


@compiled
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_compiled_and_numpy_paths_agree_on_the_reference_grid(monkeypatch, dtype, func, alpha):
    x = grid(dtype).astype(numpy_dtype(dtype))
    f = getattr(unielu, func)
    ours = _float64(f(x, alpha))
    monkeypatch.setattr(numpy_backend, "_ufuncs", None)
    theirs = _float64(f(x, alpha))
    for got in (ours, theirs):
        assert ulp_errors(got, func, dtype, alpha).max() <= 3
    # Within the contract both, and one rounding step apart at most (both are
    # within an ULP of the exact value; the compiled one within 0.8 ULP in float32).
    with np.errstate(over="ignore"):
        spacing = np.spacing(np.abs(ours).astype(numpy_dtype(dtype))).astype(np.float64)
    tiny = float(np.finfo(np.float32).smallest_subnormal) if dtype == "float64" else 0.0
    assert (np.abs(ours - theirs) <= 2 * np.maximum(spacing, tiny)).all()
    assert (np.signbit(ours) == np.signbit(theirs)).all()


@compiled
@pytest.mark.parametrize("alpha", [1.0, 1.7])
@pytest.mark.parametrize("func", FUNCS)
def test_float32_within_one_ulp(func, alpha):
    x = grid("float32").astype(np.float32)
    y = getattr(unielu, func)(x, alpha)
    assert ulp_errors(_float64(y), func, "float32", alpha).max() <= 1.0


#: Every STRIDE-th float32 below 0 down to -104; UNIELU_SWEEP_STRIDE=1 sweeps them all.
SWEEP_STRIDE = int(os.environ.get("UNIELU_SWEEP_STRIDE", "1009"))


@compiled
@pytest.mark.parametrize("alpha", [1.0, 1.7])
@pytest.mark.parametrize("func", FUNCS)
def test_float32_within_one_ulp_over_the_negative_floats(func, alpha):
    assert _sweep_worst_ulp(func, alpha) <= 1.0


@compiled
@pytest.mark.parametrize("alpha", [2e-38, 7e-31, 1e-30])
@pytest.mark.parametrize("func", FUNCS)
def test_float32_tiny_alphas_within_one_and_a_half_ulp(func, alpha):
    # Where the products of 12-bit halves would underflow, the loops round twice.
    assert _sweep_worst_ulp(func, alpha) <= 1.5


def _sweep_worst_ulp(func: str, alpha: float, path: str = "compiled") -> float:
    """The float32 loops' own error over the negative floats (reference.py);
    ``path="numpy"``: the pure-NumPy path's instead."""
    if path == "compiled":
        ufunc = getattr(numpy_backend._ufuncs, func)
        return float32_sweep_worst_ulp(
            lambda x, a: ufunc(x, np.float32(a)), func, alpha, SWEEP_STRIDE
        )
    return float32_sweep_worst_ulp(getattr(unielu, func), func, alpha, SWEEP_STRIDE)


@pytest.mark.parametrize("alpha", [1.0, 1.7, 37.0])
@pytest.mark.parametrize("func", FUNCS)
def test_pure_numpy_float32_within_one_ulp_over_the_negative_floats(monkeypatch, func, alpha):
    # It computes in float64 and rounds once. In float32, NumPy's exp and expm1 (SVML
    # on AVX-512) were up to 4.5 ULP off: elu_derivative(float32(-87.5), 37.0), 3.02.
    monkeypatch.setattr(numpy_backend, "_ufuncs", None)
    assert _sweep_worst_ulp(func, alpha, "numpy") <= 1.0


@pytest.mark.parametrize(
    ("value", "dtype", "alpha"),
    [(-745.0, "float64", 1e300), (-720.0, "float64", 1e10), (-100.0, "float32", 1e10),
     (-95.0, "float32", 3e5), (-1500.0, "float64", 1e300)],
)  # fmt: skip
def test_derivative_accurate_where_exp_alone_is_subnormal(path, value, dtype, alpha):
    got = unielu.elu_derivative(np.array([value], dtype=dtype), alpha)
    assert got.dtype == np.dtype(dtype)
    exact = exact_derivative(value, float(np.float32(alpha)) if dtype == "float32" else alpha)
    error = abs(mpmath.mpf(float(got[0])) - exact) / ulp(exact, dtype)
    assert error <= 3, (float(got[0]), float(exact))


@pytest.mark.parametrize("dtype", FLOATS)
def test_zeros_are_kept_whatever_an_array_alpha_holds(path, dtype):
    x = np.array([0.0, -0.0, 0.0, -0.0, -1.0]).astype(numpy_dtype(dtype))
    alpha = np.array([np.nan, np.nan, np.inf, np.inf, 2.0], dtype=np.float32)
    y = _float64(unielu.elu(x, alpha))
    np.testing.assert_array_equal(y[:4], [0.0, -0.0, 0.0, -0.0])
    np.testing.assert_array_equal(np.signbit(y[:4]), [False, True, False, True])


@pytest.mark.parametrize("func", FUNCS)
def test_no_warning_when_half_precision_results_overflow(path, func):
    x = np.array([-1.0, -0.5, -20.0] * 3000, dtype=np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = getattr(unielu, func)(x, 1e10)
        out = np.empty_like(x)
        getattr(unielu, func)(x, 1e10, out=out)
    assert np.isinf(y[:2]).all() and np.isinf(out[:2]).all()


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("n", [3, 5000, 2 * PARALLEL_MIN])
def test_matrix_and_masked_array_as_with_numpy_ufuncs(path, n):
    values = np.linspace(-3, 3, 2 * n)
    m = np.matrix(values.reshape(2, n))
    y = unielu.elu(m, 1.7)
    assert type(y) is np.matrix and y.shape == (2, n)
    np.testing.assert_allclose(np.asarray(y), np.asarray(unielu.elu(values, 1.7)).reshape(2, n))
    mask = np.zeros(2 * n, dtype=bool)
    mask[::3] = True
    masked = np.ma.array(values, mask=mask)
    d = unielu.elu_derivative(masked, 0.5)
    assert isinstance(d, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(d), mask)
    np.testing.assert_allclose(d.data[~mask], unielu.elu_derivative(values, 0.5)[~mask])


def test_subclass_refusing_ufuncs_is_a_type_error_naming_x(path):
    class NoUfuncs(np.ndarray):
        __array_ufunc__ = None

    x = np.ones(3).view(NoUfuncs)
    with pytest.raises(TypeError, match=r"argument 'x'.*__array_ufunc__ = None"):
        unielu.elu(x)


@compiled
@pytest.mark.only("dask", reason="the kernel's ufuncs on Dask blocks")
def test_dask_map_blocks_with_the_ufunc():
    da = pytest.importorskip("dask.array", reason="dask is not installed")
    ufuncs = numpy_backend._ufuncs
    x = np.linspace(-5, 5, 1000)
    d = da.from_array(x, chunks=100)
    _assert_same_bits(d.map_blocks(ufuncs.elu, 1.7).compute(), unielu.elu(x, 1.7))
    _assert_same_bits(ufuncs.elu_derivative(d, 1.7).compute(), unielu.elu_derivative(x, 1.7))


def test_the_report_says_which_kernel_runs(monkeypatch, capsys):
    from unielu import cli

    # Only the NumPy backend's row: the kernel line does not depend on the others.
    monkeypatch.setattr(cli, "registry", lambda: [cli.get_spec("numpy")])
    assert cli.info(as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["numpy_kernel"] == numpy_backend.kernel()
    assert cli.info(as_json=False) == 0
    assert f"NumPy kernel: {numpy_backend.kernel()}" in capsys.readouterr().out


def test_unielu_kernel_names_are_checked(monkeypatch):
    monkeypatch.setenv("UNIELU_KERNEL", "fortran")
    with pytest.raises(ValueError, match="UNIELU_KERNEL must be 'compiled' or 'numpy'"):
        numpy_backend._load_kernel()
    monkeypatch.setenv("UNIELU_KERNEL", "numpy")
    assert numpy_backend._load_kernel() == (None, "UNIELU_KERNEL=numpy")


@compiled
@pytest.mark.parametrize("level", ["baseline", "avx2", "avx512", "sse9"])
def test_unielu_simd_caps_the_level_at_import(level):
    # A fresh interpreter: the variable is read once, when the extension loads.
    root = os.path.dirname(os.path.dirname(unielu.__file__))
    env = dict(os.environ, UNIELU_SIMD=level, PYTHONPATH=root)
    code = "from unielu import _ufuncs; print(_ufuncs.simd_level(), _ufuncs.simd_levels())"
    # cwd: -c puts the current folder first on sys.path, and the package session runs
    # from an unpacked sdist whose unielu/ has no built extension.
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root
    )
    if level == "sse9":
        assert out.returncode != 0 and "UNIELU_SIMD must be one of" in out.stderr
        return
    chosen, available = out.stdout.split(" ", 1)
    if "neon" in available:  # aarch64: one level
        assert chosen == "neon"
        return
    order = ["baseline", "avx2", "avx512"]
    allowed = [name for name in order[: order.index(level) + 1] if f"'{name}'" in available]
    assert chosen == allowed[-1], out.stdout


@compiled
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
@pytest.mark.parametrize("alpha", [-1.0, -1.7, -1e-35, -3e38])
def test_float32_negative_array_alpha_as_written(backend, func, alpha):
    """An array alpha's values are applied as written (docs/contract.rst), negative
    ones too: the float32 loops' tiny-alpha branch is for |alpha| tiny only."""
    x = -np.geomspace(1e-40, 104, 4001).astype(np.float32)
    a = np.float32(alpha)
    got = getattr(unielu, func)(x, np.array(a)).astype(np.float64)
    x64 = x.astype(np.float64)
    want = float(a) * (np.expm1(x64) if func == "elu" else np.exp(x64))
    spacing = np.spacing(np.abs(want.astype(np.float32))).astype(np.float64)
    assert np.max(np.abs(got - want) / spacing) <= 1.5

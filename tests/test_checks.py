"""unielu/_checks.py on its own: the helpers whose rule is not visible through
one backend (every backend's calls are checked in tests/test_hostile.py)."""

from __future__ import annotations

import re

import ml_dtypes
import numpy as np
import pytest

from unielu import _checks

pytestmark = pytest.mark.framework_free

# How each framework writes its dtypes (str of the dtype object): NumPy, JAX, CuPy and
# Keras as NumPy does, PyTorch with its module, TensorFlow in a repr.
SPELLINGS = {
    "float64": ["float64", "torch.float64", "<dtype: 'float64'>", np.dtype(np.float64)],
    "float32": [
        "float32", "torch.float32", "<dtype: 'float32'>", np.dtype(np.float32),
        np.dtype(np.float16), "torch.bfloat16", np.dtype(ml_dtypes.bfloat16),
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    "compute, dtype",
    [
        pytest.param(compute, dtype, id=f"{compute}-{type(dtype).__name__}-{dtype}")
        for compute, dtypes in SPELLINGS.items()
        for dtype in dtypes
    ],
)
def test_alpha_fits_reads_the_compute_dtype_as_each_framework_writes_it(compute, dtype):
    _checks.check_alpha_fits(_checks.FLOAT32_MAX, dtype, "elu")  # fits every compute dtype
    if compute == "float64":
        _checks.check_alpha_fits(_checks.FLOAT64_MAX, dtype, "elu")
        return
    message = r"argument 'alpha' is 3\.5e\+38, larger .* compute dtype float32 \(3\.40282"
    with pytest.raises(ValueError, match=message):
        _checks.check_alpha_fits(3.5e38, dtype, "elu")


@pytest.mark.parametrize(
    "dtype, accepted",
    [
        ("int8", True), ("uint64", True), ("float16", True), ("float32", True),
        ("float64", True), ("bfloat16", True), ("bool", False), ("complex64", False),
        ("float8_e5m2", False), ("float8_e4m3fn", False), ("object", False), ("M8[s]", False),
    ],
)  # fmt: skip
def test_alpha_dtypes_of_numpy_arrays(dtype, accepted):
    numpy_dtype = np.dtype(getattr(ml_dtypes, dtype, dtype))
    assert _checks.is_alpha_dtype(numpy_dtype) is accepted
    alpha = np.ones(3, numpy_dtype)
    x = np.ones(3)
    if accepted:
        assert _checks.check_numpy_alpha(alpha, x, "elu") is alpha
    else:
        with pytest.raises(
            TypeError, match=r"argument 'alpha' .*of dtype " + re.escape(str(numpy_dtype))
        ):
            _checks.check_numpy_alpha(alpha, x, "elu")


@pytest.mark.parametrize(
    "value, expected", [(1.5, 1.5), (0.0, 0.0), (-0.0, None), (-1.0, None), (np.inf, None)]
)
def test_a_one_element_numpy_alpha_is_a_number_when_valid(value, expected):
    # Valid: the scalar path with its checked float; else the array, computed as written.
    for shape in [(), (1,), (1, 1)]:
        alpha = np.full(shape, value)
        got = _checks.check_numpy_alpha(alpha, np.ones((2, 3)), "elu")
        if expected is None:
            assert got is alpha
        else:
            assert type(got) is float and got == expected


def test_describe_names_module_and_type():
    assert _checks.describe(np.float32(1)) == "numpy.float32"
    assert _checks.describe([1]) == "builtins.list"
    assert "got builtins.object" in str(_checks.x_type_error(object(), "elu"))

"""Dispatch: lazy detection, per-type cache, threads, and errors for what is not an array."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import unielu
from unielu import _checks, _dispatch

pytestmark = pytest.mark.framework_free

FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "cupy", "dask", "ml_dtypes")


def frameworks_imported_by(statements: str) -> str:
    """The frameworks a fresh interpreter has imported after ``statements``."""
    report = "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))"
    code = f"import sys; {statements}; {report}"
    out = subprocess.run(
        [sys.executable, "-c", code, *FRAMEWORKS], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_import_loads_numpy_and_nothing_heavier():
    assert frameworks_imported_by("import unielu") == "[]"
    # Using it on NumPy input, or asking what is installed, still imports no framework.
    assert frameworks_imported_by("import unielu; unielu.elu([1.0, -1.0])") == "[]"
    assert frameworks_imported_by("import unielu; unielu.installed_backends()") == "[]"


def test_installed_backends():
    names = unielu.installed_backends()
    assert names[-2:] == ("numpy", "array_api") or {"numpy", "array_api"} <= set(names)


@pytest.mark.parametrize(
    "bad",
    [None, "1.0", b"1", {"a": 1}, {1.0}, object(), range(3), slice(1), np.dtype("float32")],
    ids=lambda bad: re.sub(r" at 0x[0-9a-f]+", "", repr(bad)),  # the same ids in every process
)
def test_non_arrays_raise_type_error_naming_what_was_given(bad):
    for func in (unielu.elu, unielu.elu_derivative, unielu.get_backend):
        with pytest.raises(TypeError) as info:
            func(bad)
        message = str(info.value)
        assert "argument 'x'" in message and type(bad).__qualname__ in message
        assert "NumPy" in message and "__array_namespace__" in message


def test_subclass_resolves_like_its_base():
    class MyArray(np.ndarray):
        pass

    x = np.array([-1.0, 1.0]).view(MyArray)
    assert unielu.get_backend(x) == "numpy"
    np.testing.assert_array_equal(unielu.elu(x), unielu.elu(np.array([-1.0, 1.0])))


def test_array_api_fallback_for_unknown_namespace_arrays():
    class Wrapped:
        """A minimal foreign array that only offers __array_namespace__."""

        def __array_namespace__(self, api_version=None):
            return np

    assert unielu.get_backend(Wrapped()) == "array_api"


def test_first_calls_from_many_threads():
    _dispatch._CACHE.clear()  # in place: unielu's fast path holds this very dict
    barrier = threading.Barrier(16)
    errors, results = [], []
    inputs = [np.float32(-1.0), np.array([-1.0]), [-1.0], (-1.0,), -1.0, -1]

    def work(i):
        try:
            barrier.wait()
            results.append(float(np.ravel(unielu.elu(inputs[i % len(inputs)]))[0]))
        except Exception as error:  # collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    np.testing.assert_allclose(results, np.expm1(-1.0), rtol=1e-7)
    assert set(_dispatch._CACHE) == {type(x) for x in inputs}


def test_dispatch_is_cached_per_type():
    unielu.elu(np.ones(2))
    assert _dispatch.spec_of(_dispatch._CACHE[np.ndarray]).name == "numpy"


def test_version():
    assert unielu.__version__.count(".") == 2


def test_thread_count_from_the_environment(monkeypatch):
    from unielu import _threads

    x = np.linspace(-3, 3, _threads.PARALLEL_MIN + 5)
    expected = unielu.elu(x)
    for value in ("1", "3"):
        monkeypatch.setenv("UNIELU_NUM_THREADS", value)
        assert _threads.num_threads() == int(value)
        np.testing.assert_array_equal(unielu.elu(x), expected)
    monkeypatch.setenv("UNIELU_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="UNIELU_NUM_THREADS must be a whole number"):
        unielu.elu(x)


@pytest.mark.parametrize("alpha", [2, np.float64(1.5), np.float32(0.5), np.int8(3)])
def test_alpha_reaches_backends_as_a_python_float(alpha):
    checked = _checks.check_alpha(alpha, "elu")
    assert type(checked) is float and checked == float(alpha)


def test_the_errors_quoted_in_getting_started_are_the_real_ones():
    """docs/getting-started.rst's examples (its ``>>>`` lines) run as a doctest."""
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "getting-started.rst"
    result = doctest.testfile(
        str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted >= 3 and result.failed == 0, result


def test_the_readme_code_fits_the_formatter_line():
    """ruff formats the README's code blocks too: a line longer than its line-length
    would come back split (``get_backend(\\n    x\\n)``); written to fit, it stays as written."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pyproject = (root / "pyproject.toml").read_text()  # no tomllib on Python 3.10
    limit = int(re.search(r"^line-length = (\d+)", pyproject, re.MULTILINE).group(1))
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text(), re.DOTALL)
    long = [line for block in blocks for line in block.splitlines() if len(line) > limit]
    assert blocks and not long, long


def test_one_stride_views_overlap_exactly():
    # unielu/_checks.py decides 1-d views with one stride (buf[::2] against
    # buf[1::2]) by arithmetic, at any size: the same answer as comparing every
    # pair of elements, for forward and backward strides and mixed item sizes.
    from unielu._checks import overlap

    def brute(a, b):
        def spans(layout):
            ptr, (n,), (step,), size = layout
            return [(ptr + i * step, ptr + i * step + size) for i in range(n)]

        pairs = ((x, y) for x in spans(a) for y in spans(b))
        return any(x[0] < y[1] and y[0] < x[1] for x, y in pairs)

    checked = 0
    for step in (-12, -8, -4, -3, 4, 5, 8, 12):
        for size_a, size_b in ((4, 4), (2, 4), (4, 1), (8, 4)):
            for shift in range(-9, 10):
                for na, nb in ((1, 1), (3, 5), (6, 2)):
                    a = (1000, (na,), (step,), size_a)
                    b = (1000 + shift, (nb,), (step,), size_b)
                    if overlap(a, b) == "same":
                        continue
                    assert (overlap(a, b) == "partial") == brute(a, b), (a, b)
                    checked += 1
    assert checked > 1500
    # Interleaved halves of a buffer larger than element-by-element checks go.
    buf = np.zeros(2**22, np.float32)
    x, out = buf[::2], buf[1::2]
    x[:] = -1.0
    assert unielu.elu(x, 1.0, out=out) is out
    np.testing.assert_array_equal(out, np.float32(np.expm1(np.float32(-1.0))))

"""What a test adapter is (``Adapter``), and the adapters of tests/adapters/.

An adapter tells the conformance matrix, the benchmarks (``unielu bench``), the
soak (benchmarks/soak.py) and the GPU check how to make a backend's arrays,
read results back, and reach its devices, autodiff and own ELU: outside its
backend module, the only code that knows the framework. What the project
promises of a backend (ULP bound, subnormal flushing, autodiff) comes from the
registry (``self.spec``), not from here. There is one module per backend in
tests/adapters/, found by name; only the adapter of the backend
under test is instantiated, so only its framework is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from unielu._registry import get_spec

if TYPE_CHECKING:
    from unielu.bench import Case, Workload

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("bool", "int8", "int16", "int32", "int64", "uint8")


def _float64(a: np.ndarray) -> np.ndarray:
    """A result as float64 (exact for every float dtype here); integers and bool as they are."""
    if a.dtype.kind in "biu":
        return a
    with np.errstate(invalid="ignore"):  # a signaling NaN is flagged by the cast
        return a.astype(np.float64)


class Adapter:
    """How tests and benchmarks reach one backend's framework; one subclass per backend."""

    name: ClassVar[str]
    #: Module that must import for this backend to be tested.
    framework: ClassVar[str]
    #: The framework has an ELU of its own (``native_elu``) to cross-check against.
    native: ClassVar[bool] = False
    #: The framework's name and its own ELU's, in words (the docs' differences table).
    title: ClassVar[str] = ""
    native_name: ClassVar[str] = ""
    #: Its results are the NumPy backend's, bit for bit (it computes with NumPy).
    same_as_numpy: ClassVar[bool] = False
    #: ``unielu bench`` also compares the NumPy backend with this framework's own
    #: ELU alone (case ``numpy.<name>``), besides the fastest of them all.
    bench_against_numpy: ClassVar[bool] = False
    dtypes: tuple[str, ...] = FLOATS
    int_dtypes: tuple[str, ...] = INTS
    default_float = "float64"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        # What the registry says of the backend (the contract's ULP, autodiff, ...).
        self.spec = get_spec(self.name)
        self.ulp = self.spec.ulp
        self.flush_subnormals = self.spec.flush_subnormals
        self.autodiff = self.spec.autodiff

    @classmethod
    def available(cls) -> bool:
        """Whether this backend can be tested here (when no --backend names it)."""
        return importlib.util.find_spec(cls.framework) is not None

    @classmethod
    def configure(cls) -> None:
        """Once per test session, before any array is made; raises if unusable."""
        importlib.import_module(cls.framework)

    # -- arrays --------------------------------------------------------------
    def asarray(self, values: Any, dtype: str) -> Any:
        raise NotImplementedError

    def empty(self, shape: tuple[int, ...], dtype: str) -> Any:
        """A new writable array for ``out=`` (used where the registry says ``mutable``)."""
        return self.asarray(np.zeros(shape), dtype)

    def copy(self, x: Any) -> Any:
        """A copy of ``x`` on its device (the GPU check's bandwidth yardstick)."""
        raise NotImplementedError

    def synchronize(self, y: Any) -> None:
        """Wait until ``y`` is computed (the framework may return before it is)."""

    def free(self) -> None:
        """Give cached device memory back (after the GPU check's large arrays)."""

    def quiet(self) -> None:
        """Silence the framework's own logging for a long run (the soak's mixed shapes)."""

    def to_numpy(self, y: Any) -> np.ndarray:
        """float64 (or the integer/bool dtype) NumPy copy of a result."""
        return _float64(np.asarray(y))

    def dtype_name(self, y: Any) -> str:
        return str(y.dtype)

    def is_native(self, y: Any) -> bool:
        raise NotImplementedError

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        """Strided or transposed views of a 2-d array (where the framework has them)."""
        return {"transposed": x2d.T, "every other row": x2d[::2], "every third column": x2d[:, ::3]}

    def refused(self) -> dict[str, Any]:
        """Inputs of this framework that must raise TypeError (complex, non-numeric)."""
        return {}

    def float8(self, values: np.ndarray, kind: str) -> Any:
        """``values`` (float32) as the framework's float8 dtype named ``kind`` as in
        ml_dtypes, or None where the framework has no float8 arrays; AttributeError or
        TypeError where it lacks that one."""
        return None

    def as_strided(self, base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        """A view of 1-d ``base`` with strides in elements, or None without as_strided."""
        return None

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        """Other input kinds of this framework that must give the same values."""
        return {}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        """Inputs on each device, with a check that a result is where its input was."""
        return {}

    def native_elu(self, x: Any, alpha: float) -> Any:
        raise NotImplementedError

    # -- benchmarks (unielu/bench.py) ------------------------------------------
    @classmethod
    def benchmarked(cls) -> bool:
        """Whether ``unielu bench`` has cases for this backend (it defines some)."""
        return cls.bench_cases is not Adapter.bench_cases or (
            cls.bench_workloads is not Adapter.bench_workloads
        )

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        """unielu on this framework's arrays of ``x``'s values against a baseline (its
        own ELU), each a ``unielu.bench.Case`` whose id ``<name>.<what>`` stays stable
        (benchmarks/targets.py refers to it). Each call must finish its work."""
        return ()

    def bench_workloads(self, repeats: int) -> Iterable[Workload]:
        """Sequences of calls timed as a whole (``unielu.bench.Workload``), each call
        of either side run ``repeats`` times on fresh inputs."""
        return ()

    def bench_native(self, x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]] | None:
        """The framework's own ELU on ``x``'s values, ready to time: (label, call);
        None where it cannot take them. The NumPy backend's yardstick."""
        return None

    # -- autodiff --------------------------------------------------------------
    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        """First and second derivative of elu at x, by each autodiff route."""
        raise NotImplementedError

    def native_gradient(self, x: Any, alpha: float) -> Any:
        raise NotImplementedError

    def native_variants(self) -> dict[str, Callable[[Any], Any]]:
        """The framework's own ELU (alpha 1) under its transforms, by label (differences table)."""
        return {}

    def derivatives(self, func: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        """First and second derivative of the elementwise ``func`` at each element of
        ``x``, by the framework's autodiff (the differences table: its ELU and unielu's)."""
        raise NotImplementedError

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        """elu under each compilation or mapping transform."""
        raise NotImplementedError

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        """Tangent of elu at x along ones, by each forward-mode route: label -> tangent.

        Only where the framework has forward-mode autodiff (tests/test_forward_mode.py).
        """
        raise NotImplementedError

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        """For an array ``alpha`` of this framework, by each route: label ->
        (d sum(elu(x, alpha)) / d alpha, d sum(elu_derivative(x, alpha)) / d alpha).

        Only where the framework has autodiff (tests/test_alpha_gradients.py).
        """
        raise NotImplementedError


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def _discover() -> dict[str, type[Adapter]]:
    """The adapters in tests/adapters/, one module per backend, each naming its ``ADAPTER``."""
    found: dict[str, type[Adapter]] = {}
    for path in sorted(Path(__file__).with_name("adapters").glob("[!_]*.py")):
        adapter = importlib.import_module(f"adapters.{path.stem}").ADAPTER
        found[adapter.name] = adapter
    return found


#: Adapter name -> its adapter class. A test may add one (tests/throwaway_backend.py).
ADAPTERS: dict[str, type[Adapter]] = _discover()

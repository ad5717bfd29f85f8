"""One adapter per backend: how the conformance matrix makes that backend's
arrays, reads results back, and reaches its devices and autodiff.

Only the adapter for the backend under test is instantiated, so only its
framework is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from reference import numpy_dtype

import unielu
from unielu._registry import get_spec

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("bool", "int8", "int16", "int32", "int64", "uint8")


def _float64(a: np.ndarray) -> np.ndarray:
    """A result as float64 (exact for every float dtype here); integers and bool as they are."""
    return a if a.dtype.kind in "biu" else a.astype(np.float64)


class Backend:
    name: ClassVar[str]
    #: Module that must import for this backend to be tested.
    framework: ClassVar[str]
    native: ClassVar[bool] = False
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

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        """Other input kinds of this framework that must give the same values."""
        return {}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        """Inputs on each device, with a check that a result is where its input was."""
        return {}

    def native_elu(self, x: Any, alpha: float) -> Any:
        raise NotImplementedError

    # -- autodiff --------------------------------------------------------------
    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        """First and second derivative of elu at x, by each autodiff route."""
        raise NotImplementedError

    def native_gradient(self, x: Any, alpha: float) -> Any:
        raise NotImplementedError

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        """elu under each compilation or mapping transform."""
        raise NotImplementedError


class NumPyBackend(Backend):
    name = framework = "numpy"

    def asarray(self, values: Any, dtype: str) -> Any:
        return np.asarray(values).astype(numpy_dtype(dtype))

    def is_native(self, y: Any) -> bool:
        return isinstance(y, (np.ndarray, np.generic))

    def refused(self) -> dict[str, Any]:
        return {
            "complex128": np.array([1 + 2j]),
            "complex64 scalar": np.complex64(1),
            "Python complex": 1j,
            "object": np.array([1.0, None], dtype=object),
            "str": np.array(["a"]),
            "datetime64": np.array(["2026-01-01"], dtype="datetime64[D]"),
            "list of str": ["a", "b"],
            "ragged list": [[1.0], [1.0, 2.0]],
        }

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        class Sub(np.ndarray):
            pass

        return {
            "list": values.tolist(),
            "tuple": tuple(values.tolist()),
            "ndarray subclass": values.view(Sub),
            "read-only": _readonly(values),
        }

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        return {"cpu": (values, lambda y: isinstance(y, np.ndarray))}


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


class TorchBackend(Backend):
    name = framework = "torch"
    native = True
    default_float = "float32"  # torch.get_default_dtype()

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import torch

        self.torch = torch
        self.device = options.get("device") or "cpu"

    def asarray(self, values: Any, dtype: str) -> Any:
        torch = self.torch
        a = np.asarray(values)
        via = a.astype(np.float32 if dtype == "bfloat16" else dtype)
        return torch.from_numpy(via.copy(order="C")).to(self.device, getattr(torch, dtype))

    def to_numpy(self, y: Any) -> np.ndarray:
        y = y.detach().cpu()
        if y.is_floating_point():
            y = y.double()
        return y.numpy()

    def dtype_name(self, y: Any) -> str:
        return str(y.dtype).removeprefix("torch.")

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.torch.Tensor)

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        return {
            "transposed": x2d.t(),
            "every other row": x2d[::2],
            "every third column": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        torch = self.torch
        return {
            "complex64": torch.ones(2, dtype=torch.complex64, device=self.device),
            "float8_e4m3fn": torch.zeros(2, device=self.device).to(torch.float8_e4m3fn),
        }

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        x = self.torch.from_numpy(values).to(self.device)
        return {"nn.Parameter": self.torch.nn.Parameter(x.clone())}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        torch = self.torch
        out = {}
        for device in dict.fromkeys([self.device, "cpu", "meta"]):
            x = torch.from_numpy(values).to(device)
            out[device] = (x, lambda y, d=x.device: y.device == d)
        if torch.cuda.device_count() > 1:
            x = torch.from_numpy(values).to("cuda:1")
            out["cuda:1 while cuda:0 is current"] = (x, lambda y: y.device == x.device)
        return out

    def native_elu(self, x: Any, alpha: float) -> Any:
        return self.torch.nn.functional.elu(x, alpha)

    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        torch = self.torch
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(unielu.elu(x, alpha).sum(), x, create_graph=True)
        (g2,) = torch.autograd.grad(g.sum(), x)
        f = torch.func.grad(lambda v: unielu.elu(v, alpha))
        func_g = torch.func.vmap(f)(x.detach())
        func_g2 = torch.func.vmap(torch.func.grad(f))(x.detach())
        return {"autograd": (g, g2), "torch.func.vmap(grad)": (func_g, func_g2)}

    def native_gradient(self, x: Any, alpha: float) -> Any:
        x = x.detach().requires_grad_(True)
        (g,) = self.torch.autograd.grad(self.native_elu(x, alpha).sum(), x)
        return g

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        torch = self.torch
        torch._dynamo.reset()

        def compiled_backward(v: Any) -> Any:
            v = v.detach().requires_grad_(True)
            y = torch.compile(lambda t: unielu.elu(t, alpha), fullgraph=True)(v)
            return y

        return {
            "torch.compile(fullgraph=True)": torch.compile(
                lambda v: unielu.elu(v, alpha), fullgraph=True
            ),
            "torch.compile(fullgraph=True) with grad": compiled_backward,
            "torch.func.vmap": torch.func.vmap(lambda v: unielu.elu(v, alpha)),
            "torch.compile(torch.func.vmap)": torch.compile(
                torch.func.vmap(lambda v: unielu.elu(v, alpha)), fullgraph=True
            ),
            "torch.no_grad": torch.no_grad()(lambda v: unielu.elu(v, alpha)),
        }

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        """Tangent of elu at x along ones, by each forward-mode route (label -> tangent array)."""
        torch = self.torch
        fwad = torch.autograd.forward_ad

        def f(v: Any) -> Any:
            return unielu.elu(v, alpha)

        ones = torch.ones_like(x)
        routes = {}
        for requires_grad in (False, True):
            v = x.detach().clone().requires_grad_(requires_grad)
            label = " (requires_grad)" if requires_grad else ""
            routes[f"torch.func.jvp{label}"] = torch.func.jvp(f, (v,), (ones,))[1].detach()
            with fwad.dual_level():
                y = f(fwad.make_dual(v, ones))
                routes[f"forward_ad dual tensor{label}"] = fwad.unpack_dual(y).tangent.detach()
        flat = x.detach().reshape(-1)
        jacobian = torch.func.jacfwd(f)(flat)
        routes["torch.func.jacfwd diagonal"] = jacobian.diagonal().reshape(x.shape)
        return routes

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        """For an array alpha of this framework: (d sum(elu(x, alpha)) / d alpha,
        d sum(elu_derivative(x, alpha)) / d alpha) by each route (label -> pair)."""
        torch = self.torch
        x = x.detach()
        funcs = (unielu.elu, unielu.elu_derivative)
        backward = []
        for func in funcs:
            a = alpha.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(func(x, a).sum(), a)
            backward.append(g)
        func_grad = [
            torch.func.grad(lambda a, func=func: func(x, a).sum())(alpha.detach()) for func in funcs
        ]
        return {
            "autograd backward": (backward[0], backward[1]),
            "torch.func.grad": (func_grad[0], func_grad[1]),
        }


class TensorFlowBackend(Backend):
    name = framework = "tensorflow"
    native = True
    default_float = "float32"

    @classmethod
    def configure(cls) -> None:
        import tensorflow as tf

        # Two logical CPUs, so placement on the input's device is testable without a GPU.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import tensorflow as tf

        self.tf = tf

    def asarray(self, values: Any, dtype: str) -> Any:
        tf = self.tf
        a = np.asarray(values)
        with tf.device("/CPU:0"):
            if dtype == "bfloat16":
                return tf.cast(tf.constant(a.astype(np.float32)), tf.bfloat16)
            return tf.constant(a.astype(dtype))

    def to_numpy(self, y: Any) -> np.ndarray:
        if y.dtype.is_floating:
            y = self.tf.cast(y, self.tf.float64)
        return y.numpy()

    def dtype_name(self, y: Any) -> str:
        return str(y.dtype.name)

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.tf.Tensor)

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        tf = self.tf
        return {
            "transposed": tf.transpose(x2d),
            "every other row": x2d[::2],
            "strided": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        tf = self.tf
        return {
            "complex64": tf.constant([1 + 2j], dtype=tf.complex64),
            "string": tf.constant(["a"]),
        }

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        return {"tf.Variable": self.tf.Variable(values)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        tf = self.tf
        out = {}
        for device in ("/CPU:0", "/CPU:1"):
            with tf.device(device):
                x = tf.constant(values)
            out[device] = (x, lambda y, x=x: y.device == x.device)
        return out

    def native_elu(self, x: Any, alpha: float) -> Any:
        return self.tf.where(x > 0, x, alpha * self.tf.nn.elu(x))

    def past_host_path(self, func: Callable[..., Any], v: Any, alpha: float) -> Any:
        """func on v tiled beyond the size the NumPy path takes, cut back to v's size."""
        from unielu.backends.tensorflow import HOST_MAX

        n = v.shape[0]
        tiled = self.tf.tile(v, [HOST_MAX // n + 1])
        return func(tiled, alpha)[:n]

    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        tf = self.tf

        def both(v: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as outer:
                outer.watch(v)
                with tf.GradientTape() as inner:
                    inner.watch(v)
                    y = unielu.elu(v, alpha)
                g = inner.gradient(y, v)
            return g, outer.gradient(g, v)

        return {
            "GradientTape (eager)": both(x),
            "GradientTape in tf.function": tf.function(both)(x),
            "GradientTape in tf.function(jit_compile=True)": tf.function(both, jit_compile=True)(x),
        }

    def native_gradient(self, x: Any, alpha: float) -> Any:
        tf = self.tf
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = self.native_elu(x, alpha)
        return tape.gradient(y, x)

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        tf = self.tf
        return {
            "tf.function": tf.function(lambda v: unielu.elu(v, alpha)),
            "eager, past the small-tensor NumPy path (XLA)": lambda v: self.past_host_path(
                unielu.elu, v, alpha
            ),
            "tf.function(jit_compile=True)": tf.function(
                lambda v: unielu.elu(v, alpha), jit_compile=True
            ),
            "tf.function(reduce_retracing=True)": tf.function(
                lambda v: unielu.elu(v, alpha), reduce_retracing=True
            ),
        }

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        """Tangent of elu at x along ones, by each forward-mode route: label -> tangent."""
        tf = self.tf

        def jvp(v: Any) -> Any:
            with tf.autodiff.ForwardAccumulator(v, tf.ones_like(v)) as acc:
                y = unielu.elu(v, alpha)
            return acc.jvp(y)

        unknown_shape = tf.function(jvp, input_signature=[tf.TensorSpec(None, x.dtype)])
        return {
            "ForwardAccumulator (eager)": jvp(x),
            "ForwardAccumulator (eager, the shape again)": jvp(x),
            "ForwardAccumulator in tf.function": tf.function(jvp)(x),
            "ForwardAccumulator in tf.function, unknown shape": unknown_shape(x),
            "ForwardAccumulator in tf.function(jit_compile=True)": tf.function(
                jvp, jit_compile=True
            )(x),
        }

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        """For an array alpha of this framework: (d sum(elu(x, alpha))/d alpha,
        d sum(elu_derivative(x, alpha))/d alpha) by each route."""
        tf = self.tf

        def both(v: Any, a: Any) -> tuple[Any, Any]:
            out = []
            for func in (unielu.elu, unielu.elu_derivative):
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    y = tf.reduce_sum(func(v, a))
                out.append(tape.gradient(y, a))
            return out[0], out[1]

        unknown_shape = tf.function(
            both, input_signature=[tf.TensorSpec(None, x.dtype), tf.TensorSpec(None, alpha.dtype)]
        )
        return {
            "GradientTape (eager)": both(x, alpha),
            "GradientTape (eager, the shapes again)": both(x, alpha),
            "GradientTape, tf.Variable alpha": both(x, tf.Variable(alpha)),
            "GradientTape in tf.function": tf.function(both)(x, alpha),
            "GradientTape in tf.function, unknown shapes": unknown_shape(x, alpha),
            "GradientTape in tf.function(jit_compile=True)": tf.function(both, jit_compile=True)(
                x, alpha
            ),
        }


class JAXBackend(Backend):
    name = framework = "jax"
    native = True

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        x64 = jax.config.jax_enable_x64
        self.dtypes = FLOATS if x64 else FLOATS[:3]
        self.default_float = "float64" if x64 else "float32"
        self.int_dtypes = INTS if x64 else tuple(d for d in INTS if d != "int64")

    def asarray(self, values: Any, dtype: str) -> Any:
        return self.jnp.asarray(np.asarray(values).astype(numpy_dtype(dtype)))

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.jax.Array)

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.jnp.ones(2, dtype=self.jnp.complex64)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        jax = self.jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        devices = jax.devices()
        out = {}
        for device in devices[:2]:
            x = jax.device_put(values, device)
            out[str(device)] = (x, lambda y, x=x: y.devices() == x.devices() and y.committed)
        if len(devices) > 1:
            mesh = Mesh(np.array(devices[:2]), ("i",))
            sharded = jax.device_put(values, NamedSharding(mesh, PartitionSpec("i")))
            out["sharded over two devices"] = (
                sharded,
                lambda y: y.sharding.is_equivalent_to(sharded.sharding, y.ndim),
            )
        return out

    def native_elu(self, x: Any, alpha: float) -> Any:
        return self.jax.nn.elu(x, alpha)

    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        jax = self.jax
        g = jax.grad(lambda v: unielu.elu(v, alpha))
        return {
            "vmap(grad)": (jax.vmap(g)(x), jax.vmap(jax.grad(g))(x)),
            "jit(vmap(grad))": (jax.jit(jax.vmap(g))(x), jax.jit(jax.vmap(jax.grad(g)))(x)),
            "jacfwd": (
                jax.vmap(jax.jacfwd(lambda v: unielu.elu(v, alpha)))(x),
                jax.vmap(jax.jacfwd(jax.jacfwd(lambda v: unielu.elu(v, alpha))))(x),
            ),
        }

    def native_gradient(self, x: Any, alpha: float) -> Any:
        return self.jax.vmap(self.jax.grad(lambda v: self.jax.nn.elu(v, alpha)))(x)

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        jax = self.jax
        return {
            "jax.jit": jax.jit(lambda v: unielu.elu(v, alpha)),
            "jax.vmap": jax.vmap(lambda v: unielu.elu(v, alpha)),
        }

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        """Tangent of elu at x along ones, by each forward-mode route: label -> tangent."""
        jax = self.jax

        def jvp(v: Any) -> Any:
            return jax.jvp(lambda u: unielu.elu(u, alpha), (v,), (self.jnp.ones_like(v),))[1]

        def linearized(v: Any) -> Any:
            _, f = jax.linearize(lambda u: unielu.elu(u, alpha), v)
            return f(self.jnp.ones_like(v))

        return {
            "jax.jvp": jvp(x),
            "jax.jit(jax.jvp)": jax.jit(jvp)(x),
            "jax.vmap(jax.jacfwd)": jax.vmap(jax.jacfwd(lambda u: unielu.elu(u, alpha)))(x),
            "jax.linearize": linearized(x),
        }

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        """For an array alpha of this framework: (d sum(elu(x, alpha))/d alpha,
        d sum(elu_derivative(x, alpha))/d alpha) by each route."""
        jax = self.jax

        def of(func: Callable[..., Any]) -> Callable[[Any, Any], Any]:
            return lambda a, v: func(v, a).sum()

        elu, derivative = of(unielu.elu), of(unielu.elu_derivative)
        return {
            "jax.grad": (jax.grad(elu)(alpha, x), jax.grad(derivative)(alpha, x)),
            "jax.jit(jax.grad)": (
                jax.jit(jax.grad(elu))(alpha, x),
                jax.jit(jax.grad(derivative))(alpha, x),
            ),
            "jax.jacfwd (forward mode)": (
                jax.jacfwd(elu)(alpha, x),
                jax.jacfwd(derivative)(alpha, x),
            ),
        }


class DaskBackend(Backend):
    name = framework = "dask"

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import dask
        import dask.array as da

        self.dask, self.da = dask, da

    def asarray(self, values: Any, dtype: str) -> Any:
        a = np.asarray(values).astype(numpy_dtype(dtype))
        return self.da.from_array(a, chunks=max(1, a.shape[0] // 3) if a.ndim else ())

    def _compute(self, y: Any) -> np.ndarray:
        return np.asarray(y.compute(scheduler="sync"))

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(self._compute(y))

    def dtype_name(self, y: Any) -> str:
        computed = str(self._compute(y).dtype)
        assert computed == str(y.dtype), f"lazy dtype {y.dtype} but computed {computed}"
        return computed

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.da.Array)

    def refused(self) -> dict[str, Any]:
        return {"complex128": self.da.from_array(np.array([1j, 2j]), chunks=1)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        x = self.da.from_array(values, chunks=2)
        return {"same chunks": (x, lambda y: y.chunks == x.chunks)}


class ArrayAPIBackend(Backend):
    """Generic Array API path, exercised with array-api-strict."""

    name = "array_api"
    framework = "array_api_strict"
    dtypes = ("float32", "float64")
    int_dtypes = ("bool", "int8", "int16", "int32", "int64", "uint8")

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.xp = importlib.import_module("array_api_strict")

    def asarray(self, values: Any, dtype: str) -> Any:
        return self.xp.asarray(np.asarray(values).astype(dtype), dtype=getattr(self.xp, dtype))

    def dtype_name(self, y: Any) -> str:
        return str(np.asarray(y).dtype)  # str() of its own dtype names the module too

    def is_native(self, y: Any) -> bool:
        return type(y).__module__.startswith("array_api_strict")

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        return {
            "transposed": x2d.T,
            "every other row": x2d[::2, :],
            "every third column": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.xp.asarray([1 + 2j], dtype=self.xp.complex64)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        out = {}
        for device in self.xp.__array_namespace_info__().devices():
            x = self.xp.asarray(values, device=device)
            out[str(device)] = (x, lambda y, x=x: y.device == x.device)
        return out


class CuPyBackend(Backend):
    name = framework = "cupy"
    native = False

    @classmethod
    def available(cls) -> bool:
        try:
            import cupy

            return bool(cupy.cuda.runtime.getDeviceCount())
        except Exception:  # no CuPy, no driver, no device: CuPy cannot run here
            return False

    @classmethod
    def configure(cls) -> None:
        if not cls.available():
            raise RuntimeError("no CUDA device is present (or CuPy is not installed)")

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import cupy

        self.cp = cupy
        self.dtypes = ("float16", "float32", "float64")

    def asarray(self, values: Any, dtype: str) -> Any:
        return self.cp.asarray(np.asarray(values).astype(dtype))

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(self.cp.asnumpy(y))

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.cp.ndarray)

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.cp.ones(2, dtype=self.cp.complex64)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        cp = self.cp
        out = {}
        for i in range(min(2, cp.cuda.runtime.getDeviceCount())):
            with cp.cuda.Device(i):
                x = cp.asarray(values)
            # Current device stays 0: the input on device 1 must still be computed there.
            out[f"cuda:{i} while cuda:0 is current"] = (x, lambda y, i=i: y.device.id == i)
        return out


class KerasBackend(Backend):
    """Symbolic ``keras.KerasTensor`` inputs, under the Keras backend that
    ``KERAS_BACKEND`` picks. A result is a symbolic tensor too; its values come
    from running the functional model from the inputs (``unielu.backends.keras``'s
    ``to_numpy``), so accuracy is that of the Keras backend's own tensors."""

    name = framework = "keras"
    ulp = 5
    flush_subnormals = True
    default_float = "float32"

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import keras

        from unielu.backends import keras as module

        self.keras, self.module = keras, module
        self.keras_backend = keras.backend.backend()
        if self.keras_backend == "torch":
            import torch

            self.ulp, self.flush_subnormals = 3, False  # PyTorch's bound, no flushing
            self.default_float = str(torch.get_default_dtype()).removeprefix("torch.")
        elif self.keras_backend == "jax":
            import jax

            if not jax.config.jax_enable_x64:  # no float64 or int64 arrays without x64
                self.dtypes = FLOATS[:3]
                self.int_dtypes = tuple(d for d in INTS if d != "int64")
            else:
                self.default_float = "float64"

    def asarray(self, values: Any, dtype: str) -> Any:
        if dtype == "float64" and dtype not in self.dtypes:
            dtype = "float32"  # JAX without x64 would truncate it (and warn)
        return self.module.from_numpy(np.asarray(values).astype(numpy_dtype(dtype)))

    def _input(self, values: np.ndarray, shape: Any) -> Any:
        x = self.keras.Input(shape=shape, dtype=str(values.dtype))
        x._unielu_values = values  # what to_numpy feeds it with, as from_numpy does
        return x

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(np.asarray(self.module.to_numpy(y)))

    def dtype_name(self, y: Any) -> str:
        computed = str(np.asarray(self.module.to_numpy(y)).dtype)
        assert computed == str(y.dtype), f"symbolic dtype {y.dtype} but computed {computed}"
        return computed

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.keras.KerasTensor)

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        return {
            "transposed": self.keras.ops.transpose(x2d),
            "every other row": x2d[::2, :],  # Keras slices with tuples only
            "every third column": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        return {
            "complex64": self.keras.Input(batch_shape=(2,), dtype="complex64"),
            "string": self.keras.Input(batch_shape=(2,), dtype="string"),
        }

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        keras = self.keras
        values = values.astype(self.asarray(values, str(values.dtype)).dtype)
        return {
            "keras.Input with a None batch dimension": self._input(values, values.shape[1:]),
            "the output of another layer": keras.layers.Identity(dtype=str(values.dtype))(
                self.asarray(values, str(values.dtype))
            ),
        }

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        # A symbolic tensor has no device: its result is symbolic, of the same shape.
        x = self.asarray(values, "float32")
        return {"symbolic": (x, lambda y: self.is_native(y) and y.shape == x.shape)}


ADAPTERS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (
        NumPyBackend,
        TorchBackend,
        TensorFlowBackend,
        JAXBackend,
        DaskBackend,
        ArrayAPIBackend,
        CuPyBackend,
        KerasBackend,
    )
}

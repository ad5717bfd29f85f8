"""The tensorflow backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from adapter import Adapter

import unielu

if TYPE_CHECKING:
    from unielu.bench import Case, Workload


class TensorFlowAdapter(Adapter):
    name = framework = "tensorflow"
    native = True
    title, native_name = "TensorFlow", "tf.nn.elu"
    default_float = "float32"

    @classmethod
    def configure(cls) -> None:
        import tensorflow as tf

        # Two logical CPUs, so placement on the input's device is testable without a GPU.
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * 2
            )
        except RuntimeError:
            # TensorFlow already ran in this process (the benchmarks before the
            # differences table): its devices stay as they are, which timing allows.
            if not tf.config.list_logical_devices("CPU"):
                raise

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import tensorflow as tf

        self.tf = tf

    def quiet(self) -> None:
        # Mixed shapes retrace tf.functions; its warnings would bury the soak's report.
        self.tf.get_logger().setLevel("ERROR")

    def float8(self, values: np.ndarray, kind: str) -> Any:
        return self.tf.cast(self.tf.constant(values), getattr(self.tf.dtypes, kind))

    def asarray(self, values: Any, dtype: str) -> Any:
        tf = self.tf
        a = np.asarray(values)
        with tf.device("/CPU:0"):
            if dtype == "bfloat16":
                return tf.cast(tf.constant(a.astype(np.float32)), tf.bfloat16)
            return tf.constant(a.astype(dtype))

    def to_numpy(self, y: Any) -> np.ndarray:
        # Widened by NumPy: TF's own cast to float64 flushes subnormals to zero,
        # which would hide the values under test.
        a = np.asarray(y.numpy())
        return a.astype(np.float64) if y.dtype.is_floating else a

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
        if alpha == 1.0:  # tf.nn.elu itself (the product below would flush subnormals)
            return self.tf.nn.elu(x)
        return self.tf.where(x > 0, x, alpha * self.tf.nn.elu(x))

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        tf = self.tf
        if alpha != 1.0:  # tf.nn.elu has no alpha
            return
        t = tf.constant(x)
        yield (
            "tensorflow.tf.nn.elu",
            "tf.nn.elu",
            lambda: unielu.elu(t, alpha).numpy(),
            lambda: tf.nn.elu(t).numpy(),
        )
        # Steady state of a user's own tf.function (traced and compiled in the warm-up).
        user = tf.function(lambda v: unielu.elu(v, alpha))
        native = tf.function(lambda v: tf.nn.elu(v))
        yield (
            "tensorflow.in-tf.function",
            "tf.nn.elu, both in a user's tf.function",
            lambda: user(t).numpy(),
            lambda: native(t).numpy(),
        )

    def bench_workloads(self, repeats: int) -> Iterable[Workload]:
        from unielu.bench import data, distinct_alphas

        tf = self.tf
        # 30 calls, each with an alpha never seen before (tf.nn.elu has none: alpha 1).
        t = tf.constant(data(200_000, "float32"))
        fresh = distinct_alphas(30)
        yield (
            "tensorflow.30-alphas",
            "tf.nn.elu, 30 calls; unielu with 30 new alphas (total)",
            200_000,
            lambda: [unielu.elu(t, a) for a in fresh()][-1].numpy(),
            lambda: [tf.nn.elu(t) for _ in range(30)][-1].numpy(),
        )
        # 40 eager calls, each on a shape never seen before, 70,000-110,000 elements.
        rng = np.random.default_rng(1)
        sizes = iter(rng.permutation(np.arange(70_000, 110_001))[: 40 * repeats].tolist())
        batches = [
            [tf.constant(data(next(sizes), "float32")) for _ in range(40)] for _ in range(repeats)
        ]
        ours, theirs = iter(batches), iter(batches)
        yield (
            "tensorflow.40-shapes",
            "tf.nn.elu, 40 calls on 40 new shapes (total)",
            110_000,
            lambda: [unielu.elu(v, 1.0) for v in next(ours)][-1].numpy(),
            lambda: [tf.nn.elu(v) for v in next(theirs)][-1].numpy(),
        )

    def bench_native(self, x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]] | None:
        tf = self.tf
        if alpha != 1.0:  # tf.nn.elu has no alpha
            return None
        t = tf.constant(x)
        # Eager ops on the CPU run synchronously: the result stays a tensor, as
        # F.elu's does (.numpy() would add a copy to TensorFlow's time).
        return "tf.nn.elu", lambda: tf.nn.elu(t)

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

    def derivatives(self, func: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        tf = self.tf
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = func(x)
            g = inner.gradient(y, x)
        return g, outer.gradient(g, x)

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


ADAPTER = TensorFlowAdapter

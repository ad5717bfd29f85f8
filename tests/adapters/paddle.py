"""The paddle backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from adapter import Adapter

import unielu

if TYPE_CHECKING:
    from unielu.bench import Case


def _import_paddle() -> Any:
    # Before the import: Paddle's glog would write every INFO line to stderr, and
    # its C++ extension helper warns at import that ccache is missing.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("FLAGS_call_stack_level", "1")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No ccache found")
        import paddle
    return paddle


class PaddleAdapter(Adapter):
    name = "paddle"
    framework = "paddle"
    native = True
    title, native_name = "PaddlePaddle", "F.elu"
    default_float = "float32"  # paddle.get_default_dtype()

    @classmethod
    def configure(cls) -> None:
        _import_paddle()
        # unielu was imported first (by the tests): load the backends that a later
        # `import unielu` would have loaded, as for a user who imports Paddle first
        # (paddle.jit.to_static's AST mode needs it, docs/backends/paddle.rst).
        from unielu._dispatch import load_early

        load_early()

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.paddle = _import_paddle()
        self.F = self.paddle.nn.functional

    def float8(self, values: np.ndarray, kind: str) -> Any:
        return self.paddle.to_tensor(values).astype(getattr(self.paddle, kind))

    def asarray(self, values: Any, dtype: str) -> Any:
        paddle = self.paddle
        a = np.asarray(values)
        if dtype == "bfloat16":  # NumPy has none: float32, then Paddle's cast (exact)
            return paddle.to_tensor(a.astype(np.float32), place="cpu").astype(paddle.bfloat16)
        return paddle.to_tensor(a.astype(dtype), dtype=dtype, place="cpu")

    def copy(self, x: Any) -> Any:
        return x.clone()

    def to_numpy(self, y: Any) -> np.ndarray:
        y = y.detach()
        if y.dtype == self.paddle.bfloat16:
            y = y.astype(self.paddle.float32)  # exact; NumPy has no bfloat16
        a = y.cpu().numpy()
        return a.astype(np.float64) if a.dtype.kind == "f" else a

    def dtype_name(self, y: Any) -> str:
        return str(y.dtype).removeprefix("paddle.")

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.paddle.Tensor)

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        return {
            "transposed": x2d.T,
            "every other row": x2d[::2],
            "every third column": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        paddle = self.paddle
        return {
            "complex64": paddle.to_tensor([1 + 2j], dtype="complex64"),
            "float8_e4m3fn": paddle.zeros([2]).astype(paddle.float8_e4m3fn),
        }

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        paddle = self.paddle
        parameter = paddle.create_parameter(
            list(values.shape),
            str(values.dtype),
            default_initializer=paddle.nn.initializer.Assign(values),
        )
        return {
            "parameter (EagerParamBase)": parameter,
            "tensor that requires grad": paddle.to_tensor(values, stop_gradient=False),
        }

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        paddle = self.paddle
        out = {}
        places = ["cpu"]
        if paddle.is_compiled_with_cuda():
            places += [f"gpu:{i}" for i in range(paddle.device.cuda.device_count())]
        for place in places:
            x = paddle.to_tensor(values, place=place)
            out[place] = (x, lambda y, x=x: str(y.place) == str(x.place))
        return out

    def native_elu(self, x: Any, alpha: float) -> Any:
        return self.F.elu(x, alpha)

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        t, F = self.paddle.to_tensor(x), self.F
        yield "paddle.F.elu", "F.elu", lambda: unielu.elu(t, alpha), lambda: F.elu(t, alpha)

    def bench_native(self, x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]]:
        t, F = self.paddle.to_tensor(x), self.F
        return "paddle F.elu", lambda: F.elu(t, alpha)

    # -- autodiff --------------------------------------------------------------
    def _leaf(self, x: Any) -> Any:
        v = x.detach().clone()
        v.stop_gradient = False
        return v

    def derivatives(self, func: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        paddle = self.paddle
        v = self._leaf(x)
        (g,) = paddle.grad(func(v).sum(), v, create_graph=True)
        (g2,) = paddle.grad(g.sum(), v)
        return g.detach(), g2

    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        paddle = self.paddle
        routes = {"paddle.grad(create_graph=True)": self.derivatives(
            lambda v: unielu.elu(v, alpha), x
        )}  # fmt: skip
        # backward() for the first derivative, then the second from the derivative's own.
        v = self._leaf(x)
        unielu.elu(v, alpha).sum().backward()
        w = self._leaf(x)
        unielu.elu_derivative(w, alpha).sum().backward()
        routes["Tensor.backward()"] = (v.grad, w.grad)
        del paddle
        return routes

    def native_gradient(self, x: Any, alpha: float) -> Any:
        v = self._leaf(x)
        (g,) = self.paddle.grad(self.native_elu(v, alpha).sum(), v)
        return g

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        paddle = self.paddle

        def f(v: Any) -> Any:
            return unielu.elu(v, alpha)

        def with_grad(v: Any) -> Any:
            with warnings.catch_warnings():
                # Paddle's own, building the backward program ("Tensor do not have
                # 'place' interface for pir graph mode").
                warnings.simplefilter("ignore", UserWarning)
                return paddle.jit.to_static(f, full_graph=True)(self._leaf(v))

        return {
            "paddle.jit.to_static(full_graph=True) (AST)": paddle.jit.to_static(f, full_graph=True),
            "paddle.jit.to_static(full_graph=False) (SOT)": paddle.jit.to_static(
                f, full_graph=False
            ),
            "paddle.jit.to_static(full_graph=True) with grad": with_grad,
            "paddle.no_grad": paddle.no_grad()(f),
        }

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        """Tangent of elu at x along ones (label -> tangent): Paddle's jvp, which
        differentiates the backward pass with respect to its incoming gradient."""
        paddle = self.paddle
        from paddle.incubate.autograd import jvp

        routes = {}
        for leaf in (False, True):
            v = self._leaf(x) if leaf else x.detach()
            _, tangent = jvp(lambda t: unielu.elu(t, alpha), v, paddle.ones_like(v))
            routes["paddle.incubate.autograd.jvp" + (" (a leaf)" if leaf else "")] = tangent
        return routes

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        paddle = self.paddle
        x = x.detach()
        backward, grad = [], []
        for func in (unielu.elu, unielu.elu_derivative):
            a = self._leaf(alpha)
            func(x, a).sum().backward()
            backward.append(a.grad)
            b = self._leaf(alpha)
            (g,) = paddle.grad(func(x, b).sum(), b)
            grad.append(g)
        return {
            "Tensor.backward()": (backward[0], backward[1]),
            "paddle.grad": (grad[0], grad[1]),
        }


ADAPTER = PaddleAdapter

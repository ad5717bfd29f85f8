"""The torch backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from adapter import Adapter

import unielu

if TYPE_CHECKING:
    from unielu.bench import Case


class TorchAdapter(Adapter):
    name = framework = "torch"
    native = True
    title, native_name = "PyTorch", "F.elu"
    default_float = "float32"  # torch.get_default_dtype()
    bench_against_numpy = True  # the NumPy kernel's yardstick on the CPU (issue 14)

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import torch

        self.torch = torch
        self.device = options.get("device") or "cpu"

    def float8(self, values: np.ndarray, kind: str) -> Any:
        return self.torch.from_numpy(values).to(getattr(self.torch, kind))

    def asarray(self, values: Any, dtype: str) -> Any:
        torch = self.torch
        a = np.asarray(values)
        via = a.astype(np.float32 if dtype == "bfloat16" else dtype)
        return torch.from_numpy(via.copy(order="C")).to(self.device, getattr(torch, dtype))

    def copy(self, x: Any) -> Any:
        return x.clone()

    def synchronize(self, y: Any) -> None:
        if y.device.type == "cuda":
            self.torch.cuda.synchronize(y.device)

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

    def as_strided(self, base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        return base.as_strided(shape, strides)

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

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        t, F = self.torch.from_numpy(x), self.torch.nn.functional
        yield "torch.F.elu", "F.elu", lambda: unielu.elu(t, alpha), lambda: F.elu(t, alpha)

    def bench_native(self, x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]]:
        t, F = self.torch.from_numpy(x), self.torch.nn.functional
        return "torch F.elu", lambda: F.elu(t, alpha)

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

    def native_variants(self) -> dict[str, Callable[[Any], Any]]:
        return {"F.elu under torch.compile": self.torch.compile(self.torch.nn.functional.elu)}

    def derivatives(self, func: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        torch = self.torch
        t = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(func(t).sum(), t, create_graph=True)
        (g2,) = torch.autograd.grad(g.sum(), t)
        return g.detach(), g2

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


ADAPTER = TorchAdapter

"""PyTorch backend: tensors on any device, with autograd, torch.func and torch.compile.

The forward pass is PyTorch's own ``F.elu``, which already meets the contract
(it uses ``expm1`` and keeps ``-0.0``). Its gradient does not (it is computed
as ``y + 1``, exactly 0 below about -17 in float32, and 1 at NaN), so when a
gradient is wanted the call goes through an ``autograd.Function`` whose
backward is :func:`elu_derivative`, built from differentiable ops so that
second derivatives follow. Without a gradient no autograd machinery runs.

Under ``torch.compile`` the forward is a custom op, opaque to Inductor:
Inductor's CPU code computes ``expm1`` as ``exp(x) - 1``, which returns 0 for
tiny negative x. The op runs the eager kernel inside the compiled graph.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from unielu._dispatch import dtype_error

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "torch",
    "framework": "torch",
    "requirement": "torch",
    "priority": 30,
    "types": ["torch:Tensor"],
    "description": "a PyTorch tensor",
    "mutable": True,
    "autodiff": True,
}


_KEPT = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})
_PROMOTED = frozenset(
    {torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64}
    | {getattr(torch, f"uint{n}") for n in (16, 32, 64) if hasattr(torch, f"uint{n}")}
)
_HALF = frozenset({torch.float16, torch.bfloat16})


def _as_float(x: torch.Tensor, func: str) -> torch.Tensor:
    if x.dtype in _KEPT:
        return x
    if x.dtype in _PROMOTED:
        return x.to(torch.get_default_dtype())
    raise dtype_error(func, x.dtype, "torch.get_default_dtype()")


def _derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
    w = x.float() if x.dtype in _HALF else x  # compute in float32, round once
    positive = w > 0
    # exp of the clamped branch: no overflow for large x, so no NaN gradient.
    d = torch.where(positive, 1.0, alpha * torch.exp(torch.where(positive, 0.0, w)))
    return d.to(x.dtype)


class _ELU(torch.autograd.Function):
    generate_vmap_rule = True  # so torch.func.vmap works

    @staticmethod
    def forward(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return F.elu(x, alpha)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, alpha = inputs
        ctx.save_for_backward(x)
        ctx.alpha = alpha

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * _derivative(x, ctx.alpha), None


@torch.library.custom_op("unielu::elu", mutates_args=())
def _elu_op(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return F.elu(x, alpha)


@_elu_op.register_fake
def _(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.empty_like(x)


@_elu_op.register_vmap
def _(info: Any, in_dims: tuple[Any, ...], x: torch.Tensor, alpha: float) -> Any:
    return _elu_op(x, alpha), in_dims[0]  # elementwise: the batch dim stays where it is


_elu_op.register_autograd(_ELU.backward, setup_context=_ELU.setup_context)


# F.elu's Python wrapper costs about 0.4 us, 15% of the whole call on a small
# tensor; the binding it calls does the same work (and __torch_function__).
_native_elu = getattr(getattr(torch._C, "_nn", None), "elu", F.elu)
# True only while Dynamo traces (torch.compile, torch.export); a plain
# ``return False`` at run time, cheaper than is_compiling's TorchScript check.
_is_compiling = getattr(torch.compiler, "is_dynamo_compiling", torch.compiler.is_compiling)


def elu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    if x.dtype not in _KEPT:
        x = _as_float(x, "elu")
    if _is_compiling():
        result: torch.Tensor = _elu_op(x, alpha)
        return result
    if x.requires_grad and torch.is_grad_enabled():
        result = _ELU.apply(x, alpha)
        return result
    return _native_elu(x, alpha)


def elu_derivative(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return _derivative(_as_float(x, "elu_derivative"), alpha)


def devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def from_numpy(a: Any, device: str | None = None) -> torch.Tensor:
    return torch.from_numpy(a).to(device or "cpu")


def to_numpy(y: torch.Tensor) -> Any:
    return y.detach().cpu().numpy()

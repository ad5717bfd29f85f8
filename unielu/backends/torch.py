"""PyTorch backend: any device, with autograd, forward mode, torch.func and torch.compile.

The forward pass is PyTorch's own ``F.elu``, which already meets the contract
(it uses ``expm1`` and keeps ``-0.0``). Its gradient does not (it is computed
as ``y + 1``, exactly 0 below about -17 in float32, and 1 at NaN), so when a
derivative is wanted the call goes through an ``autograd.Function`` whose
backward and forward-mode (``jvp``) rules are :func:`elu_derivative`, built
from differentiable ops so that second derivatives follow. A derivative is
wanted when ``x`` requires grad in grad mode, or while forward-mode AD is
active (``torch.autograd.forward_ad.dual_level``, which ``torch.func.jvp``,
``jacfwd`` and ``hessian`` also enter): one read of a module global, so the
plain call still runs no autograd machinery.

Under ``torch.compile`` the forward is ``expm1`` as a polynomial on a reduced
range (:func:`_compiled_elu`, the JAX and TensorFlow backends' formula) in an
``autograd.Function`` whose backward is the exact derivative: Inductor's CPU
code computes ``expm1`` as ``exp(x) - 1``, which returns 0 for tiny negative
x, and fuses these standard ops with their neighbours. ``torch.export`` (so
``torch.onnx.export`` and AOTInductor) records Kahan's ``expm1`` from ``exp``
and ``log`` (:func:`_portable_elu`) without the ``autograd.Function``, ops
that every export format has, so that an exported program runs where unielu
is not installed; ``torch.jit.trace`` records ``aten::elu`` (see
docs/models.rst, "Deploying").

A tensor ``alpha`` (0-d, or broadcastable to ``x``'s shape without changing
it, e.g. one value per channel; real floating or integer dtype) must be on
``x``'s device, 0-d included: a CPU alpha for a CUDA ``x`` would need a
transfer and its gradient a copy back to the host, so it is refused rather
than moved silently. It is computed as ``where(x > 0, x, alpha * elu(x', 1))``
with ``x'`` the clamped ``x <= 0`` branch, so the gradient with respect to
``alpha`` (``expm1(x)``, or ``exp(x)`` for :func:`elu_derivative`), its
reduction to ``alpha``'s shape, second derivatives, forward mode and
``torch.compile`` all come from the scalar path and PyTorch's own rules. The
result has ``x``'s dtype whatever ``alpha``'s: ``alpha`` is cast to the compute
dtype (float32 for half precisions, which are rounded once at the end), and
its gradient, computed at that precision, comes back in ``alpha``'s dtype.

``out=`` writes into a tensor of ``x``'s shape, the result dtype and device;
``x`` itself is allowed (in place). As with PyTorch's own ``out=`` functions,
it is refused while autograd would record the call (``x``, ``alpha`` or
``out`` requires grad in grad mode, or carries a forward-mode tangent) and
inside ``torch.func`` transforms (``grad``, ``vmap``, ``jvp`` ...), whose
wrapped tensors cannot be written through: call the function without
``out=`` there. Under ``torch.compile`` it works: the type, dtype, device,
shape and autograd checks are made, the memory ones (overlap, expanded or
inference ``out``) are not, since tensors are fake while tracing; the
compiled graph computes the result out of place and then copies it into
``out``, so an overlapping ``out`` cannot get mixed values there.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.autograd.forward_ad as _fwad
import torch.nn.functional as F

from unielu import _checks  # error builders, read as _checks.<name>
from unielu._checks import FLOAT32_MAX, check_alpha_fits, check_alpha_shape, check_out_layout
from unielu.backends import _formulas

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "torch",
    "framework": "torch",
    "requirement": "torch>=2.6",
    "priority": 30,
    "types": ["torch:Tensor"],
    "description": "a PyTorch tensor",
    "mutable": True,
    "autodiff": True,
    "gpu": True,
    # Dynamo cannot trace the import of this module: a first call inside
    # torch.compile(fullgraph=True) would break the graph.
    "load_early": True,
    # onnx*: the ONNX export test of the layer (tests/test_torch_models.py)
    "test_requirements": ["torch>=2.6", "onnx", "onnxscript", "onnxruntime"],
    "newest_tested": "torch 2.13.0 (CPU)",
    "not_at_floor": "declared; tested: 2.13 CPU only "
    "(older releases are CUDA builds of several GB)",
    "native_elu": "torch.nn.functional:elu",
}


_KEPT = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})
_PROMOTED = frozenset(
    {torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64}
    | {getattr(torch, f"uint{n}") for n in (16, 32, 64) if hasattr(torch, f"uint{n}")}
)
_HALF = frozenset({torch.float16, torch.bfloat16})
_ALPHA_DTYPES = _KEPT | (_PROMOTED - {torch.bool})


def _check_tensor(t: torch.Tensor, name: str, func: str) -> None:
    """Refuse a sparse or nested tensor, or one whose storage was freed, by name.

    F.elu and the other kernels would raise deep inside PyTorch, or read freed
    memory (a storage resized to 0 crashes the process).
    """
    if t.layout is not torch.strided or t.is_nested:
        kind = "nested" if t.is_nested else str(t.layout).removeprefix("torch.")
        raise TypeError(
            f"unielu.{func}() argument '{name}' is a {kind} tensor; accepted: dense (strided) "
            f"tensors. Pass t.to_dense(), or apply unielu.{func} to t.values() (ELU(0) = 0 "
            f"keeps the sparsity of x); for a nested tensor, to each of t.unbind()"
        )
    if _is_compiling():  # fake tensors while tracing: no memory to check
        return
    try:
        nbytes = t.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError):  # no storage of its own (functorch)
        return
    if t.device.type == "meta" or t.numel() == 0:
        return
    last = t.storage_offset() + sum((n - 1) * s for n, s in zip(t.shape, t.stride(), strict=True))
    if nbytes < (last + 1) * t.element_size():
        raise ValueError(
            f"unielu.{func}() argument '{name}' has {nbytes} bytes of storage but its shape "
            f"{tuple(t.shape)}, strides and offset need {(last + 1) * t.element_size()} (was "
            f"its storage freed or resized, untyped_storage().resize_()?); accepted: a tensor "
            f"whose storage holds its elements"
        )


def _as_float(x: torch.Tensor, func: str) -> torch.Tensor:
    _check_tensor(x, "x", func)
    if x.dtype in _KEPT:
        return x
    if x.dtype in _PROMOTED:
        return x.to(torch.get_default_dtype())
    raise _checks.dtype_error(func, x.dtype, "torch.get_default_dtype()")


def _derivative_in(
    w: torch.Tensor, alpha: float | torch.Tensor, lean: bool = False
) -> torch.Tensor:
    """elu_derivative in w's own (compute) dtype, from differentiable standard ops.

    ``lean``: a gradient, where fewer ops count (a compiled backward). There a
    float ``0 <= alpha <= 1`` skips the subnormal guard: ``alpha * exp(x)`` is
    subnormal where ``exp(x)`` is, within 1 ULP of its own spacing. Without
    it, :func:`elu_derivative` gives the same bits for a float and a tensor alpha.
    """
    if isinstance(alpha, torch.Tensor):
        alpha = alpha.to(w.dtype)
    positive = w > 0
    # exp of the clamped branch: no overflow for large x, so no NaN gradient.
    negative = torch.where(positive, 0.0, w)
    if lean and type(alpha) is float and 0 <= alpha <= 1:
        return torch.where(positive, 1.0, alpha * torch.exp(negative))
    # Where exp(x) alone would be subnormal (few digits) while alpha * exp(x) is
    # not: (alpha * exp(x/2)) * exp(x/2). One exp for both (a compiled select
    # computes both branches).
    tiny = negative < _LOG_TINY[w.dtype]
    e = torch.exp(torch.where(tiny, 0.5 * negative, negative))
    return torch.where(positive, 1.0, torch.where(tiny, (alpha * e) * e, alpha * e))


def _derivative(x: torch.Tensor, alpha: float | torch.Tensor, lean: bool = False) -> torch.Tensor:
    w = x.float() if x.dtype in _HALF else x  # compute in float32, round once
    return _derivative_in(w, alpha, lean).to(x.dtype)


#: log of the smallest normal number of the dtype computed in: below it exp(x)
#: is subnormal (half precisions are computed in float32).
_LOG_TINY = {
    dtype: math.log(torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).tiny)
    for dtype in _KEPT
}
_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _one_pass_is_exact(x: torch.Tensor) -> bool:
    """Whether ``aten.elu_backward`` (one vectorized pass, ``grad * alpha * exp(x)``
    for ``x <= 0``) gives the contract's gradient for every element of ``x``.

    It does (within 1.6 ULP) except at NaN, where it gives ``grad``, and where
    ``exp(x)`` is subnormal, whose few digits a large alpha magnifies. One
    reduction finds both: the minimum is NaN if any element is. On the CPU
    only, where reading it back costs no device synchronisation; plain tensors
    only (not DTensor or other subclasses), outside graphs and transforms.
    """
    if type(x) not in _PLAIN or x.device.type != "cpu" or _is_compiling():
        return False
    if torch._C._are_functorch_transforms_active():
        return False
    return x.numel() == 0 or bool(x.min() >= _LOG_TINY[x.dtype])


_CPU_KEY = torch._C.DispatchKey.CPU


def _dense_cpu(t: torch.Tensor) -> bool:
    """A CPU tensor with memory of its own: not one batched by the legacy vmap of
    ``gradcheck(check_batched_grad=True)`` (whose device also says cpu), which
    has no rule for ``out=`` variants."""
    return torch._C._dispatch_keys(t).has(_CPU_KEY)


def _grad_x(grad: torch.Tensor, x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``grad * elu_derivative(x, alpha)``: one pass where that is exact; from
    differentiable ops where a graph of the backward is recorded (second
    derivatives), on other devices, and for the rare inputs it is not."""
    if not torch.is_grad_enabled() and grad.dtype == x.dtype and _one_pass_is_exact(x):
        return torch.ops.aten.elu_backward(grad, alpha, 1, 1, False, x)
    # x first: the product takes x's memory format (channels last after a
    # convolution), not that of an expanded grad, which Inductor would transpose.
    return _derivative(x, alpha, lean=True) * grad


class _GraphELU(torch.autograd.Function):
    """elu under torch.compile: standard ops that Inductor fuses with their
    neighbours (its CPU code computes expm1 as exp(x) - 1, so
    :func:`_compiled_elu`), and the exact derivative as the backward."""

    generate_vmap_rule = True  # so torch.func.vmap works

    @staticmethod
    def forward(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return _compiled_elu(x, alpha)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, alpha = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        ctx.alpha = alpha

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return _grad_x(grad, x, ctx.alpha), None


class _ELU(_GraphELU):
    """elu in eager mode, differentiated: PyTorch's own kernel forward, and a
    forward-mode rule (Dynamo traces no Function that has one)."""

    @staticmethod
    def forward(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return F.elu(x, alpha)

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor, alpha_tangent: None) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return tangent * _derivative(x, ctx.alpha)


def _expm1_portable(n: torch.Tensor) -> torch.Tensor:
    """``expm1(n)`` for ``n <= 0`` (or NaN) from ``exp`` and ``log`` alone.

    Kahan's ``n * (u - 1) / log(u)`` with ``u = exp(n)``: the rounding error of
    ``u`` cancels in the ratio. Where ``u`` rounds to 1, ``expm1(n)`` rounds to
    ``n`` (``-0.0`` kept); below ``u = 0.5``, ``u - 1`` has no cancellation
    (``-1`` at ``-inf`` and wherever ``u`` underflows). Every export format has
    these ops; ``expm1`` is missing from ONNX, and TFLite and Inductor's CPU
    code compute it as ``exp(n) - 1`` (0 for tiny ``n``).
    """
    u = torch.exp(n)
    far = u < 0.5
    # The ratio's u kept at 0.5 or above where its result is not used, so that
    # the gradient of the discarded branch is finite (no 0 * inf).
    v = torch.where(far, 0.5, u)
    # n * 1 where v rounds to 1, not where(..., n, ...): ONNX Runtime's Where
    # loses the sign of a selected -0.0 when the other value is NaN.
    ratio = torch.where(v == 1, 1.0, (v - 1) / torch.log(v))
    return torch.where(far, u - 1, n * ratio)


def _portable_elu(x: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """elu from operators that every export format has.

    What ``torch.export`` (and so ``torch.onnx.export`` and AOTInductor)
    records: an artifact made of standard ops, which loads where unielu is not
    installed. Half precisions are computed in float32 and rounded once.
    """
    w = x.float() if x.dtype == torch.float16 or x.dtype == torch.bfloat16 else x
    positive = w > 0
    # The branch not taken is clamped, so that exp cannot overflow.
    unit = _expm1_portable(torch.where(positive, 0.0, w))
    # alpha as a tensor of w's dtype: the ONNX exporter makes a Python number a
    # float32 constant (1.7 would be 3e-8 off in float64).
    a = alpha.to(w.dtype) if isinstance(alpha, torch.Tensor) else torch.tensor(alpha, dtype=w.dtype)
    return torch.where(positive, w, a * unit).to(x.dtype)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.int32 if t.dtype == torch.float32 else torch.int64)


def _to_int(k: torch.Tensor) -> torch.Tensor:
    return k.to(torch.int32 if k.dtype == torch.float32 else torch.int64)


#: PyTorch's functions for the shared formulas (torch.round rounds half to even).
_OPS = _formulas.Ops(
    where=torch.where,
    exp=torch.exp,
    isnan=torch.isnan,
    bits=_bits,
    from_bits=lambda i, like: i.view(like.dtype),
    minimum=torch.minimum,
    maximum=torch.maximum,
    rint=torch.round,
    to_int=_to_int,
)


def _compiled_elu(x: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """elu as ``torch.compile`` records it: ``expm1`` as a polynomial on a reduced
    range (:func:`unielu.backends._formulas.expm1_reduced`), arithmetic, a round
    and bit casts that Inductor fuses into one loop with no transcendental call.

    Inductor computes ``expm1`` as ``exp(x) - 1`` (0 for tiny ``x``), and
    Kahan's formula costs an ``exp``, a ``log`` and a division. Zeros and NaN
    are returned as they are whatever alpha holds (NaN, inf, negative).
    PyTorch does not flush subnormals, so a negative subnormal ``x`` goes
    through the polynomial as itself (``expm1(x) == x``) and ``alpha * x``
    rounds once. Half precisions are computed in float32 and rounded once.
    """
    w = x.float() if x.dtype in _HALF else x
    name = "float64" if w.dtype == torch.float64 else "float32"
    # The branch not taken is clamped (to -0.0; NaN stays NaN). A clamp, not a
    # select on w > 0: the backward's own w > 0 then has nothing to share with
    # the forward, and Inductor's partitioner recomputes it rather than saving
    # a mask (a slower forward and backward in float64). Few operations: on CPU
    # Inductor writes a pointwise body of more than 50 (the neighbours' included)
    # to memory of its own, and so cannot fuse it into its consumers.
    n = torch.clamp(w, min=_formulas.expm1_lowest(name), max=-0.0)
    unit = _formulas.expm1_reduced(n, _OPS, name, clamped=True)
    if isinstance(alpha, torch.Tensor):
        unit = alpha.to(w.dtype) * unit
    elif alpha != 1.0:  # Inductor keeps a * 1.0, one more operation
        unit = alpha * unit
    # Zeros and NaN as they are (F.elu's bits; Inductor's clamp sets NaN's sign).
    # -0.0, the clamp's constant: 0.0 would be one more operation.
    return torch.where(w < -0.0, unit, w).to(x.dtype)


# F.elu's Python wrapper costs about 0.4 us, 15% of the whole call on a small
# tensor; the binding it calls does the same work (and __torch_function__).
_native_elu: Any = getattr(getattr(torch._C, "_nn", None), "elu", F.elu)


# True while Dynamo traces (torch.compile, strict torch.export); a plain
# ``return False`` at run time.
_is_dynamo = torch.compiler.is_dynamo_compiling


def _is_compiling() -> bool:
    # Non-strict torch.export runs this module's Python without Dynamo: the flag
    # (set there since PyTorch 2.13, not yet while Dynamo traces in 2.11) makes it
    # record the standard ops, not aten.elu (whose gradient is computed from the output).
    return bool(_is_dynamo() or torch.compiler._is_compiling_flag)


def _graph_elu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """What a graph records: standard ops.

    An exported program must load and run without unielu (torch.export.load,
    ONNX, AOTInductor in C++): Kahan's formula, whose ops every format has.
    torch.compile records :class:`_GraphELU` (:func:`_compiled_elu`, with bit
    casts and no exp), so that Inductor fuses it with its neighbours and the
    backward is the exact derivative.
    """
    if torch.compiler.is_exporting():
        return _portable_elu(x, alpha)
    return _GraphELU.apply(x, alpha)


def elu(
    x: torch.Tensor, alpha: float | torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    # One test for the common call: a kept dtype, a float alpha, no out, nothing
    # to differentiate (_current_level >= 0 inside forward_ad.dual_level, which
    # torch.func.jvp enters too) and no tracing. torch.jit.trace takes it in
    # grad mode too, so that its check (run without grad) sees the same graph:
    # aten::elu, exact in TorchScript's runtime (its gradient differs from
    # unielu's at NaN alone); the TorchScript ONNX exporter does not (see
    # _elu_general). Tested last: the common call does not pay for it.
    if (
        x.dtype in _KEPT
        and out is None
        and type(alpha) is float
        and alpha <= FLOAT32_MAX
        and not _is_dynamo()
        and not torch.compiler._is_compiling_flag
        and (
            (_fwad._current_level < 0 and not (x.requires_grad and torch.is_grad_enabled()))
            or (torch._C._get_tracing_state() is not None and not torch.onnx.is_in_onnx_export())
        )
    ):
        try:
            freed = x.untyped_storage().nbytes() == 0  # a crash in F.elu (or empty)
        except (RuntimeError, NotImplementedError):  # no storage: sparse, functorch wrappers
            freed = False
        if freed:
            _check_tensor(x, "x", "elu")
        try:
            return _native_elu(x, alpha)
        except (RuntimeError, NotImplementedError):  # sparse or nested x: say so, by name
            _check_tensor(x, "x", "elu")
            raise
    return _elu_general(x, alpha, out)


def _elu_general(
    source: torch.Tensor, alpha: float | torch.Tensor, out: torch.Tensor | None
) -> torch.Tensor:
    x = _as_float(source, "elu")
    if type(alpha) is not float:
        _check_alpha(alpha, x, "elu")
    elif alpha > FLOAT32_MAX:
        check_alpha_fits(alpha, x.dtype, "elu")
    compiling = _is_compiling()
    if out is not None:
        _check_out(out, x, source, alpha, "elu", compiling)
        if isinstance(alpha, torch.Tensor):
            out.copy_(_elu_array_alpha(x, alpha))  # computed in full before out is written
        elif compiling:
            out.copy_(_graph_elu(x, alpha))
        else:
            _native_elu(x, alpha, out=out)
        return out
    if isinstance(alpha, torch.Tensor):
        return _elu_array_alpha(x, alpha)
    result: torch.Tensor
    if compiling:
        result = _graph_elu(x, alpha)
    elif torch.onnx.is_in_onnx_export():
        # The TorchScript exporter (dynamo=False) tracing in grad mode: ONNX's
        # Elu would be exp(x) - 1 in ONNX Runtime. (Without grad, the fast path
        # records aten::elu, as for torch.nn.ELU: checking there would cost
        # every eager call.)
        result = _portable_elu(x, alpha)
    elif (x.requires_grad and torch.is_grad_enabled()) or _fwad._current_level >= 0:
        result = _ELU.apply(x, alpha)
    else:
        result = _native_elu(x, alpha)
    return result


def _elu_array_alpha(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    if (
        type(x) in _PLAIN
        and type(alpha) in _PLAIN
        and x.device.type == "cpu"
        and _fwad._current_level < 0
        and not _is_compiling()
        and torch._C._get_tracing_state() is None
        and not torch._C._are_functorch_transforms_active()
        and not torch.onnx.is_in_onnx_export()
    ) or (_is_dynamo() and not torch.compiler.is_exporting()):
        return _ELUArrayAlpha.apply(x, alpha)
    return _elu_array_alpha_graph(x, alpha)


def _elu_array_alpha_graph(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """elu with a tensor alpha from differentiable standard ops: what graphs,
    transforms, forward mode and other devices run."""
    w = x.float() if x.dtype in _HALF else x  # compute in float32, round once
    positive = w > 0
    # elu(., 1) is expm1 on the clamped x <= 0 branch, through the scalar path:
    # accurate under torch.compile, with its gradient and forward-mode rules.
    unit = elu(torch.where(positive, 0.0, w), 1.0)
    y = torch.where(positive, w, alpha.to(w.dtype) * unit)
    # Zeros as they are whatever alpha holds (NaN, inf, negative), with the
    # gradients of alpha * unit: y - y is 0 (NaN where alpha is not finite).
    exact = w.detach() - torch.nan_to_num(y.detach() - y, nan=0.0)
    return torch.where(w == 0, exact, y).to(x.dtype)


class _ELUArrayAlpha(torch.autograd.Function):
    """elu with a tensor alpha in eager mode on the CPU (a few passes over memory,
    where the graph of :func:`_elu_array_alpha_graph` makes about fifteen), and
    under torch.compile (:func:`_compiled_elu`, which Inductor fuses)."""

    generate_vmap_rule = True  # so torch.compile(torch.func.vmap(...)) works

    @staticmethod
    def forward(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        w = x.float() if x.dtype in _HALF else x
        a = alpha.to(w.dtype)
        if _is_compiling():
            return _compiled_elu(w, a).to(x.dtype)
        if a.numel() == 1:
            value = float(a)  # on the CPU: no synchronisation
            # F.elu keeps zeros as they are for such alpha (0 * expm1(-0.0) is -0.0).
            if math.isfinite(value) and value >= 0:
                return _native_elu(x, value)
        # expm1 where w <= 0 (elu(w, 1) is w elsewhere: no overflow); zeros and
        # NaN as they are.
        y = torch.where(w >= 0, w, a * _native_elu(w, 1.0))
        return y.to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.save_for_backward(*inputs, output)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, alpha, y = ctx.saved_tensors
        w = x.float() if x.dtype in _HALF else x
        g = grad.to(w.dtype)
        a = alpha.to(w.dtype)
        grad_x = grad_alpha = None
        if not torch.is_grad_enabled() and _one_pass_is_exact(w):
            eb = torch.ops.aten.elu_backward
            value = float(a) if a.numel() == 1 else 0.0
            terms = None
            if ctx.needs_input_grad[1]:
                if 0 < value < math.inf and x.dtype not in _HALF:
                    # A sum of grad * expm1(w) where w <= 0: from y = value * expm1(w)
                    # (rounded once per element), which saves a pass.
                    terms = eb(g, 1.0, 0.0, 1.0, True, y)
                    grad_alpha = (terms.sum() / value).reshape(a.shape)
                else:  # grad * (u + 0) where u = expm1(w) <= 0, else 0 * grad
                    grad_alpha = eb(g, 1.0, 0.0, 1.0, True, _native_elu(w, 1.0))
            if ctx.needs_input_grad[0]:
                if a.numel() == 1 and terms is not None and _dense_cpu(g) and _dense_cpu(w):
                    # Into the summed terms' memory: the first touch of a new
                    # activation-sized tensor costs about as much as a pass.
                    grad_x = eb.grad_input(g, value, 1, 1, False, w, grad_input=terms)
                elif a.numel() == 1:
                    grad_x = eb(g, value, 1, 1, False, w)
                else:
                    d = eb(g, 1.0, 1, 1, False, w)  # grad * exp(w) where w <= 0, else grad
                    grad_x = torch.where(w > 0, d, d * a)
        else:  # differentiable: a graph of the backward is recorded (second derivatives)
            if ctx.needs_input_grad[0]:
                grad_x = _derivative_in(w, a) * g
            if ctx.needs_input_grad[1]:
                negative = torch.where(w > 0, 0.0, w)
                # expm1, differentiable with exp as its derivative (eager only:
                # compiled graphs have no second derivatives).
                unit = (
                    _compiled_elu(negative, 1.0) if _is_compiling() else _ELU.apply(negative, 1.0)
                )
                grad_alpha = unit * g
        if grad_x is not None:
            grad_x = grad_x.to(x.dtype)
        if grad_alpha is not None:
            grad_alpha = grad_alpha.sum_to_size(alpha.shape).to(alpha.dtype)
        return grad_x, grad_alpha


def elu_derivative(
    x: torch.Tensor, alpha: float | torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    source, x = x, _as_float(x, "elu_derivative")
    if type(alpha) is not float:
        _check_alpha(alpha, x, "elu_derivative")
    elif alpha > FLOAT32_MAX:
        check_alpha_fits(alpha, x.dtype, "elu_derivative")
    if out is None:
        return _derivative(x, alpha)
    _check_out(out, x, source, alpha, "elu_derivative", _is_compiling())
    w = x.float() if x.dtype in _HALF else x
    out.copy_(_derivative_in(w, alpha))  # computed in full before out is written
    return out


def _check_alpha(alpha: Any, x: torch.Tensor, func: str) -> None:
    if not isinstance(alpha, torch.Tensor) or alpha.dtype not in _ALPHA_DTYPES:
        raise _checks.alpha_type_error(func, alpha, f"a torch.Tensor on x's device ({x.device})")
    _check_tensor(alpha, "alpha", func)
    check_alpha_shape(alpha.shape, x.shape, func)
    if alpha.device != x.device:
        move = f"move it once with alpha.to({str(x.device)!r})"
        raise _checks.alpha_device_error(func, alpha.device, x.device, move)


def _describe(t: Any) -> str:
    if not isinstance(t, torch.Tensor):
        return _checks.describe(t)
    return f"a tensor of shape {tuple(t.shape)}, dtype {t.dtype} on {t.device}"


def _check_out(
    out: Any,
    x: torch.Tensor,
    source: torch.Tensor,
    alpha: float | torch.Tensor,
    func: str,
    compiling: bool,
) -> None:
    """Refuse an ``out`` that cannot take the result, before anything is written.

    ``x`` is the tensor computed on, ``source`` the one the caller gave (they
    differ when integers were promoted); ``out`` must not overlap ``source``
    other than by being it.
    """
    wanted = f"a torch.Tensor of shape {tuple(x.shape)}, dtype {x.dtype} on {x.device}"

    def refuse(error: type[Exception], why: str) -> Exception:
        return _checks.out_error(func, why, _describe(out), wanted, error)

    if not isinstance(out, torch.Tensor):
        raise refuse(TypeError, "must be a torch.Tensor")
    if out.layout is not torch.strided or out.is_nested:
        _check_tensor(out, "out", func)
    if out.dtype != x.dtype:
        raise refuse(TypeError, "must have the result dtype")
    if out.device != x.device:
        raise refuse(TypeError, "must be on the device of 'x'")
    if out.shape != x.shape:
        raise refuse(ValueError, "must have the shape of 'x'")
    tensors = {"x": x, "out": out}
    if isinstance(alpha, torch.Tensor):
        tensors["alpha"] = alpha
    if not compiling and torch._C._are_functorch_transforms_active():
        raise refuse(
            ValueError,
            "is not supported inside torch.func transforms (grad, vmap, jvp, jacfwd, ...), "
            f"whose tensors cannot be written through; call unielu.{func}(x) without out=",
        )
    if torch.is_grad_enabled():
        needing = [name for name, t in tensors.items() if t.requires_grad]
        if needing:
            raise refuse(
                ValueError,
                f"cannot be used while autograd records the call ({' and '.join(needing)} "
                f"requires grad, in grad mode): the write into 'out' could not be "
                f"differentiated. Call it without out= (y = unielu.{func}(x)), or under "
                f"torch.no_grad()",
            )
    if compiling:
        return
    if _fwad._current_level >= 0:
        dual = [name for name, t in tensors.items() if _fwad.unpack_dual(t).tangent is not None]
        if dual:
            raise refuse(
                ValueError,
                f"cannot be used with forward-mode AD ({' and '.join(dual)} has a tangent): "
                f"the write into 'out' would lose it. Call it without out=",
            )
    if out.is_inference() and not torch.is_inference_mode_enabled():
        raise refuse(ValueError, "is an inference tensor, which cannot be written outside "
                     "torch.inference_mode()")  # fmt: skip
    _check_tensor(out, "out", func)
    if out.device.type == "meta":
        return

    def layout(t: torch.Tensor) -> tuple[int, tuple[int, ...], tuple[int, ...], int]:
        size = t.element_size()
        return t.data_ptr(), tuple(t.shape), tuple(s * size for s in t.stride()), size

    same = out.dtype == source.dtype
    check_out_layout(func, layout(out), [layout(source)], _describe(out), wanted, same)


def devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def from_numpy(a: Any, device: str | None = None) -> torch.Tensor:
    return torch.from_numpy(a).to(device or "cpu")


def to_numpy(y: torch.Tensor) -> Any:
    return y.detach().cpu().numpy()

"""The ELU formulas for runtimes that flush subnormals to zero (XLA and
TensorFlow on CPU), shared by the JAX and TensorFlow backends.

Those runtimes read a subnormal *input* as 0 and flush a subnormal
*intermediate* to 0, which is more than the contract allows (only subnormal
results may flush): ``x > 0`` would be False for a positive subnormal x,
``alpha * expm1(x)`` 0 for a negative subnormal x even where the exact result
is a normal number, and ``alpha * exp(x)`` 0 where ``exp(x)`` alone is
subnormal but the product is not. Each is answered another way here.

``ops`` supplies the framework's elementwise functions: ``where``, ``expm1``,
``exp``, ``isnan``, ``bits`` (a float array's bits as signed integers) and
``from_bits(i, like)`` (back to ``like``'s dtype). ``w`` is float32 or float64;
half precisions are widened by the caller.
"""

from __future__ import annotations

from typing import Any

#: dtype name -> (significand bits, exponent bias, log of the smallest normal, |x|'s bit mask)
_FORMAT = {
    "float32": (23, 127, -87.33654, (1 << 31) - 1),
    "float64": (52, 1023, -708.39641, (1 << 63) - 1),
}


def positive(w: Any, ops: Any) -> Any:
    """``w > 0``, also for positive subnormals: sign bit clear, not +0, not NaN."""
    return (ops.bits(w) > 0) & ~ops.isnan(w)


def elu(w: Any, alpha: float, ops: Any, dtype: str) -> Any:
    shift, bias, _, magnitude_mask = _FORMAT[dtype]
    bits = ops.bits(w)
    # A NaN with a clear sign bit counts as positive here and is returned as
    # it is, so unlike positive() this needs no isnan.
    pos = bits > 0
    # where(x > 0, 0, x), not minimum(x, 0): keeps -0.0 (and JAX's gradient of
    # minimum at a tie is 0.5); clamping keeps expm1 from overflowing.
    branch = alpha * ops.expm1(ops.where(pos, 0.0, w))
    # A negative subnormal x: expm1(x) == x, and |x| * 2**63 comes exactly
    # from the bits, as a difference of two normal numbers (Sterbenz).
    magnitude = bits & magnitude_mask
    base = 64 << shift  # the bits of 2**(64 - bias)
    scaled = ops.from_bits(magnitude + base, w) - 2.0 ** (64 - bias)
    tiny = -(alpha * scaled) * 2.0**-63
    return ops.where(pos, w, ops.where((w == 0) & (magnitude != 0), tiny, branch))


def derivative(w: Any, alpha: float, ops: Any, dtype: str) -> Any:
    _, _, log_smallest_normal, _ = _FORMAT[dtype]
    pos = positive(w, ops)
    negative = ops.where(pos, 0.0, w)
    # Where exp(x) alone would be subnormal, (alpha * exp(x/2)) * exp(x/2) keeps
    # the product, which may still be normal. Both branches are differentiable.
    half = ops.exp(0.5 * negative)
    branch = ops.where(
        negative < log_smallest_normal, (alpha * half) * half, alpha * ops.exp(negative)
    )
    return ops.where(pos, 1.0, branch)

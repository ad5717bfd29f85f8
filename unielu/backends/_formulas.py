"""Subnormal-safe ELU formulas for runtimes that flush subnormals (XLA, and
TensorFlow's own CPU kernels), shared by the JAX and TensorFlow backends.

Those runtimes read a subnormal *input* as 0 and flush a subnormal
*intermediate* to 0, which is more than the contract allows (only subnormal
results may flush). Each step below says which case it answers; a step that
a flushing runtime cannot get wrong is left out:

* ``elu``, positive subnormal x: the exact result is x, itself subnormal, so a
  0 is allowed; but the sign of zeros is part of the contract, so the branch is
  chosen by the sign bit, not by ``x > 0``.
* ``elu``, negative subnormal x: ``alpha * expm1(x)`` reads x as 0, yet for
  ``alpha > 1`` the exact result ``alpha * x`` may be a normal number. It is
  computed from the bits instead.
* ``derivative``, positive subnormal x: the result is 1, not ``alpha``, so the
  test is on the bits.
* ``derivative``, very negative x: ``exp(x)`` alone is subnormal (flushed)
  while ``alpha * exp(x)`` may be normal: ``(alpha * exp(x/2)) * exp(x/2)``.
* The derivatives with respect to ``alpha`` (``expm1(x)``, ``exp(x)``) have no
  factor ``alpha``: where they are subnormal, a flushed 0 is allowed.

The framework's functions come in an :class:`Ops`. ``w`` is float32 or
float64 (half precisions are widened by the caller); ``alpha`` is a number or
an array of ``w``'s dtype that broadcasts to ``w``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: dtype name -> (significand bits, exponent bias, log of the smallest normal)
_FORMAT = {"float32": (23, 127, -87.33654), "float64": (52, 1023, -708.39641)}


@dataclass(frozen=True)
class Ops:
    """The elementwise functions of one framework that the formulas are written in.

    Attributes
    ----------
    where, exp, isnan, minimum, maximum
        As ``numpy.where`` and friends; ``where`` accepts a Python float for
        either value argument. (No ``expm1``: the runtimes' own are up to 5.7
        ULP off; :func:`expm1_reduced` and :func:`expm1_portable` replace it.)
    bits
        A float32/float64 array's bits, as a signed integer array of its width.
    from_bits
        ``from_bits(i, like)``: the inverse of ``bits``, to ``like``'s dtype.
    """

    where: Callable[[Any, Any, Any], Any]
    exp: Callable[[Any], Any]
    isnan: Callable[[Any], Any]
    bits: Callable[[Any], Any]
    from_bits: Callable[[Any, Any], Any]
    #: elementwise min and max, NaN-propagating (for the portable formulas alone)
    minimum: Callable[[Any, Any], Any] | None = None
    maximum: Callable[[Any, Any], Any] | None = None
    #: round half to even, and an array of integers in floats to the integers of
    #: the floats' width (for :func:`expm1_reduced`)
    rint: Callable[[Any], Any] | None = None
    to_int: Callable[[Any], Any] | None = None


def positive(w: Any, ops: Ops) -> Any:
    """``w > 0``, also for positive subnormals: sign bit clear, not +0, not NaN."""
    return (ops.bits(w) > 0) & ~ops.isnan(w)


def elu(w: Any, alpha: Any, ops: Ops, dtype: str) -> Any:
    """``w`` where its sign bit is clear, else ``alpha * expm1(w)``."""
    shift, bias, _ = _FORMAT[dtype]
    width = 32 if dtype == "float32" else 64
    bits = ops.bits(w)
    # Sign bit clear: +0.0, positives (subnormals too), +inf and NaNs with a
    # clear sign are returned as they are.
    keep = bits >= 0
    # Positives clamped so that expm1 cannot overflow: where(), not minimum(w, 0),
    # which loses -0.0 (and XLA's NaN-propagating minimum costs more than a
    # select). -0.0, not 0.0: on XLA's CPU backend the loop runs ~10% faster.
    n = ops.where(keep, -0.0, w)
    branch = alpha * expm1_reduced(n, ops, dtype)
    # A negative subnormal x, or -0.0: bits from the lowest integer up. There
    # expm1(x) == x, and |x| * 2**63 comes exactly from the bits, as a
    # difference of two normal numbers (Sterbenz); alpha * x rounds once. The
    # factor alpha * 2**-63 is formed first: graph optimizers (XLA, Grappler)
    # reassociate (alpha * s) * c into alpha * (s * c), and s * c is subnormal.
    lowest = -(1 << (width - 1))
    tiny = bits < lowest + (1 << shift)
    magnitude = bits & ((1 << (width - 1)) - 1)
    scaled = ops.from_bits(magnitude + (64 << shift), w) - 2.0 ** (64 - bias)
    scaled = scaled * (alpha * -(2.0**-63))
    # Zeros are returned as they are, whatever alpha (NaN, inf, negative): -0.0
    # is the lowest integer.
    return ops.where(keep | (bits == lowest), w, ops.where(tiny, scaled, branch))


#: dtype name -> Q of expm1(r) = r + r**2/2 + r**3 * Q(r) on [-log(2)/2, log(2)/2],
#: lowest degree first: Chebyshev fits, rounded to the dtype (tools/fit_expm1.py)
_EXPM1_Q = {
    "float32": (
        0.1666666716337204,
        0.041666556149721146,
        0.00833332072943449,
        0.0013926175888627768,
        0.00019882690685335547,
    ),
    "float64": (
        0.16666666666666669,
        0.041666666666666664,
        0.008333333333330065,
        0.0013888888888886554,
        0.00019841269863040545,
        2.4801587317135164e-05,
        2.7557268480310024e-06,
        2.755728298405588e-07,
        2.5100375832561234e-08,
        2.091122972975856e-09,
    ),
}
#: dtype name -> (log(2) in two parts, with k * the first exact for the k used;
#: the clamp below which expm1 rounds to -1)
_EXPM1_REDUCTION = {
    "float32": (0.693145751953125, 1.4286068202862268e-06, -20.0),
    "float64": (0.6931471803691238, 1.9082149292705877e-10, -40.0),
}


def _expm1_polynomial(r: Any, coefficients: tuple[float, ...]) -> Any:
    """``r + r**2/2 + r**3 * Q(r)``, Q's coefficients lowest degree first."""
    q = coefficients[-1]
    for c in coefficients[-2::-1]:
        q = q * r + c
    r2 = r * r
    # As a difference: TensorFlow's graph optimizer would rewrite a sum of sums
    # into one AddN, which the XLA cluster leaves out (the same bits either way).
    return r - (r2 * -0.5 - (r2 * r) * q)


def expm1_lowest(dtype: str) -> float:
    """The clamp of :func:`expm1_reduced`: below it ``expm1`` rounds to -1."""
    return _EXPM1_REDUCTION[dtype][2]


def expm1_reduced(n: Any, ops: Ops, dtype: str, clamped: bool = False) -> Any:
    """``expm1(n)`` for ``n <= 0`` (NaN included), within 0.80 ULP over every
    float32 in [-20, 0) and 1.04 ULP on 10 million float64 samples, as
    ``tools/fit_expm1.py`` measures them in NumPy's arithmetic.

    ``clamped``: the caller has clamped ``n`` to :func:`expm1_lowest` or above
    with a NaN-propagating clamp, so the select below is left out.

    XLA's and Eigen's own ``expm1`` are up to 5.7 ULP off between -0.7 and
    -0.001 (float32; float64 likewise), so that ``alpha * expm1`` left the
    contract's 5 ULP. Written in the runtime's own operations: ``n = k log(2) +
    r`` with ``|r| <= log(2)/2``, ``expm1(n) = (2**k - 1) + 2**k expm1(r)``, and
    a polynomial for ``expm1(r)``; for ``k = 0`` that is the polynomial alone,
    so tiny ``n`` give ``n``.
    """
    assert ops.rint is not None and ops.to_int is not None
    shift, bias, _ = _FORMAT[dtype]
    ln2_hi, ln2_lo, lowest = _EXPM1_REDUCTION[dtype]
    # expm1 rounds to -1 below the clamp, which keeps 2**k a normal number. A
    # select, not maximum: NaN stays NaN.
    if not clamped:
        n = ops.where(n < lowest, lowest, n)
    k = ops.rint(n * 1.4426950408889634)
    r = (n - k * ln2_hi) - k * ln2_lo
    p = _expm1_polynomial(r, _EXPM1_Q[dtype])
    # 2**k from its bits (a multiplication, not a shift: TensorFlow's integer
    # tensors have no << operator).
    scale = ops.from_bits((ops.to_int(k) + bias) * (1 << shift), n)
    return (scale - 1.0) + scale * p


def derivative(w: Any, alpha: Any, ops: Ops, dtype: str, portable: bool = False) -> Any:
    """1 where ``w > 0``, else ``alpha * exp(w)``; differentiable in ``w`` and ``alpha``.

    ``portable``: the sign test is ``w > 0``, not the bits (see
    :func:`elu_portable`); the two differ only for positive subnormal ``w``,
    which a flushing runtime never gives to the portable formulas.
    """
    _, _, log_smallest_normal = _FORMAT[dtype]
    pos = w > 0 if portable else positive(w, ops)
    # where, not minimum: both branches stay differentiable, with no tie at 0.
    if portable:
        # Every select operand finite at +-inf (tf2onnx's arithmetic selects, see
        # the portable formulas below); below the bound exp gives 0 either way.
        assert ops.minimum is not None and ops.maximum is not None
        negative = ops.where(pos, 0.0, ops.maximum(ops.minimum(w, 0.0), 4.0 * log_smallest_normal))
    else:
        negative = ops.where(pos, 0.0, w)
    # One exp for both branches (a select computes both): exp(w/2) where exp(w)
    # alone would be subnormal, then alpha * e * e; exp(w) elsewhere, times 1.
    # Not a select of alpha * e * e and alpha * e: with alpha 1, XLA rewrites
    # e * e into exp(w/2 + w/2), a second exp over every element.
    small = negative < log_smallest_normal
    e = ops.exp(ops.where(small, 0.5 * negative, negative))
    return ops.where(pos, 1.0, (alpha * e) * ops.where(small, e, 1.0))


def elu_alpha(w: Any, ops: Ops, dtype: str) -> Any:
    """d elu / d alpha: ``expm1(w)`` where ``w <= 0``, else 0.

    A positive subnormal w is either seen as positive or read as 0: 0 both ways.
    Differentiable in ``w`` where the framework differentiates ``rint`` and the
    bit operations as constants (TensorFlow; JAX's backend gives its own rule).
    """
    return expm1_reduced(ops.where(w > 0, 0.0, w), ops, dtype)


def derivative_alpha(w: Any, ops: Ops) -> Any:
    """d derivative / d alpha: ``exp(w)`` where ``w <= 0``, else 0; differentiable in ``w``."""
    pos = positive(w, ops)
    return ops.where(pos, 0.0, ops.exp(ops.where(pos, 0.0, w)))


# -- formulas with no bit operation and no expm1 ---------------------------------------
#
# For graphs that other runtimes must run: TFLite has no bitwise AND and lowers
# expm1 to exp - 1; ONNX has neither bitcasts nor expm1, and tf2onnx turns a
# select into ``c * a + (1 - c) * b``, so that no operand of a select may be
# infinite or NaN where the result is not. They are exact for every input in a
# runtime that does not flush subnormals, and agree with the formulas above in
# one that does (TF, XLA) wherever the input cannot be subnormal, e.g. the
# result of arithmetic in that runtime, already flushed.

#: dtype name -> Q of expm1(t) = t + t**2/2 + t**3 * Q(t) on [-0.75, 0], lowest
#: degree first: Chebyshev fits, rounded to the dtype (tools/fit_expm1.py)
_PORTABLE_Q = {
    "float32": (
        0.1666666567325592,
        0.04166604205965996,
        0.00832660123705864,
        0.0013632577611133456,
        0.00015762033581268042,
    ),
    "float64": (
        0.16666666666666666,
        0.04166666666666314,
        0.008333333333177841,
        0.0013888888862282369,
        0.00019841267525829852,
        2.4801471324324776e-05,
        2.755377151033172e-06,
        2.748978811023068e-07,
        2.4266973882871467e-08,
        1.5689372560491194e-09,
    ),
}


def expm1_portable(n: Any, ops: Ops, dtype: str) -> Any:
    """``expm1(n)`` for ``n <= 0`` (``-inf`` and NaN included) with no expm1.

    ``exp(n) - 1`` where ``exp(n) < 0.5`` (no cancellation; ``-1`` at
    ``-inf``), else a polynomial fitted on [-0.75, 0] in the form of
    :func:`expm1_reduced`'s: ``n`` itself for tiny ``n``, ``-0.0`` kept.
    """
    assert ops.maximum is not None
    u = ops.exp(n)
    # Finite where it is not used: -inf would make 0 * inf in a tf2onnx select.
    t = ops.maximum(n, -0.75)
    return ops.where(u < 0.5, u - 1.0, _expm1_polynomial(t, _PORTABLE_Q[dtype]))


def elu_portable(w: Any, alpha: Any, ops: Ops, dtype: str) -> Any:
    """``w`` where ``w > 0``, else ``alpha * expm1(w)``, with no bit operation.

    ``-0.0`` stays ``-0.0`` and ``+0.0`` stays ``+0.0`` where selects are
    selects (TF, TFLite); tf2onnx's arithmetic selects lose the sign of zeros.
    """
    assert ops.minimum is not None and ops.maximum is not None
    pos = w > 0
    # min and max: the operands of each select stay finite at +-inf.
    n = ops.where(pos, 0.0, ops.minimum(w, 0.0))
    y = ops.where(pos, ops.maximum(w, 0.0), alpha * expm1_portable(n, ops, dtype))
    # NaN last: TFLite's min, max and exp (XNNPACK) drop it. (tf2onnx writes a
    # select on w != w as a real Where.)
    return ops.where(w != w, w, y)


def elu_alpha_portable(w: Any, ops: Ops, dtype: str) -> Any:
    """:func:`elu_alpha` with :func:`expm1_portable`."""
    assert ops.minimum is not None
    return expm1_portable(ops.where(w > 0, 0.0, ops.minimum(w, 0.0)), ops, dtype)

"""ELU and its derivative for any array: NumPy, PyTorch, TensorFlow, CuPy, JAX,
Dask, Keras (symbolic tensors), or any Array API array, computed on the
array's own device.

``import unielu`` imports NumPy and nothing heavier: a framework's backend is
loaded the first time an array of that framework is passed in.
"""

from __future__ import annotations

from typing import Any, TypeVar

from unielu._checks import check_alpha, refuse_out_if_immutable
from unielu._dispatch import _CACHE, backend_module, load_early, registry, spec_of

__version__ = "0.1.0"
__all__ = ["__version__", "elu", "elu_derivative", "get_backend", "installed_backends"]

ArrayT = TypeVar("ArrayT")
_INF = float("inf")


def elu(x: ArrayT, /, alpha: Any = 1.0, *, out: ArrayT | None = None) -> ArrayT:
    r"""Exponential Linear Unit, elementwise.

    .. math::

        \operatorname{elu}(x) = \begin{cases} x & x > 0 \\
        \alpha\,(e^x - 1) & x \le 0 \end{cases}

    Parameters
    ----------
    x : array_like
        An array of any backend in the registry (NumPy, PyTorch, TensorFlow,
        CuPy, JAX, Dask, a Keras symbolic tensor, or any array that implements
        the Array API standard), or a Python/NumPy number or a list or tuple
        of numbers (computed with NumPy).
    alpha : float or array, default 1.0
        Value the function tends to for large negative ``x``, negated. A
        finite real number ``>= 0`` (0 gives ReLU), or an array of ``x``'s
        framework, 0-d or broadcastable to ``x``'s shape (one value per
        channel, for example), differentiable where the framework has
        autodiff. An array's values are not checked: that would need a
        device synchronisation.
    out : array, optional
        Where to write the result, which is then returned: NumPy, CuPy and
        PyTorch arrays only, of ``x``'s shape, the result dtype and ``x``'s
        device. ``x`` itself is allowed (in place).

    Returns
    -------
    array
        Same kind of array as ``x``, on the same device, with the same shape.
        Floating dtypes (float16, bfloat16, float32, float64) are kept;
        integer and bool inputs give the framework's default floating dtype.
        A 0-d NumPy input gives a NumPy scalar, as a ufunc does.

    Raises
    ------
    TypeError
        If ``x`` is not an array of a supported kind or has a complex or
        non-numeric dtype; if ``alpha`` is neither a real number nor a real
        array of ``x``'s framework; if ``out`` is given for a framework whose
        arrays are immutable, or has the wrong dtype or device.
    ValueError
        If ``alpha`` is a negative, NaN or infinite number, one larger than
        the compute dtype holds, or an array that does not broadcast to
        ``x``'s shape; if ``out`` has the wrong shape, is read-only, has
        elements that share memory or partly overlaps ``x``; if an array's
        memory was freed.

    See Also
    --------
    elu_derivative : The derivative with respect to ``x``.

    Notes
    -----
    The negative branch uses ``expm1``, so results are accurate to a few ULP
    even for tiny negative ``x``, where ``exp(x) - 1`` would return 0. The
    sign of ``-0.0`` is kept. PyTorch, TensorFlow and JAX results are
    differentiable, with ``elu_derivative`` as their gradient.

    Examples
    --------
    >>> import numpy as np
    >>> import unielu
    >>> unielu.elu(np.array([-2.0, -0.5, 0.0, 1.5]))
    array([-0.86466472, -0.39346934,  0.        ,  1.5       ])
    >>> unielu.elu([-1.0, 2.0], alpha=0.5)
    array([-0.31606028,  2.        ])
    >>> y = unielu.elu(np.float32(-1e-30))
    >>> print(y, y.dtype)
    -1e-30 float32
    """
    # The common call inline, in elu and elu_derivative alike (a deliberate twin): a
    # shared helper would add a Python call, a few % of the time on a small array.
    module = _CACHE.get(type(x))
    if module is not None and out is None and type(alpha) is float and 0.0 < alpha < _INF:
        result: ArrayT = module.elu(x, alpha)
    else:
        result = _checked_call("elu", x, alpha, out)
    return result


def elu_derivative(x: ArrayT, /, alpha: Any = 1.0, *, out: ArrayT | None = None) -> ArrayT:
    r"""Derivative of :func:`elu` with respect to ``x``, elementwise.

    .. math::

        \operatorname{elu}'(x) = \begin{cases} 1 & x > 0 \\
        \alpha\,e^x & x \le 0 \end{cases}

    At exactly 0 the ``x <= 0`` branch is taken, as in the ELU paper, so
    ``elu_derivative(0) == alpha``.

    Parameters
    ----------
    x : array_like
        As for :func:`elu`.
    alpha : float or array, default 1.0
        As for :func:`elu`.
    out : array, optional
        As for :func:`elu`.

    Returns
    -------
    array
        As for :func:`elu`.

    Raises
    ------
    TypeError
        As for :func:`elu`.
    ValueError
        As for :func:`elu`.

    See Also
    --------
    elu : The function itself.

    Examples
    --------
    >>> import numpy as np
    >>> import unielu
    >>> unielu.elu_derivative(np.array([-1.0, 0.0, 3.0]), alpha=2.0)
    array([0.73575888, 2.        , 1.        ])
    """
    # The common call inline, in elu and elu_derivative alike (a deliberate twin): a
    # shared helper would add a Python call, a few % of the time on a small array.
    module = _CACHE.get(type(x))
    if module is not None and out is None and type(alpha) is float and 0.0 < alpha < _INF:
        result: ArrayT = module.elu_derivative(x, alpha)
    else:
        result = _checked_call("elu_derivative", x, alpha, out)
    return result


def _checked_call(func: str, x: Any, alpha: Any, out: Any) -> Any:
    """``func`` of ``x``: every call that is not the common one (a type seen
    for the first time, an alpha to check, ``out=``), checked in the order x,
    alpha, out."""
    module = _CACHE.get(type(x)) or backend_module(x, func)
    if type(alpha) is not float or not 0.0 < alpha < _INF:
        alpha = check_alpha(alpha, func)
    if out is None:
        return getattr(module, func)(x, alpha)
    refuse_out_if_immutable(module, out, func)
    return getattr(module, func)(x, alpha, out=out)


# AutoGraph (inside a user's tf.function) calls a function carrying this
# attribute as it is, unconverted -- the attribute that
# tf.autograph.experimental.do_not_convert sets. Converting unielu's dispatch
# would gain nothing and warns ("Unable to locate the source code of
# _gcd_import") on the first trace.
elu.autograph_info__ = elu_derivative.autograph_info__ = None  # type: ignore[attr-defined]


def get_backend(x: Any, /) -> str:
    """Name of the backend that :func:`elu` would use for ``x``.

    Parameters
    ----------
    x : array_like
        Any input that :func:`elu` accepts.

    Returns
    -------
    str
        The backend's name in the registry, which is also its module's in
        ``unielu.backends`` (``"array_api"`` is the generic Array API
        implementation).

    Raises
    ------
    TypeError
        If :func:`elu` would refuse ``x`` for its type.

    Examples
    --------
    >>> import numpy as np
    >>> import unielu
    >>> unielu.get_backend(np.ones(3))
    'numpy'
    >>> unielu.get_backend([1.0, 2.0])
    'numpy'
    """
    return spec_of(backend_module(x, "get_backend")).name


def installed_backends() -> tuple[str, ...]:
    """Names of the backends whose framework is installed, without importing any.

    ``"numpy"`` and ``"array_api"`` are always present. CuPy counts as
    installed when the package is, whether or not a GPU is present.

    Returns
    -------
    tuple of str
        Backend names, in the order :func:`get_backend` tries them.

    Examples
    --------
    >>> import unielu
    >>> "numpy" in unielu.installed_backends()
    True
    """
    return tuple(spec.name for spec in registry() if spec.installed())


load_early()  # e.g. PyTorch's backend, where torch is already imported (see its SPEC)

"""Hostile input on JAX (docs/contract.rst, "Hostile input"): the regression
lines that need the framework itself; the fuzz and the rest are in tests/test_hostile.py."""

from __future__ import annotations

import pytest
from test_hostile import FUNCS

import unielu


@pytest.mark.only("jax", reason="jax.Array.delete")
@pytest.mark.parametrize("name", ["x", "alpha"])
def test_jax_deleted_array_is_refused(backend, name):
    import jax.numpy as jnp

    x, alpha = jnp.ones(3), jnp.ones(3)
    (x if name == "x" else alpha).delete()
    for func in FUNCS:
        with pytest.raises(ValueError, match=rf"argument '{name}' is a deleted jax.Array"):
            getattr(unielu, func)(x, alpha)

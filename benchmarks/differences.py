"""Measure where the frameworks' own ELU differs from the contract, next to unielu.

Writes benchmarks/differences.json, which the docs render as a table. Run by
``nox -s bench``; uses the conformance matrix's mpmath reference.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from reference import grid, ulp_errors

import unielu

X = grid("float32").astype(np.float32)
POINTS = np.array([-1e-30, -20.0, 0.0, np.nan], dtype=np.float32)


def measure(label: str, elu: Any, grads: Any = None) -> dict[str, Any]:
    """elu: float32 NumPy in -> NumPy out; grads: x -> (first, second) derivatives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = np.asarray(elu(X), dtype=np.float64)
        special = np.asarray(elu(POINTS), dtype=np.float64)
    # Flushing subnormal results to 0 is allowed (XLA and TF on CPU do it), and counted.
    errors = ulp_errors(y, "elu", "float32", 1.0, flush_subnormals=True)
    strict = ulp_errors(y, "elu", "float32", 1.0)
    row: dict[str, Any] = {
        "implementation": label,
        "max_ulp": float(np.max(errors)),
        "flushed": int(np.sum(errors != strict)),
        "elu(-1e-30)": float(special[0]),
        "warnings": len(caught),
    }
    if grads is not None:
        g, g2 = (np.asarray(a, dtype=np.float64) for a in grads(POINTS))
        row.update({"grad(-20)": g[1], "grad(0)": g[2], "grad(nan)": g[3], "grad2(0)": g2[2]})
        row = {k: float(v) if isinstance(v, np.floating) else v for k, v in row.items()}
    return {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def main() -> None:
    rows = [
        measure(
            "NumPy: np.where(x > 0, x, exp(x) - 1)",
            lambda x: np.where(x > 0, x, np.exp(x) - 1),
        ),
        measure("unielu on NumPy", unielu.elu),
    ]
    if importlib.util.find_spec("torch"):
        import torch

        def torch_grads(f: Any) -> Any:
            def grads(x: np.ndarray) -> Any:
                t = torch.from_numpy(x.copy()).requires_grad_(True)
                (g,) = torch.autograd.grad(f(t).sum(), t, create_graph=True)
                (g2,) = torch.autograd.grad(g.sum(), t)
                return g.detach().numpy(), g2.numpy()

            return grads

        native = torch.nn.functional.elu
        rows.append(
            measure(
                "PyTorch F.elu", lambda x: native(torch.from_numpy(x)).numpy(), torch_grads(native)
            )
        )
        compiled = torch.compile(native)
        rows.append(
            measure(
                "PyTorch F.elu under torch.compile", lambda x: compiled(torch.from_numpy(x)).numpy()
            )
        )
        rows.append(
            measure(
                "unielu on PyTorch",
                lambda x: unielu.elu(torch.from_numpy(x)).numpy(),
                torch_grads(unielu.elu),
            )
        )
    if importlib.util.find_spec("tensorflow"):
        import tensorflow as tf

        def tf_grads(f: Any) -> Any:
            def grads(x: np.ndarray) -> Any:
                t = tf.constant(x)
                with tf.GradientTape() as outer:
                    outer.watch(t)
                    with tf.GradientTape() as inner:
                        inner.watch(t)
                        y = f(t)
                    g = inner.gradient(y, t)
                return g.numpy(), outer.gradient(g, t).numpy()

            return grads

        rows.append(
            measure("TensorFlow tf.nn.elu", lambda x: tf.nn.elu(x).numpy(), tf_grads(tf.nn.elu))
        )
        rows.append(
            measure(
                "unielu on TensorFlow",
                lambda x: unielu.elu(tf.constant(x)).numpy(),
                tf_grads(unielu.elu),
            )
        )
    if importlib.util.find_spec("jax"):
        import jax
        import jax.numpy as jnp

        def jax_grads(f: Any) -> Any:
            g = jax.grad(f)
            return lambda x: (jax.vmap(g)(jnp.asarray(x)), jax.vmap(jax.grad(g))(jnp.asarray(x)))

        rows.append(
            measure(
                "JAX jax.nn.elu",
                lambda x: np.asarray(jax.nn.elu(jnp.asarray(x))),
                jax_grads(jax.nn.elu),
            )
        )
        rows.append(
            measure(
                "unielu on JAX",
                lambda x: np.asarray(unielu.elu(jnp.asarray(x))),
                jax_grads(unielu.elu),
            )
        )
    out = Path(__file__).parent / "differences.json"
    out.write_text(json.dumps({"dtype": "float32", "alpha": 1.0, "rows": rows}, indent=2) + "\n")
    for row in rows:
        print(row)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

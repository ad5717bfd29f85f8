"""Measure where the frameworks' own ELU differs from the contract, next to unielu.

Writes benchmarks/differences.json, which the docs render as a table. Run by
``nox -s bench``; uses the conformance matrix's mpmath reference, and reaches
each framework through its test adapter (``tests/adapters/<name>.py``): every
backend of the registry whose framework has an ELU of its own and is installed.
The file is stamped with the commit, the machine and a digest of the sources it
measured (benchmarks/stamp.py); ``python -m tools.tables --check`` fails when
they change.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import stamp
from testkit import ADAPTERS, Adapter, reference

import unielu
from unielu._registry import registry
from unielu.bench import machine

X = reference.grid("float32").astype(np.float32)
POINTS = np.array([-1e-30, -20.0, 0.0, np.nan], dtype=np.float32)


def measure(label: str, elu: Any, grads: Any = None) -> dict[str, Any]:
    """elu: float32 NumPy in -> NumPy out; grads: x -> (first, second) derivatives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = np.asarray(elu(X), dtype=np.float64)
        special = np.asarray(elu(POINTS), dtype=np.float64)
    # Flushing subnormal results to 0 is allowed (XLA and TF on CPU do it), and counted.
    errors = reference.ulp_errors(y, "elu", "float32", 1.0, flush_subnormals=True)
    strict = reference.ulp_errors(y, "elu", "float32", 1.0)
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


def _rows(adapter: Adapter) -> list[dict[str, Any]]:
    """The framework's own ELU (and its variants) and unielu on its arrays."""

    def values(func: Callable[[Any], Any]) -> Callable[[np.ndarray], Any]:
        return lambda x: adapter.to_numpy(func(adapter.asarray(x, "float32")))

    def grads(func: Callable[[Any], Any]) -> Callable[[np.ndarray], Any]:
        def both(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            g, g2 = adapter.derivatives(func, adapter.asarray(x, "float32"))
            return adapter.to_numpy(g), adapter.to_numpy(g2)

        return both

    def native(x: Any) -> Any:
        return adapter.native_elu(x, 1.0)

    title = adapter.title
    rows = [measure(f"{title} {adapter.native_name}", values(native), grads(native))]
    for label, variant in adapter.native_variants().items():
        rows.append(measure(f"{title} {label}", values(variant)))
    rows.append(measure(f"unielu on {title}", values(unielu.elu), grads(unielu.elu)))
    return rows


def main() -> None:
    rows = [
        measure(
            "NumPy: np.where(x > 0, x, exp(x) - 1)",
            lambda x: np.where(x > 0, x, np.exp(x) - 1),
        ),
        measure("unielu on NumPy", unielu.elu),
    ]
    for spec in registry():
        cls = ADAPTERS.get(spec.name)
        if cls is not None and cls.native and spec.installed() and cls.available():
            cls.configure()
            rows += _rows(cls({}))
    out = Path(__file__).parent / "differences.json"
    versions = {"numpy": np.__version__}
    for spec in registry():  # the frameworks measured (each imported by now)
        module = sys.modules.get(spec.framework)
        if module is not None and spec.name != "numpy":
            versions[spec.name] = getattr(module, "__version__", "?")
    data = {"dtype": "float32", "alpha": 1.0, "versions": versions, "rows": rows}
    # python -m tools.tables --check fails once the sources change (benchmarks/stamp.py).
    data["stamp"] = stamp.make("differences", machine())
    out.write_text(json.dumps(data, indent=2) + "\n")
    for row in rows:
        print(row)
    print(f"wrote {out}")
    stamp.refresh_prose()


if __name__ == "__main__":
    main()

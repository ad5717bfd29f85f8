"""The ``unielu`` command: ``info`` (the default), ``plot`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import unielu
from unielu._checks import check_alpha
from unielu._dispatch import get_spec, registry

#: The values the report computes on every backend.
SAMPLE = (-20.0, -1.0, -1e-7, -0.0, 0.0, 1e-7, 1.0, 20.0)


class UsageError(Exception):
    """A bad command-line argument: reported in one line, exit status 2."""


def backend_report(name: str) -> dict[str, Any]:
    """What the report says of one backend; imports its framework if installed."""
    spec = get_spec(name)
    entry: dict[str, Any] = {"backend": name, "version": spec.installed_version()}
    if not spec.installed():
        entry.update(installed=False, why=f"{spec.requirement} is not installed")
        return entry
    try:
        spec.check_version()
    except ImportError as error:
        entry.update(installed=True, usable=False, too_old=True, why=str(error))
        return entry
    try:
        module = spec.load()
        entry["devices"] = module.devices()
        if spec.needs_gpu and not entry["devices"]:
            raise RuntimeError("no CUDA device")
        try:
            x = module.from_numpy(np.asarray(SAMPLE, dtype=np.float32))
        except ModuleNotFoundError as error:
            if error.name is None or error.name.split(".")[0] == spec.framework.split(".")[0]:
                raise
            # The backend works; only the library the report makes its sample with is missing.
            entry.pop("devices")
            entry.update(installed=True, usable=True, sample=f"{error.name} is not installed")
            return entry
        for func in ("elu", "elu_derivative"):
            y = module.to_numpy(getattr(unielu, func)(x))
            entry[func] = np.asarray(y, dtype=np.float64).tolist()
    except Exception as error:  # a broken install is reported, not raised
        entry.update(installed=True, usable=False, why=f"{type(error).__name__}: {error}")
        return entry
    entry.update(installed=True, usable=True)
    return entry


def _ulp_disagreement(rows: list[dict[str, Any]], key: str) -> float:
    """Largest difference between backends, in float32 ULP of the NumPy result."""
    results = [np.asarray(r[key]) for r in rows if r.get(key)]
    if len(results) < 2:
        return 0.0
    stacked = np.stack(results)
    spread = np.nanmax(stacked, axis=0) - np.nanmin(stacked, axis=0)
    spacing = np.spacing(np.abs(stacked[0]).astype(np.float32)).astype(np.float64)
    finite = np.isfinite(spread)
    return float(np.max(spread[finite] / spacing[finite], initial=0.0))


def _numpy_kernel() -> str:
    """Which kernel the NumPy backend runs, and at which SIMD level (or why not compiled)."""
    from unielu.backends import numpy as numpy_backend

    return numpy_backend.kernel()


def info(as_json: bool) -> int:
    rows = [backend_report(spec.name) for spec in registry()]
    report: dict[str, Any] = {
        "unielu": unielu.__version__,
        "python": platform.python_version(),
        "values": list(SAMPLE),
        "dtype": "float32",
        "alpha": 1.0,
        "backends": rows,
        "numpy_kernel": _numpy_kernel(),
        "max_ulp_disagreement": {
            key: _ulp_disagreement(rows, key) for key in ("elu", "elu_derivative")
        },
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"unielu {unielu.__version__} on Python {report['python']} ({platform.machine()})")
    print(f"NumPy kernel: {report['numpy_kernel']}\n")
    print(f"{'backend':<11} {'version':<13} status")
    for r in rows:
        if r.get("usable") and "sample" in r:
            spec = get_spec(r["backend"])
            needs = (
                "needs no framework of its own"
                if "*" in spec.types
                else f"needs {spec.framework}, which is installed"
            )
            status = f"ready ({needs}); no sample values: {r['sample']}"
        elif r.get("usable"):
            status = "ready on " + ", ".join(r["devices"])
        else:
            status = f"installed, unusable: {r['why']}"
            if r.get("too_old"):
                spec = get_spec(r["backend"])
                status = f'too old: needs >= {spec.floor()} (pip install -U "{spec.requirement}")'
            if not r["installed"]:
                status = f'not installed (pip install "{get_spec(r["backend"]).requirement}")'
        print(f"{r['backend']:<11} {r['version'] or '-':<13} {status}")
    ready = [r for r in rows if r.get("usable") and "elu" in r]
    for key in ("elu", "elu_derivative"):
        print(f"\n{key}(x, alpha=1.0), float32, on each backend:")
        print(f"{'x':>10} " + " ".join(f"{r['backend']:>14}" for r in ready))
        for i, x in enumerate(SAMPLE):
            print(f"{x:>10.3g} " + " ".join(f"{r[key][i]:>14.8g}" for r in ready))
        print(
            f"largest disagreement between backends: "
            f"{report['max_ulp_disagreement'][key]:.0f} ULP (float32)"
        )
    return 0


def _check_range(span: Sequence[float]) -> tuple[float, float]:
    low, high = span
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise UsageError(f"--range LOW HIGH needs finite LOW < HIGH; got {low:g} {high:g}")
    return low, high


def plot(alphas: Sequence[float], span: tuple[float, float], output: str, backend: str) -> int:
    """Draw ELU and its derivative, computed through unielu on ``backend``."""
    suffix = Path(output).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise UsageError(f"-o/--output must end in .png, .svg or .pdf; got {output!r}")
    if not Path(output).resolve().parent.is_dir():
        raise UsageError(f"-o/--output: folder {str(Path(output).parent)!r} does not exist")
    for alpha in alphas:
        try:
            check_alpha(alpha, "elu")
        except ValueError as error:
            raise UsageError(f"--alpha: {error}") from None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plot needs matplotlib: pip install matplotlib") from None
    entry = backend_report(backend)
    if not entry.get("usable") or "sample" in entry:
        raise UsageError(f"--backend {backend}: {entry.get('why') or entry['sample']}")
    module = get_spec(backend).load()
    make, read = module.from_numpy, module.to_numpy
    x = np.linspace(*span, 801)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for i, alpha in enumerate(alphas):
        color = f"C{i}"
        xs = make(x.astype(np.float32))
        ax.plot(x, read(unielu.elu(xs, alpha)), color=color, label=f"ELU, α={alpha:g}")
        # The derivative jumps at 0 (from alpha to 1): a gap, not a vertical line.
        cut = int(np.searchsorted(x, 0.0, side="right"))
        d = read(unielu.elu_derivative(xs, alpha)).astype(np.float64)
        ax.plot(
            np.insert(x, cut, np.nan), np.insert(d, cut, np.nan), color=color, linestyle="--",
            label=f"derivative, α={alpha:g}",
        )  # fmt: skip
    # Axes through the origin, as activation plots usually have them.
    for side in ("left", "bottom"):
        ax.spines[side].set_position(("data", 0))
    for side in ("right", "top"):
        ax.spines[side].set_color("none")
    ax.set_title(f"ELU and its derivative (computed with unielu on {backend})")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(alpha=0.25)
    try:
        fig.savefig(output, metadata=None if suffix != ".png" else {"Software": "unielu"})
    except OSError as error:
        raise UsageError(f"-o/--output: cannot write {output!r}: {error.strerror}") from None
    finally:
        plt.close(fig)
    print(f"wrote {output}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unielu",
        description="ELU for any array: see which backends are here, plot ELU, benchmark it.",
    )
    parser.add_argument("--version", action="version", version=f"unielu {unielu.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{info,plot,bench}")
    p_info = sub.add_parser(
        "info", help="backends found, their devices, and ELU computed on each (the default)"
    )
    p_info.add_argument("--json", action="store_true", help="print the report as JSON")
    p_plot = sub.add_parser("plot", help="draw ELU and its derivative")
    p_plot.add_argument(
        "--alpha", type=float, action="append", help="alpha to draw; repeat for more (default 1)"
    )
    p_plot.add_argument(
        "--range",
        nargs=2,
        type=float,
        default=[-3.0, 3.0],
        metavar=("LOW", "HIGH"),
        help="x range (default -3 3)",
    )
    p_plot.add_argument("-o", "--output", default="elu.png", help="PNG, SVG or PDF file")
    p_plot.add_argument(
        "--backend",
        default="numpy",
        choices=[b.name for b in registry()],
        help="compute with this backend",
    )
    p_bench = sub.add_parser(
        "bench",
        help="time unielu on each installed backend (the comparisons with each framework's "
        "own ELU: nox -s bench, from the source tree)",
    )
    p_bench.add_argument(
        "--full", action="store_true", help="all sizes and repeats (minutes), not the quick run"
    )
    p_bench.add_argument(
        "--backend",
        action="append",
        choices=[b.name for b in registry()],
        help="benchmark only these (repeatable)",
    )
    p_bench.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # TensorFlow's C++ start-up chatter would bury the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    try:
        if args.command in (None, "info"):
            return info(getattr(args, "json", False))
        if args.command == "plot":
            return plot(args.alpha or [1.0], _check_range(args.range), args.output, args.backend)
        from unielu.bench import main as bench

        return bench(full=args.full, backends=args.backend, json_path=args.json)
    except UsageError as error:
        print(f"unielu {args.command}: error: {error}", file=sys.stderr)
        return 2

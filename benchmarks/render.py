"""Turn the measured JSON (results.json, differences.json) into the docs' tables and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from targets import measured_text

from unielu.bench import format_time


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return "—"
    if isinstance(v, float) and v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        return f"{v:.3g}"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def differences_rst(data: dict[str, Any]) -> str:
    header = [
        "implementation", "max error (ULP)", "elu(-1e-30)", "warnings", "grad at -20",
        "grad at 0", "grad at NaN", "2nd derivative at 0",
    ]  # fmt: skip
    keys = ["max_ulp", "elu(-1e-30)", "warnings", "grad(-20)", "grad(0)", "grad(nan)", "grad2(0)"]
    rows = [[r["implementation"], *(_fmt(r.get(k)) for k in keys)] for r in data["rows"]]
    note = (
        f"\n{data['dtype']}, alpha = {data['alpha']:g}. Exact values: elu(-1e-30) = -1e-30, "
        "gradient at -20 = 2.06e-09, at 0 = alpha, at NaN = NaN; second derivative at 0 = alpha. "
        "Subnormal results flushed to 0 are not counted as errors.\n"
    )
    return _table(header, rows) + note


def benchmark_rst(data: dict[str, Any]) -> str:
    m = data["machine"]
    out = [
        f"Measured on {m['platform']}"
        + (f" ({m['processor']}, {data['extras'].get('kernel')})" if m.get("processor") else "")
        + f", Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in data["versions"].items())
        + f"; NumPy backend threads: {data['extras'].get('threads')}.\n",
        "Targets\n-------\n",
        _table(
            ["target", "measured", "limit", "met"],
            [
                [
                    t["target"],
                    measured_text(t),
                    f"{t['limit']:.2f}",
                    "yes" if t["met"] else f"**no**: {t.get('why', '')}",
                ]
                for t in data["targets"]
            ],
        ),
    ]
    extras = data["extras"]
    if "memory" in extras:
        mem, imp, dis = extras["memory"], extras["import"], extras["dispatch"]
        out.append(
            f"\nNumPy peak memory for {mem['elements']:.0e} float32 elements: "
            f"{mem['peak_mib']:.1f} MiB, of which the output is {mem['output_mib']:.1f} MiB. "
            f"``import unielu`` {imp['unielu_s'] * 1e3:.0f} ms against ``import numpy`` "
            f"{imp['numpy_s'] * 1e3:.0f} ms. Dispatch and the alpha check: "
            f"{dis['unielu_ns']:.0f} ns "
            "per call "
            f"(``array_api_compat.array_namespace``: {dis['array_namespace_ns']:.0f} ns).\n"
        )
    out.append("\nAll measurements\n----------------\n")
    out.append(
        _table(
            ["backend", "against", "size", "dtype", "alpha", "unielu", "baseline", "ratio"],
            [
                [
                    r["backend"],
                    r["baseline"],
                    f"{r['size']:.0e}",
                    r["dtype"],
                    f"{r['alpha']:g}",
                    format_time(r["unielu_ns"]),
                    format_time(r["baseline_ns"]),
                    f"{r['ratio']:.2f}",
                ]
                for r in data["rows"]
            ],
        )
    )
    return "\n".join(out)


def models_rst(data: dict[str, Any] | None) -> str:
    """The model benchmark's table (benchmarks/models.py; results.json's ``models``)."""
    if not data:
        return "Not measured yet: ``python benchmarks/models.py --save`` measures it.\n"
    m = data["machine"]
    load = f"load average {m['load_before']:.1f} at the start"
    if m.get("load_after") is not None:
        load += f", {m['load_after']:.1f} at the end"
    head = (
        f"Measured on {m['cpu']} ({m['simd']}, {m['cores']} cores), Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in data["versions"].items())
        + f"; {load} ({data['scale']} run, {data['seconds'] / 60:.1f} minutes).\n"
    )
    rows = []
    for r in data["rows"]:
        case = f"{r['text']}; against {r['baseline']}"
        target = "—" if r["limit"] is None else f"{r['limit']:.2f}"
        if "error" in r:
            rows.append([case, "—", "—", f"error: {r['error']}", target, "—"])
            continue
        met = "—" if r["met"] is None else "yes" if r["met"] else "**no**"
        cells = [_ms(r["unielu_ms"]), _ms(r["baseline_ms"]), f"{r['ratio']:.2f}"]
        rows.append([case, *cells, target, met])
    header = ["case", "unielu (ms)", "framework's own (ms)", "ratio", "target", "met"]
    skipped = "".join(f"\nNot measured: {g} ({why}).\n" for g, why in data["skipped"].items())
    return head + "\n" + _table(header, rows) + skipped


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def benchmark_plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8))
    series: dict[str, list[tuple[int, float]]] = {}
    for r in data["rows"]:
        if r["dtype"] == "float32" and r["alpha"] == 1.0:
            series.setdefault(
                f"{r['backend']} vs {r['baseline'].split(' np.where')[0]}", []
            ).append((r["size"], r["ratio"]))
    for label, points in series.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements (float32, alpha = 1)")
    ax.set_ylabel("unielu time / baseline time")
    ax.set_title("Below 1: unielu is faster")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

"""Turn the measured JSON (results.json, differences.json) into the docs' tables and figure.

docs/conf.py calls these at build time: :func:`benchmark_rst` (a summary, the
figure, the targets, then every measurement folded away), :func:`models_rst`,
:func:`benchmark_plot` and :func:`differences_rst`. The targets' verdicts are
computed here from the measured rows (benchmarks/targets.py), so that a
changed target needs no new measurement.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import targets as targets_module
from targets import measured_text

from unielu.bench import format_time


def _table(header: list[str], rows: list[list[str]], widths: str = "") -> str:
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
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


def _size(n: int) -> str:
    """16, 1e3, 1e7: as the tables name sizes."""
    exponent = math.log10(n) if n > 0 else 0
    return f"{n}" if n < 1000 else (f"1e{exponent:.0f}" if exponent.is_integer() else f"{n:.0e}")


def stamp_text(stamp: dict[str, Any] | None) -> str:
    """One sentence: when, where and from which commit a table was measured."""
    if not stamp:
        return "Not stamped: regenerate it (``python -m tools.tables --check`` says how)."
    m = stamp["machine"]
    load = m.get("load_before")
    modified = " with uncommitted changes" if stamp.get("modified") else ""
    return (
        f"Measured {stamp['date']} at commit ``{stamp['commit'][:10]}``{modified}, on "
        f"{m.get('cpu', '?')} ({m.get('simd', '?')}, {m.get('cores', '?')} cores; NumPy "
        f"kernel: {m.get('kernel', '?')})"
        + (f", load average {load:.1f} at the start" if load is not None else "")
        + f"; sources digest ``{stamp['sources']['digest']}``.\n"
    )


def differences_rst(data: dict[str, Any]) -> str:
    header = [
        "implementation", "max error (ULP)", "elu(-1e-30)", "warnings", "grad at -20",
        "grad at 0", "grad at NaN", "2nd derivative at 0",
    ]  # fmt: skip
    keys = ["max_ulp", "elu(-1e-30)", "warnings", "grad(-20)", "grad(0)", "grad(nan)", "grad2(0)"]
    rows = [[r["implementation"], *(_fmt(r.get(k)) for k in keys)] for r in data["rows"]]
    versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
    note = (
        f"\n{data['dtype']}, alpha = {data['alpha']:g}. Exact values: elu(-1e-30) = -1e-30, "
        "gradient at -20 = 2.06e-09, at 0 = alpha, at NaN = NaN; second derivative at 0 = alpha. "
        "Subnormal results flushed to 0 are not counted as errors."
        + (f" Versions: {versions}." if versions else "")
        + "\n\n"
        + stamp_text(data.get("stamp"))
    )
    return _table(header, rows) + note


# -- The summary -------------------------------------------------------------------------


def headline_cases(data: dict[str, Any]) -> dict[str, str]:
    """Each backend's first case (its adapter yields the comparison with its
    framework's own ELU first; NumPy's is the plain formula), among those measured
    at several sizes."""
    sizes: dict[str, set[int]] = {}
    for r in data["rows"]:
        sizes.setdefault(r["case"], set()).add(r["size"])
    found: dict[str, str] = {}
    for r in data["rows"]:
        if len(sizes[r["case"]]) > 1:
            found.setdefault(r["backend"], r["case"])
    return found


def _ratio(data: dict[str, Any], case: str, size: int) -> float | None:
    for r in data["rows"]:
        if (r["case"], r["size"], r["dtype"], r["alpha"]) == (case, size, "float32", 1.0):
            return float(r["ratio"])
    return None


def _ratio_cell(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.2f}" if ratio > 0.5 else f"{ratio:.2f} ({1 / ratio:.1f}x faster)"


def summary_rst(data: dict[str, Any]) -> str:
    """Each backend against its framework's own ELU, at the smallest and largest size."""
    rows = []
    for backend, case in headline_cases(data).items():
        found = [r for r in data["rows"] if r["case"] == case]
        small, large = min(r["size"] for r in found), max(r["size"] for r in found)
        baseline = found[0]["baseline"]
        cells = [
            _ratio_cell(_ratio(data, case, size)) + f" at {_size(size)}" for size in (small, large)
        ]
        rows.append([f"``{backend}``", baseline, *cells])
    header = ["backend", "against", "small array", "large array"]
    return _table(header, rows, "12 40 24 24")


def models_summary_rst(models: dict[str, Any] | None) -> str:
    """The model steps that have a target: ratio and verdict, one line each (every
    case is in the models table further down)."""
    if not models:
        return ""
    rows = []
    for r in models["rows"]:
        if r.get("limit") is None:
            continue
        if "error" in r:
            rows.append([r["text"], "error", f"target {r['limit']:.2f}"])
            continue
        verdict = "met" if r["met"] else "**missed**"
        rows.append([r["text"], f"{r['ratio']:.2f}", f"{verdict} (target {r['limit']:.2f})"])
    return _table(["model step", "ratio", "target"], rows, "64 12 24")


# -- The targets ------------------------------------------------------------------------


def targets_rst(data: dict[str, Any]) -> str:
    """Met or missed in a narrow first column; why a target is missed in a footnote."""
    verdicts = targets_module.check(data)
    rows, notes = [], []
    for v in verdicts:
        status = "met" if v["met"] else f"**missed** [#{v['id']}]_"
        if not v["met"]:
            notes.append(f".. [#{v['id']}] {v['why'] or 'missed in this run'}")
        rows.append([status, v["target"], measured_text(v), f"{v['limit']:.2f}"])
    met = sum(v["met"] for v in verdicts)
    head = f"{met} of {len(verdicts)} targets met in this run (ratios: unielu / baseline).\n\n"
    table = _table(["", "target", "measured", "limit"], rows, "10 60 18 12")
    return head + table + ("\n" + "\n".join(notes) + "\n" if notes else "")


def _extras_text(data: dict[str, Any]) -> str:
    extras = data["extras"]
    if "memory" not in extras:
        return ""
    mem, imp, dis = extras["memory"], extras["import"], extras["dispatch"]
    return (
        f"\nNumPy peak memory for {mem['elements']:.0e} float32 elements: "
        f"{mem['peak_mib']:.1f} MiB, of which the output is {mem['output_mib']:.1f} MiB. "
        f"``import unielu`` {imp['unielu_s'] * 1e3:.0f} ms against ``import numpy`` "
        f"{imp['numpy_s'] * 1e3:.0f} ms. Dispatch and the alpha check: "
        f"{dis['unielu_ns']:.0f} ns per call "
        f"(``array_api_compat.array_namespace``: {dis['array_namespace_ns']:.0f} ns).\n"
    )


def benchmark_rst(data: dict[str, Any]) -> str:
    """The benchmarks page's measured part: summary, figure, targets, everything else."""
    versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items())
    out = [
        "Summary\n-------\n",
        "unielu's time over the framework's own ELU's on the same float32 data "
        "(alpha 1): below 1, unielu is faster.\n",
        summary_rst(data),
    ]
    models = models_summary_rst(data.get("models"))
    if models:
        out += [
            "\nInside models: the steps with a target (every case: :ref:`below <models>`).\n",
            models,
        ]
    out += [
        "\n" + stamp_text(data.get("stamp")),
        f"\nVersions: {versions}; NumPy backend threads: {data['extras'].get('threads')}.\n",
        "\nBy size\n-------\n",
        ".. image:: /_static/bench.png\n"
        "   :alt: unielu's time over each framework's own ELU by array size, one panel per "
        "backend\n   :width: 100%\n",
        "\nTargets\n-------\n",
        targets_rst(data),
        _extras_text(data),
        "\nAll measurements\n----------------\n",
        f"Every row ({len(data['rows'])}): each size, dtype and alpha.\n",
        ".. raw:: html\n\n   <details><summary>Show the table</summary>\n",
        _table(
            ["backend", "against", "size", "dtype", "alpha", "unielu", "baseline", "ratio"],
            [
                [
                    r["backend"],
                    r["baseline"],
                    _size(r["size"]),
                    r["dtype"],
                    f"{r['alpha']:g}",
                    format_time(r["unielu_ns"]),
                    format_time(r["baseline_ns"]),
                    f"{r['ratio']:.2f}",
                ]
                for r in data["rows"]
            ],
        ),
        ".. raw:: html\n\n   </details>\n",
    ]
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
            rows.append(["—", case, "—", "—", f"error: {r['error']}", target])
            continue
        met = "—" if r["met"] is None else "met" if r["met"] else "**missed**"
        cells = [_ms(r["unielu_ms"]), _ms(r["baseline_ms"]), f"{r['ratio']:.2f}"]
        rows.append([met, case, *cells, target])
    header = ["", "case", "unielu (ms)", "framework's own (ms)", "ratio", "target"]
    skipped = "".join(f"\nNot measured: {g} ({why}).\n" for g, why in data["skipped"].items())
    return head + "\n" + _table(header, rows, "10 42 12 14 10 12") + skipped


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


# -- The figure -------------------------------------------------------------------------

#: Panels beyond one per backend: NumPy's comparisons split by question.
_NUMPY_PANELS = {
    "NumPy against the formula and the frameworks": (
        "numpy.plain", "numpy.fastest-framework", "numpy.copy-floor-vs-fastest-framework",
    ),
    "NumPy against memory copies": (
        "numpy.copy", "numpy.copyto", "numpy.copyto-out", "numpy.derivative-copyto-out",
        "numpy.alloc-floor-vs-copyto",
    ),
}  # fmt: skip
_MARKERS = "osD^v<>ph*"
#: Shorter legends, and one label for a case whose baseline differs by size.
_LABELS = {
    "numpy.plain": "plain formula np.where(x > 0, x, alpha*(exp(x) - 1))",
    "numpy.fastest-framework": "fastest framework ELU (at each size)",
    "numpy.copy-floor-vs-fastest-framework": "floor: a copy vs that framework ELU",
    "numpy.alloc-floor-vs-copyto": "floor: a copy into new memory vs np.copyto",
}


def _panels(data: dict[str, Any]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Panel title -> series label -> (size, ratio) points (float32, alpha 1)."""
    panels: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for r in data["rows"]:
        if (r["dtype"], r["alpha"]) != ("float32", 1.0):
            continue
        title = next((t for t, cases in _NUMPY_PANELS.items() if r["case"] in cases), None)
        if r["backend"] == "numpy" and title is None:
            title = "NumPy against the formula and the frameworks"
        title = title or r["backend"]
        label = _LABELS.get(r["case"], r["baseline"])
        panels.setdefault(title, {}).setdefault(label, []).append((r["size"], r["ratio"]))
    # a series of one size (a workload) is no line: the table has it
    return {
        title: kept
        for title, series in panels.items()
        if (kept := {k: sorted(v) for k, v in series.items() if len(v) > 1})
    }


def benchmark_plot(data: dict[str, Any], path: Path) -> None:
    """Small multiples: one panel per backend (NumPy's two questions apart), each
    series its own colour and marker, the legend under its panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    panels = _panels(data)
    columns = 2
    rows = max(1, math.ceil(len(panels) / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(11, 4.1 * rows), squeeze=False, layout="constrained"
    )
    colours = plt.get_cmap("tab10").colors
    for ax, (title, series) in zip(axes.flat, panels.items(), strict=False):
        for i, (label, points) in enumerate(series.items()):
            ax.plot(
                [p[0] for p in points], [p[1] for p in points], marker=_MARKERS[i % len(_MARKERS)],
                color=colours[i % len(colours)], label=label,
            )  # fmt: skip
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        low, high = ax.get_ylim()
        # minor ticks labelled only within about a decade, where they do not crowd
        ax.yaxis.set_minor_formatter(plain if high / low < 8 else NullFormatter())
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("elements (float32, alpha = 1)")
        ax.set_ylabel("unielu / baseline time")
        ax.grid(alpha=0.25, which="both")
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8.5, frameon=False,
            ncol=1,
        )  # fmt: skip
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle("Below the dotted line (1), unielu is faster", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)

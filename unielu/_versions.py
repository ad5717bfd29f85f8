"""The table of supported versions, rendered from the registry for the README
and docs/versions.rst: ``python -m unielu._versions`` rewrites both, and
tests/test_versions.py fails when either is stale.

The floors are each backend's ``requirement`` (its SPEC); what this module adds
is what the registry cannot know: the newest releases the default ``nox``
sessions ran, and how each backend is tested where.
"""

from __future__ import annotations

import sys
from pathlib import Path

from unielu._registry import Backend, registry

#: What the default nox sessions installed (the newest releases), 2026-11-30.
NEWEST_TESTED = {
    "numpy": "numpy 2.4.6",
    "array_api": "array-api-compat 1.16.0, array-api-strict 2.6.1",
    "dask": "dask 2026.8.0",
    "torch": "torch 2.13.0 (CPU)",
    "jax": "jax 0.10.2, flax 0.12.8",
    "tensorflow": "tensorflow-cpu 2.21.0",
    "keras": "keras 3.15.1",
    "cupy": "cupy-cuda12x 14.2 (on an NVIDIA H200)",
}

#: Backends not tested at their floor, and why.
NOT_AT_FLOOR = {
    "torch": "declared; tested: 2.13 CPU only (older releases are CUDA builds of several GB)",
    "cupy": "declared; tested on a GPU machine only, at the newest release (nox -s gpu)",
}

PYTHONS = "3.10, 3.11, 3.12, 3.13"

START, END = "versions table start", "versions table end"


def _floors(spec: Backend) -> str:
    """The backend's floors: its requirement, then its other test requirements with one."""
    extra = [r for r in spec.test_requirements[1:] if ">=" in r]
    return ", ".join(f"``{r}``" for r in [spec.requirement, *extra])


def _how(spec: Backend) -> str:
    if spec.name in NOT_AT_FLOOR:
        return NOT_AT_FLOOR[spec.name]
    python = "3.10" if spec.name == "numpy" else "3.11"
    return f'both ends: nox -s "tests({spec.name}, oldest)" (Python {python}), "tests({spec.name})"'


def rows() -> list[tuple[str, str, str, str]]:
    """(backend, floors, newest tested, how tested) for every backend of the registry."""
    return [
        (spec.name, _floors(spec), NEWEST_TESTED.get(spec.name, "-"), _how(spec))
        for spec in registry()
    ]


def table(rst: bool = False) -> str:
    """The table, in Markdown (README) or reStructuredText (``rst=True``)."""
    head = ("Backend", "Requirement (floors)", "Newest tested", "How tested")
    body = rows()
    if rst:
        lines = [".. list-table::", "   :header-rows: 1", ""]
        for row in [head, *body]:
            lines += [f"   * - {row[0]}"] + [f"     - {cell}" for cell in row[1:]]
        return "\n".join(lines)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in body:
        cells = [row[0], row[1].replace("``", "`"), row[2], row[3]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nPython {PYTHONS}."


def replace_table(text: str) -> str:
    """``text`` with the table between its start and end markers rendered anew.

    Markdown marks them with HTML comments, reStructuredText with comments.
    """
    for open_, close, rst in (
        (f"<!-- {START} -->\n", f"\n<!-- {END} -->", False),
        (f".. {START}\n\n", f"\n\n.. {END}", True),
    ):
        start = text.find(open_)
        end = text.find(close, start)
        if start >= 0 and end >= 0:
            text = text[: start + len(open_)] + table(rst) + text[end:]
    return text


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    for path in (root / "README.md", root / "docs" / "versions.rst"):
        text = path.read_text(encoding="utf-8")
        new = replace_table(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote the table in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

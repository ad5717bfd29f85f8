"""The table of supported versions, one of the tables that :mod:`unielu._tables`
generates from the registry into the README and docs/versions.rst.

The floors are each backend's ``requirement`` (its SPEC); what this module adds
is what the registry cannot know: the newest releases the default ``nox``
sessions ran, and how each backend is tested where.
"""

from __future__ import annotations

from unielu._registry import BackendSpec, registry

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


def _floors(spec: BackendSpec, code: str) -> str:
    """The backend's floors: its requirement, then its other test requirements with one."""
    extra = [r for r in spec.test_requirements[1:] if ">=" in r]
    return ", ".join(f"{code}{r}{code}" for r in [spec.requirement, *extra])


def _how(spec: BackendSpec) -> str:
    if spec.name in NOT_AT_FLOOR:
        return NOT_AT_FLOOR[spec.name]
    python = "3.10" if spec.name == "numpy" else "3.11"
    return f'both ends: nox -s "tests({spec.name}, oldest)" (Python {python}), "tests({spec.name})"'


def versions_rows(code: str) -> tuple[list[str], list[list[str]]]:
    """The versions table (a table of :mod:`unielu._tables`): backend, floors, newest
    tested, how tested, for every backend of the registry."""
    header = ["Backend", "Requirement (floors)", "Newest tested", "How tested"]
    rows = [
        [spec.name, _floors(spec, code), NEWEST_TESTED.get(spec.name, "-"), _how(spec)]
        for spec in registry()
    ]
    return header, rows

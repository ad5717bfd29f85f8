"""Tables of facts generated from the registry into README.md and the docs.

    python -m tools.tables            # rewrite the generated blocks in place
    python -m tools.tables --check    # exit 1, naming them, if blocks are stale

Developer tooling, not part of the installed package: run it from the checkout's
root (``nox -s lint`` runs the check). Each generated block sits between two
marker lines, which name its table and which this module alone rewrites::

    <!-- begin generated: backends -->        (Markdown)
    <!-- end generated: backends -->

    .. begin generated: backends              (reStructuredText: a comment)
    .. end generated: backends

To add a table: a function returning its header and rows, an entry in
:data:`GENERATED`, and the two markers wherever it goes (in any of
:data:`FILES`). ``tests/test_registry.py`` fails while a block is stale.

Standard library only, as :mod:`unielu._registry`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from unielu._registry import BackendSpec, registry

Rows = tuple[list[str], list[list[str]]]

#: The files that hold generated blocks, relative to the checkout's root.
FILES = ("README.md", "docs/contract.rst", "docs/adding-a-backend.rst", "docs/versions.rst")


def _types(spec: BackendSpec, code: str) -> str:
    names = []
    for path in spec.types:
        if path == "*":
            names.append(f"any array with {code}__array_namespace__{code}")
            continue
        module, _, qualname = path.partition(":")
        names.append(f"{code}{qualname if module == 'builtins' else f'{module}.{qualname}'}{code}")
    return ", ".join(names)


def _gpu(spec: BackendSpec) -> str:
    if spec.needs_gpu:
        return "CUDA only"
    return "CUDA" if spec.gpu else "not checked"


def backends_rows(code: str) -> Rows:
    """The backends table: one row per backend, in dispatch order."""
    header = [
        "backend", "array types", "out= (mutable)", "autodiff", "ULP bound",
        "subnormal results", "GPU",
    ]  # fmt: skip
    rows = [
        [
            f"{code}{spec.name}{code}",
            _types(spec, code),
            "yes" if spec.mutable else "no",
            "yes" if spec.autodiff else "no",
            str(spec.ulp),
            "may flush to 0" if spec.flush_subnormals else "kept",
            _gpu(spec),
        ]
        for spec in registry()
    ]
    return header, rows


def _attribute_docs() -> dict[str, str]:
    """Each attribute's description, from :class:`BackendSpec`'s numpydoc docstring."""
    # cleandoc: Python 3.13 dedents docstrings itself, older Pythons do not.
    doc = inspect.cleandoc(BackendSpec.__doc__ or "")
    found: dict[str, list[str]] = {}
    current = None
    for line in doc.split("Attributes\n----------\n", 1)[-1].splitlines():
        match = re.fullmatch(r"(\w+) : .*", line)
        if match:
            current = match.group(1)
            found[current] = []
        elif current and line.startswith("    "):
            found[current].append(line.strip())
    return {key: " ".join(words) for key, words in found.items()}


def spec_keys_rows(code: str) -> Rows:
    """The keys a backend's ``SPEC`` may have: what each means, and its default."""
    docs = _attribute_docs()
    rows = []
    for f in dataclasses.fields(BackendSpec):
        if f.name == "module":  # set by the registry, not by SPEC
            continue
        if f.default is dataclasses.MISSING:
            default = "required"
        elif f.name == "test_requirements":
            default = f"{code}[requirement]{code}"
        elif f.name == "test_env":
            default = f"{code}[{{}}]{code}"
        else:
            default = f"{code}{f.default!r}{code}"
        rows.append([f"{code}{f.name}{code}", default, docs.get(f.name, "")])
    return ["key", "default", "meaning"], rows


# -- Versions: what the registry cannot know -------------------------------------------

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
    "mlx": "mlx 0.32.4 (Linux CPU, mlx-cpu)",
    "paddle": "paddlepaddle 3.3.1 (CPU)",
}

#: Backends not tested at their floor, and why.
NOT_AT_FLOOR = {
    "torch": "declared; tested: 2.13 CPU only (older releases are CUDA builds of several GB)",
    "cupy": "declared; tested on a GPU machine only, at the newest release (nox -s gpu)",
}


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
    """The versions table: backend, floors, newest tested, how tested, for every
    backend of the registry."""
    header = ["Backend", "Requirement (floors)", "Newest tested", "How tested"]
    rows = [
        [spec.name, _floors(spec, code), NEWEST_TESTED.get(spec.name, "-"), _how(spec)]
        for spec in registry()
    ]
    return header, rows


def markdown(rows: Rows) -> str:
    header, body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def rst(rows: Rows) -> str:
    """A reStructuredText list-table (cells of any length, no column arithmetic)."""
    header, body = rows
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *body]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class Table:
    """A generated table: its rows, given the inline-code mark of the target format."""

    rows: Callable[[str], Rows]

    def render(self, fmt: str) -> str:
        return markdown(self.rows("`")) if fmt == "markdown" else rst(self.rows("``"))


#: Table name (as in the markers) -> the table.
GENERATED: dict[str, Table] = {
    "backends": Table(backends_rows),
    "spec-keys": Table(spec_keys_rows),
    "versions": Table(versions_rows),
}

_MARKERS = {
    "markdown": (
        r"^([ \t]*)<!-- begin generated: ([\w-]+) -->\n",
        r"^[ \t]*<!-- end generated: {} -->",
    ),
    "rst": (r"^([ \t]*)\.\. begin generated: ([\w-]+)\n", r"^[ \t]*\.\. end generated: {}"),
}


def update(text: str, fmt: str) -> str:
    """``text`` with every generated block rendered anew, at its markers' indentation."""
    begin, end = _MARKERS[fmt]
    out, pos = [], 0
    for match in re.finditer(begin, text, re.MULTILINE):
        indent, name = match.groups()
        if name not in GENERATED:
            raise LookupError(f"no generated table {name!r}; known: {sorted(GENERATED)}")
        close = re.compile(end.format(re.escape(name)), re.MULTILINE).search(text, match.end())
        if close is None:
            raise LookupError(f"generated block {name!r} has no end marker")
        block = GENERATED[name].render(fmt)
        if fmt == "rst":  # blank lines around the table: the markers are comments
            block = f"\n{block}\n"
        block = "".join(indent + line if line.strip() else line for line in block.splitlines(True))
        out += [text[pos : match.end()], block]
        pos = close.start()
    return "".join(out) + text[pos:]


def stale(root: Path) -> list[str]:
    """The files under ``root`` whose generated blocks differ from the registry's."""
    found = []
    for name in FILES:
        path = root / name
        text = path.read_text(encoding="utf-8")
        if update(text, "markdown" if path.suffix == ".md" else "rst") != text:
            found.append(name)
    return found


def write(root: Path) -> list[str]:
    """Rewrite the stale files under ``root``; returns their names."""
    names = stale(root)
    for name in names:
        path = root / name
        fmt = "markdown" if path.suffix == ".md" else "rst"
        path.write_text(update(path.read_text(encoding="utf-8"), fmt), encoding="utf-8")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.tables", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    if args.check:
        names = stale(args.root)
        for name in names:
            print(f"{name}: generated tables are stale: python -m tools.tables", file=sys.stderr)
        return 1 if names else 0
    for name in write(args.root):
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

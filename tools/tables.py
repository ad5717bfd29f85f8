"""Tables of facts generated from the registry into README.md and the docs, the
numbers prose quotes from the measured tables, and the measured tables' stamps.

    python -m tools.tables            # rewrite the generated blocks and values in place
    python -m tools.tables --check    # exit 1, naming them, if any is stale

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

A number that prose quotes from ``benchmarks/results.json`` or
``benchmarks/differences.json`` is a *value* (:func:`value`), written in place
between inline markers in Markdown::

    about <!-- value: speedup:numpy.plain:1e7 -->10<!-- end value -->x faster

and as a substitution in reStructuredText (``about |speedup:numpy.plain:1e7|x
faster``), whose definitions this module writes into the page's ``values``
block (``.. begin generated: values`` ... ``.. end generated: values``, anywhere
in the page). The names:

- ``ratio:<case>:<size>``: unielu's time over the baseline's, for a case id of
  ``unielu bench`` (float32, alpha 1; size as ``16``, ``1e3``, ``1e7``);
- ``speedup:<case>:<size>``: its inverse (how many times faster unielu is);
- ``model:<id>``: a model benchmark's ratio (``results.json``'s ``models``);
- ``ulp:<implementation>``: the largest error of a row of the differences
  table, its label in lower case with each run of other characters as ``-``
  (``ulp:tensorflow-tf-nn-elu``, ``ulp:unielu-on-jax``).

``--check`` also fails when a measured table's stamp no longer matches the
sources it measured (benchmarks/stamp.py says which sources and how to
regenerate).

Standard library only, as :mod:`unielu._registry`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from unielu._registry import BackendSpec, registry, requirement_name

Rows = tuple[list[str], list[list[str]]]

#: The files that hold generated blocks, relative to the checkout's root.
FILES = (
    "README.md", "docs/contract.rst", "docs/adding-a-backend.rst", "docs/versions.rst",
    "pyproject.toml",
)  # fmt: skip


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
            default = f"{code}[requirement, *layer_requirements]{code}"
        elif f.name == "test_env":
            default = f"{code}[{{}}]{code}"
        else:
            default = f"{code}{f.default!r}{code}"
        rows.append([f"{code}{f.name}{code}", default, docs.get(f.name, "")])
    return ["key", "default", "meaning"], rows


# -- Versions ---------------------------------------------------------------------------


def _user_floors(spec: BackendSpec, code: str) -> str:
    """What a user installs: the functions' requirement, then the layer's where it has more."""
    text = f"{code}{spec.requirement}{code}"
    if spec.layer_requirements:
        layer = ", ".join(f"{code}{r}{code}" for r in spec.layer_requirements)
        text += f"; its layer: {layer}"
    return text


def _test_floors(spec: BackendSpec, code: str) -> str:
    """The floors of what only its tests install (never a user's requirement)."""
    users = {requirement_name(r) for r in (spec.requirement, *spec.layer_requirements)}
    extra = [r for r in spec.test_requirements if ">=" in r and requirement_name(r) not in users]
    return ", ".join(f"{code}{r}{code}" for r in extra) or "-"


def _how(spec: BackendSpec, code: str) -> str:
    if spec.not_at_floor:
        return spec.not_at_floor
    python = "3.10" if spec.name == "numpy" else "3.11"

    def nox(session: str) -> str:
        return f'{code}nox -s "tests({session})"{code}'

    oldest = f"{nox(f'{spec.name}, oldest')} (Python {python})"
    if spec.layer_raises_floors():
        oldest = (
            f"{nox(f'{spec.name}, oldest')} (the functions), "
            f"{nox(f'{spec.name}-layer, oldest')} (the layer) (Python {python})"
        )
    return f"both ends: {oldest}, {nox(spec.name)}"


def versions_rows(code: str) -> Rows:
    """The versions table: backend, user floors, test-only floors, newest tested, how
    tested, for every backend of the registry."""
    header = ["Backend", "Requirement (floors)", "Tests also need", "Newest tested", "How tested"]
    rows = [
        [
            spec.name,
            _user_floors(spec, code),
            _test_floors(spec, code),
            spec.newest_tested or "-",
            _how(spec, code),
        ]
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


# -- Values: numbers quoted from the measured tables -----------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _measured(root: Path, table: str) -> dict[str, Any]:
    path = root / "benchmarks" / f"{table}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def slug(label: str) -> str:
    """A differences row's label as a value's name: ``"unielu on JAX"`` -> ``unielu-on-jax``."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def value(name: str, root: Path = ROOT) -> str:
    """The number a value's name stands for, as prose quotes it (names: the module's doc)."""
    kind, _, rest = name.partition(":")
    if kind in ("ratio", "speedup"):
        case, _, size = rest.rpartition(":")
        rows = [
            r["ratio"]
            for r in _measured(root, "results")["rows"]
            if r["case"] == case
            and r["size"] == int(float(size))
            and (r["dtype"], r["alpha"]) == ("float32", 1.0)
        ]
        if not rows:
            raise LookupError(f"value {name!r}: results.json has no row {case!r} at {size}")
        if kind == "ratio":
            return f"{rows[0]:.2f}"
        faster = 1 / rows[0]
        return f"{faster:.0f}" if faster >= 10 else f"{faster:.1f}"
    if kind == "model":
        models = _measured(root, "results").get("models") or {}
        for row in models.get("rows", []):
            if row["id"] == rest and "ratio" in row:
                return f"{row['ratio']:.2f}"
        raise LookupError(f"value {name!r}: results.json's models have no row {rest!r}")
    if kind == "ulp":
        for row in _measured(root, "differences")["rows"]:
            if slug(row["implementation"]) == rest:
                ulp = float(row["max_ulp"])
                return f"{ulp:.0f}" if ulp >= 10 else f"{ulp:.2g}"
        raise LookupError(f"value {name!r}: differences.json has no row {rest!r}")
    raise LookupError(f"value {name!r}: the kinds are ratio, speedup, model and ulp")


_MD_VALUE = re.compile(r"(<!-- value: ([\w.:-]+) -->)(.*?)(<!-- end value -->)")
_RST_VALUE = re.compile(r"\|((?:ratio|speedup|model|ulp):[\w.:-]+)\|")


def values_block(text: str, root: Path = ROOT) -> str:
    """The ``values`` block of an rst page: a substitution for each value it uses."""
    names = sorted(set(_RST_VALUE.findall(text)))
    return "".join(f".. |{name}| replace:: {value(name, root)}\n" for name in names)


def update_values(text: str, fmt: str, root: Path = ROOT) -> str:
    """``text`` with its Markdown values written anew (rst: its ``values`` block does it)."""
    if fmt != "markdown":
        return text
    return _MD_VALUE.sub(lambda m: m[1] + value(m[2], root) + m[4], text)


# -- mypy: the frameworks typed as Any (pyproject.toml) -----------------------------------

#: Untyped or optional modules the package imports that are not a backend's framework.
MYPY_OTHERS = ("array_api_strict", "matplotlib", "ml_dtypes", "tqdm", "onnx", "onnxscript")


def mypy_modules() -> str:
    """pyproject.toml's list of modules mypy types as Any: every backend's framework and
    its layer's, from the registry, and :data:`MYPY_OTHERS`."""
    tops = {spec.framework.split(".")[0] for spec in registry()} - {"numpy", "array_api_compat"}
    for spec in registry():
        tops |= {requirement_name(r).replace("-", "_") for r in spec.layer_requirements}
    names = [n for top in sorted(tops | set(MYPY_OTHERS)) for n in (top, f"{top}.*")]
    lines, line = [], ""
    for name in names:
        item = f'"{name}",'
        if line and len(line) + len(item) > 94:
            lines.append(line)
            line = ""
        line += (" " if line else "") + item
    return "\n".join([*lines, line]) + "\n"


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
    "toml": (r"^([ \t]*)# begin generated: ([\w-]+)\n", r"^[ \t]*# end generated: {}"),
}


def _format(path: Path) -> str:
    return {".md": "markdown", ".toml": "toml"}.get(path.suffix, "rst")


def update(text: str, fmt: str, root: Path = ROOT) -> str:
    """``text`` with every generated block and value rendered anew, each block at its
    markers' indentation."""
    begin, end = _MARKERS[fmt]
    out, pos = [], 0
    for match in re.finditer(begin, text, re.MULTILINE):
        indent, name = match.groups()
        if name not in GENERATED and name not in ("values", "mypy-modules"):
            raise LookupError(f"no generated table {name!r}; known: {sorted(GENERATED)}")
        close = re.compile(end.format(re.escape(name)), re.MULTILINE).search(text, match.end())
        if close is None:
            raise LookupError(f"generated block {name!r} has no end marker")
        if name == "values":
            block = values_block(text, root)
        elif name == "mypy-modules":
            block = mypy_modules()
        else:
            block = GENERATED[name].render(fmt)
        if fmt == "rst":  # blank lines around the table: the markers are comments
            block = f"\n{block}\n"
        block = "".join(indent + line if line.strip() else line for line in block.splitlines(True))
        out += [text[pos : match.end()], block]
        pos = close.start()
    return update_values("".join(out) + text[pos:], fmt, root)


def _files(root: Path) -> list[str]:
    """:data:`FILES`, and every other page of the docs that quotes a value."""
    found = list(FILES)
    for path in sorted((root / "docs").rglob("*.rst")):
        name = path.relative_to(root).as_posix()
        if name not in found and "_build" not in path.parts and "_generated" not in path.parts:
            if ".. begin generated: values" in path.read_text(encoding="utf-8"):
                found.append(name)
    return found


def stale(root: Path) -> list[str]:
    """The files under ``root`` whose generated blocks or values differ from the
    registry's and the measured tables'."""
    found = []
    for name in _files(root):
        path = root / name
        text = path.read_text(encoding="utf-8")
        if update(text, _format(path), root) != text:
            found.append(name)
    return found


def write(root: Path) -> list[str]:
    """Rewrite the stale files under ``root``; returns their names."""
    names = stale(root)
    for name in names:
        path = root / name
        text = update(path.read_text(encoding="utf-8"), _format(path), root)
        path.write_text(text, encoding="utf-8")
    return names


def _stamp_module(root: Path) -> Any:
    """benchmarks/stamp.py (the benchmarks' folder is not a package)."""
    spec = importlib.util.spec_from_file_location("_unielu_stamp", root / "benchmarks" / "stamp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stale_measurements(root: Path) -> list[str]:
    """Why each measured table no longer matches the sources it measured (empty if none)."""
    stamp = _stamp_module(root)
    return [
        problem
        for table in stamp.SOURCES
        for problem in stamp.problems(table, _measured(root, table), root)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.tables", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    if args.check:
        names = stale(args.root)
        for name in names:
            print(f"{name}: generated tables are stale: python -m tools.tables", file=sys.stderr)
        measured = stale_measurements(args.root)
        for problem in measured:
            print(problem, file=sys.stderr)
        return 1 if names or measured else 0
    for name in write(args.root):
        print(f"rewrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

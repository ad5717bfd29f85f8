"""The stamp of a measured table: what was measured, where, when, and from which sources.

``benchmarks/results.json`` (``nox -s bench``) and ``benchmarks/differences.json``
(``python benchmarks/differences.py``) each carry a ``"stamp"``::

    {"commit": ..., "modified": [...], "date": ..., "machine": {...},
     "sources": {"rule": ..., "digest": ..., "files": {path: digest}}}

``python -m tools.tables --check`` (run by ``nox -s lint``) recomputes the
digest of the sources each table depends on and fails, naming the files that
changed and the command that regenerates the table, when it differs.

The rule: a table depends on the code that computes its numbers, never on the
docs or on the JSON files themselves. :data:`SOURCES` lists the files, by glob,
for each table. Each file is digested without what cannot change a number:

- Python: comments, docstrings, and formatting (whitespace, line breaks, a
  trailing comma before a closing bracket); a backend module's ``SPEC = {...}``
  block (the registry's facts, not its code);
- C: comments and whitespace.

Standard library only: the lint session checks stamps without NumPy.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import io
import re
import subprocess
import tokenize
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The package's code that computes every number (the command line, which only
#: reports and plots, is left out).
_PACKAGE = ["unielu/*.py", "unielu/backends/*.py", "unielu/*.c", "unielu/*.h"]
_NOT_MEASURED = {"unielu/cli.py", "unielu/__main__.py"}
#: The test adapters (each framework's own ELU, its arrays, its bench cases).
_ADAPTERS = ["tests/adapter.py", "tests/adapters/*.py", "benchmarks/testkit.py"]

#: Table (its JSON file in benchmarks/) -> the files its numbers depend on.
SOURCES: dict[str, list[str]] = {
    "differences": [*_PACKAGE, *_ADAPTERS, "tests/reference.py", "benchmarks/differences.py"],
    # (less unielu/bench.py: timing code, not in differences.json's numbers)
    "results": [
        *_PACKAGE, "unielu/layers/*.py", *_ADAPTERS, "benchmarks/run.py",
        "benchmarks/models.py",
    ],
}  # fmt: skip

#: How to regenerate each table (from the checkout's root).
COMMANDS = {
    "differences": "python benchmarks/differences.py (in an environment with every CPU "
    "framework: nox -s bench's, or nox -s bench, which also runs it)",
    "results": "nox -s bench (on a quiet machine: it measures speed)",
}

#: The rule in words, as the stamp records it.
RULE = (
    "sha256 of each file of SOURCES without comments, docstrings, formatting and "
    "backend SPEC blocks (benchmarks/stamp.py)"
)


def files(table: str, root: Path = ROOT) -> list[str]:
    """The source files of ``table``, relative to ``root``, sorted."""
    found = {
        p.relative_to(root).as_posix()
        for pattern in SOURCES[table]
        for p in root.glob(pattern)
        if p.is_file()
    }
    if table == "differences":
        found.discard("unielu/bench.py")
    return sorted(found - _NOT_MEASURED)


def _squeeze(text: str) -> str:
    """Whitespace runs as one space; none beside brackets, commas and colons; no
    trailing comma before a closing bracket (what a formatter changes)."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([()\[\]{},:;])\s*", r"\1", text)
    return re.sub(r",([)\]}])", r"\1", text).strip()


def _python_code(text: str, backend: bool) -> str:
    if backend:  # the SPEC block, as the registry delimits it
        start = text.find("\nSPEC = {")
        end = text.find("\n}", start)
        if start >= 0 and end >= 0:
            text = text[:start] + "\n" + text[text.find("\n", end + 2) + 1 :]
    lines = text.splitlines(keepends=True)
    drop: list[tuple[int, int, int, int]] = []  # (row, col, end row, end col), characters
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
                and first.end_col_offset is not None
            ):
                # ast's columns count UTF-8 bytes; tokenize's and ours, characters.
                start_line, end_line = lines[first.lineno - 1], lines[first.end_lineno - 1]
                col = len(start_line.encode()[: first.col_offset].decode())
                end_col = len(end_line.encode()[: first.end_col_offset].decode())
                drop.append((first.lineno, col, first.end_lineno, end_col))
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            drop.append((*token.start, *token.end))
    for row, col, end_row, end_col in sorted(drop, reverse=True):
        head = lines[row - 1][:col]
        tail = lines[end_row - 1][end_col:]
        lines[row - 1 : end_row] = [head + tail]
    return _squeeze("".join(lines))


def _c_code(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return _squeeze(re.sub(r"//[^\n]*", " ", text))


def file_digest(path: Path, relative: str) -> str:
    """The digest of one source file's code (12 hex digits)."""
    text = path.read_text(encoding="utf-8")
    if relative.endswith(".py"):
        code = _python_code(text, relative.startswith("unielu/backends/"))
    else:
        code = _c_code(text)
    return hashlib.sha256(code.encode()).hexdigest()[:12]


def sources(table: str, root: Path = ROOT) -> dict[str, Any]:
    """The stamp's ``sources``: the rule, each file's digest, and the digest of all."""
    digests = {name: file_digest(root / name, name) for name in files(table, root)}
    whole = hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in digests.items()).encode())
    return {"rule": RULE, "digest": whole.hexdigest()[:16], "files": digests}


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def make(table: str, machine: dict[str, Any]) -> dict[str, Any]:
    """The stamp for ``table`` measured now on ``machine`` (CPU, SIMD level, ...)."""
    found = sources(table)
    modified = _git("status", "--porcelain", "--", *found["files"])
    return {
        "commit": _git("rev-parse", "HEAD") or "unknown",
        # measured sources with changes not yet committed at the time
        "modified": [line[3:] for line in modified.splitlines()],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine,
        "sources": found,
    }


def problems(table: str, data: dict[str, Any], root: Path = ROOT) -> list[str]:
    """Why ``table``'s JSON no longer matches the sources (empty if it does)."""
    where = f"benchmarks/{table}.json"
    fix = f"regenerate it: {COMMANDS[table]}"
    stamp = data.get("stamp")
    if not isinstance(stamp, dict) or "sources" not in stamp:
        return [f"{where} has no stamp of the sources it measured: {fix}"]
    now = sources(table, root)
    if stamp["sources"].get("digest") == now["digest"]:
        return []
    then: dict[str, str] = stamp["sources"].get("files", {})
    changed = [name for name, d in now["files"].items() if name in then and then[name] != d]
    added = [name for name in now["files"] if name not in then]
    removed = [name for name in then if name not in now["files"]]
    parts = [
        f"{label}: {', '.join(names)}"
        for label, names in (("changed", changed), ("new", added), ("gone", removed))
        if names
    ] or ["the digest rule changed"]
    return [
        f"{where} is stale: its sources changed since it was measured at "
        f"{stamp.get('commit', '?')[:10]} ({'; '.join(parts)}); {fix}"
    ]


def refresh_prose() -> None:
    """Rewrite the numbers README.md and the docs quote from the tables (python -m
    tools.tables), after a table is written."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("_unielu_tables", ROOT / "tools" / "tables.py")
    assert spec is not None and spec.loader is not None
    tables = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tables  # dataclasses looks its module up there
    spec.loader.exec_module(tables)
    for name in tables.write(ROOT):
        print(f"rewrote {name}")

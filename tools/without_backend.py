"""The project without one backend's own files, and the diff that adds them back.

    python tools/without_backend.py NAME DEST

A backend is its own files (:func:`own_files`): its module, its layer, its test
adapter, its tests and its docs page. This exports the tracked files of HEAD to
DEST (an empty or new folder), deletes the backend's own files there, rewrites
the generated blocks from DEST's registry (``python -m tools.tables`` in DEST,
which no longer finds the backend), and prints

* what differs between DEST and HEAD, as ``git diff --stat`` from DEST to HEAD
  (the diff that adds the backend: its own files and the regenerated blocks),
  then that diff for the files that are not the backend's own;
* the references to the backend left in DEST's shared files
  (:func:`references`): there should be none.

DEST is then a project to build and test as it is (its docs, its
framework-free tests, its lint). Its measured tables (``benchmarks/*.json``)
still hold the backend's rows and a digest of its sources: ``python -m
tools.tables --check`` calls them stale until ``nox -s bench`` measures again.

Exits 1 where references remain. Standard library only (run it with an
interpreter that has NumPy, which ``tools.tables`` imports through unielu);
``tests/test_backend_files.py`` uses :func:`own_files` and :func:`references`.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Files that may name any backend: history, and measured output (``nox -s bench``).
ALLOWED = re.compile(r"CHANGELOG\.md|benchmarks/[^/]+\.json")

_GENERATED = re.compile(
    r"^[ \t]*(?:<!--|\.\.|#) begin generated: ([\w-]+).*?"
    r"^[ \t]*(?:<!--|\.\.|#) end generated: \1\b[^\n]*",
    re.MULTILINE | re.DOTALL,
)
#: Folders that hold no source: build outputs, caches, environments.
_SKIP = {"__pycache__", "_build", "_generated", "build", "dist"}


def own_files(name: str, root: Path = ROOT) -> list[str]:
    """The backend's own files under ``root`` that exist, relative to it."""
    names = [
        f"unielu/backends/{name}.py",
        f"unielu/layers/{name}.py",
        f"tests/adapters/{name}.py",
        f"tests/test_{name}.py",
        f"docs/backends/{name}.rst",
    ]
    found = [n for n in names if (root / n).is_file()]
    found += sorted(p.relative_to(root).as_posix() for p in root.glob(f"tests/test_{name}_*.py"))
    return found


def reference_pattern(name: str) -> re.Pattern[str]:
    """What refers to a backend's own files: ``unielu.layers.<name>`` and
    ``unielu.backends.<name>`` (autodoc entries, roles, imports),
    ``backends/<name>`` and ``adapters/<name>`` (``:doc:`` roles, toctree
    entries, paths), ``--backend=<name>`` and ``tests(<name>`` (test runs),
    ``tests/test_<name>.py`` and ``tests/test_<name>_*.py`` (its tests, by
    file)."""
    n = re.escape(name)
    return re.compile(
        rf"unielu\.(?:layers|backends)\.{n}\b|(?:backends|adapters)/{n}\b"
        rf"|--backend[= ]{n}\b|tests\({n}\b|tests/test_{n}(?:\.py|_\w+\.py)"
    )


def text_files(root: Path) -> Iterator[str]:
    """The text files under ``root`` (relative), outside hidden folders (``.ci``
    excepted), caches and build outputs."""
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if (d == ".ci" or not d.startswith("."))
            and d not in _SKIP
            and not d.endswith(".egg-info")
            and f"{rel}/{d}" != "benchmarks/results"
        )
        for file in sorted(files):
            path = Path(folder, file)
            try:
                path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            yield path.relative_to(root).as_posix()


def strip_generated(text: str) -> str:
    """``text`` with its generated blocks blanked (their lines kept, empty)."""
    return _GENERATED.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def references(name: str, root: Path = ROOT) -> list[str]:
    """``path:line: match`` for each reference to the backend ``name``'s own files
    in the shared files under ``root``: every text file but the backend's own
    and :data:`ALLOWED`, generated blocks left out."""
    own = set(own_files(name, root))
    pattern = reference_pattern(name)
    found = []
    for rel in text_files(root):
        if rel in own or ALLOWED.fullmatch(rel):
            continue
        text = strip_generated((root / rel).read_text(encoding="utf-8"))
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{rel}:{line}: {match.group(0)}")
    return found


def _git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def export_head(dest: Path) -> None:
    """HEAD's tracked files into ``dest`` (``git archive HEAD``)."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # Python before 3.11.4
            archive.extractall(dest)


def diff_to_head(dest: Path, own: Sequence[str]) -> str:
    """``git diff --stat`` from ``dest`` to HEAD, then the diff of the files that
    are not in ``own``, computed in a throwaway repository (``dest`` is left as it
    is) that borrows HEAD's objects."""
    objects = Path(_git("rev-parse", "--git-common-dir", cwd=ROOT).strip())
    objects = (ROOT / objects).resolve() / "objects"
    tree = _git("rev-parse", "HEAD^{tree}", cwd=ROOT).strip()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_DIR": tmp, "GIT_WORK_TREE": str(dest)}
        _git("init", "-q", "--bare", tmp, cwd=dest)
        (Path(tmp) / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        _git("add", "-A", cwd=dest, env=env)
        without = _git("write-tree", cwd=dest, env=env).strip()
        args = ["diff", "--no-color", "--no-renames", without, tree]
        stat = _git(*args, "--stat=100", cwd=dest, env=env)
        shared = _git(*args, "--", ".", *(f":!{f}" for f in own), cwd=dest, env=env)
    return stat + ("\n" + shared if shared else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/without_backend.py", description=__doc__)
    parser.add_argument("name", help="the backend, as in unielu/backends/<name>.py")
    parser.add_argument("dest", type=Path, help="an empty or new folder")
    args = parser.parse_args(argv)
    dest = args.dest.resolve()
    if dest.exists() and any(dest.iterdir()):
        parser.error(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    export_head(dest)
    own = own_files(args.name, dest)
    if f"unielu/backends/{args.name}.py" not in own:
        parser.error(f"HEAD has no backend {args.name!r} (unielu/backends/{args.name}.py)")
    for rel in own:
        (dest / rel).unlink()
    print(f"removed from {dest}: {', '.join(own)}", flush=True)
    subprocess.run([sys.executable, "-m", "tools.tables"], cwd=dest, check=True)
    print(f"\n-- git diff --stat from {dest} to HEAD (the diff that adds {args.name}):\n")
    print(diff_to_head(dest, own))
    left = references(args.name, dest)
    print(f"-- references to {args.name}'s own files left in the shared files: {len(left)}")
    for line in left:
        print(f"   {line}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())

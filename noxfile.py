"""Sessions: ``nox`` runs the default ones, ``nox -l`` lists all.

The test sessions come from unielu's registry of backends (one per backend,
``nox -s "tests(torch)"``): each installs its framework and runs the
conformance matrix with ``--backend NAME``; if the framework cannot be
imported the run fails.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Any

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]

MAIN = "3.11"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _available_pythons() -> list[str]:
    """The interpreters of PYTHONS this machine has (pyenv or PATH)."""
    found = []
    for version in PYTHONS:
        if shutil.which(f"python{version}"):
            found.append(version)
            continue
        try:
            subprocess.run(["pyenv", "prefix", version], capture_output=True, check=True)
            found.append(version)
        except (OSError, subprocess.CalledProcessError):
            pass
    return found or [MAIN]


def _pyenv_path() -> None:
    # Put every pyenv interpreter on PATH so that nox finds python3.X.
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return
    bins = sorted(glob.glob(os.path.join(out.stdout.strip(), "versions", "3.*", "bin")))
    os.environ["PATH"] = os.pathsep.join([*bins, os.environ.get("PATH", "")])


_pyenv_path()


def _load_registry() -> Any:
    """unielu's registry of backends, read without importing unielu (or NumPy)."""
    path = os.path.join(os.path.dirname(__file__), "unielu", "_registry.py")
    spec = importlib.util.spec_from_file_location("_unielu_registry", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module


REGISTRY = _load_registry().registry()


def _requirement(requirement: str) -> list[str]:
    """pip arguments for a requirement: a local CPU build where this machine has one.

    A plain ``torch`` on a machine without a GPU pulls a CUDA build of several
    GB; a ``NAME-*+cpu`` wheel in pip's find-links is pinned instead, so that
    pip takes it. ``UNIELU_TORCH`` (pip arguments) overrides torch's.
    """
    name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0]
    override = os.environ.get(f"UNIELU_{name.upper().replace('-', '_')}")
    if override:
        return shlex.split(override)
    links = os.environ.get("PIP_FIND_LINKS", "")
    try:
        config = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
        ).stdout
        links += " " + " ".join(re.findall(r"find-links='([^']*)'", config))
    except OSError:
        pass
    tag = "cp" + MAIN.replace(".", "")  # the sessions' interpreter
    for folder in links.split():
        for wheel in sorted(glob.glob(os.path.join(folder, f"{name}-*+cpu-{tag}-*.whl"))):
            return [f"{name}=={os.path.basename(wheel).split('-')[1]}"]
    return [requirement]


def _cuda_device() -> bool:
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    except OSError:
        return False


def _test_params() -> list[Any]:
    # NumPy (with the framework-free tests) on every Python; the others on MAIN.
    params = []
    for backend in REGISTRY:
        pythons = _available_pythons() if backend.name == "numpy" else [MAIN]
        for python in pythons:
            label = backend.name if python == MAIN else f"{backend.name}-{python}"
            params.append(nox.param(python, backend.name, id=label))
    return params


@nox.session
@nox.parametrize("python,backend", _test_params())
def tests(session: nox.Session, backend: str) -> None:
    """The conformance matrix on one backend, in an environment with its framework.

    ``nox -s "tests(torch)"`` runs one; NumPy's sessions also run the
    framework-free tests (dispatch, command line, doctests) on every Python.
    """
    spec = next(b for b in REGISTRY if b.name == backend)
    if spec.needs_gpu and not _cuda_device():
        session.skip(
            f"no CUDA device on this machine (nvidia-smi finds none): {backend} cannot run"
        )
    if spec.test_requirement:
        session.install(*_requirement(spec.test_requirement))
    session.install("-e", ".[test,plot]")
    extra = ["--doctest-modules", "unielu/__init__.py"] if backend == "numpy" else []
    tests = "tests" if backend == "numpy" else "tests/test_conformance.py"
    for env in spec.test_env:
        session.run(
            "python", "-m", "pytest", tests, f"--backend={backend}", "-p", "no:cacheprovider",
            *extra, *session.posargs, env=env,
        )  # fmt: skip


@nox.session(python=False)
def gpu(session: nox.Session) -> None:
    """The GPU check, offline, with the Python already on the GPU machine.

    Runs the matrix on CuPy, PyTorch CUDA and JAX GPU, then the bandwidth
    figure. Needs pytest, hypothesis, mpmath and ml_dtypes there; nothing is
    installed.
    """
    session.run("python", "benchmarks/gpu_check.py", *session.posargs)


@nox.session(python=MAIN)
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=MAIN)
def typecheck(session: nox.Session) -> None:
    """mypy, strict, on the package."""
    session.install("-e", ".", "mypy")
    session.run("mypy")


@nox.session(python=MAIN)
def docs(session: nox.Session) -> None:
    """Build the documentation; any Sphinx warning fails the build."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html",
        *session.posargs,
    )  # fmt: skip


@nox.session(python=MAIN)
def bench(session: nox.Session) -> None:
    """The benchmark suite: prints the table, writes benchmarks/results.json and
    benchmarks/differences.json (which the docs render). About 5 minutes."""
    for spec in REGISTRY:  # each framework, one at a time so that local CPU builds are taken
        if not spec.needs_gpu and spec.test_requirement:
            session.install(*_requirement(spec.test_requirement))
    session.install("-e", ".[test,bench]")
    session.run("python", "benchmarks/run.py", env={"TF_CPP_MIN_LOG_LEVEL": "2"})

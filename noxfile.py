"""Test sessions, one per backend: ``nox`` runs them all, ``nox -s torch`` one.

Each backend session installs its framework and runs the conformance matrix
with ``--backend NAME``; if the framework cannot be imported the run fails.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [
    "numpy", "torch", "tensorflow", "jax", "dask", "array_api", "cupy", "lint", "typecheck",
    "docs",
]  # fmt: skip

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


def _conformance(session: nox.Session, backend: str, *extra: str) -> None:
    # The framework-free tests (dispatch, command line, doctests) run in the
    # numpy sessions; the others run the conformance matrix alone.
    tests = "tests" if backend == "numpy" else "tests/test_conformance.py"
    session.run(
        "python", "-m", "pytest", tests, f"--backend={backend}", "-p", "no:cacheprovider",
        *extra, *session.posargs,
    )  # fmt: skip


def _torch_requirement() -> list[str]:
    """``UNIELU_TORCH`` if set (pip arguments), else the CPU build this machine offers.

    pip on a machine without a GPU would otherwise pull a CUDA build of several
    GB for a plain ``torch``. A local CPU wheel (in pip's find-links) is pinned
    so that pip takes it.
    """
    if os.environ.get("UNIELU_TORCH"):
        return shlex.split(os.environ["UNIELU_TORCH"])
    links = os.environ.get("PIP_FIND_LINKS", "")
    try:
        config = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
        ).stdout
        links += " " + " ".join(re.findall(r"find-links='([^']*)'", config))
    except OSError:
        pass
    tag = "cp" + MAIN.replace(".", "")  # the torch session's interpreter
    for folder in links.split():
        for wheel in sorted(glob.glob(os.path.join(folder, f"torch-*+cpu-{tag}-*.whl"))):
            return [f"torch=={os.path.basename(wheel).split('-')[1]}"]
    return ["torch"]


@nox.session(python=_available_pythons())
def numpy(session: nox.Session) -> None:
    """NumPy backend (and dispatch, doctests) on every Python the machine has."""
    session.install("-e", ".[test,plot]")
    _conformance(session, "numpy", "--doctest-modules", "unielu/__init__.py")


@nox.session(python=MAIN)
def torch(session: nox.Session) -> None:
    """PyTorch backend: CPU tensors, the meta device, autograd, torch.func, torch.compile."""
    session.install(*_torch_requirement())
    session.install("-e", ".[test]")
    _conformance(session, "torch")


@nox.session(python=MAIN)
def tensorflow(session: nox.Session) -> None:
    """TensorFlow backend: eager, tf.function, XLA, two logical CPUs for placement."""
    session.install("-e", ".[test]", "tensorflow-cpu")
    _conformance(session, "tensorflow")


@nox.session(python=MAIN)
def jax(session: nox.Session) -> None:
    """JAX backend, with x64 off and on (ints promote to float32, then float64)."""
    session.install("-e", ".[test,jax]")
    _conformance(session, "jax")
    session.env["JAX_ENABLE_X64"] = "1"
    _conformance(session, "jax")


@nox.session(python=MAIN)
def dask(session: nox.Session) -> None:
    """Dask backend: lazy, same chunks."""
    session.install("-e", ".[test,dask]")
    _conformance(session, "dask")


@nox.session(python=MAIN)
def array_api(session: nox.Session) -> None:
    """The generic Array API path, on array-api-strict."""
    session.install("-e", ".[test]")
    _conformance(session, "array_api")


def _cuda_device() -> bool:
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    except OSError:
        return False


@nox.session(python=MAIN)
def cupy(session: nox.Session) -> None:
    """CuPy backend (needs a CUDA GPU; ``UNIELU_CUPY`` names the wheel, default cupy-cuda12x)."""
    if not _cuda_device():
        session.skip("no CUDA device on this machine (nvidia-smi finds none): CuPy cannot run")
    session.install("-e", ".[test]", *shlex.split(os.environ.get("UNIELU_CUPY", "cupy-cuda12x")))
    _conformance(session, "cupy", "--device=cuda")


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
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=MAIN)
def typecheck(session: nox.Session) -> None:
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
    session.install(*_torch_requirement())
    session.install("-e", ".[test,jax,bench]", "tensorflow-cpu")
    session.run("python", "benchmarks/run.py", env={"TF_CPP_MIN_LOG_LEVEL": "2"})

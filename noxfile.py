"""Sessions: ``nox`` runs the default ones, ``nox -l`` lists all.

The test sessions come from unielu's registry of backends (one per backend,
``nox -s "tests(torch)"``): each installs its framework and runs the
conformance matrix with ``--backend NAME``; if the framework cannot be
imported the run fails. Each pytest run is spread over one pytest-xdist worker
per core; what keeps the default run's time down is said at XDIST below and in
docs/adding-a-backend.rst ("CI time").
"""

from __future__ import annotations

import atexit
import functools
import glob
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from typing import Any
from xml.etree import ElementTree

import nox

nox.needs_version = ">=2024.4"  # the floor in pyproject.toml's dev extra
# uv where it is installed (the dev extra has it): it installs a framework from its
# cache in seconds, where pip takes minutes per environment.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = False

ROOT = os.path.dirname(os.path.abspath(__file__))
MAIN = "3.11"
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# -- This machine ---------------------------------------------------------------------
# All the probing of the machine is here, and only what the sessions need:
# - pyenv's interpreters go on PATH, so that nox finds python3.X wherever pyenv
#   installed it; the NumPy sessions run on those of PYTHONS found (MAIN if none);
# - a local CPU build of a framework (a NAME-*+cpu wheel in pip's find-links, from
#   PIP_FIND_LINKS or pip's config) is pinned where the index would give a CUDA build
#   of several GB, as a plain torch does on a machine without a GPU;
# - CuPy's session runs only where nvidia-smi finds a CUDA device.


def _pyenv_bins() -> list[str]:
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(glob.glob(os.path.join(out.stdout.strip(), "versions", "3.*", "bin")))


os.environ["PATH"] = os.pathsep.join([*_pyenv_bins(), os.environ.get("PATH", "")])
PYTHONS_HERE = [version for version in PYTHONS if shutil.which(f"python{version}")] or [MAIN]


@functools.cache
def _find_links() -> tuple[str, ...]:
    """The folders pip takes wheels from: PIP_FIND_LINKS and find-links in pip's config."""
    try:
        config = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
        ).stdout
    except OSError:
        config = ""
    links = [os.environ.get("PIP_FIND_LINKS", ""), *re.findall(r"find-links='([^']*)'", config)]
    return tuple(" ".join(links).split())


def _requirement(requirement: str) -> list[str]:
    """Installer arguments for a requirement: a local CPU build where this machine has one.

    A ``NAME-*+cpu`` wheel for the sessions' Python in pip's find-links is pinned,
    its folder named, so that pip or uv (which reads no pip configuration) takes
    it. ``UNIELU_<NAME>`` (installer arguments) overrides one, e.g. ``UNIELU_TORCH``
    torch's and ``UNIELU_CUPY`` that of cupy-cuda12x.
    """
    name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0]
    # UNIELU_TORCH, UNIELU_CUPY (for cupy-cuda12x), UNIELU_TENSORFLOW (tensorflow-cpu) ...
    override = os.environ.get(f"UNIELU_{name.split('-')[0].upper()}")
    if override:
        return shlex.split(override)
    tag = "cp" + MAIN.replace(".", "")  # the sessions' interpreter
    for folder in _find_links():
        for wheel in sorted(glob.glob(os.path.join(folder, f"{name}-*+cpu-{tag}-*.whl"))):
            return ["--find-links", folder, f"{name}=={os.path.basename(wheel).split('-')[1]}"]
    return [requirement]


def _cuda_device() -> bool:
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
    except OSError:
        return False


# -- Failures, last -------------------------------------------------------------------
# A CI log is often read from its tail, far below a failing session's pytest summary:
# each test run writes a JUnit report, and the failures of this run are printed again
# when nox exits, with the end of each traceback.
_REPORTS: list[tuple[str, str]] = []


def _junit(session: nox.Session, run: int | str) -> list[str]:
    path = os.path.join(session.create_tmp(), f"junit-{run}.xml")
    if os.path.exists(path):
        os.remove(path)
    _REPORTS.append((session.name, path))
    return [f"--junitxml={path}"]


@atexit.register
def _print_failures() -> None:
    lines: list[str] = []
    shown: set[str] = set()  # a module fixture's error is every test's: its text once
    for name, path in _REPORTS:
        if not os.path.exists(path):
            continue
        for case in ElementTree.parse(path).iter("testcase"):
            for found in [*case.iter("failure"), *case.iter("error")]:
                test = f"{case.get('classname')}::{case.get('name')}"
                lines.append(f"{name}: {found.tag} in {test}: {found.get('message', '')[:500]}")
                text = found.text or ""
                if text not in shown:
                    shown.add(text)
                    lines += ["    " + line for line in text.splitlines()[-25:]]
    if lines:
        print("nox > the failed tests of this run, again:", *lines, sep="\n", flush=True)


# -- The registry of backends -------------------------------------------------------------


def _load_registry() -> Any:
    """unielu's registry of backends, read without importing unielu (or NumPy)."""
    path = os.path.join(ROOT, "unielu", "_registry.py")
    spec = importlib.util.spec_from_file_location("_unielu_registry", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module


_REGISTRY_MODULE = _load_registry()
REGISTRY = _REGISTRY_MODULE.registry()


def _floors(requirements: list[str]) -> list[str]:
    """Each requirement pinned at its floor: ``jax>=0.4.35`` gives ``jax==0.4.35``,
    ``dask[array]>=2024.1.1`` ``dask[array]==2024.1.1`` (extras kept).

    One without a floor is left as it is.
    """
    pins = []
    for requirement in requirements:
        found = _REGISTRY_MODULE.requirement_floor(requirement)
        if not found:
            pins.append(requirement)
            continue
        extras = re.search(r"\[[^\]]*\]", requirement)
        pins.append(f"{found[0]}{extras[0] if extras else ''}=={found[1]}")
    return pins


def _dependencies() -> list[str]:
    """unielu's own dependencies, from pyproject.toml (no tomllib in Python 3.10)."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as file:
        found = re.search(r"^dependencies = \[(.*?)\]", file.read(), re.MULTILINE | re.DOTALL)
    assert found, "pyproject.toml has no dependencies = [...]"
    return re.findall(r'"([^"]+)"', found.group(1))


def _install_backends(
    session: nox.Session, specs: list[Any], oldest: bool = False, layer: bool = False
) -> list[str]:
    """Installs the backends' test requirements (their SPEC's) and returns the pip
    arguments that hold them for what is installed next.

    One pip call per requirement, through :func:`_requirement`, so that a local
    CPU build is taken. ``oldest`` installs the floors instead (each ``>=`` bound,
    and for NumPy those of unielu's own dependencies), held as pip constraints,
    in one pip call: the resolver then keeps the floors' own pins (TensorFlow
    2.16's numpy<2 and protobuf<5) where a later call would upgrade them for the
    newest release of another requirement (onnx, through tf2onnx).
    """
    requirements = [
        r
        for spec in specs
        for r in (spec.oldest_requirements(layer) if oldest else spec.test_requirements)
    ]
    constraints: list[str] = []
    if oldest:
        numpy = any(spec.name == "numpy" for spec in specs)
        requirements = _floors([*(_dependencies() if numpy else []), *requirements])
        path = os.path.join(session.create_tmp(), "floors.txt")
        # Constraints take no extras; a local CPU build (torch 2.13.0) stands in for its floor.
        pinned = [r for r in requirements if "==" in r and _requirement(r) == [r]]
        with open(path, "w") as file:
            file.writelines(re.sub(r"\[[^\]]*\]", "", r) + "\n" for r in pinned)
        constraints = ["--constraint", path]
        session.install(*constraints, *(a for r in requirements for a in _requirement(r)))
        return constraints
    for requirement in requirements:
        session.install(*constraints, *_requirement(requirement))
    return constraints


def _test_params() -> list[Any]:
    # NumPy (with the framework-free tests) on every Python; the others on MAIN.
    # Then each backend at its floors, "tests(jax, oldest)": NumPy's on the
    # oldest Python (NumPy 1.24 has no wheels for 3.12 and newer).
    params = []
    for backend in REGISTRY:
        for python in PYTHONS_HERE if backend.name == "numpy" else [MAIN]:
            label = backend.name if python == MAIN else f"{backend.name}-{python}"
            params.append(nox.param(python, backend.name, False, id=label))
    for backend in REGISTRY:
        python = PYTHONS[0] if backend.name == "numpy" else MAIN
        (floor,) = _floors([backend.requirement])
        if _requirement(floor) == [floor]:  # not where a local CPU build stands in (torch)
            params.append(nox.param(python, backend.name, True, id=f"{backend.name}, oldest"))
            if backend.layer_raises_floors():  # the layer's floors, apart from the functions'
                layer = f"{backend.name}-layer"
                params.append(nox.param(python, layer, True, id=f"{layer}, oldest"))
    return params


TEST_PARAMS = _test_params()
#: The Pythons of the default run: the oldest, the main and the newest supported.
#: A Python between them is run by name (``nox -s "tests(numpy-3.12)"``): a fault
#: of its own would be new in it and gone by the next.
DEFAULT_PYTHONS = {PYTHONS[0], MAIN, PYTHONS[-1]}
#: The default run: the newest releases. The oldest sessions are run by name
#: (``nox -s "tests(jax, oldest)"``, or all with ``nox -k oldest``).
nox.options.sessions = [
    *(f"tests({p.id})" for p in TEST_PARAMS if not p.args[2] and p.args[0] in DEFAULT_PYTHONS),
    *("package", "lint", "typecheck", "docs"),
]


# -- CI time ---------------------------------------------------------------------------
# The default run has a budget of 30 minutes on 2 cores (docs/adding-a-backend.rst,
# "CI time"), every test in it:
# - each pytest run is spread over one worker per core by pytest-xdist (``-- -n 0``,
#   the posargs come last, runs it in one process); the distributed tests, which
#   start engines of several processes under a time limit, run after it, alone;
# - a test without the backend fixture runs in the sessions of the backends its
#   ``only`` marker names (tests/conftest.py): the NumPy kernel's tests run in the
#   NumPy sessions, not in every session again;
# - a check marked once (the repository's files, the test harness) runs in the NumPy
#   session of the main Python alone, and a distributed module only in the test
#   environments its test_env marker names;
# - the model benchmark's cases are run by ``nox -s bench``, marked bench.
# At most 4 workers: each imports its framework (the Keras session: three), and a
# distributed test starts processes of its own.
# A worker that crashes (a framework's abort) ends the run, reported: pytest-xdist's
# replacement worker can leave a loadgroup run waiting forever.
XDIST = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadgroup", "--max-worker-restart", "0"]


def _marker_args(text: str, marker: str) -> str:
    """The arguments of the first ``mark.<marker>(...)`` in a test module's text."""
    found = re.search(rf"mark\.{marker}\(([^)]*)\)", text)
    return found[1] if found else ""


#: The test modules that mark tests ``distributed`` (pyproject.toml's markers), each
#: with the backends its ``only`` marker names, the variables its ``test_env`` marker
#: asks of a test environment, and whether it is marked ``once``: those tests run
#: after the others, alone in one process, in the sessions and environments these allow.
DISTRIBUTED_MODULES = {
    os.path.relpath(path, ROOT): (
        set(re.findall(r'"(\w+)"', _marker_args(text, "only"))),
        dict(re.findall(r'(\w+)="([^"]*)"', _marker_args(text, "test_env"))),
        "mark.once" in text,
    )
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "test_*.py")))
    for text in [open(path, encoding="utf-8").read()]
    if "mark.distributed" in text
}


#: What is installed, as ``pip freeze`` would say (a uv environment has no pip).
_FREEZE = (
    "import importlib.metadata as m; "
    "print(*sorted(f'{d.name}=={d.version}' for d in m.distributions()), sep='\\n')"
)


@nox.session
@nox.parametrize("python,backend,oldest", _test_params())
def tests(session: nox.Session, backend: str, oldest: bool) -> None:
    """The conformance matrix on one backend, in an environment with its framework.

    ``nox -s "tests(torch)"`` runs one; NumPy's sessions also run the
    framework-free tests (dispatch, command line, doctests) on every Python,
    and the pure-NumPy fallback on the main Python and at the floors.
    ``nox -s "tests(jax, oldest)"`` installs the floors instead (each
    ``>=`` bound of the backend's SPEC, and of unielu's own dependencies for
    NumPy), held as pip constraints while the test tools are installed.
    """
    name = backend.removesuffix("-layer")  # "jax-layer": the layer's floors
    spec = next(b for b in REGISTRY if b.name == name)
    if spec.needs_gpu and not _cuda_device():
        session.skip(
            f"no CUDA device on this machine (nvidia-smi finds none): {backend} cannot run"
        )
    constraints = _install_backends(session, [spec], oldest=oldest, layer=name != backend)
    session.install(*constraints, "-e", ".[test,plot]")
    if oldest:
        session.run("python", "-c", _FREEZE, silent=False)
    # The bench marker: the model benchmark's cases, which nox -s bench runs.
    if backend == "numpy":  # all the tests, the framework-free modules among them
        doctests, marks = ["--doctest-modules", "unielu/__init__.py"], "not bench"
    else:  # the framework_free marker (pyproject.toml): those run in the NumPy sessions
        doctests, marks = [], "not framework_free and not bench"
    # Every environment of the SPEC on the main Python and at the floors; on the
    # other Pythons the first only. For NumPy the second is the pure-NumPy
    # fallback (UNIELU_KERNEL=numpy): the same Python code on every version,
    # where the compiled kernel, built for each version, runs on each.
    envs = spec.test_env if session.python == MAIN or oldest else spec.test_env[:1]
    common = [f"--backend={name}", "-p", "no:cacheprovider", "--durations=10"]
    for run, env in enumerate(envs):
        if run == 1:  # the framework-free modules and doctests in the first environment
            doctests, marks = [], "not framework_free and not bench"  # only: no backend there
        # The once marker (pyproject.toml): a check that means the same on every Python
        # and in every environment (the repository's files, the test harness) runs in
        # the NumPy session of the main Python, in its first environment, alone.
        once = backend == "numpy" and session.python == MAIN and run == 0
        selected = marks if once else f"{marks} and not once"
        session.run(
            "python", "-m", "pytest", "tests", *common, *XDIST, *_junit(session, run), *doctests,
            "-m", f"({selected}) and not distributed", *session.posargs, env=env,
        )  # fmt: skip
        # Then the distributed tests, alone in one process: each starts an engine of
        # several processes under a time limit, which a worker beside it would slow.
        # Only the modules that mark tests distributed for this backend (one whose only
        # marker names no backend is everyone's) and for this environment (a test_env
        # marker: Keras's distribution API on its JAX backend) are collected: a run
        # that collects only skips still pays its framework's import.
        modules = [
            module
            for module, (names, wanted, is_once) in DISTRIBUTED_MODULES.items()
            if (not names or name in names)
            and all(env.get(key) == value for key, value in wanted.items())
            and (once or not is_once)
        ]
        if modules:
            session.run(
                "python", "-m", "pytest", *modules, *common,
                *_junit(session, f"{run}-distributed"), "-m", f"({selected}) and distributed",
                *session.posargs, env=env, success_codes=[0, 5],
            )  # fmt: skip


@nox.session(python=False)
def gpu(session: nox.Session) -> None:
    """The GPU check, offline, with the Python already on the GPU machine.

    Runs the matrix on CuPy, PyTorch CUDA and JAX GPU, then the bandwidth
    figure. Needs pytest, hypothesis, mpmath and ml_dtypes there; nothing is
    installed.
    """
    session.run("python", "benchmarks/gpu_check.py", *session.posargs)


@nox.session(python=False, default=False)
def aarch64(session: nox.Session) -> None:
    """The NumPy tests on aarch64, the kernel's NEON level, under qemu user emulation.

    Debian 12 and root: tools/aarch64_qemu.sh installs qemu-user and the aarch64
    cross compiler with apt, unpacks an arm64 Python from Debian's packages into
    .qemu-aarch64/ (never into the system) and cross-compiles the kernel.
    ``nox -s aarch64 -- tests/test_kernel.py --backend=numpy -k recorded``.
    """
    session.run("bash", "tools/aarch64_qemu.sh", *session.posargs, external=True)


#: The test modules ``nox -s package`` leaves out. What only the package session shows
#: runs there: the wheel's kernel, its bits at every SIMD level (tests/test_kernel.py);
#: the installed package's API, command line and metadata; and that the sdist carries
#: every file a test reads (the framework-free modules read the docs, tables, tools and
#: benchmarks from it). These modules read no file and check the values, ``out=`` and
#: threads of the same Python code over the same kernel source as the NumPy sessions
#: (and the harness, whatever is installed): there, they would only repeat those.
PACKAGE_REPEATS = [
    "test_conformance.py", "test_alpha_arrays.py", "test_out.py", "test_hostile.py",
    "test_processes.py", "test_at_scale_harness.py",
]  # fmt: skip


@nox.session(python=MAIN)
def package(session: nox.Session) -> None:
    """Build the wheel and sdist, check them, and test the installed wheel from the sdist.

    As a distribution packager would: the NumPy tests run from the unpacked
    sdist against the wheel installed in this clean environment, not the checkout,
    all but those that would only repeat the NumPy sessions (PACKAGE_REPEATS).
    """
    session.install("build", "twine")
    tmp = os.path.abspath(session.create_tmp())
    dist = os.path.join(tmp, "dist")
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", dist)
    (wheel,) = glob.glob(os.path.join(dist, "*.whl"))
    (sdist,) = glob.glob(os.path.join(dist, "*.tar.gz"))
    session.run("twine", "check", "--strict", wheel, sdist)
    session.install(f"unielu[test,plot] @ file://{wheel}")
    unpacked = os.path.join(tmp, "sdist")
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (root,) = glob.glob(os.path.join(unpacked, "unielu-*"))
    session.chdir(root)
    # -I: no current folder on sys.path, so this imports the installed package.
    session.run(
        "python", "-I", "-c",
        "import unielu; assert 'site-packages' in unielu.__file__, unielu.__file__; "
        "print('testing', unielu.__file__)",
    )  # fmt: skip
    ignore = [f"--ignore=tests/{module}" for module in PACKAGE_REPEATS]
    session.run(
        "pytest", "tests", "--backend=numpy", "-p", "no:cacheprovider", *XDIST, *_junit(session, 0),
        *ignore,
    )  # fmt: skip


@nox.session(python=MAIN, default=False)
def soak(session: nox.Session) -> None:
    """Threads calling unielu on every installed framework for a while (default 60 s).

    Every result is checked against the NumPy backend and RSS is reported; fails
    on any error. ``nox -s soak -- --seconds 600 --threads 16 --backends numpy,jax``.
    """
    _install_backends(session, [spec for spec in REGISTRY if not spec.needs_gpu])
    session.install("-e", ".[test,bench]")
    session.run("python", "benchmarks/soak.py", *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "2"})


@nox.session(python=MAIN, default=False)
def fuzz(session: nox.Session) -> None:
    """The hostile-input fuzz (tests/test_hostile.py) for minutes, on every installed backend.

    ``nox -s fuzz -- --minutes 10``: the minutes (default 10) are shared among
    the backends (and their test environments); each fuzz test repeats its
    hypothesis run until its share is spent. Any finding fails the session.
    """
    minutes = 10.0
    args = list(session.posargs)
    if "--minutes" in args:
        i = args.index("--minutes")
        minutes = float(args[i + 1])
        del args[i : i + 2]
    specs = [spec for spec in REGISTRY if not spec.needs_gpu or _cuda_device()]
    _install_backends(session, specs)
    session.install("-e", ".[test]")
    runs = [(spec.name, env) for spec in specs for env in spec.test_env]
    seconds = f"{minutes * 60 / len(runs):.0f}"
    for name, env in runs:
        session.run(
            "python", "-m", "pytest", "tests/test_hostile.py", "-k", "fuzz", f"--backend={name}",
            "-p", "no:cacheprovider", *args,
            env={**env, "UNIELU_FUZZ_SECONDS": seconds, "UNIELU_FUZZ_EXAMPLES": "200"},
        )  # fmt: skip


@nox.session(python=MAIN)
def lint(session: nox.Session) -> None:
    """ruff: lint and format check; the tables generated from the registry up to date."""
    session.install("ruff", *_dependencies())  # tools/tables.py runs from the checkout
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "-m", "tools.tables", "--check")


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
    """The benchmark suite: prints the tables, writes benchmarks/results.json and
    benchmarks/differences.json (which the docs render). About 10 minutes: the
    function benchmarks, then the model benchmark (benchmarks/models.py)."""
    specs = [spec for spec in REGISTRY if not spec.needs_gpu]
    _install_backends(session, specs)
    session.install("-e", ".[test,bench]")
    # The model benchmark's cases, once each at a tiny size, before anything is timed.
    names = ",".join(
        spec.name for spec in specs if spec.name in ("torch", "tensorflow", "jax", "keras")
    )
    session.run(
        "python", "-m", "pytest", "tests/test_bench_models.py", "-m", "bench", f"--backend={names}",
        "-p", "no:cacheprovider", *_junit(session, 0), env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    session.run("python", "benchmarks/run.py", env={"TF_CPP_MIN_LOG_LEVEL": "2"})


@nox.session(python=MAIN, default=False)
def browser(session: nox.Session) -> None:
    """The built docs opened in headless Chromium: links, maths, widths, images.

    Needs a Chromium on the machine (Debian: ``apt-get install -y chromium``, or
    ``UNIELU_CHROMIUM`` naming its binary); Playwright drives it and downloads no
    browser. Screenshots at 1400, 1024 and 420 px go to docs/_build/screenshots/.
    """
    session.install("-e", ".[docs]", "playwright")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")
    session.run("python", "-m", "tools.browser_check", *session.posargs)

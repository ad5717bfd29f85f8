"""Chooses the backend(s) under test and hands them to the matrix through one fixture.

``--backend NAME[,NAME...]`` (or ``UNIELU_TEST_BACKENDS``) names them; each nox
session names its own. A named backend whose framework cannot be imported is
an error, never a skip. With no name, every installed backend is tested
(CuPy only where a CUDA device is present).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# Before JAX is imported: two host devices, so device placement is testable on a CPU.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Before torch is imported: torch.compile's C++ kernels would otherwise leave a
# precompiled header of over 100 MB in /tmp for every new environment, never removed.
os.environ.setdefault("TORCHINDUCTOR_CPP_CACHE_PRECOMPILE_HEADERS", "0")
# Inductor compiles in this process, not in a pool of workers that each process
# (pytest-xdist's, and the fresh ones tests start) would start and import torch in.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

from adapter import ADAPTERS

from unielu._registry import get_spec, registry

# The programs the distributed tests launch, each importing its framework at the top:
# not test modules, and --doctest-modules (the NumPy sessions) must not import them.
collect_ignore = ["at_scale"]


@pytest.fixture(scope="session")
def tables() -> Any:
    """tools/tables.py, the generator of the tables in README.md and the docs
    (developer tooling beside the package, loaded from its path)."""
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tools", "tables.py")
    spec = importlib.util.spec_from_file_location("unielu_tools_tables", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its module up there
    spec.loader.exec_module(module)
    return module


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        default=os.environ.get("UNIELU_TEST_BACKENDS", ""),
        help=f"comma-separated backends to test, of {sorted(ADAPTERS)} (default: all installed)",
    )
    parser.addoption("--device", default="", help="PyTorch device for the torch backend, e.g. cuda")


def _selected(config: pytest.Config) -> list[str]:
    # The registry (unielu/_registry.py) is the list of backends; each has an adapter.
    known = [spec.name for spec in registry() if spec.name in ADAPTERS]
    names = [n.strip() for n in config.getoption("--backend").split(",") if n.strip()]
    if names:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise pytest.UsageError(f"--backend: unknown {unknown}; known: {known}")
        return names
    return [name for name in known if ADAPTERS[name].available()]


def _xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the tests to pytest-xdist workers and runs none."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.unielu_backends = _selected(config)  # type: ignore[attr-defined]
    if _xdist_controller(config):
        return  # each worker configures the backends (a framework import each) and fails here
    for name in config.unielu_backends:  # type: ignore[attr-defined]
        try:
            ADAPTERS[name].configure()
        except Exception as error:
            raise pytest.UsageError(
                f"backend {name!r} was asked for but cannot be used here: {error!r}"
            ) from error


def pytest_report_header(config: pytest.Config) -> str:
    return f"unielu backends under test: {', '.join(config.unielu_backends)}"  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = metafunc.config.unielu_backends  # type: ignore[attr-defined]
        metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> object:
    """The adapter (tests/adapter.py) of the backend under test, one per session."""
    return ADAPTERS[request.param]({"device": request.config.getoption("--device")})


@pytest.fixture(autouse=True)
def _dtype_applies(request: pytest.FixtureRequest) -> None:
    """Skip, with the reason, a dtype the backend under test does not have.

    Decided on the adapter instance: JAX has float64 only with x64 enabled.
    """
    params = getattr(request.node, "callspec", None)
    if params is None or "backend" not in params.params:
        return
    adapter = request.getfixturevalue("backend")
    for key, have in (("dtype", adapter.dtypes), ("int_dtype", adapter.int_dtypes)):
        wanted = params.params.get(key)
        if wanted is not None and wanted not in have:
            pytest.skip(reason=f"not applicable: {adapter.name} has no {wanted} here")


def _not_applicable(item: pytest.Item, name: str) -> str | None:
    """Why a contract line does not apply to backend ``name``, or None if it does."""
    cls = ADAPTERS.get(name)
    only = item.get_closest_marker("only")
    if only is not None and name not in only.args:
        return f"applies to {', '.join(only.args)} only: {only.kwargs.get('reason', '')}".rstrip(
            ": "
        )
    if cls is None:
        return None
    if item.get_closest_marker("autodiff") and not get_spec(name).autodiff:
        return f"{name} has no autodiff (elu_derivative is the tool)"
    if item.get_closest_marker("native") and not cls.native:
        return f"{name} has no ELU of its own to cross-check against"
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A line that does not apply to a backend is skipped with the reason, so the
    # summary (-ra) says which lines each backend does not have and why.
    under_test = config.unielu_backends  # type: ignore[attr-defined]
    # Under pytest-xdist with --dist loadgroup, a distributed module runs on one
    # worker: its engine, started once by a module fixture, is not started again by
    # another worker. (The nox sessions run the distributed tests after, alone.)
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            if item.get_closest_marker("distributed"):
                item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    for item in items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if not name:
            # A line without the backend fixture (the NumPy kernel's) runs once, in the
            # sessions of the backends it names, not again in every other session.
            only = item.get_closest_marker("only")
            if only is not None and not set(only.args) & set(under_test):
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"not applicable: applies to {', '.join(only.args)} only: "
                        f"{only.kwargs.get('reason', '')}, not under test here"
                    )
                )
            continue
        why = _not_applicable(item, name)
        if why:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {why}"))

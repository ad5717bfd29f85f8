"""Chooses the backend(s) under test and hands them to the matrix through one fixture.

``--backend NAME[,NAME...]`` (or ``UNIELU_TEST_BACKENDS``) names them; each nox
session names its own. A named backend whose framework cannot be imported is
an error, never a skip. With no name, every installed backend is tested
(CuPy only where a CUDA device is present).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

# Before JAX is imported: two host devices, so device placement is testable on a CPU.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from backends import ADAPTERS, Backend


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        default=os.environ.get("UNIELU_TEST_BACKENDS", ""),
        help=f"comma-separated backends to test, of {sorted(ADAPTERS)} (default: all installed)",
    )
    parser.addoption("--device", default="", help="PyTorch device for the torch backend, e.g. cuda")


def _cuda_present() -> bool:
    try:
        import cupy

        return bool(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device: CuPy cannot run here
        return False


def _selected(config: pytest.Config) -> list[str]:
    names = [n.strip() for n in config.getoption("--backend").split(",") if n.strip()]
    if names:
        unknown = sorted(set(names) - set(ADAPTERS))
        if unknown:
            raise pytest.UsageError(f"--backend: unknown {unknown}; known: {sorted(ADAPTERS)}")
        return names
    found = [
        n
        for n, cls in ADAPTERS.items()
        if n != "cupy" and importlib.util.find_spec(cls.framework) is not None
    ]
    return found + (["cupy"] if importlib.util.find_spec("cupy") and _cuda_present() else [])


def pytest_configure(config: pytest.Config) -> None:
    config.unielu_backends = _selected(config)  # type: ignore[attr-defined]
    for name in config.unielu_backends:  # type: ignore[attr-defined]
        module = ADAPTERS[name].framework
        try:
            importlib.import_module(module)
        except Exception as error:
            raise pytest.UsageError(
                f"backend {name!r} was asked for but {module!r} cannot be imported: {error!r}"
            ) from error
    if "tensorflow" in config.unielu_backends:  # type: ignore[attr-defined]
        import tensorflow as tf

        # Two logical CPUs, so placement on the input's device is testable without a GPU.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    if "cupy" in config.unielu_backends and not _cuda_present():  # type: ignore[attr-defined]
        raise pytest.UsageError("backend 'cupy' was asked for but no CUDA device is present")


def pytest_report_header(config: pytest.Config) -> str:
    return f"unielu backends under test: {', '.join(config.unielu_backends)}"  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = metafunc.config.unielu_backends  # type: ignore[attr-defined]
        metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> object:
    """The adapter (tests/backends.py) of the backend under test, one per session."""
    return ADAPTERS[request.param]({"device": request.config.getoption("--device")})


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
    if item.get_closest_marker("autodiff") and not cls.autodiff:
        return f"{name} has no autodiff (elu_derivative is the tool)"
    if item.get_closest_marker("native") and not cls.native:
        return f"{name} has no ELU of its own to cross-check against"
    if item.get_closest_marker("specific") and cls.extra_checks is Backend.extra_checks:
        return f"{name} has no backend-specific lines"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A line that does not apply to a backend is skipped with the reason, so the
    # summary (-ra) says which lines each backend does not have and why.
    for item in items:
        name = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if not name:
            continue
        why = _not_applicable(item, name)
        if why:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {why}"))

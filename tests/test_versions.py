"""Supported versions (docs/versions.rst): every backend's requirement carries
its floor, the floors agree wherever a framework is named, the tables in the
docs and README are the registry's, and a framework older than its floor is
refused with a message that says what to do, by ``unielu.elu`` and by
``python -m unielu``. Older versions are faked: no old framework is needed."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import numpy as np
import pytest

import unielu
from unielu import cli
from unielu._dispatch import _CACHE
from unielu._registry import get_spec, registry, release, requirement_floor

ROOT = Path(__file__).resolve().parent.parent
FLOORED = [b.name for b in registry()]


def _dependencies() -> list[str]:
    """pyproject.toml's dependencies (tomllib is not in Python 3.10)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r"^dependencies = \[(.*?)\]", text, re.MULTILINE | re.DOTALL)
    assert found, "pyproject.toml has no dependencies = [...]"
    return re.findall(r'"([^"]+)"', found.group(1))


def _name(requirement: str) -> str:
    """A distribution's name, ``-cpu`` builds named as their framework."""
    name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
    return name.removesuffix("-cpu")


@pytest.fixture
def too_old(monkeypatch):
    """Make one backend's framework look older than its floor (by its metadata)."""
    saved = dict(_CACHE)

    def fake(name: str):
        spec = get_spec(name)
        dist = requirement_floor(spec.requirement)[0]
        real = importlib.metadata.version

        def version(distribution: str) -> str:
            if _name(distribution) == _name(dist):
                return "0.0.1"
            return real(distribution)

        monkeypatch.setattr(importlib.metadata, "version", version)
        _CACHE.clear()  # the next call dispatches (and checks) again
        return spec

    yield fake
    _CACHE.clear()
    _CACHE.update(saved)


@pytest.mark.parametrize("name", FLOORED)
def test_every_requirement_has_a_floor(name):
    spec = get_spec(name)
    assert spec.floor() is not None, f"{name}: {spec.requirement!r} has no >= bound"
    assert requirement_floor(spec.test_requirements[0]) is not None


def test_a_framework_has_one_floor_wherever_it_is_named():
    """One floor per framework for the functions; a layer (layer_requirements) or
    another backend's tests (Keras's JAX) may only ask for a newer release."""
    named = _dependencies()
    higher: list[str] = []
    for spec in registry():
        own = _name(spec.requirement)
        named += [spec.requirement, *spec.layer_requirements]
        named += [r for r in spec.test_requirements if _name(r) == own]
        higher += [r for r in spec.test_requirements if _name(r) != own]
    floors: dict[str, set[str]] = {}
    for requirement in named:
        found = requirement_floor(requirement)
        if found:
            floors.setdefault(_name(found[0]), set()).add(found[1])
    for spec in registry():  # a layer's floor for its own framework: above the functions'
        floors[_name(spec.requirement)] -= {
            requirement_floor(r)[1]
            for r in spec.layer_requirements
            if _name(r) == _name(spec.requirement)
        }
    assert {name: f for name, f in floors.items() if len(f) > 1} == {}
    for requirement in higher:
        found = requirement_floor(requirement)
        if found and _name(found[0]) in floors:
            (floor,) = floors[_name(found[0])]
            assert release(found[1]) >= release(floor), requirement
    for name in ("numpy", "array-api-compat"):  # unielu's own dependencies are backends' too
        assert name in floors


@pytest.mark.parametrize(
    ("version", "floor", "older"),
    [
        ("1.23.5", "1.24", True), ("1.24.0", "1.24", False), ("2.13.0+cpu", "2.6", False),
        ("2.5.1", "2.6", True), ("0.4.34", "0.4.35", True), ("0.10.2", "0.4.35", False),
        ("2024.1.0", "2024.1.1", True), ("2.16.0rc0", "2.16.1", True), ("3.6.0", "3.6", False),
    ],
)  # fmt: skip
def test_release_order(version, floor, older):
    assert (release(version) < release(floor)) is older


@pytest.mark.parametrize("name", FLOORED)
def test_below_the_floor_loading_the_backend_raises(name, too_old):
    spec = too_old(name)
    with pytest.raises(ImportError) as info:
        spec.load()
    message = str(info.value)
    for part in (spec.framework, "0.0.1", spec.floor(), f'pip install -U "{spec.requirement}"'):
        assert part in message


@pytest.mark.parametrize("name", FLOORED)
def test_at_the_floor_the_check_passes(name, monkeypatch):
    spec = get_spec(name)
    monkeypatch.setattr(importlib.metadata, "version", lambda distribution: spec.floor())
    spec.check_version()


def test_below_the_floor_the_first_call_raises(backend, too_old):
    """On the backend under test, with its real arrays: unielu.elu says why."""
    x = backend.asarray([-1.0, 2.0], "float32")
    spec = too_old(unielu.get_backend(x))
    for func in (unielu.elu, unielu.elu_derivative):
        with pytest.raises(ImportError, match=re.escape(f"needs {spec.framework} >= ")):
            func(x)


def test_below_the_floor_the_report_says_so(too_old, capsys, monkeypatch):
    spec = too_old("numpy")
    monkeypatch.setattr(cli, "registry", lambda: (spec,))  # the report of NumPy alone
    entry = cli.backend_report("numpy")
    assert entry["usable"] is False and "numpy >= 1.24.4" in entry["why"]
    cli.main(["info"])
    lines = capsys.readouterr().out.splitlines()
    line = next(text for text in lines if text.startswith("numpy "))
    assert "too old" in line and 'pip install -U "numpy>=1.24.4"' in line


def test_the_versions_table_lists_every_backend_s_floor(tables):
    """The generated versions table (kept fresh by tests/test_registry.py) shows each floor."""
    table = tables.GENERATED["versions"].render("markdown")
    for spec in registry():
        assert f"| {spec.name} | `{spec.requirement}`" in table


def test_the_floor_is_installed_or_newer_here(backend):
    """The framework of the session's backend satisfies its own floor."""
    spec = get_spec(unielu.get_backend(backend.asarray([1.0], "float32")))
    version = spec.installed_version()
    assert version is not None and release(version) >= release(spec.floor())


def test_numpy_floor_is_the_one_in_pyproject():
    assert get_spec("numpy").requirement in _dependencies()
    assert get_spec("array_api").requirement in _dependencies()


def test_a_backend_below_its_floor_end_to_end(monkeypatch):
    """Framework-free, through dispatch: a backend loaded early (as torch's is)
    whose framework is too old leaves ``import unielu`` alone, then its first
    call raises; at the floor it computes."""
    import throwaway_backend

    from unielu import _dispatch
    from unielu._registry import register, spec_from_dict, unregister

    spec = dict(throwaway_backend.SPEC, requirement="throwaway-box>=2.0", load_early=True)
    installed = {"version": "1.9.9"}
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata,
        "version",
        lambda name: installed["version"] if name == "throwaway-box" else real(name),
    )
    register(spec_from_dict(spec, module="throwaway_backend"))
    try:
        _dispatch.load_early()  # what import unielu runs: no error, nothing cached
        assert throwaway_backend.Box not in _CACHE
        x = throwaway_backend.Box(np.array([-1.0, 2.0]))
        message = (
            "unielu's box backend needs throwaway_backend >= 2.0; throwaway_backend 1.9.9 "
            'is installed. Upgrade it: pip install -U "throwaway-box>=2.0"'
        )
        with pytest.raises(ImportError, match=re.escape(message)):
            unielu.elu(x)
        installed["version"] = "2.0"
        np.testing.assert_allclose(unielu.elu(x).a, [np.expm1(-1.0), 2.0])
    finally:
        unregister("box")

"""The registry of backends is the one list: dispatch, installed_backends(), the
report, the test adapters, the nox sessions and the docs pages all agree with it,
and a backend registered at run time reaches every one of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backends import ADAPTERS

import unielu
from unielu import cli
from unielu._registry import BackendSpec, get_spec, register, registry, spec_from_dict, unregister

ROOT = Path(__file__).resolve().parent.parent
NAMES = [b.name for b in registry()]


@pytest.fixture
def box():
    """The throwaway backend of tests/throwaway_backend.py, registered for one test."""
    import throwaway_backend

    register(spec_from_dict(throwaway_backend.SPEC, module="throwaway_backend"))
    yield throwaway_backend
    unregister("box")


def test_every_backend_has_an_adapter():
    assert set(NAMES) <= set(ADAPTERS)


def test_every_backend_has_a_docs_page():
    pages = {p.stem for p in (ROOT / "docs" / "backends").glob("*.rst")} - {"index"}
    assert pages == set(NAMES)


def test_every_backend_has_a_nox_session():
    out = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-f", str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    sessions = {s["session"] for s in json.loads(out.stdout)}
    assert {f"tests({name})" for name in NAMES} <= sessions


@pytest.mark.parametrize("name", ["numpy", "array_api"])
def test_the_parsed_spec_is_the_modules_spec(name):
    """The registry parses SPEC from the source; what it read is what the module says."""
    spec = get_spec(name)
    assert spec_from_dict(spec.load().SPEC, module=spec.module) == spec


def test_out_and_get_backend_read_the_registry_not_the_module(box):
    """A registered spec is the one source: the module's own SPEC is not consulted."""
    import dataclasses

    x = box.Box(np.array([-1.0]))
    register(dataclasses.replace(get_spec("box"), name="renamed"))
    unregister("box")
    assert unielu.get_backend(x) == "renamed"
    with pytest.raises(TypeError, match="'out' must be None for renamed arrays"):
        unielu.elu(x, out=x)
    unregister("renamed")


def test_dispatch_order_is_the_registry_order():
    priorities = [b.priority for b in registry()]
    assert priorities == sorted(priorities)
    assert NAMES.index("numpy") < NAMES.index("array_api") == len(NAMES) - 1


def test_spec_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys"):
        spec_from_dict({**dict(get_spec("numpy").__dict__), "colour": "blue"})


def test_a_registered_backend_reaches_dispatch_and_installed_backends(box):
    x = box.Box(np.array([-1.0, 0.0, 2.0]))
    assert unielu.get_backend(x) == "box"
    y = unielu.elu(x, 0.5)
    assert isinstance(y, box.Box)
    np.testing.assert_array_equal(y.a, unielu.elu(x.a, 0.5))
    assert "box" in unielu.installed_backends()
    assert isinstance(get_spec("box"), BackendSpec)


def test_a_registered_backend_reaches_the_report(box, capsys):
    assert cli.info(as_json=True) == 0
    rows = {r["backend"]: r for r in json.loads(capsys.readouterr().out)["backends"]}
    assert rows["box"]["usable"], rows["box"]
    assert rows["box"]["elu"][1] == pytest.approx(np.expm1(-1.0))


def test_a_registered_backend_is_unregistered_cleanly(box):
    unregister("box")
    with pytest.raises(TypeError, match="argument 'x' must be an array"):
        unielu.elu(box.Box([1.0]))


def test_a_registered_backend_reaches_the_test_matrix():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))  # unielu as installed
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_conformance.py"),
        "-p", "throwaway_backend", "--backend=box", "-p", "no:cacheprovider", "-q", "-rs",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout[-3000:]
    collected = subprocess.run(
        [*cmd, "--collect-only"], capture_output=True, text=True, cwd=ROOT, env=env
    ).stdout
    assert "test_accuracy_over_the_whole_range[box-elu-1.0-float32]" in collected
    assert "passed" in out.stdout and "failed" not in out.stdout
